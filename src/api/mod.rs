//! The HTTP API: one module per resource, with its handlers, wire types and OpenAPI docs.

pub mod activities;
pub mod actors;
pub mod body;
pub mod changes;
pub mod clients;
pub mod collaborations;
pub mod csv;
pub mod follow_up_batches;
pub mod follow_up_sheet;
pub mod follow_ups;
pub mod goals;
pub mod health;
pub mod me;
pub mod plans;
pub mod query;
pub mod report_cache;
pub mod reports;
pub mod token;

use actix_web::http::header::{self, EntityTag, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiResult;

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
    /// How many items match in all, when asked for with `count=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
}

impl<T: ToSchema> ListResponse<T> {
    pub fn new(items: Vec<T>, next_cursor: Option<String>) -> Self {
        ListResponse {
            items,
            next_cursor,
            total: None,
        }
    }
}

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
    use std::hash::{Hash, Hasher};

    use actix_web::http::header::{self, EntityTag, IfNoneMatch};
    use actix_web::{HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder};
    use serde::Serialize;

    /// Public data, fine for shared caches; short freshness, then revalidation with the ETag.
    /// Responses vary by token (a CDN keeps one copy per token, never serves one to a caller
    /// without it) and by the media type asked for.
    pub const CACHE_CONTROL: &str = "public, max-age=30, stale-while-revalidate=30";
    pub const VARY: &str = "Accept, Authorization";

    /// The ETag of a representation derived from the whole data set at `data_version`.
    pub fn etag(req: &HttpRequest, data_version: i64) -> EntityTag {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        req.path().hash(&mut hasher);
        req.query_string().hash(&mut hasher);
        req.headers()
            .get(header::ACCEPT)
            .map(|v| v.as_bytes().to_vec())
            .hash(&mut hasher);
        EntityTag::new_strong(format!("d{data_version}-{:016x}", hasher.finish()))
    }

    /// Whether the client already holds this representation (`If-None-Match`).
    pub fn fresh(req: &HttpRequest, etag: &EntityTag) -> bool {
        match req.get_header::<IfNoneMatch>() {
            Some(IfNoneMatch::Any) => true,
            Some(IfNoneMatch::Items(tags)) => tags.iter().any(|t| t.weak_eq(etag)),
            None => false,
        }
    }

    fn headers(mut builder: HttpResponseBuilder, etag: EntityTag) -> HttpResponseBuilder {
        builder
            .insert_header(header::ETag(etag))
            .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
            .insert_header((header::VARY, VARY));
        builder
    }

    pub fn not_modified(etag: EntityTag) -> HttpResponse {
        headers(HttpResponse::NotModified(), etag).finish()
    }

    pub fn ok<T: Serialize>(etag: EntityTag, body: &T) -> HttpResponse {
        builder(etag).json(body)
    }

    /// A 200 with the caching headers, for a body of any media type.
    pub fn builder(etag: EntityTag) -> HttpResponseBuilder {
        headers(HttpResponse::Ok(), etag)
    }

    /// 304 when `If-None-Match` holds the row's version ETag, else 200 with the body.
    pub fn versioned<T: Serialize>(req: &HttpRequest, version: i32, body: &T) -> HttpResponse {
        let etag = super::version_etag(version);
        if fresh(req, &etag) {
            not_modified(etag)
        } else {
            ok(etag, body)
        }
    }
}
