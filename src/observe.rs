//! Per-request observability: a request id (accepted from `X-Request-Id` or generated, echoed
//! back), one structured log line per request, and the request metrics.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, ResponseError, web};
use tracing::Instrument;

use crate::AppState;
use crate::error::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest query string accepted; longer ones are refused before routing.
pub const MAX_QUERY: usize = 4096;
/// Most bytes of header names and values accepted. The HTTP layer refuses a head of more than 96
/// fields, but a few huge ones it takes as they come.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// Marks a `HEAD` request that is routed as the `GET` it asks about.
#[derive(Clone, Copy, Debug)]
pub struct Head;

/// The id of the request, for handlers that want to log it.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// A client's id is kept when it is short and printable, so it can be logged safely.
fn accepted_id(value: &HeaderValue) -> Option<String> {
    let id = value.to_str().ok()?;
    (!id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic()))
        .then(|| id.to_owned())
}

pub async fn middleware(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = req.method().to_string();
    // HEAD is GET without the body (RFC 9110 §9.3.2): routed as GET; the HTTP layer, which
    // read a HEAD, sends the headers only.
    if req.method() == Method::HEAD {
        req.head_mut().method = Method::GET;
        req.extensions_mut().insert(Head);
    }
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(accepted_id)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    req.extensions_mut().insert(RequestId(id.clone()));
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let span = tracing::info_span!("request", request_id = %id, method = %method, route = tracing::field::Empty);

    let header_bytes: usize = req
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    let refused = if req.query_string().len() > MAX_QUERY {
        Some(ApiError::BadRequest(format!(
            "the query string exceeds {MAX_QUERY} bytes"
        )))
    } else if header_bytes > MAX_HEADER_BYTES {
        Some(ApiError::HeadersTooLarge(format!(
            "the header fields exceed {MAX_HEADER_BYTES} bytes"
        )))
    } else {
        None
    };
    let mut response = if let Some(error) = refused {
        req.into_response(error.error_response())
            .map_into_right_body()
    } else {
        next.call(req)
            .instrument(span.clone())
            .await?
            .map_into_left_body()
    };

    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.record("route", route.as_str());
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if let Some(state) = state {
        state
            .metrics
            .observe_request(&method, &route, status, elapsed);
    }
    span.in_scope(|| {
        tracing::info!(status, latency_ms = elapsed.as_secs_f64() * 1000.0, path = %route, "request")
    });
    Ok(response)
}
