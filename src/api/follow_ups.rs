//! `/api/v1/activities/{id}/follow-ups`: the yearly follow-up of an activity and its history.

use actix_web::{HttpRequest, HttpResponse, delete, get, put, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::body::JsonObject;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use super::lists::FollowUpList;
use super::{cache, if_match, version_etag};
use crate::AppState;
use crate::auth::Auth;
use crate::db::activities::{ActivityDates, ActivityRow};
use crate::db::follow_ups::{self as db, FollowUpFilter, FollowUpRow, HistoryRow, Outcome};
use crate::db::pagination::{Page, finish};
use crate::domain::{FollowUpStatus, MAX_YEAR, MIN_YEAR, ReviewState, Scope, status_warnings};
use crate::error::{ApiError, ApiResult, Checks, Problem};

pub const MAX_COMMENT: usize = 4000;

/// A follow-up is a colour, a note, or both: without a status the comment must say something.
/// `None` when the pair is acceptable, else the message for `comment`.
pub fn note_without_comment(
    status: Option<FollowUpStatus>,
    comment: Option<&str>,
) -> Option<&'static str> {
    (status.is_none() && comment.is_none_or(|c| c.trim().is_empty()))
        .then_some("is required when status is null (a note without a colour)")
}

/// The follow-up of one activity for one year.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "activity_id": "3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33", "year": 2024, "status": "completed",
    "comment": "Beslut kulturnämnden feb 2024", "reported_by": "client:kulturstrateger",
    "reported_at": "2025-01-15T09:00:00Z", "version": 1, "warnings": [],
    "review": {"state": "approved", "note": null, "reviewed_by": "Anna Strateg",
               "reviewed_at": "2025-01-20T10:00:00Z"}
}))]
pub struct FollowUp {
    pub activity_id: Uuid,
    pub year: i32,
    /// Null for a note recorded without a colour.
    pub status: Option<FollowUpStatus>,
    pub comment: Option<String>,
    /// The token subject that reported it.
    pub reported_by: String,
    pub reported_at: DateTime<Utc>,
    pub version: i32,
    /// Where the status does not fit the activity's dates (the write is kept).
    pub warnings: Vec<String>,
    pub review: Review,
}

/// Where the follow-up is in the yearly round's review.
#[derive(Debug, Serialize, ToSchema)]
pub struct Review {
    /// `submitted` when reported or changed since its review; `approved` or `returned` by a
    /// reviewer.
    pub state: ReviewState,
    /// Why it was returned (or a remark on its approval).
    pub note: Option<String>,
    /// The token subject that reviewed it; null while `submitted`.
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

impl FollowUp {
    pub fn new(row: FollowUpRow, activity: &ActivityRow) -> Self {
        Self::with_dates(
            row,
            ActivityDates {
                start_year: activity.start_year,
                end_year: activity.end_year,
                recurrence: activity.recurrence,
            },
        )
    }

    pub fn with_dates(row: FollowUpRow, activity: ActivityDates) -> Self {
        let warnings = status_warnings(
            activity.start_year,
            activity.end_year,
            activity.recurrence,
            row.year,
            row.status,
        );
        FollowUp {
            activity_id: row.activity_id,
            year: row.year,
            status: row.status,
            comment: row.comment,
            reported_by: row.reported_by,
            reported_at: row.reported_at,
            version: row.version,
            warnings,
            review: Review {
                state: row.review,
                note: row.review_note,
                reviewed_by: row.reviewed_by,
                reviewed_at: row.reviewed_at,
            },
        }
    }
}

/// A status, or (status null) a note without a colour, which needs a comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "ongoing", "comment": "Arbetet pågår, klart hösten 2025"}))]
pub struct PutFollowUp {
    /// Null (or left out) for a note without a colour; then `comment` is required.
    #[serde(default)]
    pub status: Option<FollowUpStatus>,
    #[schema(max_length = 4000)]
    pub comment: Option<String>,
}

/// What the history keeps of a follow-up at one moment.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct FollowUpSnapshot {
    /// Null for a note recorded without a colour.
    #[schema(required = true)]
    pub status: Option<FollowUpStatus>,
    #[schema(required = true)]
    pub comment: Option<String>,
    /// The token subject that reported it; absent where the seed loader wrote the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<String>,
    /// The follow-up's version; absent where the seed loader wrote the entry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i32>,
    /// Where its review stood; absent in entries written before reviews were kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewState>,
    /// The reviewer's note on a return.
    #[serde(default)]
    pub review_note: Option<String>,
    /// Who reviewed it.
    #[serde(default)]
    pub reviewed_by: Option<String>,
}

/// One change of a follow-up.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowUpChange {
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    /// The follow-up before the change; null when it was created.
    #[schema(required = true)]
    pub before: Option<FollowUpSnapshot>,
    /// The follow-up after the change; null when it was deleted.
    #[schema(required = true)]
    pub after: Option<FollowUpSnapshot>,
}

impl TryFrom<HistoryRow> for FollowUpChange {
    type Error = ApiError;

    /// The history's JSON is written by `db::follow_ups` in this shape; anything else is a bug
    /// of ours, answered as one.
    fn try_from(row: HistoryRow) -> ApiResult<Self> {
        let snapshot = |value: Option<serde_json::Value>| {
            value
                .map(serde_json::from_value::<FollowUpSnapshot>)
                .transpose()
                .map_err(ApiError::internal)
        };
        Ok(FollowUpChange {
            changed_by: row.changed_by,
            changed_at: row.changed_at,
            before: snapshot(row.before)?,
            after: snapshot(row.after)?,
        })
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct FollowUpPath {
    /// Activity id.
    pub id: Uuid,
    /// The year followed up.
    #[param(minimum = 1900, maximum = 2100)]
    pub year: i32,
}

pub(crate) fn check_year(year: i32) -> ApiResult<()> {
    if (MIN_YEAR..=MAX_YEAR).contains(&year) {
        Ok(())
    } else {
        Err(ApiError::field("year", "must be between 1900 and 2100"))
    }
}

/// 403 unless an actor-bound token's actor (or a unit below it) has a role in the activity.
pub async fn ensure_may_write(
    conn: &mut crate::db::Conn,
    auth: &Auth,
    activity_ids: &[Uuid],
) -> ApiResult<()> {
    if let Some(actor) = auth.actor_id {
        let refused = db::not_allowed_for_actor(conn, actor, activity_ids).await?;
        if let Some(first) = refused.first() {
            return Err(ApiError::Forbidden(format!(
                "this token may write follow-ups only for activities where its actor has a role; activity {first} is not one of them"
            )));
        }
    }
    Ok(())
}

/// Of `activity_ids`, those an actor-bound token may not write follow-ups for (none when unbound).
pub async fn refused_for_actor(
    conn: &mut crate::db::Conn,
    auth: &Auth,
    activity_ids: &[Uuid],
) -> ApiResult<std::collections::HashSet<Uuid>> {
    match auth.actor_id {
        Some(actor) => Ok(db::not_allowed_for_actor(conn, actor, activity_ids)
            .await?
            .into_iter()
            .collect()),
        None => Ok(std::collections::HashSet::new()),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListFollowUpsQuery {
    /// Only activities of this plan.
    pub plan_id: Option<Uuid>,
    /// Only this year.
    #[param(minimum = 1900, maximum = 2100)]
    pub year: Option<i32>,
    /// Only this status.
    pub status: Option<FollowUpStatus>,
    /// Only activities where this actor has a role.
    pub actor_id: Option<Uuid>,
    /// Only activities where the municipality with this code has a role (instead of
    /// `actor_id`).
    #[param(pattern = "^[0-9]{4}$", example = "1880")]
    pub municipality_code: Option<String>,
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

impl CsvRecord for FollowUp {
    fn headers() -> &'static [&'static str] {
        &[
            "activity_id",
            "year",
            "status",
            "comment",
            "reported_by",
            "reported_at",
            "version",
            "warnings",
            "review",
            "review_note",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.activity_id.to_string(),
            self.year.to_string(),
            csv::opt(self.status),
            csv::opt(self.comment.as_ref()),
            self.reported_by.clone(),
            self.reported_at.to_rfc3339(),
            self.version.to_string(),
            self.warnings.join("; "),
            self.review.state.to_string(),
            csv::opt(self.review.note.as_ref()),
        ]
    }
}

/// List follow-ups across activities, by year and activity.
#[utoipa::path(
    tag = "follow-ups",
    params(ListFollowUpsQuery),
    responses(
        (status = 200, description = "A page of follow-ups", content(
            (FollowUpList = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality has the code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid year, municipality code, limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("")]
pub async fn list_follow_ups(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ListFollowUpsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    c.year("year", query.year);
    c.municipality_code("municipality_code", query.municipality_code.as_deref());
    if query.actor_id.is_some() && query.municipality_code.is_some() {
        c.push("municipality_code", "cannot be given with actor_id");
    }
    c.finish()?;
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let actor_id = match &query.municipality_code {
        Some(code) => Some(
            crate::db::collaborations::municipality(&conn, code)
                .await?
                .id,
        ),
        None => query.actor_id,
    };
    let filter = FollowUpFilter {
        plan_id: query.plan_id,
        year: query.year,
        status: query.status,
        actor_id,
    };
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let rows = db::list(&mut conn, &filter, &page).await?;
    let (rows, next_cursor) = finish(rows, page.limit, |(r, ..)| (r.year, r.activity_id));
    let items = rows
        .into_iter()
        .map(|(row, start_year, end_year, recurrence)| {
            FollowUp::with_dates(
                row,
                ActivityDates {
                    start_year,
                    end_year,
                    recurrence,
                },
            )
        })
        .collect::<Vec<_>>();
    let body = FollowUpList::new(items, next_cursor);
    csv::reply(
        representation,
        cache::builder(etag),
        &req,
        &body,
        || Table::of("follow-ups.csv", &body.items),
        body.next_cursor.as_deref().map(|c| ("cursor", c)),
    )
}

/// Every follow-up of an activity, by year.
#[utoipa::path(
    tag = "follow-ups",
    params(("id" = Uuid, Path, description = "Activity id")),
    responses(
        (status = 200, description = "The follow-ups", body = Vec<FollowUp>),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/activities/{id}/follow-ups")]
pub async fn list_activity_follow_ups(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let id = id.into_inner();
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let activity = crate::db::activities::get(&mut conn, id).await?;
    let rows = db::for_activity(&mut conn, id).await?;
    let body: Vec<FollowUp> = rows
        .into_iter()
        .map(|row| FollowUp::new(row, &activity))
        .collect();
    Ok(cache::ok(etag, &body))
}

/// The follow-up of an activity for a year.
#[utoipa::path(
    tag = "follow-ups",
    params(FollowUpPath),
    responses(
        (status = 200, description = "The follow-up", body = FollowUp, headers(("ETag" = String))),
        (status = 400, description = "Malformed path", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity or no follow-up that year", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Year out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/activities/{id}/follow-ups/{year}")]
pub async fn get_follow_up(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<FollowUpPath>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let FollowUpPath { id, year } = path.into_inner();
    check_year(year)?;
    let mut conn = state.pool.get().await?;
    let activity = crate::db::activities::get(&mut conn, id).await?;
    let row = db::get(&mut conn, id, year).await?;
    Ok(cache::versioned(
        &req,
        row.version,
        &FollowUp::new(row, &activity),
    ))
}

/// Report the status of an activity for a year (idempotent upsert).
///
/// `status` null with a comment records a note without a colour. The same body twice leaves one
/// row and one history entry. A status that does not fit the
/// activity's dates is stored and flagged in `warnings`. `If-Match` is optional and honoured.
#[utoipa::path(
    tag = "follow-ups",
    params(
        FollowUpPath,
        ("If-Match" = Option<String>, Header, description = "ETag of the follow-up this change is based on"),
    ),
    request_body = PutFollowUp,
    responses(
        (status = 200, description = "Updated or unchanged", body = FollowUp, headers(("ETag" = String))),
        (status = 201, description = "Created", body = FollowUp, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `follow_ups:write`, or its actor has no role in the activity", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["follow_ups:write"]))
)]
#[put("/activities/{id}/follow-ups/{year}")]
pub async fn put_follow_up(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<FollowUpPath>,
    body: JsonObject<PutFollowUp>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::FollowUpsWrite)?;
    let expected = if_match(&req)?;
    let FollowUpPath { id, year } = path.into_inner();
    let body = body.into_inner();
    let mut c = Checks::default();
    c.year("year", Some(year));
    c.text("comment", body.comment.as_deref(), 0, MAX_COMMENT);
    if let Some(message) = note_without_comment(body.status, body.comment.as_deref()) {
        c.push("comment", message);
    }
    c.finish()?;
    let mut conn = state.pool.get().await?;
    let activity = crate::db::activities::get(&mut conn, id).await?;
    ensure_may_write(&mut conn, &auth, &[id]).await?;
    let subject = auth.subject.clone();
    let (row, outcome) = crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
        db::upsert(
            conn,
            id,
            year,
            body.status,
            body.comment.as_deref(),
            &subject,
            expected,
        )
        .await
    })
    .await?;
    let version = row.version;
    let follow_up = FollowUp::new(row, &activity);
    let mut response = if outcome == Outcome::Created {
        HttpResponse::Created()
    } else {
        HttpResponse::Ok()
    };
    Ok(response
        .insert_header(actix_web::http::header::ETag(version_etag(version)))
        .json(follow_up))
}

/// Remove the follow-up of a year (its history is kept).
#[utoipa::path(
    tag = "follow-ups",
    params(
        FollowUpPath,
        ("If-Match" = Option<String>, Header, description = "ETag of the follow-up to delete"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed path", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `follow_ups:write`, or its actor has no role in the activity", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such follow-up", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Year out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["follow_ups:write"]))
)]
#[delete("/activities/{id}/follow-ups/{year}")]
pub async fn delete_follow_up(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<FollowUpPath>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::FollowUpsWrite)?;
    let expected = if_match(&req)?;
    let FollowUpPath { id, year } = path.into_inner();
    check_year(year)?;
    let mut conn = state.pool.get().await?;
    crate::db::activities::get(&mut conn, id).await?;
    ensure_may_write(&mut conn, &auth, &[id]).await?;
    let subject = auth.subject.clone();
    crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
        db::delete(conn, id, year, &subject, expected).await
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every change of the follow-up of a year: who, when, before and after.
#[utoipa::path(
    tag = "follow-ups",
    params(FollowUpPath),
    responses(
        (status = 200, description = "The changes, oldest first", body = Vec<FollowUpChange>),
        (status = 400, description = "Malformed path", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Year out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/activities/{id}/follow-ups/{year}/history")]
pub async fn get_follow_up_history(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<FollowUpPath>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let FollowUpPath { id, year } = path.into_inner();
    check_year(year)?;
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    crate::db::activities::get(&mut conn, id).await?;
    let rows = db::history(&mut conn, id, year).await?;
    let changes = rows
        .into_iter()
        .map(FollowUpChange::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    Ok(cache::ok(etag, &changes))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_activity_follow_ups)
        .service(get_follow_up)
        .service(put_follow_up)
        .service(delete_follow_up)
        .service(get_follow_up_history)
        .service(super::reviews::review_follow_up)
        // Batches and CSV files are larger than the app's JSON limit allows.
        .service(
            utoipa_actix_web::scope::scope("/follow-ups")
                .app_data(crate::json_config(super::follow_up_batches::BODY_LIMIT))
                .service(list_follow_ups)
                .service(super::follow_up_sheet::get_follow_up_sheet)
                .service(super::follow_up_batches::post_follow_up_batch)
                .service(super::follow_up_batches::import_follow_ups)
                .service(super::reviews::review_follow_ups),
        );
}
