//! `/api/v1/goals` and `/api/v1/plans/{id}/goals` (the nested goal tree of a plan).

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::JsonObject;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use super::lists::GoalList;
use super::{cache, created, double_option, if_match, ok_with_etag};
use crate::AppState;
use crate::auth::Auth;
use crate::db::goals::{self as db, GoalChanges, GoalFilter, GoalKey, GoalRow, GoalSort, NewGoal};
use crate::db::pagination::{Page, finish};
use crate::domain::{GoalKind, Scope};
use crate::error::{ApiResult, Checks, Problem};

/// A goal of a plan: an objective, a priority, a theme or a strategic direction.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "5f0c4c1e-8d7a-5b2e-b7c4-0e6f3f2a9d11", "plan_id": "0b7e1a3c-5f43-5d3e-9a51-2d1f1c0d8a10",
    "parent_id": null, "code": "4.1", "kind": "objective",
    "title": "Utveckla den kulturella infrastrukturen i Örebro län", "description": null, "position": 0,
    "realises_goal_id": "8a2d5b0e-3c1f-5e7a-9b64-1f0e2d3c4b5a",
    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "version": 1
}))]
pub struct Goal {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub parent_id: Option<Uuid>,
    /// The document's number, e.g. `4.1.1`.
    pub code: Option<String>,
    pub kind: GoalKind,
    pub title: String,
    /// For a priority, its "Prioritering:" text.
    pub description: Option<String>,
    /// Order among its siblings.
    pub position: i32,
    /// The goal of the plan this goal's plan implements (its parent plan) that this goal
    /// realises: an implementation plan's objective realises the culture plan's objective of the
    /// same wording. Reports on the parent plan count this goal's activities under that goal.
    pub realises_goal_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<GoalRow> for Goal {
    fn from(row: GoalRow) -> Self {
        Goal {
            id: row.id,
            plan_id: row.plan_id,
            parent_id: row.parent_id,
            code: row.code,
            kind: row.kind,
            title: row.title,
            description: row.description,
            position: row.position,
            realises_goal_id: row.realises_goal_id,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

impl CsvRecord for Goal {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "plan_id",
            "parent_id",
            "code",
            "kind",
            "title",
            "description",
            "position",
            "realises_goal_id",
            "version",
            "updated_at",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.plan_id.to_string(),
            csv::opt(self.parent_id),
            csv::opt(self.code.as_ref()),
            self.kind.to_string(),
            self.title.clone(),
            csv::opt(self.description.as_ref()),
            self.position.to_string(),
            csv::opt(self.realises_goal_id),
            self.version.to_string(),
            self.updated_at.to_rfc3339(),
        ]
    }
}

/// A goal with the goals below it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalNode {
    #[serde(flatten)]
    pub goal: Goal,
    #[schema(no_recursion)]
    pub children: Vec<GoalNode>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalTree {
    pub plan_id: Uuid,
    /// The plan's top-level goals, each with its sub-goals.
    pub goals: Vec<GoalNode>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "plan_id": "0b7e1a3c-5f43-5d3e-9a51-2d1f1c0d8a10", "code": "4.1.1", "kind": "priority",
    "title": "Skapa goda förutsättningar för professionella kulturaktörer",
    "parent_id": "5f0c4c1e-8d7a-5b2e-b7c4-0e6f3f2a9d11"
}))]
pub struct CreateGoal {
    pub plan_id: Uuid,
    /// A goal of the same plan.
    pub parent_id: Option<Uuid>,
    #[schema(max_length = 20, pattern = r"^[0-9A-Za-z]+(\.[0-9A-Za-z]+)*$")]
    pub code: Option<String>,
    pub kind: GoalKind,
    #[schema(min_length = 1, max_length = 500)]
    pub title: String,
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    /// Defaults to 0.
    #[schema(minimum = 0)]
    pub position: Option<i32>,
    /// A goal of the plan this goal's plan implements (its parent plan).
    pub realises_goal_id: Option<Uuid>,
}

/// Fields to change; absent fields stay, `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Stärka arbetet med MIK"}))]
pub struct UpdateGoal {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 20)]
    pub code: Option<Option<String>>,
    pub kind: Option<GoalKind>,
    #[schema(min_length = 1, max_length = 500)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 20000)]
    pub description: Option<Option<String>>,
    #[schema(minimum = 0)]
    pub position: Option<i32>,
    /// A goal of the plan this goal's plan implements; `null` removes the link.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub realises_goal_id: Option<Option<Uuid>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListGoalsQuery {
    pub plan_id: Option<Uuid>,
    /// Only the direct children of this goal.
    pub parent_id: Option<Uuid>,
    pub kind: Option<GoalKind>,
    /// Text the title contains (case-insensitive).
    #[param(example = "hälsa", max_length = 200)]
    pub q: Option<String>,
    /// `position` (default), `code` (numeric: 4.2 before 4.10) or `title` (Swedish order).
    pub sort: Option<GoalSort>,
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

fn check_goal(
    c: &mut Checks,
    code: Option<&str>,
    title: Option<&str>,
    description: Option<&str>,
    position: Option<i32>,
) {
    if let Some(code) = code {
        let valid = code.len() <= 20
            && code
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|ch| ch.is_ascii_alphanumeric()));
        if !valid {
            c.push(
                "code",
                "must be dot-separated numbers or letters, e.g. 4.1.1",
            );
        }
    }
    c.text("title", title, 1, 500);
    c.text("description", description, 0, 20000);
    if position.is_some_and(|p| p < 0) {
        c.push("position", "must not be negative");
    }
}

/// List goals.
#[utoipa::path(
    tag = "goals",
    params(ListGoalsQuery),
    responses(
        (status = 200, description = "A page of goals", content(
            (GoalList = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/goals")]
pub async fn list_goals(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ListGoalsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    c.text("q", query.q.as_deref(), 0, 200);
    c.finish()?;
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let page = Page::<GoalKey>::new(query.limit, query.cursor.as_deref())?;
    let sort = query.sort.unwrap_or_default();
    let filter = GoalFilter {
        plan_id: query.plan_id,
        parent_id: query.parent_id,
        kind: query.kind,
        q: query
            .q
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty()),
        sort,
    };
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let rows = db::list(&mut conn, &filter, &page).await?;
    let (rows, next_cursor) = finish(rows, page.limit, |r| r.key(sort));
    let items = rows.into_iter().map(Goal::from).collect::<Vec<_>>();
    let body = GoalList::new(items, next_cursor);
    csv::reply(
        representation,
        cache::builder(etag),
        &req,
        &body,
        || Table::of("goals.csv", &body.items),
        body.next_cursor.as_deref().map(|c| ("cursor", c)),
    )
}

/// The goal tree of a plan, nested.
#[utoipa::path(
    tag = "goals",
    params(("id" = Uuid, Path, description = "Plan id")),
    responses(
        (status = 200, description = "The plan's goals as a tree", body = GoalTree),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/plans/{id}/goals")]
pub async fn get_goal_tree(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let plan_id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    crate::db::plans::get(&mut conn, plan_id).await?;
    let rows = db::of_plan(&mut conn, plan_id).await?;
    Ok(cache::ok(
        etag,
        &GoalTree {
            plan_id,
            goals: build_tree(rows),
        },
    ))
}

/// Nests goals under their parents, keeping the order of `rows` among siblings.
fn build_tree(rows: Vec<GoalRow>) -> Vec<GoalNode> {
    let mut children: HashMap<Option<Uuid>, Vec<Goal>> = HashMap::new();
    for row in rows {
        children
            .entry(row.parent_id)
            .or_default()
            .push(Goal::from(row));
    }
    fn attach(
        parent: Option<Uuid>,
        children: &mut HashMap<Option<Uuid>, Vec<Goal>>,
    ) -> Vec<GoalNode> {
        children
            .remove(&parent)
            .unwrap_or_default()
            .into_iter()
            .map(|goal| {
                let id = goal.id;
                GoalNode {
                    goal,
                    children: attach(Some(id), children),
                }
            })
            .collect()
    }
    attach(None, &mut children)
}

/// Create a goal.
#[utoipa::path(
    tag = "goals",
    request_body = CreateGoal,
    responses(
        (status = 201, description = "Created", body = Goal, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code already used in the plan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[post("/goals")]
pub async fn create_goal(
    auth: Auth,
    state: web::Data<AppState>,
    body: JsonObject<CreateGoal>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_goal(
        &mut c,
        body.code.as_deref(),
        Some(&body.title),
        body.description.as_deref(),
        body.position,
    );
    c.finish()?;
    let new = NewGoal {
        id: Uuid::new_v4(),
        plan_id: body.plan_id,
        parent_id: body.parent_id,
        code: body.code,
        kind: body.kind,
        title: body.title,
        description: body.description,
        position: body.position.unwrap_or(0),
        realises_goal_id: body.realises_goal_id,
    };
    let mut conn = state.pool.get().await?;
    let row = db::insert(&mut conn, &new).await?;
    Ok(created(
        format!("/api/v1/goals/{}", row.id),
        row.version,
        &Goal::from(row),
    ))
}

/// Read a goal.
#[utoipa::path(
    tag = "goals",
    params(("id" = Uuid, Path, description = "Goal id")),
    responses(
        (status = 200, description = "The goal", body = Goal, headers(("ETag" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such goal", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/goals/{id}")]
pub async fn get_goal(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let mut conn = state.pool.get().await?;
    let row = db::get(&mut conn, id.into_inner()).await?;
    Ok(cache::versioned(&req, row.version, &Goal::from(row)))
}

/// Change some fields of a goal. Honours `If-Match`.
#[utoipa::path(
    tag = "goals",
    params(
        ("id" = Uuid, Path, description = "Goal id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on"),
    ),
    request_body = UpdateGoal,
    responses(
        (status = 200, description = "The changed goal", body = Goal, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such goal", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Code already used in the plan", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[patch("/goals/{id}")]
pub async fn update_goal(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonObject<UpdateGoal>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_goal(
        &mut c,
        body.code.as_ref().and_then(|c| c.as_deref()),
        body.title.as_deref(),
        body.description.as_ref().and_then(|d| d.as_deref()),
        body.position,
    );
    c.finish()?;
    let changes = GoalChanges {
        parent_id: body.parent_id,
        code: body.code,
        kind: body.kind,
        title: body.title,
        description: body.description,
        position: body.position,
        realises_goal_id: body.realises_goal_id,
    };
    let mut conn = state.pool.get().await?;
    let row = db::update(&mut conn, id.into_inner(), expected, &changes).await?;
    Ok(ok_with_etag(row.version, &Goal::from(row)))
}

/// Delete a goal. Refused with 409 while sub-goals, activities or goals that realise it refer
/// to it.
#[utoipa::path(
    tag = "goals",
    params(
        ("id" = Uuid, Path, description = "Goal id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version to delete"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such goal", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still referenced", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[delete("/goals/{id}")]
pub async fn delete_goal(
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
    cfg.service(list_goals)
        .service(create_goal)
        .service(get_goal)
        .service(update_goal)
        .service(delete_goal)
        .service(get_goal_tree);
}
