//! Rendered responses kept per data version: the reads that many callers repeat (the portal's
//! activity pages and items, the board's reports) are computed once per change of the data and
//! then answered from memory, as they go on the wire.
//!
//! An answer is kept under the normalised request — path, query parameters in a canonical order,
//! `Accept`, and the caller's scopes (what a token may see) — and the data version read at the
//! start of the request. Every committed write moves the data version, so a kept answer is never
//! served after a write: the next request reads the new version and finds nothing under it.
//! Readers that miss the same key at once queue behind one computation and share its answer. The
//! memory is bounded (`RESPONSE_CACHE_MIB`): the least valuable answers are evicted (quick_cache's
//! CLOCK-Pro), and those of old versions, never asked for again, go first.

use std::sync::Arc;

use actix_web::http::header::{self, EntityTag};
use actix_web::{HttpRequest, HttpResponse};
use quick_cache::sync::{Cache, DefaultLifecycle, PlaceholderGuard};
use quick_cache::{DefaultHashBuilder, Weighter};

use super::cache;
use super::csv::Rendered;
use crate::auth::{Auth, scope_string};

/// A normalised request at one data version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    request: String,
    version: i64,
}

impl Key {
    /// The key of `req` from a caller with `auth`'s scopes at `version`.
    pub fn new(req: &HttpRequest, auth: &Auth, version: i64) -> Self {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        Key {
            request: format!(
                "{}?{}\n{accept}\n{}",
                req.path(),
                canonical_query(req.query_string()),
                scope_string(&auth.scopes)
            ),
            version,
        }
    }

    pub fn version(&self) -> i64 {
        self.version
    }
}

/// The query's parameters decoded and sorted, so that the same request written another way
/// (`limit=50&goal_id=…`, `%2C` for `,`) finds the same answer; the browsers' cache-buster, which
/// every endpoint ignores, is left out, so it does not make every request a miss. A query that
/// does not decode is kept as it came.
fn canonical_query(query: &str) -> String {
    match serde_urlencoded::from_str::<Vec<(String, String)>>(query) {
        Ok(mut pairs) => {
            pairs.retain(|(name, _)| name != super::query::CACHE_BUSTER);
            pairs.sort();
            serde_urlencoded::to_string(&pairs).unwrap_or_else(|_| query.to_owned())
        }
        Err(_) => query.to_owned(),
    }
}

/// An answer as it goes on the wire: its validator, body and the headers that go with it.
#[derive(Debug)]
pub struct Kept {
    pub etag: EntityTag,
    pub rendered: Rendered,
    /// `Link` to the next page of a CSV download.
    pub link: Option<String>,
}

impl Kept {
    /// 304 when the client holds this answer, else 200 with it.
    pub fn respond(&self, req: &HttpRequest) -> HttpResponse {
        if cache::fresh(req, &self.etag) {
            return cache::not_modified(self.etag.clone());
        }
        let mut builder = cache::builder(self.etag.clone());
        if let Some(link) = &self.link {
            builder.insert_header((header::LINK, link.clone()));
        }
        self.rendered.respond(builder)
    }
}

/// Bytes counted for an answer beyond its key and body: the entry, the validator and headers.
const ENTRY_OVERHEAD: u64 = 256;

#[derive(Debug, Clone, Default)]
pub struct Weigh;

impl Weighter<Key, Arc<Kept>> for Weigh {
    fn weight(&self, key: &Key, kept: &Arc<Kept>) -> u64 {
        let bytes = key.request.len()
            + kept.rendered.len()
            + kept.link.as_ref().map_or(0, String::len)
            + kept.rendered.disposition.as_ref().map_or(0, String::len);
        bytes as u64 + ENTRY_OVERHEAD
    }
}

type Entries = Cache<Key, Arc<Kept>, Weigh>;
type Guard<'a> = PlaceholderGuard<
    'a,
    Key,
    Arc<Kept>,
    Weigh,
    DefaultHashBuilder,
    DefaultLifecycle<Key, Arc<Kept>>,
>;

/// The kept answers; `None` when caching is turned off (`RESPONSE_CACHE_MIB=0`).
pub struct ResponseCache {
    entries: Option<Entries>,
}

impl ResponseCache {
    /// A cache of at most `bytes` of answers (0: keep nothing).
    pub fn new(bytes: u64) -> Self {
        let entries = (bytes > 0).then(|| {
            // Sized for answers of about 4 KiB; the bound is on bytes whatever their number.
            let items = usize::try_from(bytes / 4096).unwrap_or(usize::MAX).max(64);
            Cache::with_weighter(items, bytes, Weigh)
        });
        ResponseCache { entries }
    }

    /// The kept answer of `key`, or the slot to compute it into. A request with
    /// `Cache-Control: no-cache` (or `Pragma: no-cache`) has it computed afresh. Of several
    /// requests that miss the same key at once, one computes; the others wait for its answer.
    pub async fn lookup(&self, req: &HttpRequest, key: Key) -> Lookup<'_> {
        let Some(entries) = &self.entries else {
            return Lookup::Miss(Slot::Unkept);
        };
        if no_cache(req) {
            return Lookup::Miss(Slot::Replace(entries, key));
        }
        match entries.get_value_or_guard_async(&key).await {
            Ok(kept) => Lookup::Hit(kept),
            Err(guard) => Lookup::Miss(Slot::Fill(guard)),
        }
    }

    /// Bytes held (as weighed) and the number of answers.
    pub fn usage(&self) -> (u64, usize) {
        self.entries
            .as_ref()
            .map_or((0, 0), |e| (e.weight(), e.len()))
    }

    /// The most bytes held.
    pub fn capacity(&self) -> u64 {
        self.entries.as_ref().map_or(0, Entries::capacity)
    }
}

/// Whether the request asks for an answer computed afresh.
fn no_cache(req: &HttpRequest) -> bool {
    [header::CACHE_CONTROL, header::PRAGMA].iter().any(|name| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("no-cache"))
    })
}

pub enum Lookup<'a> {
    Hit(Arc<Kept>),
    Miss(Slot<'a>),
}

/// Where a computed answer goes.
pub enum Slot<'a> {
    /// Waiting readers get it.
    Fill(Guard<'a>),
    /// Computed afresh on request: it replaces what was kept.
    Replace(&'a Entries, Key),
    /// Caching is off.
    Unkept,
}

impl Slot<'_> {
    /// Keeps the answer and answers it (304 when the client holds it already).
    pub fn keep(self, req: &HttpRequest, kept: Kept) -> HttpResponse {
        let response = kept.respond(req);
        let kept = Arc::new(kept);
        match self {
            // Err: the placeholder was replaced meanwhile by a fresh computation; either is
            // the answer at this version.
            Slot::Fill(guard) => drop(guard.insert(kept)),
            Slot::Replace(entries, key) => entries.insert(key, kept),
            Slot::Unkept => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(bytes: usize) -> Kept {
        Kept {
            etag: EntityTag::new_strong("d1".into()),
            rendered: Rendered {
                content_type: "application/json",
                disposition: None,
                body: vec![b' '; bytes].into(),
            },
            link: None,
        }
    }

    fn key(n: usize, version: i64) -> Key {
        Key {
            request: format!("/api/v1/activities?limit={n}"),
            version,
        }
    }

    #[test]
    fn the_same_parameters_in_another_order_or_spelling_are_one_request() {
        assert_eq!(
            canonical_query("limit=50&embed=goal%2Cactors&goal_id=x"),
            canonical_query("goal_id=x&embed=goal,actors&limit=50")
        );
        assert_ne!(canonical_query("limit=50"), canonical_query("limit=51"));
    }

    #[test]
    fn answers_are_kept_per_version_within_the_bound() {
        let cache = ResponseCache::new(256 * 1024);
        let entries = cache.entries.as_ref().expect("on");
        for n in 0..2000 {
            entries.insert(key(n, 1), Arc::new(kept(1000)));
            assert!(cache.usage().0 <= cache.capacity());
        }
        assert!(cache.usage().1 < 2000, "some were evicted");
        entries.insert(key(0, 2), Arc::new(kept(10)));
        assert!(entries.get(&key(0, 2)).is_some());
        assert!(entries.get(&key(0, 3)).is_none(), "another version");
        assert_eq!(ResponseCache::new(0).usage(), (0, 0));
    }
}
