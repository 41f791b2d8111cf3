//! SQL for API clients (integration scripts authenticating with client credentials).

use diesel::{ExpressionMethods, OptionalExtension, QueryDsl};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::schema::api_clients;
use crate::error::ApiResult;

/// Whether tokens of this client are still honoured (it exists and is not revoked).
pub async fn is_active(conn: &mut Conn, id: Uuid) -> ApiResult<bool> {
    let found: Option<Uuid> = api_clients::table
        .filter(api_clients::id.eq(id))
        .filter(api_clients::revoked_at.is_null())
        .select(api_clients::id)
        .first(conn)
        .await
        .optional()?;
    Ok(found.is_some())
}
