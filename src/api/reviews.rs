//! The review step of the yearly round: a reviewer approves a follow-up or returns it with a
//! note, one at a time (`If-Match`) or as a list decided all or nothing.

use std::collections::HashSet;

use actix_web::{HttpRequest, HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::body::JsonObject;
use super::follow_ups::{FollowUp, FollowUpPath, MAX_COMMENT, check_year};
use super::{if_match, ok_with_etag};
use crate::AppState;
use crate::auth::Auth;
use crate::db::reviews::{self as db, Decision, ListItem, Refusal};
use crate::domain::{ReviewState, Scope};
use crate::error::{ApiError, ApiResult, Checks, FieldError, NUL_MESSAGE, Problem};

/// Most decisions in one list.
pub const MAX_DECISIONS: usize = 10_000;

/// What the reviewer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    /// The report stands: `approved`.
    Approve,
    /// The reporter must correct it: `returned`, with a note saying why.
    Return,
}

/// A decision on one follow-up.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"decision": "return", "note": "Ange vilka kommuner som deltog."}))]
pub struct ReviewRequest {
    pub decision: ReviewDecision,
    /// Required to return; optional remark on an approval.
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

/// One decision of a list, on the follow-up at the version the reviewer read.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReviewListItem {
    pub activity_id: Uuid,
    #[schema(minimum = 1900, maximum = 2100)]
    pub year: i32,
    /// The follow-up's `version` as read; another version refuses the whole list.
    pub version: i32,
    pub decision: ReviewDecision,
    #[schema(max_length = 4000)]
    pub note: Option<String>,
}

/// Decisions to record together.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"items": [
    {"activity_id": "3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33", "year": 2024, "version": 2, "decision": "approve"},
    {"activity_id": "7f3e2a10-4c5b-5d6e-8f90-1a2b3c4d5e6f", "year": 2024, "version": 1, "decision": "return",
     "note": "Kommentaren saknas."}
]}))]
pub struct ReviewListRequest {
    /// At most 10,000 items, each (activity, year) at most once.
    #[schema(max_items = 10000)]
    pub items: Vec<ReviewListItem>,
}

/// What a list of decisions did.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReviewListResult {
    pub approved: u64,
    pub returned: u64,
    /// Items whose follow-up already had that decision and note.
    pub unchanged: u64,
}

/// The decision as stored, or the reason it cannot be (a return without a note, a note too
/// long or holding NUL).
fn decision(decision: ReviewDecision, note: Option<String>) -> Result<Decision, String> {
    let note = note.filter(|n| !n.trim().is_empty());
    if let Some(n) = &note {
        if n.chars().count() > MAX_COMMENT {
            return Err(format!("at most {MAX_COMMENT} characters"));
        }
        if n.contains('\0') {
            return Err(NUL_MESSAGE.into());
        }
    }
    let state = match decision {
        ReviewDecision::Approve => ReviewState::Approved,
        ReviewDecision::Return if note.is_none() => {
            return Err("is required to return a follow-up: say what to correct".into());
        }
        ReviewDecision::Return => ReviewState::Returned,
    };
    Ok(Decision { state, note })
}

/// Approve a follow-up or return it with a note.
///
/// `If-Match` with the follow-up's ETag makes sure the decision is on the report the reviewer
/// read: of two reviewers deciding on the same version, the second gets 412. Deciding what the
/// follow-up already says changes nothing. Every decision is kept in the follow-up's history
/// and moves its version (so it appears in the change feed). A later change of the report by its
/// reporter sets it back to `submitted`.
#[utoipa::path(
    tag = "follow-ups",
    params(
        FollowUpPath,
        ("If-Match" = Option<String>, Header, description = "ETag of the follow-up the decision is on"),
    ),
    request_body = ReviewRequest,
    responses(
        (status = 200, description = "The follow-up with its review", body = FollowUp, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `follow_ups:review`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such activity or no follow-up that year", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (a return without a note)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["follow_ups:review"]))
)]
#[post("/activities/{id}/follow-ups/{year}/review")]
pub async fn review_follow_up(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<FollowUpPath>,
    body: JsonObject<ReviewRequest>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::FollowUpsReview)?;
    let expected = if_match(&req)?;
    let FollowUpPath { id, year } = path.into_inner();
    check_year(year)?;
    let body = body.into_inner();
    let decision = decision(body.decision, body.note).map_err(|m| ApiError::field("note", m))?;
    let mut conn = state.pool.get().await?;
    let activity = crate::db::activities::get(&mut conn, id).await?;
    let subject = auth.subject.clone();
    let (row, _) = crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
        db::decide(conn, id, year, &decision, &subject, expected).await
    })
    .await?;
    Ok(ok_with_etag(row.version, &FollowUp::new(row, &activity)))
}

/// Approve or return many follow-ups at once, all or nothing.
///
/// Every item names the follow-up's `version` as read. When any item is invalid, names no
/// follow-up (422) or another version (409), nothing is decided and every such item is listed.
#[utoipa::path(
    tag = "follow-ups",
    request_body = ReviewListRequest,
    responses(
        (status = 200, description = "Every decision recorded", body = ReviewListResult),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `follow_ups:review`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Some follow-ups changed since they were read; nothing was decided", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Body too large", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Not JSON", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid items or items without a follow-up; nothing was decided", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["follow_ups:review"]))
)]
#[post("/reviews")]
pub async fn review_follow_ups(
    auth: Auth,
    state: web::Data<AppState>,
    body: JsonObject<ReviewListRequest>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::FollowUpsReview)?;
    let items = validate(body.into_inner().items)?;
    let mut conn = state.pool.get().await?;
    let subject = auth.subject.clone();
    let outcome = crate::db::write::transaction(&state.pool, &mut conn, async move |conn| {
        // A refused list rolls back, though it wrote nothing: its locks go with it.
        db::decide_list(conn, &items, &subject)
            .await?
            .map_err(|refusals| refused(&items, refusals))
    })
    .await?;
    Ok(HttpResponse::Ok().json(ReviewListResult {
        approved: outcome.approved,
        returned: outcome.returned,
        unchanged: outcome.unchanged,
    }))
}

/// Every item checked; all of them, or a 422 listing each bad one.
fn validate(items: Vec<ReviewListItem>) -> ApiResult<Vec<ListItem>> {
    let mut c = Checks::default();
    if items.is_empty() {
        c.push("items", "must hold at least one decision");
    }
    if items.len() > MAX_DECISIONS {
        c.push("items", format!("at most {MAX_DECISIONS} decisions"));
    }
    c.finish()?;
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut valid = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let at = |field: &str, message: String| {
            let mut e = FieldError::new(format!("items[{index}].{field}"), message);
            e.index = Some(index);
            e
        };
        if check_year(item.year).is_err() {
            errors.push(at("year", "must be between 1900 and 2100".into()));
        }
        if !seen.insert((item.activity_id, item.year)) {
            errors.push(at(
                "activity_id",
                "this activity and year is decided by an earlier item".into(),
            ));
        }
        match decision(item.decision, item.note) {
            Ok(decision) => valid.push(ListItem {
                activity_id: item.activity_id,
                year: item.year,
                version: item.version,
                decision,
            }),
            Err(message) => errors.push(at("note", message)),
        }
    }
    if errors.is_empty() {
        Ok(valid)
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// The answer to a list with items that name no follow-up (422, each listed) or another
/// version (409).
fn refused(items: &[ListItem], refusals: Vec<(usize, Refusal)>) -> ApiError {
    let missing: Vec<FieldError> = refusals
        .iter()
        .filter(|(_, r)| *r == Refusal::Missing)
        .filter_map(|&(i, _)| {
            let item = items.get(i)?;
            let mut e = FieldError::new(
                format!("items[{i}].activity_id"),
                format!(
                    "activity {} has no follow-up for {}",
                    item.activity_id, item.year
                ),
            );
            e.index = Some(i);
            Some(e)
        })
        .collect();
    if !missing.is_empty() {
        return ApiError::Validation(missing);
    }
    let stale: Vec<String> = refusals
        .iter()
        .filter_map(|(i, r)| match r {
            Refusal::Stale { current } => Some(format!(
                "item {i} names version {}, the follow-up is at version {current}",
                items.get(*i).map_or(0, |item| item.version)
            )),
            Refusal::Missing => None,
        })
        .collect();
    ApiError::Conflict(format!(
        "{} follow-up(s) changed since they were read; nothing was decided: {}",
        stale.len(),
        stale.join("; ")
    ))
}
