//! SQL for Idempotency-Key answers: claimed and completed inside the transaction of the write they
//! belong to, so an answer is stored exactly when its write is committed.

use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;

use super::Conn;
use super::schema::idempotency_keys;
use crate::error::ApiResult;

/// How long an answer is kept for retries.
pub const RETENTION: &str = "24 hours";

/// A stored answer, or a claim whose write has not committed (status and body absent).
#[derive(Debug, Clone, diesel::prelude::Queryable)]
pub struct Stored {
    pub request_hash: String,
    pub status: Option<i16>,
    pub body: Option<String>,
}

/// The unexpired answer stored for this caller and key.
pub async fn find(conn: &mut Conn, owner: &str, key: &str) -> ApiResult<Option<Stored>> {
    Ok(idempotency_keys::table
        .filter(idempotency_keys::owner.eq(owner))
        .filter(idempotency_keys::key.eq(key))
        .filter(idempotency_keys::created_at.gt(
            diesel::dsl::sql::<diesel::sql_types::Timestamptz>(&format!(
                "now() - interval '{RETENTION}'"
            )),
        ))
        .select((
            idempotency_keys::request_hash,
            idempotency_keys::status,
            idempotency_keys::body,
        ))
        .first(conn)
        .await
        .optional()?)
}

/// Deletes expired answers (run opportunistically when a key is used).
pub async fn purge_expired(conn: &mut Conn) -> ApiResult<usize> {
    Ok(diesel::sql_query(format!(
        "DELETE FROM idempotency_keys WHERE created_at < now() - interval '{RETENTION}'"
    ))
    .execute(conn)
    .await?)
}

/// Claims the key for this request inside the write's transaction. False when another request
/// holds it: the caller then answers with that request's stored answer. A concurrent claim
/// waits here until the other transaction ends.
pub async fn claim(conn: &mut Conn, owner: &str, key: &str, request_hash: &str) -> ApiResult<bool> {
    let claimed = diesel::sql_query(format!(
        "INSERT INTO idempotency_keys (owner, key, request_hash) VALUES ($1, $2, $3) \
         ON CONFLICT (owner, key) DO UPDATE \
             SET request_hash = EXCLUDED.request_hash, status = NULL, body = NULL, created_at = now() \
             WHERE idempotency_keys.created_at < now() - interval '{RETENTION}'"
    ))
    .bind::<diesel::sql_types::Text, _>(owner)
    .bind::<diesel::sql_types::Text, _>(key)
    .bind::<diesel::sql_types::Text, _>(request_hash)
    .execute(conn)
    .await?;
    Ok(claimed == 1)
}

/// Stores the answer of a claimed key, in the same transaction as the write.
pub async fn complete(
    conn: &mut Conn,
    owner: &str,
    key: &str,
    status: u16,
    body: &str,
) -> ApiResult<()> {
    diesel::update(
        idempotency_keys::table
            .filter(idempotency_keys::owner.eq(owner))
            .filter(idempotency_keys::key.eq(key)),
    )
    .set((
        idempotency_keys::status.eq(i16::try_from(status).unwrap_or(i16::MAX)),
        idempotency_keys::body.eq(body),
    ))
    .execute(conn)
    .await?;
    Ok(())
}
