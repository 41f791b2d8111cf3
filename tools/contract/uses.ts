// What consumers write against the generated types; tsc fails here when the document changes
// a shape they rely on.
import type { components, paths } from "./kulturplan";

type Schemas = components["schemas"];

// The scopes as tokens carry them.
export const scopes: Schemas["Scope"][] = ["read", "plans:write", "follow_ups:write", "admin"];

// A page of activities holds `Activity` items and the next cursor.
type ActivityPage =
  paths["/api/v1/activities"]["get"]["responses"][200]["content"]["application/json"];
export function titles(page: ActivityPage): string[] {
  return page.items.map((activity: Schemas["Activity"]) => activity.title);
}
export function nextCursor(page: Schemas["PlanList"]): string | null {
  return page.next_cursor;
}

// Reads revalidate: If-None-Match goes in, ETag and a 304 come out.
type ListActivities = paths["/api/v1/activities"]["get"];
export const revalidate: NonNullable<ListActivities["parameters"]["header"]> = {
  "If-None-Match": '"d1-0000000000000000"',
};
export function etagOf(headers: ListActivities["responses"][200]["headers"]): string {
  return headers.ETag;
}
export type NotModified = ListActivities["responses"][304];

// The history's before and after are typed snapshots.
export function statusBefore(
  change: Schemas["FollowUpChange"],
): Schemas["FollowUpStatus"] | null | undefined {
  return change.before?.status;
}

// One format enum for every list and report.
export const csv: Schemas["Format"] = "csv";
export const summaryFormat: NonNullable<
  paths["/api/v1/reports/follow-up-summary"]["get"]["parameters"]["query"]["format"]
> = csv;

// The token endpoint is a form post without a bearer token.
export const tokenRequest: paths["/api/v1/auth/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"] =
  { grant_type: "client_credentials", client_id: "0b7e1a3c-5f43-5d3e-9a51-2d1f1c0d8a10", client_secret: "s" };

// Batches and imports take an Idempotency-Key and say when an answer is replayed.
type Batch = paths["/api/v1/follow-ups/batch"]["post"];
export const key: NonNullable<Batch["parameters"]["header"]> = { "Idempotency-Key": "uppfoljning-2025" };
export function replayed(headers: Batch["responses"][200]["headers"]): string | undefined {
  return headers["Idempotent-Replayed"];
}
export const importBody: paths["/api/v1/follow-ups/import"]["post"]["requestBody"]["content"]["text/csv"] =
  "activity_id;year;status;comment\r\n";
