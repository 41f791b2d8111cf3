//! Write transactions whose outcome a client can rely on.
//!
//! A write that fails before its `COMMIT` is rolled back by PostgreSQL (an open transaction dies
//! with its connection), so answering an error is truthful. When the connection breaks while the
//! `COMMIT` itself is in flight, the transaction may have committed although its reply was lost.
//! Answering 503 then would make a client believe a committed write failed. So each write learns
//! its transaction id before committing, and a `COMMIT` lost to a broken connection is resolved
//! on another connection with `pg_xact_status`: committed answers success, aborted answers 503,
//! and only when the database cannot be asked within a bounded time is the answer "outcome
//! unknown" (a distinct 503 problem the client can act on).
//!
//! A transaction id means something only on the server that issued it. After a crash restart or
//! a failover to a standby, an id whose records never became durable may be issued again to
//! another transaction, so there "committed" may be someone else's commit. Each write therefore
//! also notes which server ran it (postmaster start time and WAL timeline); asked on another
//! server, only "aborted" (not durable there, so lost either way) is believed, and a "committed"
//! becomes "outcome unknown".

use std::time::{Duration, Instant};

use diesel::sql_types::{Nullable, Text};
use diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};

use super::{Conn, DbPool};
use crate::error::{ApiError, ApiResult};

/// How long a lost `COMMIT` is chased before the answer becomes "outcome unknown".
const RESOLVE_FOR: Duration = Duration::from_secs(5);
/// Pause between attempts to ask about a lost `COMMIT`.
const RESOLVE_PAUSE: Duration = Duration::from_millis(50);

/// Which server, in which life, a transaction runs on: a restart moves the start time, a
/// promotion the timeline (the first eight hex digits of a WAL file's name).
const SERVER: &str = "pg_postmaster_start_time()::text || ' ' \
                      || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8)";

/// A transaction's id and the server that issued it.
#[derive(Debug, diesel::prelude::QueryableByName)]
struct Xid {
    #[diesel(sql_type = Text)]
    xid: String,
    #[diesel(sql_type = Text)]
    server: String,
}

#[derive(diesel::prelude::QueryableByName)]
struct XactStatus {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
    #[diesel(sql_type = Text)]
    server: String,
}

/// What became of a transaction whose `COMMIT` reply was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    Committed,
    Aborted,
    Unknown,
}

/// Runs `body` in a transaction on `conn` and commits it. Errors of the body roll back. A
/// `COMMIT` lost to a broken connection is resolved through `pool` (see the module comment).
pub async fn transaction<T, F>(pool: &DbPool, conn: &mut Conn, body: F) -> ApiResult<T>
where
    F: AsyncFnOnce(&mut Conn) -> ApiResult<T>,
{
    AnsiTransactionManager::begin_transaction(conn).await?;
    let xid = match current_xid(conn).await {
        Ok(xid) => xid,
        Err(err) => return Err(rollback(conn, err).await),
    };
    let value = match body(conn).await {
        Ok(value) => value,
        Err(err) => return Err(rollback(conn, err).await),
    };
    match AnsiTransactionManager::commit_transaction(conn).await {
        Ok(()) => Ok(value),
        Err(err) => {
            let err = ApiError::from(err);
            // Anything but a lost connection (a deferred constraint, a serialization failure)
            // is PostgreSQL's own answer: the transaction was rolled back.
            if !matches!(err, ApiError::Unavailable) {
                return Err(err);
            }
            match resolve(pool, &xid).await {
                Fate::Committed => {
                    tracing::warn!(xid = %xid.xid, "commit reply lost; the transaction committed");
                    Ok(value)
                }
                Fate::Aborted => {
                    tracing::warn!(xid = %xid.xid, "commit reply lost; the transaction was rolled back");
                    Err(ApiError::Unavailable)
                }
                Fate::Unknown => {
                    tracing::error!(xid = %xid.xid, "commit reply lost; its outcome could not be learned");
                    Err(ApiError::OutcomeUnknown)
                }
            }
        }
    }
}

async fn current_xid(conn: &mut Conn) -> ApiResult<Xid> {
    Ok(diesel::sql_query(format!(
        "SELECT pg_current_xact_id()::text AS xid, {SERVER} AS server"
    ))
    .get_result::<Xid>(conn)
    .await?)
}

/// Rolls back after `err`; the connection is discarded by the pool when even that fails.
async fn rollback(conn: &mut Conn, err: ApiError) -> ApiError {
    if let Err(rollback) = AnsiTransactionManager::rollback_transaction(conn).await {
        tracing::debug!(error = %rollback, "rollback failed");
    }
    err
}

/// What an answer of `pg_xact_status` tells of the transaction; `None`: ask again.
fn judge(status: Option<&str>, same_server: bool) -> Option<Fate> {
    match status {
        Some("committed") if same_server => Some(Fate::Committed),
        // On another server (or after a restart) the id may have been issued again.
        Some("committed") => Some(Fate::Unknown),
        // Not durable where the data now lives: the write is not there, whoever issued the id.
        Some("aborted") => Some(Fate::Aborted),
        // Too old to be known any more: cannot happen within seconds, but never guess.
        None => Some(Fate::Unknown),
        // "in progress": the backend has not yet noticed its client is gone.
        Some(_) => None,
    }
}

/// Asks the database, on fresh connections, whether the transaction `xid` committed.
async fn resolve(pool: &DbPool, xid: &Xid) -> Fate {
    let deadline = Instant::now() + RESOLVE_FOR;
    loop {
        if let Ok(mut conn) = pool.get().await {
            // An id the server has not issued yet ("in the future", after a failover) is an
            // error: asked again until it is issued or the time is up.
            let answer = diesel::sql_query(format!(
                "SELECT pg_xact_status($1::xid8)::text AS status, {SERVER} AS server"
            ))
            .bind::<Text, _>(&xid.xid)
            .get_result::<XactStatus>(&mut conn)
            .await;
            if let Ok(answer) = answer
                && let Some(fate) = judge(answer.status.as_deref(), answer.server == xid.server)
            {
                return fate;
            }
        }
        if Instant::now() + RESOLVE_PAUSE > deadline {
            return Fate::Unknown;
        }
        tokio::time::sleep(RESOLVE_PAUSE).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{Fate, judge};

    #[test]
    fn a_commit_is_believed_only_on_the_server_that_ran_the_transaction() {
        assert_eq!(judge(Some("committed"), true), Some(Fate::Committed));
        assert_eq!(judge(Some("committed"), false), Some(Fate::Unknown));
        assert_eq!(judge(Some("aborted"), true), Some(Fate::Aborted));
        assert_eq!(judge(Some("aborted"), false), Some(Fate::Aborted));
        assert_eq!(judge(Some("in progress"), true), None);
        assert_eq!(judge(None, true), Some(Fate::Unknown));
    }
}
