//! `/api/v1/reports/follow-up-chase`: the chase list of the yearly round, for the person running
//! it: per responsible actor and municipality, what is expected, submitted, approved, returned
//! and missing, with the missing and returned activities.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use diesel_async::AsyncPgConnection;
use futures_util::future::try_join4;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::csv::{self, Format, Representation, Table};
use super::report_cache::{Lookup, keep, lookup};
use super::reports::GroupBy;
use crate::AppState;
use crate::auth::Auth;
use crate::db::chase::{self as db, ChaseItemRow};
use crate::domain::{ReviewState, Scope};
use crate::error::{ApiError, ApiResult, Problem};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChaseQuery {
    /// The plan; a culture plan includes its implementation plans' activities.
    #[param(required = true)]
    pub plan_id: Option<Uuid>,
    /// The follow-up year: the activities running that year are expected.
    #[param(required = true, minimum = 1900, maximum = 2100, example = 2024)]
    pub year: Option<i32>,
    /// `csv` for CSV (as `Accept: text/csv`).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// Why an activity is on the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Chased {
    /// No follow-up for the year.
    Missing,
    /// Its follow-up was returned by a reviewer.
    Returned,
}

/// An activity to chase.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChaseItem {
    pub activity_id: Uuid,
    pub title: String,
    /// The code of the goal it is listed under.
    pub goal_code: Option<String>,
    pub reason: Chased,
    /// The reviewer's note of a returned follow-up.
    pub note: Option<String>,
}

/// Whom the region asks, and how far their reports have come.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChaseGroup {
    /// `responsible`: an actor with the `responsible` role (or, with `actor_id` null, the
    /// activities without one); `municipality`: a municipality with any role.
    pub group: GroupBy,
    pub actor_id: Option<Uuid>,
    pub name: Option<String>,
    pub municipality_code: Option<String>,
    /// Activities running in the year. The four below add up to it.
    pub expected: i64,
    /// Reported and waiting for review.
    pub submitted: i64,
    pub approved: i64,
    pub returned: i64,
    /// Without a follow-up.
    pub missing: i64,
    /// The missing and returned activities, in plan order.
    pub items: Vec<ChaseItem>,
}

/// The chase list of a plan's round for a year.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChaseList {
    pub plan_id: Uuid,
    pub year: i32,
    /// The responsible actors in Swedish order (the group without one last), then every
    /// municipality.
    pub groups: Vec<ChaseGroup>,
}

fn group_of(grouping: &str) -> ApiResult<GroupBy> {
    match grouping {
        "responsible" => Ok(GroupBy::Responsible),
        "municipality" => Ok(GroupBy::Municipality),
        other => Err(ApiError::internal(format!("unknown chase group {other}"))),
    }
}

/// Who to chase in a plan's yearly round: for each responsible actor and each municipality, the
/// activities running in the year, how many of their follow-ups are submitted, approved or
/// returned, how many are missing, and which activities are missing or returned.
///
/// An activity counts for each of its responsible actors (those without one form a group with
/// `actor_id` null) and for each municipality with a role in it. As CSV: one line per group,
/// the missing and returned activities in a cell each.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(ChaseQuery),
    responses(
        (status = 200, description = "The chase list", content(
            (ChaseList = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/reports/follow-up-chase")]
pub async fn follow_up_chase(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ChaseQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let (plan_id, year) = super::reports::plan_and_year(query.plan_id, query.year)?;
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let (version, _, counts, items) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            try_join4(
                crate::db::data_version_shared(conn),
                crate::db::reports::plan(conn, plan_id),
                db::counts(conn, plan_id, year),
                db::items(conn, plan_id, year),
            )
            .await
        })
        .await?;
    let mut items_of: HashMap<(String, Option<Uuid>), Vec<ChaseItem>> = HashMap::new();
    for row in items {
        let ChaseItemRow {
            grouping,
            actor_id,
            activity_id,
            title,
            goal_code,
            review,
            review_note,
            ..
        } = row;
        let reason = match review {
            None => Chased::Missing,
            Some(ReviewState::Returned) => Chased::Returned,
            Some(other) => {
                return Err(ApiError::internal(format!("{other} on the chase list")));
            }
        };
        items_of
            .entry((grouping, actor_id))
            .or_default()
            .push(ChaseItem {
                activity_id,
                title,
                goal_code,
                reason,
                note: review_note.filter(|_| reason == Chased::Returned),
            });
    }
    let groups = counts
        .into_iter()
        .map(|c| {
            Ok(ChaseGroup {
                group: group_of(&c.grouping)?,
                items: items_of
                    .remove(&(c.grouping, c.actor_id))
                    .unwrap_or_default(),
                actor_id: c.actor_id,
                name: c.name,
                municipality_code: c.municipality_code,
                expected: c.expected,
                submitted: c.submitted,
                approved: c.approved,
                returned: c.returned,
                missing: c.missing,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let body = ChaseList {
        plan_id,
        year,
        groups,
    };
    let rendered = csv::render(representation, &body, || chase_table(&body))?;
    Ok(keep(&req, key, version, rendered))
}

fn chase_table(list: &ChaseList) -> Table {
    let mut table = Table::new(
        format!("follow-up-chase-{}.csv", list.year),
        &[
            "group",
            "actor_id",
            "name",
            "municipality_code",
            "expected",
            "submitted",
            "approved",
            "returned",
            "missing",
            "missing_activities",
            "returned_activities",
        ],
    );
    for g in &list.groups {
        let titles =
            |reason: Chased| {
                csv::list(g.items.iter().filter(|i| i.reason == reason).map(
                    |i| match &i.goal_code {
                        Some(code) => format!("{code} {}", i.title),
                        None => i.title.clone(),
                    },
                ))
            };
        table.push(vec![
            match g.group {
                GroupBy::Responsible => "responsible".to_owned(),
                GroupBy::Municipality => "municipality".to_owned(),
            },
            csv::opt(g.actor_id),
            csv::opt(g.name.as_ref()),
            csv::opt(g.municipality_code.as_ref()),
            g.expected.to_string(),
            g.submitted.to_string(),
            g.approved.to_string(),
            g.returned.to_string(),
            g.missing.to_string(),
            titles(Chased::Missing),
            titles(Chased::Returned),
        ]);
    }
    table
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(follow_up_chase);
}
