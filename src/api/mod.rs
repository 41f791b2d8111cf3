//! The HTTP API: one module per resource, with its handlers, wire types and OpenAPI docs.

pub mod activities;
pub mod actors;
pub mod clients;
pub mod follow_up_batches;
pub mod follow_ups;
pub mod goals;
pub mod health;
pub mod plans;
pub mod token;

use actix_web::http::header::{self, EntityTag, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ListResponse<T: ToSchema> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
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
    let value = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("If-Match is not valid ASCII".into()))?
        .trim();
    if value == "*" {
        return Ok(None);
    }
    let version = value
        .strip_prefix("\"v")
        .and_then(|rest| rest.strip_suffix('"'))
        .and_then(|digits| digits.parse::<i32>().ok());
    Ok(Some(version.unwrap_or(-1)))
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
