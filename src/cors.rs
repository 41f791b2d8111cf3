//! Cross-origin requests from browsers: the origins of `CORS_ALLOWED_ORIGINS` may call the API
//! and read the headers a client needs (`ETag`, `Link`, `X-Request-Id`, …); no other origin may.

use actix_cors::{Cors, CorsError};
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;

use crate::error::ApiError;

/// Request headers a browser may send beyond the CORS-safelisted ones.
const ALLOWED_HEADERS: [&str; 7] = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
    "cache-control",
];

/// Response headers a browser script may read beyond the CORS-safelisted ones.
const EXPOSED_HEADERS: [&str; 8] = [
    "etag",
    "link",
    "x-request-id",
    "location",
    "retry-after",
    "content-disposition",
    "idempotent-replayed",
    "allow",
];

/// How long a browser may keep a preflight's answer.
const MAX_AGE_SECONDS: usize = 3600;

/// The CORS middleware for an allow-list (empty: no cross-origin access at all). Tokens travel
/// in `Authorization`, never in cookies, so credentials are not allowed.
pub fn cors(allowed_origins: &[String]) -> Cors {
    let cors = Cors::default()
        .allowed_methods([
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allowed_headers(ALLOWED_HEADERS)
        .expose_headers(EXPOSED_HEADERS)
        .max_age(MAX_AGE_SECONDS);
    allowed_origins
        .iter()
        .fold(cors, |cors, origin| cors.allowed_origin(origin))
}

/// Turns the CORS middleware's refusals of a preflight (plain text) into problem documents.
pub async fn problems(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let response = next.call(req).await?;
    let refusal = response
        .response()
        .error()
        .and_then(|e| e.as_error::<CorsError>())
        .map(|e| match e {
            CorsError::OriginNotAllowed => {
                let origin = response
                    .request()
                    .headers()
                    .get(header::ORIGIN)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                ApiError::Forbidden(format!(
                    "the origin `{origin}` is not allowed to call this API (CORS_ALLOWED_ORIGINS)"
                ))
            }
            CorsError::MethodNotAllowed | CorsError::BadRequestMethod => ApiError::Forbidden(
                "Access-Control-Request-Method names a method this API does not allow".into(),
            ),
            CorsError::HeadersNotAllowed | CorsError::BadRequestHeaders => {
                ApiError::Forbidden(format!(
                    "Access-Control-Request-Headers names a header this API does not allow; it allows {}",
                    ALLOWED_HEADERS.join(", ")
                ))
            }
            other => ApiError::BadRequest(other.to_string()),
        });
    Ok(match refusal {
        None => response.map_into_left_body(),
        Some(error) => {
            let (req, _) = response.into_parts();
            ServiceResponse::new(req, actix_web::ResponseError::error_response(&error))
                .map_into_right_body()
        }
    })
}
