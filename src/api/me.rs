//! `GET /api/v1/me`: who the caller's token speaks for, so an integration learns its binding
//! without decoding its token.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::cache;
use crate::AppState;
use crate::auth::Auth;
use crate::domain::{ActorKind, Scope};
use crate::error::{ApiResult, Problem};

/// The caller as its token presents it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "subject": "client:Askersunds kommun", "scopes": ["follow_ups:write"],
    "actor": {"id": "9a2f0e55-31c4-5d0b-8f8e-52d1e6b0c7a2", "name": "Askersunds kommun",
              "kind": "municipality", "municipality_code": "1882"},
    "client": {"client_id": "5b0c6a7e-2f1d-4e3c-9b8a-7d6e5f4a3b2c", "name": "Askersunds kommun"}
}))]
pub struct Me {
    /// The token's subject, recorded as the reporter of follow-ups.
    pub subject: String,
    /// `read`, `plans:write`, `follow_ups:write`, `admin`: the wire's spellings.
    #[schema(value_type = Vec<String>, example = json!(["read", "follow_ups:write"]))]
    pub scopes: Vec<Scope>,
    /// The actor the token is bound to: it writes follow-ups only where this actor, or a unit
    /// below it, has a role. Null when unbound.
    pub actor: Option<BoundActor>,
    /// The integration client the token was issued to; null for an operator's token.
    pub client: Option<CallerClient>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BoundActor {
    pub id: Uuid,
    pub name: String,
    pub kind: ActorKind,
    /// The official four-digit code, for a municipality.
    pub municipality_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CallerClient {
    pub client_id: Uuid,
    pub name: String,
}

/// Who am I: the token's subject, scopes, bound actor and client.
///
/// Any valid token may ask, whatever its scopes. The ETag is the answer's own.
#[utoipa::path(
    tag = "auth",
    responses(
        (status = 200, description = "The caller", body = Me),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/me")]
pub async fn get_me(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
) -> ApiResult<HttpResponse> {
    let mut conn = state.pool.get().await?;
    // An actor deleted after the token was issued binds it to nothing that exists.
    let actor = match auth.actor_id {
        Some(id) => match crate::db::actors::get(&mut conn, id).await {
            Ok(actor) => Some(actor),
            Err(crate::error::ApiError::NotFound(_)) => None,
            Err(err) => return Err(err),
        },
        None => None,
    };
    let client = match auth.client_id {
        Some(id) => Some(crate::db::clients::get(&mut conn, id).await?),
        None => None,
    };
    let me = Me {
        subject: auth.subject.clone(),
        scopes: auth.scopes.iter().copied().collect(),
        actor: actor.map(|a| BoundActor {
            id: a.id,
            name: a.name,
            kind: a.kind,
            municipality_code: a.municipality_code,
        }),
        client: client.map(|c| CallerClient {
            client_id: c.id,
            name: c.name,
        }),
    };
    cache::by_content(&req, cache::PRIVATE, &me)
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(get_me);
}
