//! SQL for API clients (integration scripts authenticating with client credentials).

use chrono::{DateTime, Utc};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::pagination::Page;
use super::schema::api_clients;
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult};

/// A client as the API and the CLI show it: never its secret hash.
#[derive(Debug, Clone, diesel::prelude::Queryable, diesel::prelude::Selectable)]
#[diesel(table_name = api_clients, check_for_backend(diesel::pg::Pg))]
pub struct ClientRow {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub actor_id: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, diesel::prelude::Insertable)]
#[diesel(table_name = api_clients)]
pub struct NewClient {
    pub id: Uuid,
    pub name: String,
    pub secret_hash: String,
    pub scopes: Vec<Scope>,
    pub actor_id: Option<Uuid>,
}

/// Sort key of the client list: creation time, then id.
pub type ClientKey = (DateTime<Utc>, Uuid);

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

pub async fn insert(conn: &mut Conn, new: &NewClient) -> ApiResult<ClientRow> {
    Ok(diesel::insert_into(api_clients::table)
        .values(new)
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut Conn, id: Uuid) -> ApiResult<ClientRow> {
    api_clients::table
        .find(id)
        .select(ClientRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("client", id))
}

/// The client and its secret hash, for checking credentials; `None` when there is no such client.
pub async fn credentials(conn: &mut Conn, id: Uuid) -> ApiResult<Option<(ClientRow, String)>> {
    Ok(api_clients::table
        .find(id)
        .select((ClientRow::as_select(), api_clients::secret_hash))
        .first(conn)
        .await
        .optional()?)
}

/// Every client, revoked ones included, oldest first.
pub async fn list(conn: &mut Conn, page: &Page<ClientKey>) -> ApiResult<Vec<ClientRow>> {
    let mut query = api_clients::table
        .select(ClientRow::as_select())
        .into_boxed();
    if let Some((created_at, id)) = page.after {
        query = query.filter(
            api_clients::created_at
                .gt(created_at)
                .or(api_clients::created_at
                    .eq(created_at)
                    .and(api_clients::id.gt(id))),
        );
    }
    Ok(query
        .order((api_clients::created_at, api_clients::id))
        .limit(page.fetch())
        .load(conn)
        .await?)
}

/// Marks a client revoked (its tokens stop working at once). Revoking twice keeps the first time.
pub async fn revoke(conn: &mut Conn, id: Uuid) -> ApiResult<ClientRow> {
    diesel::update(api_clients::table.find(id))
        .set(api_clients::revoked_at.eq(diesel::dsl::sql::<
            diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>,
        >("coalesce(revoked_at, now())")))
        .returning(ClientRow::as_returning())
        .get_result(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("client", id))
}

/// Replaces the secret hash of an active client (the old secret stops working).
pub async fn set_secret(conn: &mut Conn, id: Uuid, secret_hash: &str) -> ApiResult<ClientRow> {
    let updated = diesel::update(
        api_clients::table
            .find(id)
            .filter(api_clients::revoked_at.is_null()),
    )
    .set(api_clients::secret_hash.eq(secret_hash))
    .returning(ClientRow::as_returning())
    .get_result(conn)
    .await
    .optional()?;
    match updated {
        Some(row) => Ok(row),
        None => {
            get(conn, id).await?;
            Err(ApiError::Conflict(format!(
                "client {id} is revoked; create a new client instead"
            )))
        }
    }
}
