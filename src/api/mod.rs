//! The HTTP API: one module per resource, with its handlers, wire types and OpenAPI docs.

pub mod activities;
pub mod actors;
pub mod board;
pub mod body;
pub mod changes;
pub mod chase;
pub mod clients;
pub mod collaborations;
pub mod csv;
pub mod follow_up_batches;
pub mod follow_up_sheet;
pub mod follow_ups;
pub mod goals;
pub mod health;
pub mod lists;
pub mod me;
pub mod plans;
pub mod query;
pub mod report_cache;
pub mod reports;
pub mod response_cache;
pub mod reviews;
pub mod token;

use actix_web::http::header::{self, EntityTag, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;

use crate::error::ApiResult;

/// The strong ETag of a versioned row.
pub fn version_etag(version: i32) -> EntityTag {
    EntityTag::new_strong(format!("v{version}"))
}

/// The version an `If-Match` header asks for: `None` without the header (or with `*`);
/// a value that no row can have when the header names an ETag this service never issued.
pub fn if_match(req: &HttpRequest) -> ApiResult<Option<i32>> {
    expected_version(req.headers())
}

fn expected_version(headers: &HeaderMap) -> ApiResult<Option<i32>> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    // Whatever the header holds, the write goes ahead only when it names the row's current
    // ETag: anything else, malformed or weak or not ours, is a precondition that fails (412).
    const NO_ROW: i32 = -1;
    let Ok(value) = value.to_str().map(str::trim) else {
        return Ok(Some(NO_ROW));
    };
    if value == "*" {
        return Ok(None);
    }
    // RFC 9110 §13.1.1: a comma-separated list of entity tags, compared strongly; of several
    // tags of ours the last is compared.
    let version = value.rsplit(',').find_map(|tag| {
        tag.trim()
            .strip_prefix("\"v")
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|digits| digits.parse::<i32>().ok())
    });
    Ok(Some(version.unwrap_or(NO_ROW)))
}

/// 200 with the body and its ETag.
pub fn ok_with_etag<T: Serialize>(version: i32, body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(header::ETag(version_etag(version)))
        .json(body)
}

/// 201 with Location, ETag and the body.
pub fn created<T: Serialize>(location: String, version: i32, body: &T) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .insert_header(header::ETag(version_etag(version)))
        .json(body)
}

/// Deserialises a field that may be absent (leave unchanged), null (clear) or a value (set).
pub fn double_option<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// HTTP caching of reads: strong validators that move with every write, so a client or CDN can
/// revalidate a page with a 304 that costs one tiny query.
pub mod cache {
    use actix_web::http::header::{self, EntityTag, IfNoneMatch};
    use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};
    use serde::Serialize;

    /// Public data, fine for shared caches; short freshness, then revalidation with the ETag.
    /// Responses vary by token (a CDN keeps one copy per token, never serves one to a caller
    /// without it) and by the media type asked for.
    pub const CACHE_CONTROL: &str = "public, max-age=30, stale-while-revalidate=30";
    pub const VARY: &str = "Accept, Authorization";

    /// The ETag of a representation derived from the whole data set at `data_version`. Every
    /// replica, of any build, gives the same tag for the same request and data: the request is
    /// hashed with SHA-256, whose output is fixed (std's hasher may change between releases).
    pub fn etag(req: &HttpRequest, data_version: i64) -> EntityTag {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        for part in [
            req.path().as_bytes(),
            req.query_string().as_bytes(),
            req.headers()
                .get(header::ACCEPT)
                .map_or(&b""[..], |v| v.as_bytes()),
        ] {
            // Length-prefixed, so that no two different requests hash alike.
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        let digest = hasher.finalize();
        let mut short = [0u8; 8];
        short.copy_from_slice(&digest[..8]);
        EntityTag::new_strong(format!(
            "d{data_version}-{:016x}",
            u64::from_be_bytes(short)
        ))
    }

    /// Whether the client already holds this representation (`If-None-Match`).
    pub fn fresh(req: &HttpRequest, etag: &EntityTag) -> bool {
        match req.get_header::<IfNoneMatch>() {
            Some(IfNoneMatch::Any) => true,
            Some(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(etag)),
            None => false,
        }
    }

    /// Answers about integration clients are the administrator's alone: no shared cache keeps
    /// them, and a private copy is revalidated before every use.
    pub const PRIVATE: &str = "private, no-cache";
    /// Kept by any cache but revalidated before every use (the change feed, whose pollers want
    /// the newest answer at the cost of a 304).
    pub const REVALIDATE: &str = "no-cache";

    fn headers(
        mut builder: HttpResponseBuilder,
        etag: EntityTag,
        cache_control: &'static str,
    ) -> HttpResponseBuilder {
        builder
            .insert_header(header::ETag(etag))
            .insert_header((header::CACHE_CONTROL, cache_control))
            .insert_header((header::VARY, VARY));
        builder
    }

    pub fn not_modified(etag: EntityTag) -> HttpResponse {
        not_modified_with(etag, CACHE_CONTROL)
    }

    pub fn not_modified_with(etag: EntityTag, cache_control: &'static str) -> HttpResponse {
        headers(HttpResponse::NotModified(), etag, cache_control).finish()
    }

    pub fn ok<T: Serialize>(etag: EntityTag, body: &T) -> HttpResponse {
        builder(etag).json(body)
    }

    /// A 200 with the caching headers, for a body of any media type.
    pub fn builder(etag: EntityTag) -> HttpResponseBuilder {
        builder_with(etag, CACHE_CONTROL)
    }

    pub fn builder_with(etag: EntityTag, cache_control: &'static str) -> HttpResponseBuilder {
        headers(HttpResponse::Ok(), etag, cache_control)
    }

    /// 304 when `If-None-Match` holds the row's version ETag, else 200 with the body.
    pub fn versioned<T: Serialize>(req: &HttpRequest, version: i32, body: &T) -> HttpResponse {
        versioned_with(req, version, body, CACHE_CONTROL)
    }

    /// [`versioned`] with a `Cache-Control` of its own.
    pub fn versioned_with<T: Serialize>(
        req: &HttpRequest,
        version: i32,
        body: &T,
        cache_control: &'static str,
    ) -> HttpResponse {
        answer(req, super::version_etag(version), cache_control, body)
    }

    /// 304 when `If-None-Match` holds `etag`, else 200 with the body; both with the caching
    /// headers.
    pub fn answer<T: Serialize>(
        req: &HttpRequest,
        etag: EntityTag,
        cache_control: &'static str,
        body: &T,
    ) -> HttpResponse {
        if fresh(req, &etag) {
            not_modified_with(etag, cache_control)
        } else {
            builder_with(etag, cache_control).json(body)
        }
    }

    /// For data the data version does not follow (integration clients): the ETag is a hash of
    /// the body itself, so it changes exactly when the answer does.
    pub fn by_content<T: Serialize>(
        req: &HttpRequest,
        cache_control: &'static str,
        body: &T,
    ) -> crate::error::ApiResult<HttpResponse> {
        use sha2::Digest as _;
        let bytes = serde_json::to_vec(body).map_err(crate::error::ApiError::internal)?;
        let digest = sha2::Sha256::digest(&bytes);
        let tag: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        let etag = EntityTag::new_strong(format!("c{tag}"));
        Ok(if fresh(req, &etag) {
            not_modified_with(etag, cache_control)
        } else {
            builder_with(etag, cache_control)
                .content_type("application/json")
                .body(bytes)
        })
    }
}
