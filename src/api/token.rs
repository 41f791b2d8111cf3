//! `POST /api/v1/auth/token`: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4) for
//! integration clients. Errors here are OAuth's JSON (§5.2), not problem documents, because that is
//! what OAuth client libraries parse.

use std::collections::{BTreeMap, BTreeSet};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, ResponseError, post, web};
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::AppState;
use crate::auth::{client_subject, parse_scopes, run_hashing, scope_string, verify_client_secret};
use crate::domain::Scope;
use crate::error::{ApiError, Problem};

/// Largest token request body: a few short parameters.
const TOKEN_BODY_LIMIT: usize = 8 * 1024;
const GRANT_TYPE: &str = "client_credentials";

/// The form fields of a token request (`application/x-www-form-urlencoded`). Client credentials go
/// either here (`client_id`, `client_secret`) or in an HTTP Basic `Authorization` header.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({
    "grant_type": "client_credentials", "scope": "follow_ups:write",
    "client_id": "5b0c2f7e-8d7a-4a0e-9d1f-2a6c3e4b5d60", "client_secret": "q2H0b7yXo3mW0x3Vb4sQ9dK1nR8tU6eZ5aC2fG7hJ4k"
}))]
pub struct TokenRequest {
    pub grant_type: GrantType,
    /// Space-separated scopes, narrowing the client's own; all of the client's scopes when absent.
    pub scope: Option<String>,
    /// When not sent as HTTP Basic.
    pub client_id: Option<Uuid>,
    /// When not sent as HTTP Basic.
    pub client_secret: Option<String>,
}

/// The grants the token endpoint knows: client credentials only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    ClientCredentials,
}

/// A bearer token (RFC 6749 §5.1).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "access_token": "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9…", "token_type": "Bearer",
    "expires_in": 900, "scope": "follow_ups:write read"
}))]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the token expires.
    pub expires_in: u64,
    /// The scopes granted, space-separated.
    pub scope: String,
}

/// The error codes of RFC 6749 §5.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TokenErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
}

/// An OAuth error response (RFC 6749 §5.2).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": "invalid_client", "error_description": "client authentication failed"}))]
pub struct TokenError {
    pub error: TokenErrorCode,
    pub error_description: String,
}

/// Why a token request was refused: an OAuth error, or a failure of the service itself.
#[derive(Debug)]
enum Refusal {
    OAuth(TokenErrorCode, String),
    Api(ApiError),
}

impl From<ApiError> for Refusal {
    fn from(err: ApiError) -> Self {
        Refusal::Api(err)
    }
}

fn refuse<T>(code: TokenErrorCode, description: impl Into<String>) -> Result<T, Refusal> {
    Err(Refusal::OAuth(code, description.into()))
}

/// One answer for an unknown client, a revoked one and a wrong secret.
const CLIENT_FAILED: &str = "client authentication failed";

impl Refusal {
    fn response(self) -> HttpResponse {
        let (code, description) = match self {
            Refusal::Api(err) => return err.error_response(),
            Refusal::OAuth(code, description) => (code, description),
        };
        let mut response = if code == TokenErrorCode::InvalidClient {
            let mut r = HttpResponse::build(StatusCode::UNAUTHORIZED);
            r.insert_header((header::WWW_AUTHENTICATE, "Basic realm=\"kulturplan\""));
            r
        } else {
            HttpResponse::build(StatusCode::BAD_REQUEST)
        };
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(TokenError {
                error: code,
                error_description: description,
            })
    }
}

/// `application/x-www-form-urlencoded` decoding of one Basic credential part (RFC 6749 §2.3.1).
fn form_decode(part: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(part.len());
    let mut rest = part.bytes();
    while let Some(b) = rest.next() {
        match b {
            b'+' => bytes.push(b' '),
            b'%' => {
                let hex = [rest.next()?, rest.next()?];
                let hex = std::str::from_utf8(&hex).ok()?;
                bytes.push(u8::from_str_radix(hex, 16).ok()?);
            }
            other => bytes.push(other),
        }
    }
    String::from_utf8(bytes).ok()
}

/// The client id and secret of an `Authorization: Basic` header; `None` without the header.
fn basic_credentials(req: &HttpRequest) -> Result<Option<(String, String)>, Refusal> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().unwrap_or_default();
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return refuse(TokenErrorCode::InvalidClient, "unsupported authentication");
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return refuse(
            TokenErrorCode::InvalidClient,
            "authenticate with HTTP Basic or client_id and client_secret",
        );
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok());
    let parts = decoded.as_deref().and_then(|d| d.split_once(':'));
    match parts.and_then(|(id, secret)| Some((form_decode(id)?, form_decode(secret)?))) {
        Some(credentials) => Ok(Some(credentials)),
        None => refuse(TokenErrorCode::InvalidClient, "malformed Basic credentials"),
    }
}

/// The parameters of the grant; others are ignored (RFC 6749 §3.1).
const PARAMETERS: [&str; 4] = ["grant_type", "scope", "client_id", "client_secret"];

/// The request's parameters of the grant; a repeated one is an error (RFC 6749 §3.2), an empty
/// one is absent, an unknown one is ignored.
fn parameters(body: &[u8]) -> Result<BTreeMap<String, String>, Refusal> {
    let pairs: Vec<(String, String)> = match serde_urlencoded::from_bytes(body) {
        Ok(pairs) => pairs,
        Err(_) => {
            return refuse(
                TokenErrorCode::InvalidRequest,
                "the body is not form-encoded",
            );
        }
    };
    let mut map = BTreeMap::new();
    for (name, value) in pairs {
        if value.is_empty() || !PARAMETERS.contains(&name.as_str()) {
            continue;
        }
        if map.insert(name.clone(), value).is_some() {
            return refuse(
                TokenErrorCode::InvalidRequest,
                format!("the parameter `{name}` is repeated"),
            );
        }
    }
    Ok(map)
}

async fn grant(
    state: &AppState,
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<TokenResponse, Refusal> {
    let mut params = form(req, payload).await?;
    let (client_id, secret) = credentials(req, &mut params)?;
    let client = authenticate(state, client_id, secret).await?;
    let granted: BTreeSet<Scope> = client.scopes.iter().copied().collect();
    let scopes = narrowed(granted, params.get("scope"))?;
    let ttl = state.config.token_ttl;
    let subject = client_subject(client.id, &client.name);
    let access_token = state
        .jwt
        .issue(&subject, &scopes, client.actor_id, Some(client.id), ttl)
        .map_err(ApiError::internal)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: ttl.as_secs(),
        scope: scope_string(&scopes),
    })
}

/// The form body's parameters, once the media type, the size and the grant type are right.
async fn form(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<BTreeMap<String, String>, Refusal> {
    let form_encoded = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_encoded {
        return refuse(
            TokenErrorCode::InvalidRequest,
            "expected Content-Type: application/x-www-form-urlencoded",
        );
    }
    let body = match payload.to_bytes_limited(TOKEN_BODY_LIMIT).await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => return refuse(TokenErrorCode::InvalidRequest, "the body could not be read"),
        Err(_) => return refuse(TokenErrorCode::InvalidRequest, "the body is too large"),
    };
    let params = parameters(&body)?;
    match params.get("grant_type").map(String::as_str) {
        None => refuse(TokenErrorCode::InvalidRequest, "grant_type is required"),
        Some(GRANT_TYPE) => Ok(params),
        Some(other) => refuse(
            TokenErrorCode::UnsupportedGrantType,
            format!("grant_type `{other}` is not supported; use client_credentials"),
        ),
    }
}

/// The client's id and secret: HTTP Basic or the form's fields, never both.
fn credentials(
    req: &HttpRequest,
    params: &mut BTreeMap<String, String>,
) -> Result<(String, String), Refusal> {
    let form_id = params.remove("client_id");
    let form_secret = params.remove("client_secret");
    match (basic_credentials(req)?, form_id, form_secret) {
        (Some(_), _, Some(_)) => refuse(
            TokenErrorCode::InvalidRequest,
            "send the client credentials either as HTTP Basic or in the body, not both",
        ),
        (Some((id, _)), Some(form_id), None) if id != form_id => refuse(
            TokenErrorCode::InvalidRequest,
            "client_id differs from the Basic credentials",
        ),
        (Some(credentials), _, None) => Ok(credentials),
        (None, Some(id), Some(secret)) => Ok((id, secret)),
        (None, _, _) => refuse(
            TokenErrorCode::InvalidClient,
            "client authentication is required: HTTP Basic, or client_id and client_secret",
        ),
    }
}

/// The client these credentials name, if the secret matches and it is not revoked.
async fn authenticate(
    state: &AppState,
    client_id: String,
    secret: String,
) -> Result<crate::db::clients::ClientRow, Refusal> {
    let found = match Uuid::parse_str(&client_id).ok() {
        Some(id) => {
            let mut conn = state.pool.get().await.map_err(ApiError::from)?;
            crate::db::clients::credentials(&mut conn, id).await?
        }
        None => None,
    };
    let (client, hash) = match found {
        Some((client, hash)) => (Some(client), Some(hash)),
        None => (None, None),
    };
    // argon2 is CPU work: off the async worker. An unknown client is checked against a dummy
    // hash, so it takes as long as a wrong secret.
    let matches = run_hashing(move || verify_client_secret(&secret, hash.as_deref())).await?;
    match client {
        Some(client) if matches && client.revoked_at.is_none() => Ok(client),
        _ => {
            tracing::info!(client_id = %client_id.chars().take(64).collect::<String>(), "token request refused: client authentication failed");
            refuse(TokenErrorCode::InvalidClient, CLIENT_FAILED)
        }
    }
}

/// The scopes of the token: the client's, or the part of them that `scope` asks for.
fn narrowed(granted: BTreeSet<Scope>, asked: Option<&String>) -> Result<BTreeSet<Scope>, Refusal> {
    let Some(raw) = asked else {
        return Ok(granted);
    };
    let Ok(requested) = parse_scopes(raw) else {
        return refuse(
            TokenErrorCode::InvalidScope,
            format!("unknown scope in `{raw}`"),
        );
    };
    let admin = granted.contains(&Scope::Admin);
    if let Some(missing) = requested.iter().find(|s| !admin && !granted.contains(s)) {
        return refuse(
            TokenErrorCode::InvalidScope,
            format!("the client is not granted the `{missing}` scope"),
        );
    }
    Ok(if requested.is_empty() {
        granted
    } else {
        requested
    })
}

/// Get a bearer token with client credentials (OAuth 2.0, RFC 6749 §4.4).
///
/// A form post that needs no bearer token. The client authenticates with `client_id` and
/// `client_secret` in the form, or with HTTP Basic (`Authorization: Basic` of
/// `client_id:client_secret`, RFC 6749 §2.3.1) instead. `scope` may narrow the client's scopes. The token carries the
/// client's actor binding and stops working when the client is revoked.
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "A token", body = TokenResponse, headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "`invalid_request`, `invalid_scope` or `unsupported_grant_type`", body = TokenError, content_type = "application/json"),
        (status = 401, description = "`invalid_client`: unknown or revoked client, or wrong secret", body = TokenError, content_type = "application/json", headers(("WWW-Authenticate" = String, description = "Basic realm=\"kulturplan\""))),
        (status = 503, description = "The database is not available", body = Problem, content_type = "application/problem+json"),
    ),
)]
#[post("/auth/token")]
pub async fn issue_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    match grant(&state, &req, payload).await {
        Ok(token) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"))
            .json(token),
        Err(refusal) => refusal.response(),
    }
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(issue_token);
}
