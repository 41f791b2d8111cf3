#!/usr/bin/env python3
"""A municipal system (Örebro, 1880): every activity the municipality takes part in, with its roles
and the latest status, and the plan's collaboration matrix, as JSON and as CSV for Excel."""
import csv
import io

from common import check, client, expect, say

from kulturplan_client.api.collaborations import list_municipality_collaborations
from kulturplan_client.api.reports import collaboration_matrix
from kulturplan_client.models import (CollaborationMatrix, CollaborationPage, FollowUpStatus, Role)

CODE = "1880"
api = client()

# Its collaborations, every page.
items, cursor = [], None
while True:
    kwargs = {"cursor": cursor} if cursor else {}
    page = expect(list_municipality_collaborations.sync_detailed(CODE, client=api, limit=100, **kwargs), 200,
                  "collaborations")
    check(isinstance(page, CollaborationPage), "a CollaborationPage")
    check(page.actor.municipality_code == CODE, "the municipality's own actor")
    items.extend(page.items)
    cursor = page.next_cursor
    if not cursor:
        break
check(items, "Örebro takes part in activities")
check(all(item.roles and all(isinstance(r, Role) for r in item.roles) for item in items), "roles are Roles")
statuses = [item.status for item in items if isinstance(item.status, FollowUpStatus)]
say("municipality", f"{page.actor.name} takes part in {len(items)} activities; {len(statuses)} have a colour")

# The matrix of the plan its activities belong to: municipalities × the plan's top-level goals.
plan = items[0].plan
matrix = expect(collaboration_matrix.sync_detailed(client=api, plan_id=plan.id), 200, "matrix")
check(isinstance(matrix, CollaborationMatrix), "a CollaborationMatrix")
check(len(matrix.municipalities) == 12, f"{len(matrix.municipalities)} municipalities")
row = next(r for r in matrix.municipalities if r.municipality_code == CODE)
check(len(row.counts) == len(matrix.goals), "a count per goal")
in_plan = expect(list_municipality_collaborations.sync_detailed(CODE, client=api, plan_id=plan.id, limit=500), 200,
                 "collaborations in the plan").items
check(row.total == len(in_plan) > 0, f"the matrix counts {row.total}, the collaborations {len(in_plan)}")
say("municipality", f"matrix of {plan.title!r}: {len(matrix.goals)} goals; {row.name} in {row.total} activities")

# The same matrix as CSV, the way Excel opens it. The generated client reads every 200 of this
# operation as JSON (the document offers JSON and CSV for it), so the CSV comes by a plain GET on
# the generated client's own connection.
http = api.get_httpx_client()
for excel, delimiter in ((False, ","), (True, ";")):
    params = {"plan_id": str(plan.id), "format": "csv"}
    if excel:
        params["excel"] = "true"
    response = http.get("/api/v1/reports/collaboration-matrix", params=params)
    check(response.status_code == 200, f"CSV: {response.status_code}")
    check(response.headers["content-type"].startswith("text/csv"), "text/csv")
    check(response.headers["content-disposition"].startswith("attachment"), "a download")
    text = response.content.decode("utf-8-sig" if excel else "utf-8")
    check(response.content.startswith(b"\xef\xbb\xbf") == excel, "a BOM for Excel only")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    by_code = {r.get("municipality_code"): r for r in rows}
    check(CODE in by_code, f"{CODE} in the CSV's rows: {list(rows[0].keys()) if rows else rows}")
    check(int(by_code[CODE]["total"]) == row.total, "the CSV says what the JSON says")
say("municipality", f"the matrix as CSV ({len(rows)} rows) agrees with the JSON, also in Excel's dialect")

# Its collaborations as CSV too, page after page through the `Link` header, as a spreadsheet
# import would fetch them (plain GETs, for the reason above).
rows, url, pages = [], f"/api/v1/municipalities/{CODE}/collaborations?format=csv&limit=100", 0
while url:
    response = http.get(url)
    check(response.status_code == 200, f"CSV page: {response.status_code}")
    rows.extend(csv.DictReader(io.StringIO(response.text, newline="")))
    pages += 1
    url = response.links.get("next", {}).get("url")
check(len(rows) == len(items), f"{len(rows)} CSV rows for {len(items)} collaborations")
say("municipality", f"the collaborations as CSV: {len(rows)} rows in {pages} pages, as in JSON")
