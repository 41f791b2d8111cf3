//! `/api/v1/actors/{id}/collaborations` and `/api/v1/municipalities/{code}/collaborations`: what
//! an actor takes part in, with its roles, the other participants and how it is going.

use actix_web::{HttpRequest, HttpResponse, get, web};
use diesel_async::AsyncPgConnection;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::activities::{Activity, ActivityActor, actors_cell};
use super::actors::Actor;
use super::cache;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use super::follow_ups::FollowUp;
use super::goals::Goal;
use super::plans::Plan;
use crate::AppState;
use crate::auth::Auth;
use crate::db::activities::{actor_links, linked_goals};
use crate::db::activity_list::{StatusFilter, follow_ups_of, goals_by_id, plans_by_id};
use crate::db::actors::ActorRow;
use crate::db::collaborations::{self as db, CollaborationCursor, CollaborationQuery};
use crate::db::pagination::{Page, finish};
use crate::domain::{FollowUpStatus, Role, Scope};
use crate::error::{ApiError, ApiResult, Checks, Problem};

/// One activity an actor takes part in.
#[derive(Debug, Serialize, ToSchema)]
pub struct Collaboration {
    pub activity: Activity,
    /// The actor's roles in the activity.
    pub roles: Vec<Role>,
    /// The status of `follow_up`; null when nothing was reported or the note has no colour.
    pub status: Option<FollowUpStatus>,
    /// The follow-up of `year`, or the latest one.
    pub follow_up: Option<FollowUp>,
    /// Every other actor of the activity with its role.
    pub participants: Vec<ActivityActor>,
    pub plan: Plan,
    /// The goal the activity is listed under.
    pub goal: Goal,
}

impl CsvRecord for Collaboration {
    fn headers() -> &'static [&'static str] {
        &[
            "activity_id",
            "plan",
            "goal_code",
            "goal",
            "title",
            "start_year",
            "end_year",
            "recurrence",
            "roles",
            "follow_up_year",
            "status",
            "follow_up_comment",
            "participants",
        ]
    }

    fn record(&self) -> Vec<String> {
        let a = &self.activity;
        vec![
            a.id.to_string(),
            self.plan.title.clone(),
            csv::opt(self.goal.code.as_ref()),
            self.goal.title.clone(),
            a.title.clone(),
            csv::opt(a.start_year),
            csv::opt(a.end_year),
            a.recurrence.to_string(),
            csv::list(&self.roles),
            csv::opt(self.follow_up.as_ref().map(|f| f.year)),
            csv::opt(self.status),
            csv::opt(self.follow_up.as_ref().and_then(|f| f.comment.as_ref())),
            actors_cell(&self.participants),
        ]
    }
}

/// A page of an actor's collaborations.
#[derive(Debug, Serialize, ToSchema)]
pub struct CollaborationPage {
    /// Whose collaborations these are.
    pub actor: Actor,
    pub items: Vec<Collaboration>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CollaborationsQuery {
    /// Only activities where the actor has this role (default: any role).
    pub role: Option<Role>,
    /// Activities of this plan and of the plans below it (and activities they include).
    pub plan_id: Option<Uuid>,
    /// The follow-up year shown and filtered on (default: each activity's latest follow-up).
    #[param(minimum = 1900, maximum = 2100, example = 2024)]
    pub year: Option<i32>,
    /// The status of the follow-up shown; `no_status` for one without a colour, `not_reported`
    /// for none.
    pub status: Option<StatusFilter>,
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

/// Collaborations of rows, with everything they show: a fixed number of queries whatever the
/// number of rows.
async fn build(
    conn: &AsyncPgConnection,
    actor_id: Uuid,
    rows: Vec<crate::db::activities::ActivityRow>,
    year: Option<i32>,
) -> ApiResult<Vec<Collaboration>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let goal_ids: Vec<Uuid> = rows.iter().map(|r| r.goal_id).collect();
    let plan_ids: Vec<Uuid> = rows.iter().map(|r| r.plan_id).collect();
    // Independent reads, sent together over the one connection (pipelined).
    let (mut linked, goals, plans, mut links, mut follow_ups) = futures_util::future::try_join5(
        linked_goals(conn, &ids),
        goals_by_id(conn, &goal_ids),
        plans_by_id(conn, &plan_ids),
        actor_links(conn, &ids),
        follow_ups_of(conn, &ids, year),
    )
    .await?;
    rows.into_iter()
        .map(|row| {
            // Read in one snapshot: an activity's plan and goal are there.
            let missing =
                || ApiError::internal(format!("activity {} lost its plan or goal", row.id));
            let plan = plans.get(&row.plan_id).cloned().ok_or_else(missing)?;
            let goal = goals.get(&row.goal_id).cloned().ok_or_else(missing)?;
            let follow_up = follow_ups.remove(&row.id).map(|f| FollowUp::new(f, &row));
            let (own, others): (Vec<_>, Vec<_>) = links
                .remove(&row.id)
                .unwrap_or_default()
                .into_iter()
                .partition(|l| l.actor.id == actor_id);
            let mut roles: Vec<Role> = own.into_iter().map(|l| l.role).collect();
            roles.sort();
            let id = row.id;
            Ok(Collaboration {
                activity: Activity::from_row(row, linked.remove(&id).unwrap_or_default()),
                roles,
                status: follow_up.as_ref().and_then(|f| f.status),
                follow_up,
                participants: others.into_iter().map(ActivityActor::from).collect(),
                plan: Plan::from(plan),
                goal: Goal::from(goal),
            })
        })
        .collect()
}

/// The page for an actor, answered as JSON or CSV with a data-version ETag.
async fn answer(
    state: &AppState,
    req: &HttpRequest,
    actor: ActorLookup,
    query: CollaborationsQuery,
) -> ApiResult<HttpResponse> {
    let mut c = Checks::default();
    c.year("year", query.year);
    c.finish()?;
    let representation = Representation::negotiate(req, query.format, query.excel)?;
    let page = Page::<CollaborationCursor>::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let year = query.year;
    let (actor, items, next_cursor) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let actor: ActorRow = match actor {
                ActorLookup::Id(id) => crate::db::actors::get(conn, id).await?,
                ActorLookup::Municipality(code) => db::municipality(conn, &code).await?,
            };
            let q = CollaborationQuery {
                actor_id: actor.id,
                role: query.role,
                plan_id: query.plan_id,
                year,
                status: query.status,
            };
            let rows = db::page(conn, &q, page.after.as_ref(), page.fetch()).await?;
            let (rows, next_cursor) = finish(rows, page.limit, |r| r.cursor());
            let rows = rows.into_iter().map(|r| r.row).collect();
            let items = build(conn, actor.id, rows, year).await?;
            Ok((actor, items, next_cursor))
        })
        .await?;
    let filename = match &actor.municipality_code {
        Some(code) => format!("collaborations-{code}.csv"),
        None => format!("collaborations-{}.csv", actor.id),
    };
    let body = CollaborationPage {
        actor: Actor::from(actor),
        items,
        next_cursor,
    };
    csv::reply(
        representation,
        cache::builder(etag),
        req,
        &body,
        || Table::of(filename, &body.items),
        body.next_cursor.as_deref().map(|c| ("cursor", c)),
    )
}

enum ActorLookup {
    Id(Uuid),
    Municipality(String),
}

/// Every activity an actor takes part in, with its roles, the other participants, the plan,
/// the goal and the follow-up of `year` (default: the latest).
///
/// Newest plan first, then in the plan's order. The ETag moves with every write; `If-None-Match`
/// answers 304.
#[utoipa::path(
    tag = "collaborations",
    params(("id" = Uuid, Path, description = "Actor id"), CollaborationsQuery),
    responses(
        (status = 200, description = "A page of the actor's activities", content(
            (CollaborationPage = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed id or query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such actor", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/actors/{id}/collaborations")]
pub async fn list_actor_collaborations(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: crate::api::query::Query<CollaborationsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    answer(
        &state,
        &req,
        ActorLookup::Id(id.into_inner()),
        query.into_inner(),
    )
    .await
}

/// Every activity a municipality takes part in, by its official code (e.g. `1880`): the same
/// as `/actors/{id}/collaborations` for the municipality's actor.
#[utoipa::path(
    tag = "collaborations",
    params(
        ("code" = String, Path, pattern = "^[0-9]{4}$", description = "Four-digit municipality code", example = "1861"),
        CollaborationsQuery,
    ),
    responses(
        (status = 200, description = "A page of the municipality's activities", content(
            (CollaborationPage = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality has the code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid code or query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/municipalities/{code}/collaborations")]
pub async fn list_municipality_collaborations(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    code: web::Path<String>,
    query: crate::api::query::Query<CollaborationsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let code = code.into_inner();
    let mut c = Checks::default();
    c.municipality_code("code", Some(&code));
    c.finish()?;
    answer(
        &state,
        &req,
        ActorLookup::Municipality(code),
        query.into_inner(),
    )
    .await
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_actor_collaborations)
        .service(list_municipality_collaborations);
}
