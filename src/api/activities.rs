//! `/api/v1/activities` and `/api/v1/activities/{id}/actors`.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::actors::Actor;
use super::body::JsonObject;
use super::cache;
use super::csv::{self, CsvRecord, Format, Rendered, Representation, Table};
use super::follow_ups::FollowUp;
use super::goals::Goal;
use super::lists::ActivityList;
use super::plans::Plan;
use super::response_cache::{Kept, Key, Lookup as Cached};
use super::{created, double_option, if_match, ok_with_etag};
use crate::AppState;
use crate::auth::Auth;
use crate::db::activities::{self as db, ActivityChanges, ActivityRow, ActorLink, NewActivity};
use crate::db::activity_list::{self as list, ActivityQuery, ActivitySort, Cursor, StatusFilter};
use crate::db::pagination::{Page, finish};
use crate::domain::{Recurrence, Role, Scope, StartTerm};
use crate::error::{ApiError, ApiResult, Checks, FieldError, Problem};

/// A concrete piece of work under a goal.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33", "plan_id": "0b7e1a3c-5f43-5d3e-9a51-2d1f1c0d8a10",
    "goal_id": "5f0c4c1e-8d7a-5b2e-b7c4-0e6f3f2a9d11", "linked_goal_ids": [],
    "title": "Fördela årliga medel inom samverkansmodellen.", "description": null,
    "start_year": 2024, "start_term": null, "end_year": null, "recurrence": "annual", "tags": [],
    "position": 3, "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "version": 1
}))]
pub struct Activity {
    pub id: Uuid,
    pub plan_id: Uuid,
    /// The goal the activity is listed under.
    pub goal_id: Uuid,
    /// Other goals that point at the activity.
    pub linked_goal_ids: Vec<Uuid>,
    pub title: String,
    pub description: Option<String>,
    pub start_year: Option<i32>,
    pub start_term: Option<StartTerm>,
    pub end_year: Option<i32>,
    pub recurrence: Recurrence,
    pub tags: Vec<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    /// With `embed=goal`: the goal the activity is listed under.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// With `embed=plan`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    /// With `embed=actors`: every actor with its role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actors: Option<Vec<ActivityActor>>,
    /// With `embed=follow_ups`: the follow-up of `year`, or the latest one (at most one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_ups: Option<Vec<FollowUp>>,
}

impl Activity {
    pub fn from_row(row: ActivityRow, linked_goal_ids: Vec<Uuid>) -> Self {
        Activity {
            id: row.id,
            plan_id: row.plan_id,
            goal_id: row.goal_id,
            linked_goal_ids,
            title: row.title,
            description: row.description,
            start_year: row.start_year,
            start_term: row.start_term,
            end_year: row.end_year,
            recurrence: row.recurrence,
            tags: row.tags,
            position: row.position,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
            goal: None,
            plan: None,
            actors: None,
            follow_ups: None,
        }
    }
}

impl CsvRecord for Activity {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "plan_id",
            "plan",
            "goal_id",
            "goal_code",
            "goal",
            "title",
            "description",
            "start_year",
            "start_term",
            "end_year",
            "recurrence",
            "tags",
            "linked_goal_ids",
            "actors",
            "follow_up_year",
            "follow_up_status",
            "follow_up_comment",
            "position",
            "version",
            "updated_at",
        ]
    }

    /// Embedded rows flattened: the goal's code and title, the plan's title, the actors as
    /// "name (role); …", the embedded follow-up's year, status and comment.
    fn record(&self) -> Vec<String> {
        let follow_up = self.follow_ups.as_ref().and_then(|f| f.first());
        vec![
            self.id.to_string(),
            self.plan_id.to_string(),
            csv::opt(self.plan.as_ref().map(|p| &p.title)),
            self.goal_id.to_string(),
            csv::opt(self.goal.as_ref().and_then(|g| g.code.as_ref())),
            csv::opt(self.goal.as_ref().map(|g| &g.title)),
            self.title.clone(),
            csv::opt(self.description.as_ref()),
            csv::opt(self.start_year),
            csv::opt(self.start_term),
            csv::opt(self.end_year),
            self.recurrence.to_string(),
            csv::list(&self.tags),
            csv::list(&self.linked_goal_ids),
            actors_cell(self.actors.as_deref().unwrap_or_default()),
            csv::opt(follow_up.map(|f| f.year)),
            csv::opt(follow_up.and_then(|f| f.status)),
            csv::opt(follow_up.and_then(|f| f.comment.as_ref())),
            self.position.to_string(),
            self.version.to_string(),
            self.updated_at.to_rfc3339(),
        ]
    }
}

/// Actors with their roles in one CSV cell: "Kulturstrateger (responsible); Områdeschef (supporting)".
pub fn actors_cell(actors: &[ActivityActor]) -> String {
    csv::list(
        actors
            .iter()
            .map(|a| format!("{} ({})", a.actor.name, a.role)),
    )
}

/// One actor's role in an activity.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityActor {
    pub actor_id: Uuid,
    pub role: Role,
    pub actor: Actor,
}

impl From<ActorLink> for ActivityActor {
    fn from(link: ActorLink) -> Self {
        ActivityActor {
            actor_id: link.actor.id,
            role: link.role,
            actor: Actor::from(link.actor),
        }
    }
}

/// One element of the actor set given to `PUT /activities/{id}/actors`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"actor_id": "9a2f0e55-31c4-5d0b-8f8e-52d1e6b0c7a2", "role": "participant"}))]
pub struct ActorRoleInput {
    pub actor_id: Uuid,
    pub role: Role,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "goal_id": "5f0c4c1e-8d7a-5b2e-b7c4-0e6f3f2a9d11",
    "title": "Etablera ett arrangörsnätverk inom området nycirkus.", "start_year": 2024
}))]
pub struct CreateActivity {
    /// Defaults to the goal's plan; must be the goal's plan.
    pub plan_id: Option<Uuid>,
    pub goal_id: Uuid,
    #[serde(default)]
    pub linked_goal_ids: Vec<Uuid>,
    #[schema(min_length = 1, max_length = 1000)]
    pub title: String,
    #[schema(max_length = 20000)]
    pub description: Option<String>,
    #[schema(minimum = 1900, maximum = 2100)]
    pub start_year: Option<i32>,
    pub start_term: Option<StartTerm>,
    #[schema(minimum = 1900, maximum = 2100)]
    pub end_year: Option<i32>,
    /// Defaults to `none`.
    pub recurrence: Option<Recurrence>,
    #[serde(default)]
    #[schema(max_items = 50)]
    pub tags: Vec<String>,
    #[schema(minimum = 0)]
    pub position: Option<i32>,
}

/// Fields to change; absent fields stay, `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"end_year": 2027, "recurrence": "annual"}))]
pub struct UpdateActivity {
    pub plan_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    /// Replaces the set of linked goals.
    pub linked_goal_ids: Option<Vec<Uuid>>,
    #[schema(min_length = 1, max_length = 1000)]
    pub title: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, max_length = 20000)]
    pub description: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>, minimum = 1900, maximum = 2100)]
    pub start_year: Option<Option<i32>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<StartTerm>)]
    pub start_term: Option<Option<StartTerm>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i32>, minimum = 1900, maximum = 2100)]
    pub end_year: Option<Option<i32>>,
    pub recurrence: Option<Recurrence>,
    #[schema(max_items = 50)]
    pub tags: Option<Vec<String>>,
    #[schema(minimum = 0)]
    pub position: Option<i32>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListActivitiesQuery {
    /// Activities of this plan and of the plans below it (and activities they include).
    pub plan_id: Option<Uuid>,
    /// Activities under this goal or any goal below it, and activities linked to them.
    pub goal_id: Option<Uuid>,
    /// Activities where this actor has a role.
    pub actor_id: Option<Uuid>,
    /// Activities where the municipality with this code has a role.
    #[param(example = "1861", pattern = "^[0-9]{4}$")]
    pub municipality_code: Option<String>,
    /// With `actor_id` or `municipality_code`: only this role.
    pub role: Option<Role>,
    /// With `year`: the status of that year's follow-up; `no_status` for a follow-up without a
    /// colour, `not_reported` for none.
    pub status: Option<StatusFilter>,
    /// The follow-up year for `status` and for `embed=follow_ups`.
    #[param(minimum = 1900, maximum = 2100, example = 2024)]
    pub year: Option<i32>,
    #[param(minimum = 1900, maximum = 2100, example = 2024)]
    pub start_year: Option<i32>,
    /// Activities running that year: from the start year through the end year (a recurring
    /// activity without an end year goes on; a one-off one runs in its start year).
    #[param(minimum = 1900, maximum = 2100, example = 2025)]
    pub active_in: Option<i32>,
    pub recurrence: Option<Recurrence>,
    #[param(example = "prioriterad 2020–2021", min_length = 1, max_length = 100)]
    pub tag: Option<String>,
    /// Free text in Swedish over title, description and goal title: stemmed words and parts of
    /// compounds (`bibliotek` finds "folkbibliotekens"). Every word must match.
    #[param(example = "bibliotek", max_length = 200)]
    pub q: Option<String>,
    /// `position` (default), `title`, `-title`, `start_year`, `-start_year`, `code`,
    /// `updated_at`, `relevance` (needs `q`).
    pub sort: Option<ActivitySort>,
    /// Related rows to include: any of `goal`, `plan`, `actors`, `follow_ups`, repeated
    /// (`embed=goal&embed=actors`, OpenAPI's form style) or comma-separated (`embed=goal,actors`).
    #[param(value_type = Option<Vec<EmbedList>>, inline, style = Form, explode)]
    pub embed: Option<Vec<String>>,
    /// Include `total`, the number of matching activities.
    pub count: Option<bool>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `csv` for CSV (as `Accept: text/csv`; the next page is in the `Link` header). CSV
    /// always carries the goal, plan, actors and follow-up, flattened.
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GetActivityQuery {
    /// Related rows to include: any of `goal`, `plan`, `actors`, `follow_ups`, repeated
    /// (`embed=goal&embed=actors`, OpenAPI's form style) or comma-separated (`embed=goal,actors`).
    #[param(value_type = Option<Vec<EmbedList>>, inline, style = Form, explode)]
    pub embed: Option<Vec<String>>,
    /// The follow-up year for `embed=follow_ups` (default: the latest).
    #[param(minimum = 1900, maximum = 2100)]
    pub year: Option<i32>,
}

/// One `embed` value: one or more related rows, comma-separated.
#[derive(utoipa::ToSchema)]
#[schema(
    value_type = String,
    pattern = "^(goal|plan|actors|follow_ups)(,(goal|plan|actors|follow_ups))*$",
    example = "goal"
)]
pub struct EmbedList(pub String);

/// What `embed` asked for.
#[derive(Debug, Default, Clone, Copy)]
pub struct Embed {
    goal: bool,
    plan: bool,
    actors: bool,
    follow_ups: bool,
}

impl Embed {
    const ALL: Embed = Embed {
        goal: true,
        plan: true,
        actors: true,
        follow_ups: true,
    };

    fn parse(values: Option<&[String]>) -> ApiResult<Self> {
        let mut embed = Embed::default();
        for part in values
            .unwrap_or_default()
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            match part {
                "goal" => embed.goal = true,
                "plan" => embed.plan = true,
                "actors" => embed.actors = true,
                "follow_ups" => embed.follow_ups = true,
                other => {
                    return Err(ApiError::field(
                        "embed",
                        format!("unknown `{other}`; expected goal, plan, actors, follow_ups"),
                    ));
                }
            }
        }
        Ok(embed)
    }
}

/// Splits free text into lower-cased words (letters and digits).
fn search_words(q: &str) -> Vec<String> {
    q.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .take(10)
        .collect()
}

/// A checked list request.
struct ListRequest {
    query: ActivityQuery,
    embed: Embed,
    cursor: Option<String>,
    limit: Option<i64>,
    count: bool,
}

impl ListActivitiesQuery {
    fn into_request(self) -> ApiResult<ListRequest> {
        let mut c = Checks::default();
        for (field, year) in [
            ("year", self.year),
            ("start_year", self.start_year),
            ("active_in", self.active_in),
        ] {
            c.year(field, year);
        }
        if self.role.is_some() && self.actor_id.is_none() && self.municipality_code.is_none() {
            c.push("role", "needs actor_id or municipality_code");
        }
        if self.status.is_some() && self.year.is_none() {
            c.push("status", "needs the follow-up year in `year`");
        }
        c.text("q", self.q.as_deref(), 0, 200);
        c.text("tag", self.tag.as_deref(), 1, 100);
        c.municipality_code("municipality_code", self.municipality_code.as_deref());
        c.finish()?;
        let embed = Embed::parse(self.embed.as_deref())?;
        let query = ActivityQuery {
            plan_id: self.plan_id,
            goal_id: self.goal_id,
            actor_id: self.actor_id,
            municipality_code: self.municipality_code,
            role: self.role,
            status: self.status,
            year: self.year,
            start_year: self.start_year,
            active_in: self.active_in,
            recurrence: self.recurrence,
            tag: self.tag,
            words: self.q.as_deref().map(search_words).unwrap_or_default(),
            sort: self.sort.unwrap_or_default(),
        };
        Ok(ListRequest {
            query,
            embed,
            cursor: self.cursor,
            limit: self.limit,
            count: self.count.unwrap_or(false),
        })
    }
}

/// Wire activities for rows, with linked goals and the asked-for embeds: a fixed number of
/// queries whatever the number of rows.
async fn build(
    conn: &crate::db::Conn,
    rows: Vec<ActivityRow>,
    embed: Embed,
    year: Option<i32>,
) -> ApiResult<Vec<Activity>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let goal_ids: Vec<Uuid> = if embed.goal {
        rows.iter().map(|r| r.goal_id).collect()
    } else {
        Vec::new()
    };
    let plan_ids: Vec<Uuid> = if embed.plan {
        rows.iter().map(|r| r.plan_id).collect()
    } else {
        Vec::new()
    };
    let conn: &crate::db::Conn = conn;
    // The queries are independent: sent together over the one connection (pipelined), they cost
    // one round trip instead of five.
    let (mut linked, goals, plans, mut actors, mut follow_ups) = futures_util::future::try_join5(
        db::linked_goals(conn, &ids),
        async {
            if embed.goal {
                list::goals_by_id(conn, &goal_ids).await
            } else {
                Ok(HashMap::new())
            }
        },
        async {
            if embed.plan {
                list::plans_by_id(conn, &plan_ids).await
            } else {
                Ok(HashMap::new())
            }
        },
        async {
            if embed.actors {
                list::actor_lists(conn, &ids).await
            } else {
                Ok(HashMap::new())
            }
        },
        async {
            if embed.follow_ups {
                list::follow_ups_of(conn, &ids, year).await
            } else {
                Ok(HashMap::new())
            }
        },
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let id = row.id;
            let goal = embed
                .goal
                .then(|| goals.get(&row.goal_id).cloned())
                .flatten()
                .map(Goal::from);
            let plan = embed
                .plan
                .then(|| plans.get(&row.plan_id).cloned())
                .flatten()
                .map(Plan::from);
            let follow_up = follow_ups.remove(&id).map(|f| FollowUp::new(f, &row));
            let mut activity = Activity::from_row(row, linked.remove(&id).unwrap_or_default());
            activity.goal = goal;
            activity.plan = plan;
            if embed.actors {
                activity.actors = Some(
                    actors
                        .remove(&id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(ActivityActor::from)
                        .collect(),
                );
            }
            if embed.follow_ups {
                activity.follow_ups = Some(follow_up.into_iter().collect());
            }
            activity
        })
        .collect())
}

struct ActivityFields<'a> {
    title: Option<&'a str>,
    description: Option<&'a str>,
    start_year: Option<i32>,
    end_year: Option<i32>,
    tags: Option<&'a [String]>,
    position: Option<i32>,
    linked: Option<&'a [Uuid]>,
}

fn check_activity(c: &mut Checks, f: ActivityFields<'_>) {
    c.text("title", f.title, 1, 1000);
    c.text("description", f.description, 0, 20000);
    c.year("start_year", f.start_year);
    c.year("end_year", f.end_year);
    if let (Some(start), Some(end)) = (f.start_year, f.end_year)
        && start > end
    {
        c.push("end_year", "must not be before start_year");
    }
    if let Some(tags) = f.tags {
        if tags.len() > 50 {
            c.push("tags", "at most 50 tags");
        }
        for (i, tag) in tags.iter().enumerate() {
            c.text(&format!("tags[{i}]"), Some(tag), 1, 100);
        }
    }
    if f.position.is_some_and(|p| p < 0) {
        c.push("position", "must not be negative");
    }
    if let Some(linked) = f.linked {
        if linked.len() > 100 {
            c.push("linked_goal_ids", "at most 100 goals");
        }
        let mut seen = std::collections::HashSet::new();
        for (i, id) in linked.iter().enumerate() {
            if !seen.insert(id) {
                c.push(format!("linked_goal_ids[{i}]"), "is listed twice");
            }
        }
    }
}

/// The wire activity for a row just written: `build` without embeds.
async fn with_links(state: &AppState, row: ActivityRow) -> ApiResult<Activity> {
    let conn = state.pool.get().await?;
    build(&conn, vec![row], Embed::default(), None)
        .await?
        .pop()
        .ok_or_else(|| ApiError::internal("an activity row built no activity"))
}

/// List activities: filters, Swedish free-text search, sorting, embeds, cursor pages.
///
/// Answers a strong `ETag` that moves with every write; `If-None-Match` with it gives 304
/// without the list being built.
#[utoipa::path(
    tag = "activities",
    params(ListActivitiesQuery),
    responses(
        (status = 200, description = "A page of activities", content(
            (ActivityList = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality has the `municipality_code`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/activities")]
pub async fn list_activities(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ListActivitiesQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let ListRequest {
        query,
        mut embed,
        cursor,
        limit,
        count,
    } = query.into_request()?;
    if representation.is_csv() {
        embed = Embed::ALL;
    }
    let page = Page::<Cursor>::new(limit, cursor.as_deref())?;
    let version = state.versions.current(&state.pool).await?;
    let etag = cache::etag(&req, version);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let slot = match state
        .responses
        .lookup(&req, Key::new(&req, &auth, version))
        .await
    {
        Cached::Hit(kept) => return Ok(kept.respond(&req)),
        Cached::Miss(slot) => slot,
    };
    let conn = state.pool.get().await?;
    let conn: &crate::db::Conn = &conn;
    if let Some(code) = &query.municipality_code {
        crate::db::collaborations::municipality(conn, code).await?;
    }
    let rows = list::page(conn, &query, page.after.as_ref(), page.fetch()).await?;
    let sort = query.sort;
    let (rows, next_cursor) = finish(rows, page.limit, |r| r.cursor(sort));
    let rows = rows.into_iter().map(|r| r.row).collect();
    let (items, total) =
        futures_util::future::try_join(build(conn, rows, embed, query.year), async {
            if count {
                list::count(conn, &query).await.map(Some)
            } else {
                Ok(None)
            }
        })
        .await?;
    let body = ActivityList {
        items,
        next_cursor,
        total,
    };
    let rendered = csv::render(representation, &body, || {
        Table::of("activities.csv", &body.items)
    })?;
    let link = csv::next_link(
        representation,
        &req,
        body.next_cursor.as_deref().map(|c| ("cursor", c)),
    );
    Ok(slot.keep(
        &req,
        Kept {
            etag,
            rendered,
            link,
        },
    ))
}

/// Create an activity.
#[utoipa::path(
    tag = "activities",
    request_body = CreateActivity,
    responses(
        (status = 201, description = "Created", body = Activity, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[post("/activities")]
pub async fn create_activity(
    auth: Auth,
    state: web::Data<AppState>,
    body: JsonObject<CreateActivity>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_activity(
        &mut c,
        ActivityFields {
            title: Some(&body.title),
            description: body.description.as_deref(),
            start_year: body.start_year,
            end_year: body.end_year,
            tags: Some(&body.tags),
            position: body.position,
            linked: Some(&body.linked_goal_ids),
        },
    );
    if body.start_term.is_some() && body.start_year.is_none() {
        c.push("start_term", "needs a start_year");
    }
    c.finish()?;
    let mut conn = state.pool.get().await?;
    let goal_plan = db::plan_of_goal(&mut conn, body.goal_id).await?;
    let plan_id = body.plan_id.unwrap_or(goal_plan);
    if plan_id != goal_plan {
        return Err(ApiError::field(
            "goal_id",
            "must be a goal of the activity's plan",
        ));
    }
    let new = NewActivity {
        id: Uuid::new_v4(),
        plan_id,
        goal_id: body.goal_id,
        title: body.title,
        description: body.description,
        start_year: body.start_year,
        start_term: body.start_term,
        end_year: body.end_year,
        recurrence: body.recurrence.unwrap_or(Recurrence::None),
        tags: body.tags,
        position: body.position.unwrap_or(0),
    };
    let linked = body.linked_goal_ids;
    let row = crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
        db::insert(conn, &new, &linked).await
    })
    .await?;
    drop(conn);
    let activity = with_links(&state, row).await?;
    Ok(created(
        format!("/api/v1/activities/{}", activity.id),
        activity.version,
        &activity,
    ))
}

/// Read an activity, optionally with its goal, plan, actors and follow-up embedded.
///
/// Without `embed` the ETag is the activity's version (use it for `If-Match`); with `embed` it
/// moves with every write that could change the embedded rows.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id"), GetActivityQuery),
    responses(
        (status = 200, description = "The activity", body = Activity, headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed id or query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/activities/{id}")]
pub async fn get_activity(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: crate::api::query::Query<GetActivityQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    c.year("year", query.year);
    c.finish()?;
    let embed = Embed::parse(query.embed.as_deref())?;
    let embedding = embed.goal || embed.plan || embed.actors || embed.follow_ups;
    let version = state.versions.current(&state.pool).await?;
    if embedding {
        let etag = cache::etag(&req, version);
        if cache::fresh(&req, &etag) {
            return Ok(cache::not_modified(etag));
        }
    }
    let slot = match state
        .responses
        .lookup(&req, Key::new(&req, &auth, version))
        .await
    {
        Cached::Hit(kept) => return Ok(kept.respond(&req)),
        Cached::Miss(slot) => slot,
    };
    let conn = state.pool.get().await?;
    let conn: &crate::db::Conn = &conn;
    let id = id.into_inner();
    // With embeds the answer moves with the data; without, it is the row's own version (the
    // ETag to send in `If-Match`).
    let (etag, activity) = if embedding {
        let row = list::item(conn, id).await?;
        let activity = build(conn, vec![row], embed, query.year).await?.pop();
        (cache::etag(&req, version), activity)
    } else {
        // The row and its linked goals are independent: sent together, one round trip.
        let (row, mut linked) =
            futures_util::future::try_join(list::item(conn, id), db::linked_goals(conn, &[id]))
                .await?;
        let etag = super::version_etag(row.version);
        let linked = linked.remove(&id).unwrap_or_default();
        (etag, Some(Activity::from_row(row, linked)))
    };
    let rendered = Rendered {
        content_type: "application/json",
        disposition: None,
        body: serde_json::to_vec(&activity)
            .map_err(ApiError::internal)?
            .into(),
    };
    Ok(slot.keep(
        &req,
        Kept {
            etag,
            rendered,
            link: None,
        },
    ))
}

/// Change some fields of an activity. Honours `If-Match`.
#[utoipa::path(
    tag = "activities",
    params(
        ("id" = Uuid, Path, description = "Activity id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on"),
    ),
    request_body = UpdateActivity,
    responses(
        (status = 200, description = "The changed activity", body = Activity, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[patch("/activities/{id}")]
pub async fn update_activity(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonObject<UpdateActivity>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_activity(
        &mut c,
        ActivityFields {
            title: body.title.as_deref(),
            description: body.description.as_ref().and_then(|d| d.as_deref()),
            start_year: body.start_year.flatten(),
            end_year: body.end_year.flatten(),
            tags: body.tags.as_deref(),
            position: body.position,
            linked: body.linked_goal_ids.as_deref(),
        },
    );
    c.finish()?;
    let id = id.into_inner();
    let changes = ActivityChanges {
        plan_id: body.plan_id,
        goal_id: body.goal_id,
        title: body.title,
        description: body.description,
        start_year: body.start_year,
        start_term: body.start_term,
        end_year: body.end_year,
        recurrence: body.recurrence,
        tags: body.tags,
        position: body.position,
    };
    let linked = body.linked_goal_ids;
    let row = {
        let mut conn = state.pool.get().await?;
        crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
            db::update(conn, id, expected, &changes, linked.as_deref()).await
        })
        .await?
    };
    let activity = with_links(&state, row).await?;
    Ok(ok_with_etag(activity.version, &activity))
}

/// Delete an activity with its actor links. Refused with 409 while it has follow-ups.
#[utoipa::path(
    tag = "activities",
    params(
        ("id" = Uuid, Path, description = "Activity id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version to delete"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still has follow-ups", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[delete("/activities/{id}")]
pub async fn delete_activity(
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

/// The actors of an activity with their roles. The ETag is the activity's.
#[utoipa::path(
    tag = "activities",
    params(("id" = Uuid, Path, description = "Activity id")),
    responses(
        (status = 200, description = "The activity's actors", body = Vec<ActivityActor>, headers(("ETag" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/activities/{id}/actors")]
pub async fn get_activity_actors(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let activity = db::get(&mut conn, id).await?;
    let links = db::actor_links(&conn, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let body: Vec<ActivityActor> = links.into_iter().map(ActivityActor::from).collect();
    Ok(cache::versioned(&req, activity.version, &body))
}

/// Replace the actors of an activity. Honours `If-Match` (the activity's ETag).
#[utoipa::path(
    tag = "activities",
    params(
        ("id" = Uuid, Path, description = "Activity id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the activity this change is based on"),
    ),
    request_body = Vec<ActorRoleInput>,
    responses(
        (status = 200, description = "The activity's actors after the change", body = Vec<ActivityActor>, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown actor or a duplicate (actor, role)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[put("/activities/{id}/actors")]
pub async fn put_activity_actors(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: super::body::Json<Vec<ActorRoleInput>>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let id = id.into_inner();
    let links: Vec<(Uuid, Role)> = body
        .into_inner()
        .into_iter()
        .map(|l| (l.actor_id, l.role))
        .collect();
    let mut errors = Vec::new();
    if links.len() > 1000 {
        errors.push(FieldError::new("body", "at most 1000 actor roles"));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, link) in links.iter().enumerate() {
        if !seen.insert(*link) {
            let mut e = FieldError::new("role", "this actor already has this role in the list");
            e.index = Some(i);
            errors.push(e);
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut conn = state.pool.get().await?;
    let activity = crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
        db::replace_actors(conn, id, expected, &links).await
    })
    .await?;
    let links = db::actor_links(&conn, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default();
    let body: Vec<ActivityActor> = links.into_iter().map(ActivityActor::from).collect();
    Ok(ok_with_etag(activity.version, &body))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_activities)
        .service(create_activity)
        .service(get_activity)
        .service(update_activity)
        .service(delete_activity)
        .service(get_activity_actors)
        .service(put_activity_actors);
}
