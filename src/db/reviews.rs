//! SQL for the review of follow-ups: one decision, or a list of them all or nothing, each
//! recorded in the follow-up's history (and, through the row's version, in the change feed).

use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::follow_ups::{FollowUpRow, Outcome, find, record, snapshot_sql};
use super::schema::follow_ups;
use crate::domain::ReviewState;
use crate::error::{ApiError, ApiResult};

/// A reviewer's decision: `Approved` or `Returned` (a return carries its note).
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub state: ReviewState,
    pub note: Option<String>,
}

/// Records a decision on the follow-up of `year` unless it already says the same. Run inside a
/// transaction.
pub async fn decide(
    conn: &mut Conn,
    activity_id: Uuid,
    year: i32,
    decision: &Decision,
    by: &str,
    expected_version: Option<i32>,
) -> ApiResult<(FollowUpRow, Outcome)> {
    let before = find(conn, activity_id, year, true).await?.ok_or_else(|| {
        ApiError::NotFound(format!(
            "activity {activity_id} has no follow-up for {year}"
        ))
    })?;
    super::check_version(before.version, expected_version)?;
    if before.review == decision.state && before.review_note == decision.note {
        return Ok((before, Outcome::Unchanged));
    }
    let after: FollowUpRow = diesel::update(follow_ups::table.find(before.id))
        .set((
            follow_ups::review.eq(decision.state),
            follow_ups::review_note.eq(decision.note.as_deref()),
            follow_ups::reviewed_by.eq(by),
            follow_ups::reviewed_at.eq(diesel::dsl::now),
        ))
        .returning(FollowUpRow::as_returning())
        .get_result(conn)
        .await?;
    record(conn, activity_id, year, by, Some(&before), Some(&after)).await?;
    Ok((after, Outcome::Updated))
}

/// One decision of a list, on the follow-up at the version the reviewer read.
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    pub activity_id: Uuid,
    pub year: i32,
    pub version: i32,
    pub decision: Decision,
}

/// Why an item of a list cannot be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No follow-up for that activity and year.
    Missing,
    /// The follow-up is at another version than the item names.
    Stale { current: i32 },
}

/// What a list of decisions did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ListCounts {
    pub approved: u64,
    pub returned: u64,
    pub unchanged: u64,
}

#[derive(diesel::prelude::QueryableByName)]
struct Locked {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    activity_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    year: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    version: i32,
}

#[derive(diesel::prelude::QueryableByName)]
struct Decided {
    #[diesel(sql_type = diesel::sql_types::Text)]
    review: ReviewState,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Decides every item or none: locks the follow-ups in key order (so overlapping lists queue
/// instead of deadlocking), and returns the refusal of every item that names a missing
/// follow-up or another version, writing nothing; else writes all decisions with their history
/// entries in one statement. Run inside a transaction; items must have distinct keys.
pub async fn decide_list(
    conn: &mut Conn,
    items: &[ListItem],
    by: &str,
) -> ApiResult<Result<ListCounts, Vec<(usize, Refusal)>>> {
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.sort_by_key(|&i| (items[i].activity_id, items[i].year));
    let activity_ids: Vec<Uuid> = order.iter().map(|&i| items[i].activity_id).collect();
    let years: Vec<i32> = order.iter().map(|&i| items[i].year).collect();
    let states: Vec<ReviewState> = order.iter().map(|&i| items[i].decision.state).collect();
    let notes: Vec<Option<&str>> = order
        .iter()
        .map(|&i| items[i].decision.note.as_deref())
        .collect();

    let locked: Vec<Locked> = diesel::sql_query(
        "SELECT f.activity_id, f.year, f.version FROM follow_ups f \
         JOIN unnest($1::uuid[], $2::int4[]) AS i(activity_id, year) \
           ON f.activity_id = i.activity_id AND f.year = i.year \
         ORDER BY f.activity_id, f.year \
         FOR NO KEY UPDATE OF f",
    )
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&activity_ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Int4>, _>(&years)
    .load(conn)
    .await?;
    let versions: std::collections::HashMap<(Uuid, i32), i32> = locked
        .into_iter()
        .map(|l| ((l.activity_id, l.year), l.version))
        .collect();
    let refusals: Vec<(usize, Refusal)> = items
        .iter()
        .enumerate()
        .filter_map(
            |(i, item)| match versions.get(&(item.activity_id, item.year)) {
                None => Some((i, Refusal::Missing)),
                Some(&current) if current != item.version => Some((i, Refusal::Stale { current })),
                Some(_) => None,
            },
        )
        .collect();
    if !refusals.is_empty() {
        return Ok(Err(refusals));
    }

    let decided: Vec<Decided> = diesel::sql_query(format!(
        "WITH input AS (SELECT * FROM unnest($1::uuid[], $2::int4[], $3::text[], $4::text[]) \
                        AS i(activity_id, year, review, note)), \
         updated AS ( \
             UPDATE follow_ups f \
             SET review = i.review, review_note = i.note, reviewed_by = $5, reviewed_at = now() \
             FROM input i, follow_ups o \
             WHERE f.activity_id = i.activity_id AND f.year = i.year AND o.id = f.id \
               AND (o.review, o.review_note) IS DISTINCT FROM (i.review, i.note) \
             RETURNING f.activity_id, f.year, f.review, {before} AS before, {after} AS after \
         ), recorded AS ( \
             INSERT INTO follow_up_history (activity_id, year, changed_by, before, after) \
             SELECT activity_id, year, $5, before, after FROM updated \
         ) \
         SELECT review, count(*) AS n FROM updated GROUP BY review",
        before = snapshot_sql("o."),
        after = snapshot_sql("f.")
    ))
    .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&activity_ids)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Int4>, _>(&years)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&states)
    .bind::<diesel::sql_types::Array<diesel::sql_types::Nullable<diesel::sql_types::Text>>, _>(
        &notes,
    )
    .bind::<diesel::sql_types::Text, _>(by)
    .load(conn)
    .await?;
    let mut counts = ListCounts::default();
    for d in decided {
        let n = u64::try_from(d.n).unwrap_or_default();
        match d.review {
            ReviewState::Approved => counts.approved += n,
            ReviewState::Returned => counts.returned += n,
            ReviewState::Submitted => {
                return Err(ApiError::internal("a review decided `submitted`"));
            }
        }
    }
    counts.unchanged = (items.len() as u64).saturating_sub(counts.approved + counts.returned);
    Ok(Ok(counts))
}
