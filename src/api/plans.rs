//! `/api/v1/plans`: culture plans and the implementation/action plans that belong to them.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::JsonObject;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use super::lists::PlanList;
use super::{cache, created, double_option, if_match, ok_with_etag};
use crate::AppState;
use crate::auth::Auth;
use crate::db::pagination::{Page, finish};
use crate::db::plans::{self as db, NewPlan, PlanChanges, PlanFilter, PlanRow};
use crate::domain::{PlanKind, PlanStatus, Scope};
use crate::error::{ApiResult, Checks, Problem};

/// A plan with its period.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0b7e1a3c-5f43-5d3e-9a51-2d1f1c0d8a10",
    "title": "Handlingsplan för kultursamverkan region/kommun 2020–2023",
    "kind": "action_plan", "status": "adopted", "first_year": 2020, "last_year": 2023,
    "parent_id": null, "reference": "20RS9126", "adopted_on": null, "description": null,
    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "version": 1
}))]
pub struct Plan {
    pub id: Uuid,
    pub title: String,
    pub kind: PlanKind,
    pub status: PlanStatus,
    pub first_year: i32,
    pub last_year: i32,
    /// The plan this one belongs to (an implementation plan's culture plan).
    pub parent_id: Option<Uuid>,
    /// Reference number (diarienummer).
    pub reference: Option<String>,
    pub adopted_on: Option<NaiveDate>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<PlanRow> for Plan {
    fn from(row: PlanRow) -> Self {
        Plan {
            id: row.id,
            title: row.title,
            kind: row.kind,
            status: row.status,
            first_year: row.first_year,
            last_year: row.last_year,
            parent_id: row.parent_id,
            reference: row.reference,
            adopted_on: row.adopted_on,
            description: row.description,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

impl CsvRecord for Plan {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "title",
            "kind",
            "status",
            "first_year",
            "last_year",
            "parent_id",
            "reference",
            "adopted_on",
            "description",
            "version",
            "updated_at",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.title.clone(),
            self.kind.to_string(),
            self.status.to_string(),
            self.first_year.to_string(),
            self.last_year.to_string(),
            csv::opt(self.parent_id),
            csv::opt(self.reference.as_ref()),
            csv::opt(self.adopted_on),
            csv::opt(self.description.as_ref()),
            self.version.to_string(),
            self.updated_at.to_rfc3339(),
        ]
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "title": "Regional kulturplan för Örebro län 2024–2027", "kind": "culture_plan",
    "first_year": 2024, "last_year": 2027
}))]
pub struct CreatePlan {
    #[schema(min_length = 1, max_length = 500)]
    pub title: String,
    pub kind: PlanKind,
    /// Defaults to `draft`.
    pub status: Option<PlanStatus>,
    #[schema(minimum = 1900, maximum = 2100)]
    pub first_year: i32,
    #[schema(minimum = 1900, maximum = 2100)]
    pub last_year: i32,
    pub parent_id: Option<Uuid>,
    #[schema(min_length = 1, max_length = 100)]
    pub reference: Option<String>,
    pub adopted_on: Option<NaiveDate>,
    #[schema(max_length = 20000)]
    pub description: Option<String>,
}

/// Fields to change; absent fields stay as they are, `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "adopted", "adopted_on": "2024-02-01"}))]
pub struct UpdatePlan {
    #[schema(min_length = 1, max_length = 500)]
    pub title: Option<String>,
    pub kind: Option<PlanKind>,
    pub status: Option<PlanStatus>,
    #[schema(minimum = 1900, maximum = 2100)]
    pub first_year: Option<i32>,
    #[schema(minimum = 1900, maximum = 2100)]
    pub last_year: Option<i32>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub reference: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<NaiveDate>)]
    pub adopted_on: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 20000)]
    pub description: Option<Option<String>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListPlansQuery {
    /// Only plans belonging to this plan.
    pub parent_id: Option<Uuid>,
    pub kind: Option<PlanKind>,
    pub status: Option<PlanStatus>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `csv` for CSV (as `Accept: text/csv`; the next page is in the `Link` header).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

fn check_plan(
    c: &mut Checks,
    title: Option<&str>,
    first: Option<i32>,
    last: Option<i32>,
    reference: Option<&str>,
    description: Option<&str>,
) {
    c.text("title", title, 1, 500);
    c.year("first_year", first);
    c.year("last_year", last);
    if let (Some(first), Some(last)) = (first, last)
        && first > last
    {
        c.push("last_year", "must not be before first_year");
    }
    c.text("reference", reference, 1, 100);
    c.text("description", description, 0, 20000);
}

/// List plans, ordered by the start of their period.
#[utoipa::path(
    tag = "plans",
    params(ListPlansQuery),
    responses(
        (status = 200, description = "A page of plans", content(
            (PlanList = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks the `read` scope", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/plans")]
pub async fn list_plans(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ListPlansQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let filter = PlanFilter {
        parent_id: query.parent_id,
        kind: query.kind,
        status: query.status,
    };
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let rows = db::list(&mut conn, &filter, &page).await?;
    let (rows, next_cursor) = finish(rows, page.limit, |r| (r.first_year, r.id));
    let body = PlanList {
        items: rows.into_iter().map(Plan::from).collect::<Vec<_>>(),
        next_cursor,
        total: None,
    };
    csv::reply(
        representation,
        cache::builder(etag),
        &req,
        &body,
        || Table::of("plans.csv", &body.items),
        body.next_cursor.as_deref().map(|c| ("cursor", c)),
    )
}

/// Create a plan.
#[utoipa::path(
    tag = "plans",
    request_body = CreatePlan,
    responses(
        (status = 201, description = "Created", body = Plan, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[post("/plans")]
pub async fn create_plan(
    auth: Auth,
    state: web::Data<AppState>,
    body: JsonObject<CreatePlan>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_plan(
        &mut c,
        Some(&body.title),
        Some(body.first_year),
        Some(body.last_year),
        body.reference.as_deref(),
        body.description.as_deref(),
    );
    c.finish()?;
    let new = NewPlan {
        id: Uuid::new_v4(),
        title: body.title,
        kind: body.kind,
        status: body.status.unwrap_or(PlanStatus::Draft),
        first_year: body.first_year,
        last_year: body.last_year,
        parent_id: body.parent_id,
        reference: body.reference,
        adopted_on: body.adopted_on,
        description: body.description,
    };
    let mut conn = state.pool.get().await?;
    let row = db::insert(&mut conn, &new).await?;
    Ok(created(
        format!("/api/v1/plans/{}", row.id),
        row.version,
        &Plan::from(row),
    ))
}

/// Read a plan.
#[utoipa::path(
    tag = "plans",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses(
        (status = 200, description = "The plan", body = Plan, headers(("ETag" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/plans/{id}")]
pub async fn get_plan(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let mut conn = state.pool.get().await?;
    let row = db::get(&mut conn, id.into_inner()).await?;
    Ok(cache::versioned(&req, row.version, &Plan::from(row)))
}

/// Change some fields of a plan. Honours `If-Match`.
#[utoipa::path(
    tag = "plans",
    params(
        ("id" = Uuid, Path, description = "Plan id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on"),
    ),
    request_body = UpdatePlan,
    responses(
        (status = 200, description = "The changed plan", body = Plan, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "The plan changed since the ETag was read", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[patch("/plans/{id}")]
pub async fn update_plan(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonObject<UpdatePlan>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_plan(
        &mut c,
        body.title.as_deref(),
        body.first_year,
        body.last_year,
        body.reference.as_ref().and_then(|r| r.as_deref()),
        body.description.as_ref().and_then(|d| d.as_deref()),
    );
    c.finish()?;
    let changes = PlanChanges {
        title: body.title,
        kind: body.kind,
        status: body.status,
        first_year: body.first_year,
        last_year: body.last_year,
        parent_id: body.parent_id,
        reference: body.reference,
        adopted_on: body.adopted_on,
        description: body.description,
    };
    let mut conn = state.pool.get().await?;
    let row = db::update(&mut conn, id.into_inner(), expected, &changes).await?;
    Ok(ok_with_etag(row.version, &Plan::from(row)))
}

/// Delete a plan. Refused with 409 while goals, activities or other plans refer to it.
#[utoipa::path(
    tag = "plans",
    params(
        ("id" = Uuid, Path, description = "Plan id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version to delete"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still referenced", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[delete("/plans/{id}")]
pub async fn delete_plan(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let mut conn = state.pool.get().await?;
    db::delete(&mut conn, id.into_inner(), expected).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_plans)
        .service(create_plan)
        .service(get_plan)
        .service(update_plan)
        .service(delete_plan);
}
