//! `/api/v1/reports/…`: the yearly follow-up as the culture board reads it (status counts per
//! goal, trend, what is missing) and the collaboration matrix and network. Counted by SQL.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, web};
use diesel_async::AsyncPgConnection;
use futures_util::future::{try_join, try_join3, try_join4};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::activities::Activity;
use super::actors::Actor;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use super::goals::Goal;
use super::report_cache::{Lookup, keep, lookup};
use crate::AppState;
use crate::auth::Auth;
use crate::db::activities::{actor_links, linked_goals};
use crate::db::activity_list::goals_by_id;
use crate::db::plans::PlanRow;
use crate::db::reports::{self as db, CountsRow, Grouping};
use crate::domain::{ActorKind, GoalKind, Role, Scope};
use crate::error::{ApiError, ApiResult, Checks, Problem};

/// Activities per status. The fields add up to the `total` beside them: every activity is in
/// exactly one.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct StatusCounts {
    /// Reported blue: planned to start later.
    pub planned: i64,
    /// Reported red.
    pub delayed: i64,
    /// Reported green.
    pub completed: i64,
    /// Reported yellow.
    pub ongoing: i64,
    /// Reported without a colour (a note only, as the 2024 follow-up in the sources).
    pub no_status: i64,
    /// No follow-up for the year, and the activity starts that year or earlier (or has no
    /// start year).
    pub not_reported: i64,
    /// No follow-up for the year, and the activity starts after it: planned by its dates, not
    /// by a report.
    pub planned_derived: i64,
}

/// The shares of `total` per status (0–1, four decimals; all 0 when `total` is 0).
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct StatusShares {
    pub planned: f64,
    pub delayed: f64,
    pub completed: f64,
    pub ongoing: f64,
    pub no_status: f64,
    pub not_reported: f64,
    pub planned_derived: f64,
}

/// Counts, total, shares and flags of a set of activities.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Tally {
    pub counts: StatusCounts,
    pub total: i64,
    pub shares: StatusShares,
    /// Reported statuses that do not fit the activity's dates (`planned` at or after the
    /// start year, a status before the start or after the end of a one-off activity). They
    /// are counted under their status too.
    pub flagged: i64,
}

impl From<CountsRow> for Tally {
    fn from(c: CountsRow) -> Self {
        let share = |n: i64| {
            if c.total == 0 {
                0.0
            } else {
                (n as f64 / c.total as f64 * 10_000.0).round() / 10_000.0
            }
        };
        Tally {
            counts: StatusCounts {
                planned: c.planned,
                delayed: c.delayed,
                completed: c.completed,
                ongoing: c.ongoing,
                no_status: c.no_status,
                not_reported: c.not_reported,
                planned_derived: c.planned_derived,
            },
            total: c.total,
            shares: StatusShares {
                planned: share(c.planned),
                delayed: share(c.delayed),
                completed: share(c.completed),
                ongoing: share(c.ongoing),
                no_status: share(c.no_status),
                not_reported: share(c.not_reported),
                planned_derived: share(c.planned_derived),
            },
            flagged: c.flagged,
        }
    }
}

const TALLY_HEADERS: [&str; 9] = [
    "planned",
    "delayed",
    "completed",
    "ongoing",
    "no_status",
    "not_reported",
    "planned_derived",
    "total",
    "flagged",
];

impl Tally {
    fn cells(&self) -> Vec<String> {
        let c = &self.counts;
        [
            c.planned,
            c.delayed,
            c.completed,
            c.ongoing,
            c.no_status,
            c.not_reported,
            c.planned_derived,
            self.total,
            self.flagged,
        ]
        .iter()
        .map(i64::to_string)
        .collect()
    }
}

/// A goal with the counts of every activity listed under it or any goal below it.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalSummary {
    pub goal_id: Uuid,
    /// The goal this one is listed under in the report: its parent goal, or, for a top-level
    /// goal of a sub-plan that realises a goal of the report's plans, that goal.
    pub parent_id: Option<Uuid>,
    /// The plan the goal belongs to (a culture plan's report holds its sub-plans' goals).
    pub plan_id: Uuid,
    pub code: Option<String>,
    pub kind: GoalKind,
    pub title: String,
    /// The goal of the parent plan that this goal realises (see `Goal.realises_goal_id`); its
    /// counts are in that goal's too.
    pub realises_goal_id: Option<Uuid>,
    /// 0 for a goal listed at the top.
    pub depth: i32,
    #[serde(flatten)]
    pub tally: Tally,
}

/// The counts of one responsible actor or municipality.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupSummary {
    /// Null for the activities without a responsible actor.
    pub actor_id: Option<Uuid>,
    pub name: Option<String>,
    pub kind: Option<ActorKind>,
    pub municipality_code: Option<String>,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// Per actor with the `responsible` role; an activity counts for each of its responsible
    /// actors, and those without one form a group with `actor_id` null.
    Responsible,
    /// Per municipality (all of them); an activity counts for each municipality with a role in it.
    Municipality,
}

/// The follow-up of a plan for a year, per goal, rolled up the goal tree.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpSummary {
    pub plan_id: Uuid,
    pub year: i32,
    /// The plan's goal tree (and its sub-plans'), parents before their children.
    pub goals: Vec<GoalSummary>,
    /// Every activity of the plan, its sub-plans and the activities they include, once.
    pub plan: Tally,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_by: Option<GroupBy>,
    /// With `group_by`: the plan's counts per group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<GroupSummary>>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SummaryQuery {
    /// The plan; a culture plan includes its implementation plans' activities.
    #[param(required = true)]
    pub plan_id: Option<Uuid>,
    /// The follow-up year.
    #[param(required = true, minimum = 1900, maximum = 2100, example = 2024)]
    pub year: Option<i32>,
    /// Add the plan's counts per responsible actor or per municipality.
    pub group_by: Option<GroupBy>,
    /// `csv` for CSV (as `Accept: text/csv`).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// The plan-level counts of one year.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearTally {
    pub year: i32,
    #[serde(flatten)]
    pub tally: Tally,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpTrend {
    pub plan_id: Uuid,
    pub from: i32,
    pub to: i32,
    /// One entry per year from `from` through `to`.
    pub years: Vec<YearTally>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TrendQuery {
    #[param(required = true)]
    pub plan_id: Option<Uuid>,
    /// First year (default: the plan's first year).
    #[param(minimum = 1900, maximum = 2100, example = 2024)]
    pub from: Option<i32>,
    /// Last year (default: the later of the plan's last year and the last start or end year of
    /// the activities in scope, at most 50 years after the plan's first year); at most 50 years
    /// after `from`.
    #[param(minimum = 1900, maximum = 2100, example = 2027)]
    pub to: Option<i32>,
    /// `csv` for CSV (as `Accept: text/csv`).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// An activity that should have been followed up.
#[derive(Debug, Serialize, ToSchema)]
pub struct MissingFollowUp {
    pub activity: Activity,
    /// The goal the activity is listed under.
    pub goal: Goal,
    /// The actors with the `responsible` role: whom the region asks.
    pub responsible: Vec<Actor>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MissingFollowUps {
    pub plan_id: Uuid,
    pub year: i32,
    /// In the plan's order.
    pub items: Vec<MissingFollowUp>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MissingQuery {
    #[param(required = true)]
    pub plan_id: Option<Uuid>,
    /// The follow-up year: activities running that year (from the start year through the end
    /// year; a recurring activity without an end year goes on, a one-off one runs in its start
    /// year) without a follow-up for it.
    #[param(required = true, minimum = 1900, maximum = 2100, example = 2024)]
    pub year: Option<i32>,
    /// `csv` for CSV (as `Accept: text/csv`).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// A column of the matrix.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatrixGoal {
    pub goal_id: Uuid,
    pub plan_id: Uuid,
    pub code: Option<String>,
    pub title: String,
    /// Activities under the goal, with or without a municipality.
    pub activities: i64,
    /// Activities under the goal with at least one municipality.
    pub total: i64,
    /// The column's sum: (municipality, activity) pairs.
    pub participations: i64,
}

/// A row of the matrix.
#[derive(Debug, Serialize, ToSchema)]
pub struct MatrixRow {
    pub actor_id: Uuid,
    pub name: String,
    pub municipality_code: Option<String>,
    /// Activities the municipality takes part in under each goal, in the order of `goals`.
    pub counts: Vec<i64>,
    /// Activities the municipality takes part in.
    pub total: i64,
}

/// Municipalities × top-level goals.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollaborationMatrix {
    pub plan_id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// The top-level goals the plan's activities hang under (their primary goal or a goal
    /// above it), sub-plans' goals included.
    pub goals: Vec<MatrixGoal>,
    /// Every municipality, in Swedish order.
    pub municipalities: Vec<MatrixRow>,
    /// Activities with at least one municipality.
    pub total: i64,
    /// All (municipality, activity) pairs.
    pub participations: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MatrixQuery {
    #[param(required = true)]
    pub plan_id: Option<Uuid>,
    /// Count only this role (default: any role).
    pub role: Option<Role>,
    /// `csv` for CSV (as `Accept: text/csv`).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// An actor of the network.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkActor {
    pub actor_id: Uuid,
    pub name: String,
    pub municipality_code: Option<String>,
    /// Activities it takes part in.
    pub activities: i64,
}

/// Who an actor in a pair is.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ActorRef {
    pub actor_id: Uuid,
    pub name: String,
    pub municipality_code: Option<String>,
}

/// Two actors that take part in the same activities.
#[derive(Debug, Serialize, ToSchema)]
pub struct NetworkPair {
    /// The two actors, in Swedish order.
    pub actors: [ActorRef; 2],
    /// Activities both take part in.
    pub shared: i64,
}

/// Which actors collaborate with which: nodes and weighted edges of a graph.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollaborationNetwork {
    /// Null: every plan.
    pub plan_id: Option<Uuid>,
    pub kind: ActorKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Every actor of the kind, also those without shared activities.
    pub actors: Vec<NetworkActor>,
    /// Pairs sharing at least one activity, most shared first.
    pub pairs: Vec<NetworkPair>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NetworkQuery {
    /// Activities of this plan and its sub-plans (default: every activity).
    pub plan_id: Option<Uuid>,
    /// The kind of actors to pair (default: `municipality`).
    pub kind: Option<ActorKind>,
    /// Count only this role (default: any role).
    pub role: Option<Role>,
    /// `csv` for CSV (as `Accept: text/csv`).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// The plan and year a yearly report is of: both required, the year in range; every problem named
/// at once.
pub(super) fn plan_and_year(plan_id: Option<Uuid>, year: Option<i32>) -> ApiResult<(Uuid, i32)> {
    let mut c = Checks::default();
    let plan_id = required(&mut c, "plan_id", plan_id);
    let year = required(&mut c, "year", year);
    c.year("year", year);
    c.finish()?;
    match (plan_id, year) {
        (Some(plan_id), Some(year)) => Ok((plan_id, year)),
        _ => Err(ApiError::internal("checked parameters missing")),
    }
}

fn required<T>(c: &mut Checks, field: &str, value: Option<T>) -> Option<T> {
    if value.is_none() {
        c.push(field, "is required");
    }
    value
}

/// The follow-up of a plan for a year: per goal and for the plan, how many activities are
/// planned, delayed, completed, ongoing, reported without a colour, not reported, and planned
/// by their start year.
///
/// A goal's counts include every activity under it or any goal below it (each activity counts
/// under its primary goal); every bucket adds up to `total`. A culture plan includes its
/// implementation plans' goals and activities. `group_by` adds the plan's counts per
/// responsible actor or per municipality. As CSV: one line per goal (or group) and the plan.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(SummaryQuery),
    responses(
        (status = 200, description = "The summary", content(
            (FollowUpSummary = "application/json"),
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
#[get("/reports/follow-up-summary")]
pub async fn follow_up_summary(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<SummaryQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let (plan_id, year) = plan_and_year(query.plan_id, query.year)?;
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let group_by = query.group_by;
    let grouping = group_by.map(|g| match g {
        GroupBy::Responsible => Grouping::Responsible,
        GroupBy::Municipality => Grouping::Municipality,
    });
    let (version, plan, rows, groups) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            try_join4(
                crate::db::data_version_shared(conn),
                db::plan(conn, plan_id),
                db::summary(conn, plan_id, year),
                async move {
                    match grouping {
                        Some(g) => db::summary_groups(conn, plan_id, year, g).await.map(Some),
                        None => Ok(None),
                    }
                },
            )
            .await
        })
        .await?;
    let mut plan_tally = None;
    let mut goals = Vec::new();
    for row in rows {
        match (row.goal_id, row.plan_id, row.kind, row.title) {
            (Some(goal_id), Some(goal_plan), Some(kind), Some(title)) => goals.push(GoalSummary {
                goal_id,
                parent_id: row.parent_id,
                plan_id: goal_plan,
                code: row.code,
                kind,
                title,
                realises_goal_id: row.realises_goal_id,
                depth: row.depth,
                tally: Tally::from(row.counts),
            }),
            _ => plan_tally = Some(Tally::from(row.counts)),
        }
    }
    let plan_tally =
        plan_tally.ok_or_else(|| ApiError::internal("the summary has no plan total"))?;
    let groups = groups.map(|rows| {
        rows.into_iter()
            .map(|g| GroupSummary {
                actor_id: g.actor_id,
                name: g.name,
                kind: g.kind,
                municipality_code: g.municipality_code,
                tally: Tally::from(g.counts),
            })
            .collect::<Vec<_>>()
    });
    let body = FollowUpSummary {
        plan_id,
        year,
        goals,
        plan: plan_tally,
        group_by,
        groups,
    };
    let rendered = csv::render(representation, &body, || summary_table(&body, &plan))?;
    Ok(keep(&req, key, version, rendered))
}

fn summary_table(summary: &FollowUpSummary, plan: &PlanRow) -> Table {
    let filename = format!("follow-up-summary-{}.csv", summary.year);
    if let Some(groups) = &summary.groups {
        let mut headers = vec!["actor_id", "name", "municipality_code"];
        headers.extend(TALLY_HEADERS);
        let mut table = Table::new(filename, &headers);
        for g in groups {
            let mut row = vec![
                csv::opt(g.actor_id),
                csv::opt(g.name.as_ref()),
                csv::opt(g.municipality_code.as_ref()),
            ];
            row.extend(g.tally.cells());
            table.push(row);
        }
        return table;
    }
    let mut headers = vec![
        "goal_id",
        "parent_id",
        "depth",
        "code",
        "title",
        "realises_goal_id",
    ];
    headers.extend(TALLY_HEADERS);
    let mut table = Table::new(filename, &headers);
    let mut row = vec![
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        plan.title.clone(),
        String::new(),
    ];
    row.extend(summary.plan.cells());
    table.push(row);
    for g in &summary.goals {
        let mut row = vec![
            g.goal_id.to_string(),
            csv::opt(g.parent_id),
            g.depth.to_string(),
            csv::opt(g.code.as_ref()),
            g.title.clone(),
            csv::opt(g.realises_goal_id),
        ];
        row.extend(g.tally.cells());
        table.push(row);
    }
    table
}

/// The plan-level counts of the summary for every year from `from` through `to`.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(TrendQuery),
    responses(
        (status = 200, description = "The counts per year", content(
            (FollowUpTrend = "application/json"),
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
#[get("/reports/follow-up-trend")]
pub async fn follow_up_trend(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<TrendQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    let plan_id = required(&mut c, "plan_id", query.plan_id);
    c.year("from", query.from);
    c.year("to", query.to);
    c.finish()?;
    let Some(plan_id) = plan_id else {
        return Err(ApiError::internal("checked parameters missing"));
    };
    if let (Some(from), Some(to)) = (query.from, query.to) {
        check_span(from, to)?;
    }
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let (from, to) = (query.from, query.to);
    let (version, from, to, rows) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            let (version, (first, last)) = try_join(
                crate::db::data_version_shared(conn),
                db::covered_years(conn, plan_id),
            )
            .await?;
            // The years the plan covers by default: from its first year through the last year
            // of its period or of its activities, whichever is later (a yearly implementation
            // plan's activities run on after the year of its edition).
            let from = from.unwrap_or(first);
            let to = to.unwrap_or(last);
            check_span(from, to)?;
            let rows = db::trend(conn, plan_id, from, to).await?;
            Ok((version, from, to, rows))
        })
        .await?;
    let body = FollowUpTrend {
        plan_id,
        from,
        to,
        years: rows
            .into_iter()
            .map(|r| YearTally {
                year: r.year,
                tally: Tally::from(r.counts),
            })
            .collect(),
    };
    let rendered = csv::render(representation, &body, || {
        let mut headers = vec!["year"];
        headers.extend(TALLY_HEADERS);
        let mut table = Table::new(format!("follow-up-trend-{from}-{to}.csv"), &headers);
        for y in &body.years {
            let mut row = vec![y.year.to_string()];
            row.extend(y.tally.cells());
            table.push(row);
        }
        table
    })?;
    Ok(keep(&req, key, version, rendered))
}

/// `from` through `to`: in order, at most 50 years.
fn check_span(from: i32, to: i32) -> ApiResult<()> {
    if from > to {
        return Err(ApiError::field("to", "must not be before from"));
    }
    if to - from > 50 {
        return Err(ApiError::field("to", "at most 50 years after from"));
    }
    Ok(())
}

impl CsvRecord for MissingFollowUp {
    fn headers() -> &'static [&'static str] {
        &[
            "activity_id",
            "goal_code",
            "goal",
            "title",
            "start_year",
            "end_year",
            "recurrence",
            "responsible",
        ]
    }

    fn record(&self) -> Vec<String> {
        let a = &self.activity;
        vec![
            a.id.to_string(),
            csv::opt(self.goal.code.as_ref()),
            self.goal.title.clone(),
            a.title.clone(),
            csv::opt(a.start_year),
            csv::opt(a.end_year),
            a.recurrence.to_string(),
            csv::list(self.responsible.iter().map(|r| &r.name)),
        ]
    }
}

/// The activities running in `year` that have no follow-up for it, with their responsible
/// actors: what the region chases in January.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(MissingQuery),
    responses(
        (status = 200, description = "The activities without a follow-up", content(
            (MissingFollowUps = "application/json"),
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
#[get("/reports/missing-follow-ups")]
pub async fn missing_follow_ups(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<MissingQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let (plan_id, year) = plan_and_year(query.plan_id, query.year)?;
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let (version, items) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            let (version, _, rows) = try_join3(
                crate::db::data_version_shared(conn),
                db::plan(conn, plan_id),
                db::missing_follow_ups(conn, plan_id, year),
            )
            .await?;
            let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
            let goal_ids: Vec<Uuid> = rows.iter().map(|r| r.goal_id).collect();
            let (mut linked, goals, mut links) = try_join3(
                linked_goals(conn, &ids),
                goals_by_id(conn, &goal_ids),
                actor_links(conn, &ids),
            )
            .await?;
            let items = rows
                .into_iter()
                .map(|row| {
                    let goal = goals.get(&row.goal_id).cloned().ok_or_else(|| {
                        ApiError::internal(format!("activity {} lost its goal", row.id))
                    })?;
                    let responsible = links
                        .remove(&row.id)
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|l| l.role == Role::Responsible)
                        .map(|l| Actor::from(l.actor))
                        .collect();
                    let id = row.id;
                    Ok(MissingFollowUp {
                        activity: Activity::from_row(row, linked.remove(&id).unwrap_or_default()),
                        goal: Goal::from(goal),
                        responsible,
                    })
                })
                .collect::<ApiResult<Vec<_>>>()?;
            Ok((version, items))
        })
        .await?;
    let body = MissingFollowUps {
        plan_id,
        year,
        items,
    };
    let rendered = csv::render(representation, &body, || {
        Table::of(format!("missing-follow-ups-{year}.csv"), &body.items)
    })?;
    Ok(keep(&req, key, version, rendered))
}

/// Municipalities × the plan's top-level goals: how many activities each municipality takes
/// part in under each goal, with row and column totals.
///
/// An activity counts under the top-level goal above its primary goal; a culture plan includes
/// its implementation plans' activities (and their goals as columns). Row totals and `total`
/// count distinct activities; `participations` counts (municipality, activity) pairs.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(MatrixQuery),
    responses(
        (status = 200, description = "The matrix", content(
            (CollaborationMatrix = "application/json"),
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
#[get("/reports/collaboration-matrix")]
pub async fn collaboration_matrix(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<MatrixQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    let plan_id = required(&mut c, "plan_id", query.plan_id);
    c.finish()?;
    let Some(plan_id) = plan_id else {
        return Err(ApiError::internal("checked parameters missing"));
    };
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let role = query.role;
    let (version, _, columns, counts, municipalities) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            futures_util::future::try_join5(
                crate::db::data_version_shared(conn),
                db::plan(conn, plan_id),
                db::matrix_goals(conn, plan_id),
                db::matrix_counts(conn, plan_id, role),
                db::municipalities(conn),
            )
            .await
        })
        .await?;
    // Lay the aggregate's rows out as a grid.
    let column_of: HashMap<Uuid, usize> = columns
        .iter()
        .enumerate()
        .map(|(i, g)| (g.goal_id, i))
        .collect();
    let mut cells: HashMap<(Uuid, Uuid), i64> = HashMap::new();
    let mut row_totals: HashMap<Uuid, i64> = HashMap::new();
    let mut column_totals: HashMap<Uuid, (i64, i64)> = HashMap::new();
    let (mut total, mut participations) = (0, 0);
    for c in counts {
        match (c.grouping, c.actor_id, c.goal_id) {
            (0, Some(actor), Some(goal)) => {
                cells.insert((actor, goal), c.activities);
            }
            (1, Some(actor), None) => {
                row_totals.insert(actor, c.activities);
            }
            (2, None, Some(goal)) => {
                column_totals.insert(goal, (c.activities, c.participations));
            }
            (3, None, None) => {
                total = c.activities;
                participations = c.participations;
            }
            _ => return Err(ApiError::internal("unexpected grouping in the matrix")),
        }
    }
    let goals: Vec<MatrixGoal> = columns
        .into_iter()
        .map(|g| {
            let (total, participations) = column_totals.get(&g.goal_id).copied().unwrap_or((0, 0));
            MatrixGoal {
                goal_id: g.goal_id,
                plan_id: g.plan_id,
                code: g.code,
                title: g.title,
                activities: g.activities,
                total,
                participations,
            }
        })
        .collect();
    let rows = municipalities
        .into_iter()
        .map(|m| {
            let mut counts = vec![0; goals.len()];
            for (goal, i) in &column_of {
                if let Some(n) = cells.get(&(m.id, *goal))
                    && let Some(cell) = counts.get_mut(*i)
                {
                    *cell = *n;
                }
            }
            MatrixRow {
                actor_id: m.id,
                total: row_totals.get(&m.id).copied().unwrap_or(0),
                name: m.name,
                municipality_code: m.municipality_code,
                counts,
            }
        })
        .collect();
    let body = CollaborationMatrix {
        plan_id,
        role,
        goals,
        municipalities: rows,
        total,
        participations,
    };
    let rendered = csv::render(representation, &body, || matrix_table(&body))?;
    Ok(keep(&req, key, version, rendered))
}

fn matrix_table(m: &CollaborationMatrix) -> Table {
    let labels: Vec<String> = m
        .goals
        .iter()
        .map(|g| match &g.code {
            Some(code) => format!("{code} {}", g.title),
            None => g.title.clone(),
        })
        .collect();
    let mut headers = vec!["municipality_code", "municipality"];
    headers.extend(labels.iter().map(String::as_str));
    headers.push("total");
    let mut table = Table::new("collaboration-matrix.csv", &headers);
    for r in &m.municipalities {
        let mut row = vec![csv::opt(r.municipality_code.as_ref()), r.name.clone()];
        row.extend(r.counts.iter().map(i64::to_string));
        row.push(r.total.to_string());
        table.push(row);
    }
    let mut row = vec![String::new(), "total".to_owned()];
    row.extend(m.goals.iter().map(|g| g.total.to_string()));
    row.push(m.total.to_string());
    table.push(row);
    table
}

impl CsvRecord for NetworkPair {
    fn headers() -> &'static [&'static str] {
        &[
            "actor_id",
            "name",
            "municipality_code",
            "other_actor_id",
            "other_name",
            "other_municipality_code",
            "shared",
        ]
    }

    fn record(&self) -> Vec<String> {
        let [a, b] = &self.actors;
        vec![
            a.actor_id.to_string(),
            a.name.clone(),
            csv::opt(a.municipality_code.as_ref()),
            b.actor_id.to_string(),
            b.name.clone(),
            csv::opt(b.municipality_code.as_ref()),
            self.shared.to_string(),
        ]
    }
}

/// Which actors (default: municipalities) take part in the same activities, and in how many:
/// for drawing a collaboration graph. As CSV: one line per pair.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(NetworkQuery),
    responses(
        (status = 200, description = "The network", content(
            (CollaborationNetwork = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/reports/collaboration-network")]
pub async fn collaboration_network(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<NetworkQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let (plan_id, role) = (query.plan_id, query.role);
    let kind = query.kind.unwrap_or(ActorKind::Municipality);
    let (version, _, actors, pairs) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            try_join4(
                crate::db::data_version_shared(conn),
                async move {
                    match plan_id {
                        Some(plan) => db::plan(conn, plan).await.map(Some),
                        None => Ok(None),
                    }
                },
                db::network_actors(conn, plan_id, kind, role),
                db::network_pairs(conn, plan_id, kind, role),
            )
            .await
        })
        .await?;
    let refs: HashMap<Uuid, ActorRef> = actors
        .iter()
        .map(|a| {
            (
                a.actor_id,
                ActorRef {
                    actor_id: a.actor_id,
                    name: a.name.clone(),
                    municipality_code: a.municipality_code.clone(),
                },
            )
        })
        .collect();
    let pairs = pairs
        .into_iter()
        .map(|p| {
            let actor = |id: Uuid| {
                refs.get(&id)
                    .cloned()
                    .ok_or_else(|| ApiError::internal(format!("actor {id} not in the network")))
            };
            Ok(NetworkPair {
                actors: [actor(p.a_id)?, actor(p.b_id)?],
                shared: p.shared,
            })
        })
        .collect::<ApiResult<Vec<_>>>()?;
    let body = CollaborationNetwork {
        plan_id,
        kind,
        role,
        actors: actors
            .into_iter()
            .map(|a| NetworkActor {
                actor_id: a.actor_id,
                name: a.name,
                municipality_code: a.municipality_code,
                activities: a.activities,
            })
            .collect(),
        pairs,
    };
    let rendered = csv::render(representation, &body, || {
        Table::of("collaboration-network.csv", &body.pairs)
    })?;
    Ok(keep(&req, key, version, rendered))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(follow_up_summary)
        .service(follow_up_trend)
        .service(missing_follow_ups)
        .service(collaboration_matrix)
        .service(collaboration_network);
}
