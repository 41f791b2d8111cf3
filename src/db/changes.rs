//! SQL for the change feed: the commit-ordered log of every write to the served data.

use chrono::{DateTime, Utc};
use diesel::sql_types::{BigInt, Integer, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use crate::error::ApiResult;

/// One row of `changes` (migration 2).
#[derive(Debug, Clone, diesel::prelude::QueryableByName)]
pub struct ChangeRow {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = BigInt)]
    pub seq: i64,
    /// The table the trigger ran on.
    #[diesel(sql_type = Text)]
    pub entity: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub entity_id: Uuid,
    #[diesel(sql_type = Nullable<Jsonb>)]
    pub key: Option<serde_json::Value>,
    #[diesel(sql_type = Text)]
    pub op: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub version: Option<i32>,
    #[diesel(sql_type = Timestamptz)]
    pub at: DateTime<Utc>,
}

/// The changes after `(seq, id)` in commit order, at most `fetch` of them.
///
/// Why a reader can never skip a change: every writing transaction takes its `seq` by bumping
/// `data_version.n` and holds that row's lock until it commits, so seqs are handed out in
/// commit order and a transaction holding seq k commits (and becomes visible) before anyone
/// can take k + 1. This statement reads `data_version` and `changes` in one snapshot: the `n`
/// it sees is the seq of the last committed writer, every transaction with a seq ≤ n has
/// committed and is visible in whole, and every transaction it cannot see — one still running,
/// with or without a seq, or one that commits after the snapshot — has or will get a seq > n.
/// So the rows returned are a gap-free prefix of the log, and a cursor built from the last of
/// them (or kept where it was when there is nothing new) never passes a change that could
/// still commit. `seq <= n` states that bound explicitly, so it holds even should the log
/// ever be read outside a single snapshot. The identity `id` alone would not do: it is taken
/// at insert time, and transactions commit in another order than they insert.
pub async fn after(conn: &mut Conn, seq: i64, id: i64, fetch: i64) -> ApiResult<Vec<ChangeRow>> {
    Ok(diesel::sql_query(
        "SELECT c.id, c.seq, c.entity, c.entity_id, c.key, c.op, c.version, c.at \
         FROM changes c \
         WHERE (c.seq, c.id) > ($1, $2) AND c.seq <= (SELECT n FROM data_version) \
         ORDER BY c.seq, c.id \
         LIMIT $3",
    )
    .bind::<BigInt, _>(seq)
    .bind::<BigInt, _>(id)
    .bind::<BigInt, _>(fetch)
    .load(conn)
    .await?)
}
