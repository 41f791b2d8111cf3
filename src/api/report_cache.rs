//! Rendered reports kept per data version: a report over the whole data set is computed once
//! per change of the data, however many read it (the culture board, analysts, their tools).

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedMutexGuard;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};

use super::cache;
use super::csv::Rendered;
use crate::AppState;
use crate::db::Conn;
use crate::error::ApiResult;

/// Rendered reports, each kept with the data version it was computed at: a report is computed
/// once per change of the data, however many ask for it, also when they ask at the same moment
/// right after a write. A request with `Cache-Control: no-cache` has it computed afresh.
pub struct ReportCache {
    inner: Mutex<CacheInner>,
    /// Whose turn it is to compute a report, striped by key: readers that miss the same report
    /// at once queue behind one computation instead of each running it.
    turns: Vec<Arc<tokio::sync::Mutex<()>>>,
    hasher: RandomState,
}

impl Default for ReportCache {
    fn default() -> Self {
        ReportCache {
            inner: Mutex::default(),
            turns: (0..Self::TURNS).map(|_| Arc::default()).collect(),
            hasher: RandomState::new(),
        }
    }
}

#[derive(Default)]
struct CacheInner {
    entries: HashMap<String, CacheEntry>,
    bytes: usize,
    tick: u64,
}

struct CacheEntry {
    version: i64,
    rendered: Rendered,
    used: u64,
}

impl ReportCache {
    /// Most bytes kept; the least recently used renderings go first.
    const MAX_BYTES: usize = 32 * 1024 * 1024;
    /// Larger renderings are not kept.
    const MAX_ENTRY: usize = 4 * 1024 * 1024;
    /// Stripes of the computing turns; two reports share one rarely.
    const TURNS: usize = 64;

    /// The kept rendering of `key` computed at `version` or later, with its version.
    fn get(&self, key: &str, version: i64) -> Option<(i64, Rendered)> {
        let mut inner = self.inner.lock().ok()?;
        inner.tick += 1;
        let tick = inner.tick;
        let entry = inner.entries.get_mut(key)?;
        if entry.version < version {
            return None;
        }
        entry.used = tick;
        Some((entry.version, entry.rendered.clone()))
    }

    /// Waits for the turn to compute `key`.
    async fn turn(&self, key: &str) -> OwnedMutexGuard<()> {
        let stripe = self.hasher.hash_one(key) as usize % self.turns.len();
        self.turns[stripe].clone().lock_owned().await
    }

    fn put(&self, key: String, version: i64, rendered: Rendered) {
        if rendered.len() > Self::MAX_ENTRY {
            return;
        }
        let Ok(mut inner) = self.inner.lock() else {
            return;
        };
        // The data version only grows: renderings of older versions will never be asked for
        // again, and a slow computation must not replace a newer one.
        if inner.entries.values().any(|e| e.version > version) {
            return;
        }
        inner
            .entries
            .retain(|k, e| e.version == version && *k != key);
        inner.bytes = inner.entries.values().map(|e| e.rendered.len()).sum();
        while inner.bytes + rendered.len() > Self::MAX_BYTES {
            let Some(oldest) = inner
                .entries
                .iter()
                .min_by_key(|(_, e)| e.used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(e) = inner.entries.remove(&oldest) {
                inner.bytes -= e.rendered.len();
            }
        }
        inner.tick += 1;
        let used = inner.tick;
        inner.bytes += rendered.len();
        inner.entries.insert(
            key,
            CacheEntry {
                version,
                rendered,
                used,
            },
        );
    }
}

/// What a report request needs before any report query.
pub enum Lookup {
    /// 304, or the kept rendering of the current data.
    Answered(HttpResponse),
    /// Compute it.
    Compute(Computing),
}

/// A report to compute: the key to keep it under, and the turn held until it is kept.
pub struct Computing {
    key: String,
    _turn: Option<OwnedMutexGuard<()>>,
}

/// The data version, 304 when the client holds the current representation, and the kept
/// rendering when the data has not changed since it was computed.
pub async fn lookup(state: &AppState, req: &HttpRequest, conn: &Conn) -> ApiResult<Lookup> {
    let version = crate::db::data_version_shared(conn).await?;
    let etag = cache::etag(req, version);
    if cache::fresh(req, &etag) {
        return Ok(Lookup::Answered(cache::not_modified(etag)));
    }
    let key = format!(
        "{}?{}|{}",
        req.path(),
        req.query_string(),
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    );
    let no_cache = [header::CACHE_CONTROL, header::PRAGMA].iter().any(|name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-cache"))
    });
    if no_cache {
        return Ok(Lookup::Compute(Computing { key, _turn: None }));
    }
    if let Some((_, rendered)) = state.reports.get(&key, version) {
        return Ok(Lookup::Answered(rendered.respond(cache::builder(etag))));
    }
    let turn = state.reports.turn(&key).await;
    // Another reader computed it while this one waited: at this data version or a later one,
    // which is as current as this request can ask for.
    if let Some((kept, rendered)) = state.reports.get(&key, version) {
        let etag = cache::etag(req, kept);
        return Ok(Lookup::Answered(rendered.respond(cache::builder(etag))));
    }
    Ok(Lookup::Compute(Computing {
        key,
        _turn: Some(turn),
    }))
}

/// Keeps a rendering computed at `version` and answers it with that version's ETag; the next
/// reader waiting for the turn finds it.
pub fn keep(
    state: &AppState,
    req: &HttpRequest,
    computing: Computing,
    version: i64,
    rendered: Rendered,
) -> HttpResponse {
    let response = rendered.respond(cache::builder(cache::etag(req, version)));
    state.reports.put(computing.key, version, rendered);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(bytes: usize) -> Rendered {
        Rendered {
            content_type: "application/json",
            disposition: None,
            body: vec![b' '; bytes].into(),
        }
    }

    #[test]
    fn only_the_newest_data_version_is_kept() {
        let cache = ReportCache::default();
        cache.put("summary".into(), 2, rendered(10));
        assert!(cache.get("summary", 2).is_some());
        assert_eq!(
            cache.get("summary", 1).map(|(v, _)| v),
            Some(2),
            "a newer one serves"
        );
        assert!(cache.get("summary", 3).is_none());
        // A computation that started before a write finishes late: it replaces nothing.
        cache.put("summary".into(), 1, rendered(10));
        assert!(cache.get("summary", 2).is_some());
        cache.put("matrix".into(), 3, rendered(10));
        assert!(cache.get("summary", 2).is_none());
        assert!(cache.get("matrix", 3).is_some());
    }

    #[test]
    fn the_least_recently_read_goes_first_and_large_ones_are_not_kept() {
        let cache = ReportCache::default();
        let size = ReportCache::MAX_ENTRY;
        let fits = ReportCache::MAX_BYTES / size;
        for i in 0..fits {
            cache.put(format!("r{i}"), 1, rendered(size));
        }
        assert!(
            cache.get("r0", 1).is_some(),
            "r0 read again: r1 is now the oldest"
        );
        cache.put("new".into(), 1, rendered(size));
        assert!(cache.get("r1", 1).is_none());
        assert!(cache.get("r0", 1).is_some() && cache.get("new", 1).is_some());
        cache.put("huge".into(), 1, rendered(size + 1));
        assert!(cache.get("huge", 1).is_none());
    }
}
