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

use std::time::{Duration, Instant};

use diesel::sql_types::{Nullable, Text};
use diesel_async::{AnsiTransactionManager, RunQueryDsl, TransactionManager};

use super::{Conn, DbPool};
use crate::error::{ApiError, ApiResult};

/// How long a lost `COMMIT` is chased before the answer becomes "outcome unknown".
const RESOLVE_FOR: Duration = Duration::from_secs(5);
/// Pause between attempts to ask about a lost `COMMIT`.
const RESOLVE_PAUSE: Duration = Duration::from_millis(50);

#[derive(diesel::prelude::QueryableByName)]
struct Xid {
    #[diesel(sql_type = Text)]
    xid: String,
}

#[derive(diesel::prelude::QueryableByName)]
struct XactStatus {
    #[diesel(sql_type = Nullable<Text>)]
    status: Option<String>,
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
                    tracing::warn!(xid, "commit reply lost; the transaction committed");
                    Ok(value)
                }
                Fate::Aborted => {
                    tracing::warn!(xid, "commit reply lost; the transaction was rolled back");
                    Err(ApiError::Unavailable)
                }
                Fate::Unknown => {
                    tracing::error!(xid, "commit reply lost; its outcome could not be learned");
                    Err(ApiError::OutcomeUnknown)
                }
            }
        }
    }
}

async fn current_xid(conn: &mut Conn) -> ApiResult<String> {
    Ok(
        diesel::sql_query("SELECT pg_current_xact_id()::text AS xid")
            .get_result::<Xid>(conn)
            .await?
            .xid,
    )
}

/// Rolls back after `err`; the connection is discarded by the pool when even that fails.
async fn rollback(conn: &mut Conn, err: ApiError) -> ApiError {
    if let Err(rollback) = AnsiTransactionManager::rollback_transaction(conn).await {
        tracing::debug!(error = %rollback, "rollback failed");
    }
    err
}

/// Asks the database, on fresh connections, whether the transaction `xid` committed.
async fn resolve(pool: &DbPool, xid: &str) -> Fate {
    let deadline = Instant::now() + RESOLVE_FOR;
    loop {
        if let Ok(mut conn) = pool.get().await {
            let status = diesel::sql_query("SELECT pg_xact_status($1::xid8)::text AS status")
                .bind::<Text, _>(xid)
                .get_result::<XactStatus>(&mut conn)
                .await;
            match status.map(|s| s.status) {
                Ok(Some(status)) if status == "committed" => return Fate::Committed,
                Ok(Some(status)) if status == "aborted" => return Fate::Aborted,
                // Too old to be known any more: cannot happen within seconds, but never guess.
                Ok(None) => return Fate::Unknown,
                // "in progress": the backend has not yet noticed its client is gone.
                Ok(Some(_)) | Err(_) => {}
            }
        }
        if Instant::now() + RESOLVE_PAUSE > deadline {
            return Fate::Unknown;
        }
        tokio::time::sleep(RESOLVE_PAUSE).await;
    }
}
