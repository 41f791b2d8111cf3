//! SQL for follow-ups and their history.

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use super::Conn;
use super::schema::{follow_up_history, follow_ups};
use crate::domain::FollowUpStatus;
use crate::error::{ApiError, ApiResult};

#[derive(
    Debug,
    Clone,
    PartialEq,
    diesel::prelude::Queryable,
    diesel::prelude::QueryableByName,
    diesel::prelude::Selectable,
)]
#[diesel(table_name = follow_ups, check_for_backend(diesel::pg::Pg))]
pub struct FollowUpRow {
    pub id: Uuid,
    pub activity_id: Uuid,
    pub year: i32,
    pub status: Option<FollowUpStatus>,
    pub comment: Option<String>,
    pub reported_by: String,
    pub reported_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

/// What a history entry keeps of a follow-up.
#[derive(Debug, Serialize)]
struct Snapshot<'a> {
    status: Option<FollowUpStatus>,
    comment: Option<&'a str>,
    reported_by: &'a str,
    version: i32,
}

impl FollowUpRow {
    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(Snapshot {
            status: self.status,
            comment: self.comment.as_deref(),
            reported_by: &self.reported_by,
            version: self.version,
        })
        .unwrap_or(serde_json::Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

#[derive(Debug, Clone, diesel::prelude::Queryable, diesel::prelude::Selectable)]
#[diesel(table_name = follow_up_history, check_for_backend(diesel::pg::Pg))]
pub struct HistoryRow {
    pub id: i64,
    pub activity_id: Uuid,
    pub year: i32,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

pub async fn for_activity(conn: &mut Conn, activity_id: Uuid) -> ApiResult<Vec<FollowUpRow>> {
    Ok(follow_ups::table
        .filter(follow_ups::activity_id.eq(activity_id))
        .select(FollowUpRow::as_select())
        .order(follow_ups::year)
        .load(conn)
        .await?)
}

pub async fn get(conn: &mut Conn, activity_id: Uuid, year: i32) -> ApiResult<FollowUpRow> {
    find(conn, activity_id, year, false).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "activity {activity_id} has no follow-up for {year}"
        ))
    })
}

async fn find(
    conn: &mut Conn,
    activity_id: Uuid,
    year: i32,
    lock: bool,
) -> ApiResult<Option<FollowUpRow>> {
    let query = follow_ups::table
        .filter(follow_ups::activity_id.eq(activity_id))
        .filter(follow_ups::year.eq(year))
        .select(FollowUpRow::as_select());
    let found = if lock {
        query.for_update().first(conn).await.optional()?
    } else {
        query.first(conn).await.optional()?
    };
    Ok(found)
}

async fn record(
    conn: &mut Conn,
    activity_id: Uuid,
    year: i32,
    by: &str,
    before: Option<&FollowUpRow>,
    after: Option<&FollowUpRow>,
) -> ApiResult<()> {
    diesel::insert_into(follow_up_history::table)
        .values((
            follow_up_history::activity_id.eq(activity_id),
            follow_up_history::year.eq(year),
            follow_up_history::changed_by.eq(by),
            follow_up_history::before.eq(before.map(FollowUpRow::snapshot)),
            follow_up_history::after.eq(after.map(FollowUpRow::snapshot)),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Writes one follow-up unless it already says the same; records every change in the history.
/// Run inside a transaction.
pub async fn upsert(
    conn: &mut Conn,
    activity_id: Uuid,
    year: i32,
    status: Option<FollowUpStatus>,
    comment: Option<&str>,
    by: &str,
    expected_version: Option<i32>,
) -> ApiResult<(FollowUpRow, Outcome)> {
    let existing = match find(conn, activity_id, year, true).await? {
        Some(row) => Some(row),
        None => {
            if expected_version.is_some() {
                return Err(ApiError::PreconditionFailed);
            }
            let inserted: Option<FollowUpRow> = diesel::insert_into(follow_ups::table)
                .values((
                    follow_ups::id.eq(Uuid::new_v4()),
                    follow_ups::activity_id.eq(activity_id),
                    follow_ups::year.eq(year),
                    follow_ups::status.eq(status),
                    follow_ups::comment.eq(comment),
                    follow_ups::reported_by.eq(by),
                ))
                .on_conflict((follow_ups::activity_id, follow_ups::year))
                .do_nothing()
                .returning(FollowUpRow::as_returning())
                .get_result(conn)
                .await
                .optional()?;
            match inserted {
                Some(row) => {
                    record(conn, activity_id, year, by, None, Some(&row)).await?;
                    return Ok((row, Outcome::Created));
                }
                // A concurrent writer created it first: continue as an update of its row.
                None => find(conn, activity_id, year, true).await?,
            }
        }
    };
    let Some(before) = existing else {
        return Err(ApiError::Conflict(
            "the follow-up changed concurrently; retry".into(),
        ));
    };
    super::check_version(before.version, expected_version)?;
    if before.status == status && before.comment.as_deref() == comment {
        return Ok((before, Outcome::Unchanged));
    }
    let after: FollowUpRow = diesel::update(follow_ups::table.find(before.id))
        .set((
            follow_ups::status.eq(status),
            follow_ups::comment.eq(comment),
            follow_ups::reported_by.eq(by),
            follow_ups::reported_at.eq(diesel::dsl::now),
        ))
        .returning(FollowUpRow::as_returning())
        .get_result(conn)
        .await?;
    record(conn, activity_id, year, by, Some(&before), Some(&after)).await?;
    Ok((after, Outcome::Updated))
}

/// Deletes a follow-up, keeping its history. Run inside a transaction.
pub async fn delete(
    conn: &mut Conn,
    activity_id: Uuid,
    year: i32,
    by: &str,
    expected_version: Option<i32>,
) -> ApiResult<()> {
    let before = find(conn, activity_id, year, true).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "activity {activity_id} has no follow-up for {year}"
        ))
    })?;
    super::check_version(before.version, expected_version)?;
    diesel::delete(follow_ups::table.find(before.id))
        .execute(conn)
        .await?;
    record(conn, activity_id, year, by, Some(&before), None).await
}

pub async fn history(conn: &mut Conn, activity_id: Uuid, year: i32) -> ApiResult<Vec<HistoryRow>> {
    Ok(follow_up_history::table
        .filter(follow_up_history::activity_id.eq(activity_id))
        .filter(follow_up_history::year.eq(year))
        .select(HistoryRow::as_select())
        .order(follow_up_history::id)
        .load(conn)
        .await?)
}

/// Of `activity_ids`, those where neither `actor_id` nor any unit below it has a role.
pub async fn not_allowed_for_actor(
    conn: &mut Conn,
    actor_id: Uuid,
    activity_ids: &[Uuid],
) -> ApiResult<Vec<Uuid>> {
    #[derive(diesel::prelude::QueryableByName)]
    struct Allowed {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        id: Uuid,
    }
    let allowed: Vec<Allowed> = diesel::sql_query(
        "WITH RECURSIVE bound(id) AS ( \
             SELECT $1::uuid \
             UNION SELECT a.id FROM actors a JOIN bound b ON a.parent_id = b.id \
         ) \
         SELECT DISTINCT aa.activity_id AS id FROM activity_actors aa \
         WHERE aa.actor_id IN (SELECT id FROM bound) AND aa.activity_id = ANY($2)",
    )
    .bind::<diesel::sql_types::Uuid, _>(actor_id)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(activity_ids)
    .load(conn)
    .await?;
    let allowed: std::collections::HashSet<Uuid> = allowed.into_iter().map(|a| a.id).collect();
    Ok(activity_ids
        .iter()
        .filter(|id| !allowed.contains(id))
        .copied()
        .collect())
}
