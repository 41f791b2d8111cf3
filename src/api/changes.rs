//! `/api/v1/changes`: the change feed pulling systems follow to stay in sync.

use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::cache;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use crate::AppState;
use crate::auth::Auth;
use crate::db::changes::{self as db, ChangeRow};
use crate::db::pagination::{decode_cursor, encode_cursor};
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult, Problem};

const DEFAULT_LIMIT: i64 = 100;
const MAX_LIMIT: i64 = 1000;

/// What changed: the API's name of the resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeEntity {
    Plan,
    Goal,
    Activity,
    Actor,
    /// An actor's role in an activity; `id` is the activity, `key` holds `actor_id` and `role`.
    ActivityActor,
    /// A goal linked to an activity; `id` is the activity, `key` holds `goal_id`.
    ActivityGoal,
    /// An activity included in a later plan; `id` is the activity, `key` holds `plan_id`.
    PlanActivity,
    /// `id` is the follow-up's, `key` holds `activity_id` and `year`.
    FollowUp,
}

impl ChangeEntity {
    fn from_table(table: &str) -> Option<Self> {
        Some(match table {
            "plans" => ChangeEntity::Plan,
            "goals" => ChangeEntity::Goal,
            "activities" => ChangeEntity::Activity,
            "actors" => ChangeEntity::Actor,
            "activity_actors" => ChangeEntity::ActivityActor,
            "activity_goals" => ChangeEntity::ActivityGoal,
            "plan_activities" => ChangeEntity::PlanActivity,
            "follow_ups" => ChangeEntity::FollowUp,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            ChangeEntity::Plan => "plan",
            ChangeEntity::Goal => "goal",
            ChangeEntity::Activity => "activity",
            ChangeEntity::Actor => "actor",
            ChangeEntity::ActivityActor => "activity_actor",
            ChangeEntity::ActivityGoal => "activity_goal",
            ChangeEntity::PlanActivity => "plan_activity",
            ChangeEntity::FollowUp => "follow_up",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeOp {
    Create,
    Update,
    /// A tombstone: the row is gone.
    Delete,
}

impl ChangeOp {
    fn from_log(op: &str) -> Option<Self> {
        Some(match op {
            "create" => ChangeOp::Create,
            "update" => ChangeOp::Update,
            "delete" => ChangeOp::Delete,
            _ => return None,
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            ChangeOp::Create => "create",
            ChangeOp::Update => "update",
            ChangeOp::Delete => "delete",
        }
    }
}

/// One create, update or delete.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "entity": "follow_up", "id": "7d44a4f8-3a55-5c2e-a3a8-6f0e4c2d9b10", "op": "update", "version": 2,
    "at": "2025-01-15T09:00:00Z", "key": {"activity_id": "3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33", "year": 2024},
    "seq": 412
}))]
pub struct Change {
    pub entity: ChangeEntity,
    /// The row's id; for link rows, the activity's.
    pub id: Uuid,
    pub op: ChangeOp,
    /// The row's version after the change (its version when deleted); null for link rows,
    /// which have none.
    pub version: Option<i32>,
    /// When the writing transaction began.
    pub at: DateTime<Utc>,
    /// The natural key of link rows and follow-ups (see `entity`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub key: Option<serde_json::Value>,
    /// The data version of the writing transaction: changes of one transaction share it.
    pub seq: i64,
}

impl TryFrom<ChangeRow> for Change {
    type Error = ApiError;

    fn try_from(row: ChangeRow) -> ApiResult<Self> {
        let entity = ChangeEntity::from_table(&row.entity)
            .ok_or_else(|| ApiError::internal(format!("change of unknown table {}", row.entity)))?;
        let op = ChangeOp::from_log(&row.op)
            .ok_or_else(|| ApiError::internal(format!("change with unknown op {}", row.op)))?;
        Ok(Change {
            entity,
            id: row.entity_id,
            op,
            version: row.version,
            at: row.at,
            key: row.key,
            seq: row.seq,
        })
    }
}

impl CsvRecord for Change {
    fn headers() -> &'static [&'static str] {
        &["seq", "entity", "id", "op", "version", "at", "key"]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.seq.to_string(),
            self.entity.as_str().to_owned(),
            self.id.to_string(),
            self.op.as_str().to_owned(),
            csv::opt(self.version),
            self.at.to_rfc3339(),
            csv::opt(self.key.as_ref()),
        ]
    }
}

/// A page of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeFeed {
    /// In commit order.
    pub items: Vec<Change>,
    /// Pass as `since` next time. Always present: with nothing new it is the cursor given, so
    /// a poller keeps its place.
    pub next_cursor: String,
    /// More changes are ready now (the page was full); poll again without waiting.
    pub has_more: bool,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// The `next_cursor` of the previous call; absent: from the beginning.
    pub since: Option<String>,
    /// Page size, 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// `csv` for CSV (as `Accept: text/csv`; the next cursor is in the `Link` header).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

/// The position after a change: its transaction's seq and its id in the log.
type FeedCursor = (i64, i64);

/// Everything created, changed or deleted since a cursor, in commit order.
///
/// Start without `since`, apply the items in order (a `delete` removes the row), and call again
/// with `next_cursor`: a system that follows the feed from the beginning holds exactly the
/// current data. A change committed by a concurrent transaction is never skipped: the feed
/// stops before a transaction that may still commit.
#[utoipa::path(
    tag = "changes",
    params(ChangesQuery),
    responses(
        (status = 200, description = "The changes after the cursor", content(
            (ChangeFeed = "application/json"),
            (String = "text/csv"),
        )),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/changes")]
pub async fn list_changes(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ChangesQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::field(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let since: FeedCursor = match query.since.as_deref() {
        Some(raw) => decode_cursor(raw)
            .map_err(|_| ApiError::field("since", "is not a cursor this feed handed out"))?,
        None => (0, 0),
    };
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified_with(etag, cache::REVALIDATE));
    }
    let mut rows = db::after(&mut conn, since.0, since.1, limit + 1).await?;
    drop(conn);
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let last = rows.last().map(|r| (r.seq, r.id)).unwrap_or(since);
    let items = rows
        .into_iter()
        .map(Change::try_from)
        .collect::<ApiResult<Vec<_>>>()?;
    let body = ChangeFeed {
        items,
        next_cursor: encode_cursor(&last),
        has_more,
    };
    csv::reply(
        representation,
        cache::builder_with(etag, cache::REVALIDATE),
        &req,
        &body,
        || Table::of("changes.csv", &body.items),
        Some(("since", body.next_cursor.as_str())),
    )
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_changes);
}
