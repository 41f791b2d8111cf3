//! `/api/v1/clients`: integration clients (service accounts) that get tokens with client credentials.

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::JsonObject;
use super::lists::ClientList;
use super::{cache, created};
use crate::AppState;
use crate::auth::{Auth, hash_client_secret, new_client_secret, run_hashing};
use crate::db::clients::{self as db, ClientRow, NewClient};
use crate::db::pagination::{Page, finish};
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult, Checks, Problem};

/// An integration client. Its secret is never shown again after creation or rotation.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "client_id": "5b0c2f7e-8d7a-4a0e-9d1f-2a6c3e4b5d60", "name": "Askersunds kommun uppföljning",
    "scopes": ["read", "follow_ups:write"], "actor_id": "9a2f0e55-31c4-5d0b-8f8e-52d1e6b0c7a2",
    "created_at": "2026-01-10T08:00:00Z", "revoked_at": null
}))]
pub struct Client {
    pub client_id: Uuid,
    pub name: String,
    pub scopes: Vec<Scope>,
    /// The actor whose activities this client may write follow-ups for; null: all activities.
    pub actor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    /// When the client was revoked; its tokens stopped working then.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<ClientRow> for Client {
    fn from(row: ClientRow) -> Self {
        Client {
            client_id: row.id,
            name: row.name,
            scopes: row.scopes,
            actor_id: row.actor_id,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

/// A client with its secret: the answer of creation and rotation, the only time the secret is shown.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "client_id": "5b0c2f7e-8d7a-4a0e-9d1f-2a6c3e4b5d60",
    "client_secret": "q2H0b7yXo3mW0x3Vb4sQ9dK1nR8tU6eZ5aC2fG7hJ4k",
    "name": "Askersunds kommun uppföljning", "scopes": ["read", "follow_ups:write"],
    "actor_id": "9a2f0e55-31c4-5d0b-8f8e-52d1e6b0c7a2", "created_at": "2026-01-10T08:00:00Z"
}))]
pub struct ClientWithSecret {
    pub client_id: Uuid,
    /// Store it now: only its hash is kept.
    pub client_secret: String,
    pub name: String,
    pub scopes: Vec<Scope>,
    pub actor_id: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl ClientWithSecret {
    fn new(row: ClientRow, client_secret: String) -> Self {
        ClientWithSecret {
            client_id: row.id,
            client_secret,
            name: row.name,
            scopes: row.scopes,
            actor_id: row.actor_id,
            created_at: row.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Askersunds kommun uppföljning", "scopes": ["read", "follow_ups:write"],
    "actor_id": "9a2f0e55-31c4-5d0b-8f8e-52d1e6b0c7a2"
}))]
pub struct CreateClient {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// What tokens of this client may do (a token request may narrow it).
    #[schema(min_items = 1)]
    pub scopes: Vec<Scope>,
    /// Bind the client to an actor: it may then write follow-ups only where that actor (or a
    /// unit below it) has a role.
    #[serde(default)]
    pub actor_id: Option<Uuid>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListClientsQuery {
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Validates a new client's name and scopes (shared with the CLI).
pub fn check_new_client(name: &str, scopes: &[Scope]) -> ApiResult<()> {
    let mut c = Checks::default();
    if name.trim().is_empty() {
        c.push("name", "must not be empty");
    } else {
        c.text("name", Some(name), 1, 200);
    }
    if scopes.is_empty() {
        c.push("scopes", "must name at least one scope");
    }
    c.finish()
}

/// A new secret and its hash; hashing is CPU work and runs off the async workers.
async fn fresh_secret() -> ApiResult<(String, String)> {
    run_hashing(|| -> anyhow::Result<(String, String)> {
        let secret = new_client_secret()?;
        let hash = hash_client_secret(&secret)?;
        Ok((secret, hash))
    })
    .await?
    .map_err(ApiError::internal)
}

/// List integration clients, revoked ones included, oldest first.
#[utoipa::path(
    tag = "clients",
    params(ListClientsQuery),
    responses(
        (status = 200, description = "A page of clients", body = ClientList),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid limit or cursor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"]))
)]
#[get("/clients")]
pub async fn list_clients(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ListClientsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Admin)?;
    let query = query.into_inner();
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let mut conn = state.pool.get().await?;
    let rows = db::list(&mut conn, &page).await?;
    let (rows, next_cursor) = finish(rows, page.limit, |r| (r.created_at, r.id));
    let body = ClientList::new(
        rows.into_iter().map(Client::from).collect::<Vec<_>>(),
        next_cursor,
    );
    cache::by_content(&req, cache::PRIVATE, &body)
}

/// Create an integration client. The answer carries its secret, shown this once.
#[utoipa::path(
    tag = "clients",
    request_body = CreateClient,
    responses(
        (status = 201, description = "Created; store the secret now", body = ClientWithSecret, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields, unknown scope or actor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/clients")]
pub async fn create_client(
    auth: Auth,
    state: web::Data<AppState>,
    body: JsonObject<CreateClient>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Admin)?;
    let body = body.into_inner();
    check_new_client(&body.name, &body.scopes)?;
    let (secret, secret_hash) = fresh_secret().await?;
    let new = NewClient {
        id: Uuid::new_v4(),
        name: body.name,
        secret_hash,
        scopes: dedup(body.scopes),
        actor_id: body.actor_id,
    };
    let mut conn = state.pool.get().await?;
    let row = db::insert(&mut conn, &new).await?;
    tracing::info!(client_id = %row.id, by = %auth.subject, "API client created");
    let mut response = created(
        format!("/api/v1/clients/{}", row.id),
        row.version,
        &ClientWithSecret::new(row, secret),
    );
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("no-store"),
    );
    Ok(response)
}

fn dedup(scopes: Vec<Scope>) -> Vec<Scope> {
    let set: std::collections::BTreeSet<Scope> = scopes.into_iter().collect();
    set.into_iter().collect()
}

/// Read an integration client (never its secret).
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    responses(
        (status = 200, description = "The client", body = Client, headers(("ETag" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"]))
)]
#[get("/clients/{id}")]
pub async fn get_client(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Admin)?;
    let mut conn = state.pool.get().await?;
    let row = db::get(&mut conn, id.into_inner()).await?;
    Ok(cache::versioned_with(
        &req,
        row.version,
        &Client::from(row),
        cache::PRIVATE,
    ))
}

/// Revoke an integration client: its secret and every token issued to it stop working at once.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    responses(
        (status = 200, description = "Revoked (revoking again keeps the first time)", body = Client),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/clients/{id}/revoke")]
pub async fn revoke_client(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Admin)?;
    let mut conn = state.pool.get().await?;
    let row = db::revoke(&mut conn, id.into_inner()).await?;
    tracing::info!(client_id = %row.id, by = %auth.subject, "API client revoked");
    Ok(HttpResponse::Ok().json(Client::from(row)))
}

/// Give an integration client a new secret, shown this once; the old secret stops working.
#[utoipa::path(
    tag = "clients",
    params(("id" = Uuid, Path, description = "Client id")),
    responses(
        (status = 200, description = "The new secret; store it now", body = ClientWithSecret),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `admin`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The client is revoked", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["admin"]))
)]
#[post("/clients/{id}/rotate")]
pub async fn rotate_client(
    auth: Auth,
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Admin)?;
    let id = id.into_inner();
    let (secret, secret_hash) = fresh_secret().await?;
    let mut conn = state.pool.get().await?;
    let row = db::set_secret(&mut conn, id, &secret_hash).await?;
    tracing::info!(client_id = %row.id, by = %auth.subject, "API client secret rotated");
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(ClientWithSecret::new(row, secret)))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_clients)
        .service(create_client)
        .service(get_client)
        .service(revoke_client)
        .service(rotate_client);
}
