//! Reports kept per data version: a report over the whole data set is computed once per change
//! of the data, however many read it (the culture board, analysts, their tools). The answers are
//! kept in the service's response cache (`response_cache`).

use actix_web::{HttpRequest, HttpResponse};

use super::cache;
use super::csv::Rendered;
use super::response_cache::{Kept, Key, Lookup as Cached, Slot};
use crate::AppState;
use crate::auth::Auth;
use crate::error::ApiResult;

/// What a report request needs before any report query.
pub enum Lookup<'a> {
    /// 304, or the kept rendering of the current data.
    Answered(HttpResponse),
    /// Compute it.
    Compute(Computing<'a>),
}

/// A report to compute, and where it is kept; readers missing the same report wait for it.
pub struct Computing<'a> {
    slot: Slot<'a>,
}

/// The data version, 304 when the client holds the current representation, and the kept
/// rendering when the data has not changed since it was computed.
pub async fn lookup<'a>(
    state: &'a AppState,
    req: &HttpRequest,
    auth: &Auth,
) -> ApiResult<Lookup<'a>> {
    let version = state.versions.current(&state.pool).await?;
    let etag = cache::etag(req, version);
    if cache::fresh(req, &etag) {
        return Ok(Lookup::Answered(cache::not_modified(etag)));
    }
    Ok(
        match state
            .responses
            .lookup(req, Key::new(req, auth, version))
            .await
        {
            Cached::Hit(kept) => Lookup::Answered(kept.respond(req)),
            Cached::Miss(slot) => Lookup::Compute(Computing { slot }),
        },
    )
}

/// Keeps a rendering computed at `version` (read in the report's own snapshot, so at least the
/// looked-up one) and answers it with that version's ETag.
pub fn keep(
    req: &HttpRequest,
    computing: Computing<'_>,
    version: i64,
    rendered: Rendered,
) -> HttpResponse {
    computing.slot.keep(
        req,
        Kept {
            etag: cache::etag(req, version),
            rendered,
            link: None,
        },
    )
}
