//! Bearer tokens: the claims, issuing and verifying them, and the extractor that enforces scopes.

use std::collections::BTreeSet;
use std::time::Duration;

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::future::LocalBoxFuture;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::AppState;
use crate::config::Config;
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult};

/// The only algorithm accepted: a token naming any other (`none`, RS256, …) is refused.
const ALGORITHM: Algorithm = Algorithm::HS256;
/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECONDS: u64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who acts: a person's name for CLI tokens, `client:<id>` for integration clients.
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub nbf: u64,
    pub iat: u64,
    pub jti: Uuid,
    /// Space-separated scopes (RFC 8693 style).
    pub scope: String,
    /// The actor this token may write follow-ups for, if bound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<Uuid>,
    /// The API client the token was issued to (checked against revocation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<Uuid>,
}

pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
}

impl JwtKeys {
    pub fn new(config: &Config) -> Self {
        let secret = config.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(ALGORITHM);
        validation.set_issuer(&[&config.jwt_issuer]);
        validation.set_audience(&[&config.jwt_audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: config.jwt_issuer.clone(),
            audience: config.jwt_audience.clone(),
        }
    }

    pub fn issue(
        &self,
        subject: &str,
        scopes: &BTreeSet<Scope>,
        actor_id: Option<Uuid>,
        client_id: Option<Uuid>,
        ttl: Duration,
    ) -> anyhow::Result<String> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: subject.to_owned(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: now + ttl.as_secs(),
            nbf: now,
            iat: now,
            jti: Uuid::new_v4(),
            scope: scope_string(scopes),
            actor_id,
            client_id,
        };
        Ok(jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            &claims,
            &self.encoding,
        )?)
    }

    pub fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            // One answer for every failure: the kind of failure would help an attacker.
            .map_err(|_| "the token is invalid or expired")
    }
}

pub fn scope_string(scopes: &BTreeSet<Scope>) -> String {
    scopes
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Parses a space-separated scope list; unknown scopes are an error.
pub fn parse_scopes(raw: &str) -> Result<BTreeSet<Scope>, String> {
    raw.split_whitespace().map(str::parse).collect()
}

/// The caller, authenticated by a valid bearer token.
#[derive(Debug, Clone)]
pub struct Auth {
    pub subject: String,
    pub scopes: BTreeSet<Scope>,
    pub actor_id: Option<Uuid>,
    pub client_id: Option<Uuid>,
}

impl Auth {
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(&Scope::Admin) || self.scopes.contains(&scope)
    }

    /// 403 unless the token carries `scope` (or `admin`).
    pub fn require(&self, scope: Scope) -> ApiResult<()> {
        if self.has(scope) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "this requires the `{scope}` scope"
            )))
        }
    }
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let header = req
            .headers()
            .get(header::AUTHORIZATION)
            .map(|value| value.to_str().map(str::to_owned));
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let header = match header {
                None => return Err(ApiError::Unauthorized("no Authorization header")),
                Some(Err(_)) => {
                    return Err(ApiError::Unauthorized("malformed Authorization header"));
                }
                Some(Ok(value)) => value,
            };
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .ok_or(ApiError::Unauthorized(
                    "expected `Authorization: Bearer <token>`",
                ))?;
            let claims = state.jwt.verify(token).map_err(ApiError::Unauthorized)?;
            let scopes = parse_scopes(&claims.scope)
                .map_err(|_| ApiError::Unauthorized("the token is invalid or expired"))?;
            if let Some(client_id) = claims.client_id {
                let mut conn = state.pool.get().await?;
                if !crate::db::clients::is_active(&mut conn, client_id).await? {
                    return Err(ApiError::Unauthorized("the token is invalid or expired"));
                }
            }
            Ok(Auth {
                subject: claims.sub,
                scopes,
                actor_id: claims.actor_id,
                client_id: claims.client_id,
            })
        })
    }
}

/// Runs argon2 work (hashing or verifying a client secret) on the blocking pool, at most one per
/// core at a time: each run holds a core and ~19 MiB for tens of milliseconds, so a burst of token
/// requests queues here instead of exhausting memory, and never stalls the async workers.
pub async fn run_hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> ApiResult<T> {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    let slots = SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        tokio::sync::Semaphore::new(cores)
    });
    let _permit = slots.acquire().await.map_err(ApiError::internal)?;
    web::block(work).await.map_err(ApiError::internal)
}

/// Random bytes in a client secret (256 bits).
const CLIENT_SECRET_BYTES: usize = 32;

/// A new client secret: 32 random bytes, URL-safe base64 without padding.
pub fn new_client_secret() -> anyhow::Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; CLIENT_SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The argon2id PHC string of a client secret. CPU work: call it off the async workers.
pub fn hash_client_secret(secret: &str) -> anyhow::Result<String> {
    use argon2::password_hash::PasswordHasher as _;
    argon2::Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| anyhow::anyhow!("hashing the client secret failed: {e}"))
}

/// Whether `secret` matches the stored hash. Without a hash (no such client) it still does the
/// same work against a dummy hash, so an unknown client and a wrong secret take the same time.
/// CPU work: call it off the async workers.
pub fn verify_client_secret(secret: &str, hash: Option<&str>) -> bool {
    use argon2::password_hash::PasswordVerifier as _;
    use argon2::password_hash::phc::PasswordHash;
    static DUMMY: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    let dummy = DUMMY.get_or_init(|| hash_client_secret("no such client").ok());
    let Some(stored) = hash.or(dummy.as_deref()) else {
        return false;
    };
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let matches = argon2::Argon2::default()
        .verify_password(secret.as_bytes(), &parsed)
        .is_ok();
    matches && hash.is_some()
}

/// The subject of tokens issued to a client: `client:<name>`, or `client:<id>` when the name is
/// too long to be recorded as a follow-up's reporter.
pub fn client_subject(id: Uuid, name: &str) -> String {
    if name.chars().count() <= 190 {
        format!("client:{name}")
    } else {
        format!("client:{id}")
    }
}
