//! SQL for follow-ups and their history.

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use uuid::Uuid;

use super::Conn;
use super::schema::{follow_up_history, follow_ups};
use crate::domain::{FollowUpStatus, ReviewState};
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
    pub review: ReviewState,
    pub review_note: Option<String>,
    pub reviewed_by: Option<String>,
    pub reviewed_at: Option<DateTime<Utc>>,
}

/// What a history entry keeps of a follow-up.
#[derive(Debug, Serialize)]
struct Snapshot<'a> {
    status: Option<FollowUpStatus>,
    comment: Option<&'a str>,
    reported_by: &'a str,
    version: i32,
    review: ReviewState,
    review_note: Option<&'a str>,
    reviewed_by: Option<&'a str>,
}

impl FollowUpRow {
    fn snapshot(&self) -> serde_json::Value {
        serde_json::to_value(Snapshot {
            status: self.status,
            comment: self.comment.as_deref(),
            reported_by: &self.reported_by,
            version: self.version,
            review: self.review,
            review_note: self.review_note.as_deref(),
            reviewed_by: self.reviewed_by.as_deref(),
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

pub(super) async fn find(
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

pub(super) async fn record(
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
            // A changed report is reviewed again, whatever its review said.
            follow_ups::review.eq(ReviewState::Submitted),
            follow_ups::review_note.eq(None::<String>),
            follow_ups::reviewed_by.eq(None::<String>),
            follow_ups::reviewed_at.eq(None::<DateTime<Utc>>),
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

/// The actor `$1` and every unit below it, as the relation `bound(id)`: an actor reports for the
/// activities where any of them has a role.
const BOUND: &str = "bound(id) AS ( \
         SELECT $1::uuid \
         UNION SELECT a.id FROM actors a JOIN bound b ON a.parent_id = b.id \
     )";

/// One line of an actor's follow-up sheet for a year.
#[derive(Debug, Clone, diesel::prelude::QueryableByName)]
pub struct SheetRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub activity_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub goal_code: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub title: String,
    /// The responsible actors' names, `; ` between them.
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub responsible: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub status: Option<FollowUpStatus>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub comment: Option<String>,
}

/// What an actor reports on for `year`: the activities where it (or a unit below it) has a
/// role that run that year (as the activity list's `active_in`) or already have a follow-up for
/// it, with that follow-up; in plan order.
pub async fn sheet(conn: &mut Conn, actor_id: Uuid, year: i32) -> ApiResult<Vec<SheetRow>> {
    Ok(diesel::sql_query(format!(
        "WITH RECURSIVE {BOUND} \
         SELECT a.id AS activity_id, g.code AS goal_code, a.title, \
                coalesce((SELECT string_agg(r.name, '; ' ORDER BY r.name) \
                          FROM activity_actors aa JOIN actors r ON r.id = aa.actor_id \
                          WHERE aa.activity_id = a.id AND aa.role = 'responsible'), '') AS responsible, \
                f.status, f.comment \
         FROM activities a \
         JOIN goals g ON g.id = a.goal_id \
         LEFT JOIN follow_ups f ON f.activity_id = a.id AND f.year = $2 \
         WHERE EXISTS (SELECT 1 FROM activity_actors aa \
                       WHERE aa.activity_id = a.id AND aa.actor_id IN (SELECT id FROM bound)) \
           AND (f.id IS NOT NULL OR (a.start_year <= $2 AND (a.end_year >= $2 \
                OR (a.end_year IS NULL AND (a.recurrence = 'annual' OR a.start_year = $2))))) \
         ORDER BY a.plan_id, a.position, a.id"
    ))
    .bind::<diesel::sql_types::Uuid, _>(actor_id)
    .bind::<diesel::sql_types::Int4, _>(year)
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
    let allowed: Vec<Allowed> = diesel::sql_query(format!(
        "WITH RECURSIVE {BOUND} \
         SELECT DISTINCT aa.activity_id AS id FROM activity_actors aa \
         WHERE aa.actor_id IN (SELECT id FROM bound) AND aa.activity_id = ANY($2)"
    ))
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

/// One validated follow-up of a batch or CSV import.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub activity_id: Uuid,
    pub year: i32,
    /// `None` for a note without a colour.
    pub status: Option<FollowUpStatus>,
    pub comment: Option<String>,
}

/// What a batch did (or, in a dry run, would do).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchCounts {
    pub created: u64,
    pub updated: u64,
    pub unchanged: u64,
}

/// A batch as the columns `unnest` takes, in key order: every statement visits (and locks) rows
/// in the same order, so overlapping batches wait for each other instead of deadlocking.
struct Columns<'a> {
    activity_ids: Vec<Uuid>,
    years: Vec<i32>,
    statuses: Vec<Option<FollowUpStatus>>,
    comments: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn of(items: &'a [BatchItem]) -> Self {
        let mut sorted: Vec<&BatchItem> = items.iter().collect();
        sorted.sort_by_key(|item| (item.activity_id, item.year));
        Columns {
            activity_ids: sorted.iter().map(|i| i.activity_id).collect(),
            years: sorted.iter().map(|i| i.year).collect(),
            statuses: sorted.iter().map(|i| i.status).collect(),
            comments: sorted.iter().map(|i| i.comment.as_deref()).collect(),
        }
    }

    fn len(&self) -> u64 {
        self.activity_ids.len() as u64
    }
}

#[derive(diesel::prelude::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or_default()
}

/// The batch's items as a relation `input(activity_id, year, status, comment)`.
const INPUT: &str = "input AS (SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::text[]) \
                     WITH ORDINALITY AS i(activity_id, year, status, comment, n))";

/// The snapshot a history entry keeps, built from a row's columns (the shape of `Snapshot`).
pub(super) fn snapshot_sql(prefix: &str) -> String {
    format!(
        "jsonb_build_object('status', {prefix}status, 'comment', {prefix}comment, \
         'reported_by', {prefix}reported_by, 'version', {prefix}version, \
         'review', {prefix}review, 'review_note', {prefix}review_note, \
         'reviewed_by', {prefix}reviewed_by)"
    )
}

/// Binds the four columns as `$1`–`$4`.
macro_rules! bind_columns {
    ($query:expr, $columns:expr) => {
        $query
            .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&$columns.activity_ids)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Int4>, _>(&$columns.years)
            .bind::<diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Text>>, _>(
                &$columns.statuses,
            )
            .bind::<diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Text>>, _>(
                &$columns.comments,
            )
    };
}

/// What a batch would do, without writing or locking anything (the dry run).
pub async fn classify_batch(conn: &mut Conn, items: &[BatchItem]) -> ApiResult<BatchCounts> {
    #[derive(diesel::prelude::QueryableByName)]
    struct Classified {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        created: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        updated: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        unchanged: i64,
    }
    let columns = Columns::of(items);
    let classified: Classified = bind_columns!(
        diesel::sql_query(format!(
            "WITH {INPUT} \
             SELECT count(*) FILTER (WHERE f.id IS NULL) AS created, \
                    count(*) FILTER (WHERE f.id IS NOT NULL \
                        AND (f.status, f.comment) IS DISTINCT FROM (i.status, i.comment)) AS updated, \
                    count(*) FILTER (WHERE f.id IS NOT NULL \
                        AND (f.status, f.comment) IS NOT DISTINCT FROM (i.status, i.comment)) AS unchanged \
             FROM input i LEFT JOIN follow_ups f ON f.activity_id = i.activity_id AND f.year = i.year"
        )),
        columns
    )
    .get_result(conn)
    .await?;
    Ok(BatchCounts {
        created: count(classified.created),
        updated: count(classified.updated),
        unchanged: count(classified.unchanged),
    })
}

/// Writes a validated batch with set-based statements, recording every change in the history
/// like `upsert` does. Run inside a transaction; items must have distinct (activity, year) keys.
///
/// 1. lock the rows that exist, in key order, so the before-images read below are the latest and
///    overlapping batches queue instead of deadlocking;
/// 2. insert the keys that do not exist, with their history entries;
/// 3. update the locked rows whose status or comment differ, with their history entries.
///
/// Row locks come first: the change log's triggers lock `data_version` at the end of the first
/// writing statement, and no transaction may wait for a row lock while holding it. A key that
/// another writer created between 1 and 2 is not locked by this one, so the batch gives up with a
/// retryable conflict instead of locking it late.
pub async fn write_batch(conn: &mut Conn, items: &[BatchItem], by: &str) -> ApiResult<BatchCounts> {
    let columns = Columns::of(items);
    let locked: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM ( \
             SELECT 1 FROM follow_ups f \
             JOIN unnest($1::uuid[], $2::int4[]) AS i(activity_id, year) \
               ON f.activity_id = i.activity_id AND f.year = i.year \
             ORDER BY f.activity_id, f.year \
             FOR NO KEY UPDATE OF f \
         ) locked",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&columns.activity_ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Int4>, _>(&columns.years)
    .get_result(conn)
    .await?;

    let created: Count = bind_columns!(
        diesel::sql_query(format!(
            "WITH {INPUT}, inserted AS ( \
                 INSERT INTO follow_ups (id, activity_id, year, status, comment, reported_by) \
                 SELECT gen_random_uuid(), activity_id, year, status, comment, $5 FROM input ORDER BY n \
                 ON CONFLICT (activity_id, year) DO NOTHING \
                 RETURNING activity_id, year, status, comment, reported_by, version, \
                           review, review_note, reviewed_by \
             ), recorded AS ( \
                 INSERT INTO follow_up_history (activity_id, year, changed_by, before, after) \
                 SELECT activity_id, year, $5, NULL, {after} FROM inserted \
             ) \
             SELECT count(*) AS n FROM inserted",
            after = snapshot_sql("")
        )),
        columns
    )
    .bind::<diesel::sql_types::Text, _>(by)
    .get_result(conn)
    .await?;
    let (locked, created) = (count(locked.n), count(created.n));
    if locked + created != columns.len() {
        return Err(ApiError::concurrent_change());
    }

    let updated: Count = bind_columns!(
        diesel::sql_query(format!(
            "WITH {INPUT}, updated AS ( \
                 UPDATE follow_ups f \
                 SET status = i.status, comment = i.comment, reported_by = $5, reported_at = now(), \
                     review = 'submitted', review_note = NULL, reviewed_by = NULL, reviewed_at = NULL \
                 FROM input i, follow_ups o \
                 WHERE f.activity_id = i.activity_id AND f.year = i.year AND o.id = f.id \
                   AND (o.status, o.comment) IS DISTINCT FROM (i.status, i.comment) \
                 RETURNING f.activity_id, f.year, {before} AS before, {after} AS after \
             ), recorded AS ( \
                 INSERT INTO follow_up_history (activity_id, year, changed_by, before, after) \
                 SELECT activity_id, year, $5, before, after FROM updated \
             ) \
             SELECT count(*) AS n FROM updated",
            before = snapshot_sql("o."),
            after = snapshot_sql("f.")
        )),
        columns
    )
    .bind::<diesel::sql_types::Text, _>(by)
    .get_result(conn)
    .await?;
    let updated = count(updated.n);
    Ok(BatchCounts {
        created,
        updated,
        unchanged: columns.len().saturating_sub(created + updated),
    })
}

#[derive(Debug, Default)]
pub struct FollowUpFilter {
    pub plan_id: Option<Uuid>,
    pub year: Option<i32>,
    pub status: Option<FollowUpStatus>,
    /// Activities where this actor has a role.
    pub actor_id: Option<Uuid>,
}

/// Sort key of the follow-up list: year, then activity.
pub type FollowUpKey = (i32, Uuid);

/// A follow-up with the activity dates its warnings are judged against.
pub type FollowUpWithDates = (
    FollowUpRow,
    Option<i32>,
    Option<i32>,
    crate::domain::Recurrence,
);

pub async fn list(
    conn: &mut Conn,
    filter: &FollowUpFilter,
    page: &super::pagination::Page<FollowUpKey>,
) -> ApiResult<Vec<FollowUpWithDates>> {
    use super::schema::{activities, activity_actors};
    use diesel::BoolExpressionMethods;
    let mut query = follow_ups::table
        .inner_join(activities::table)
        .select((
            FollowUpRow::as_select(),
            activities::start_year,
            activities::end_year,
            activities::recurrence,
        ))
        .into_boxed();
    if let Some(plan) = filter.plan_id {
        query = query.filter(activities::plan_id.eq(plan));
    }
    if let Some(year) = filter.year {
        query = query.filter(follow_ups::year.eq(year));
    }
    if let Some(status) = filter.status {
        query = query.filter(follow_ups::status.eq(status));
    }
    if let Some(actor) = filter.actor_id {
        query = query.filter(
            follow_ups::activity_id.eq_any(
                activity_actors::table
                    .filter(activity_actors::actor_id.eq(actor))
                    .select(activity_actors::activity_id),
            ),
        );
    }
    if let Some((year, activity)) = page.after {
        query = query.filter(
            follow_ups::year.gt(year).or(follow_ups::year
                .eq(year)
                .and(follow_ups::activity_id.gt(activity))),
        );
    }
    Ok(query
        .order((follow_ups::year, follow_ups::activity_id))
        .limit(page.fetch())
        .load(conn)
        .await?)
}
