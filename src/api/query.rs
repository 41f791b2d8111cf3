//! The query-string extractor: OpenAPI's default `form` style (`embed=goal&embed=actors` for an
//! array), every parameter that does not parse named in `errors[]`, and the browsers'
//! cache-buster `_` ignored.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldError};

/// The parameter jQuery, Angular and others append with a timestamp to defeat caches
/// (`?_=1733097600000`); it carries no meaning, so every endpoint ignores it.
pub const CACHE_BUSTER: &str = "_";

/// How every operation reads its query string, for the document's description.
pub const RULES: &str = "\n\nQuery strings: array parameters (`embed`) take OpenAPI's default form style \
(`embed=goal&embed=actors`) and comma lists (`embed=goal,actors`). A parameter an operation does not \
declare is refused with 400 naming it in `errors[]`, except `_`, the cache-buster browsers' libraries \
append (`?_=1733097600000`), which every operation ignores. A value that does not parse is 400 naming \
the parameter; one that parses but is out of range is 422.\n\nCompression: responses are compressed as \
`Accept-Encoding` asks (`br`, `gzip`, `deflate`). Browsers: the origins in the service's \
`CORS_ALLOWED_ORIGINS` may call the API cross-origin and read `ETag`, `Link` and `X-Request-Id`.";

/// `web::Query` with the errors a program can act on: an unknown parameter, a missing one, a
/// value that does not parse are refused (400), each named in `errors[]`. Values that parse but
/// are out of range are the handlers' to refuse (422).
pub struct Query<T>(pub T);

impl<T> Query<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Query<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned> FromRequest for Query<T> {
    type Error = actix_web::Error;
    type Future = std::future::Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse(req.query_string()).map(Query).map_err(Into::into))
    }
}

/// Parses a query string into `T`, leaving out the cache-buster.
pub fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !pair.is_empty() && name != CACHE_BUSTER
        })
        .collect();
    let kept = kept.join("&");
    let deserializer = serde_html_form::Deserializer::from_bytes(kept.as_bytes());
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let parameter = err.path().to_string();
        let message = err.inner().to_string();
        if let Some(unknown) = between(&message, "unknown field `", "`") {
            ApiError::Malformed(vec![FieldError::new(
                unknown,
                "is not a parameter of this operation (see the OpenAPI document)",
            )])
        } else if let Some(missing) = between(&message, "missing field `", "`") {
            ApiError::Malformed(vec![FieldError::new(missing, "is required")])
        } else if let Some(duplicate) = between(&message, "duplicate field `", "`") {
            ApiError::Malformed(vec![FieldError::new(duplicate, "is given more than once")])
        } else {
            let name = if parameter == "." || parameter.is_empty() {
                "query".to_owned()
            } else {
                parameter
            };
            ApiError::Malformed(vec![FieldError::new(name, message)])
        }
    })
}

fn between<'a>(text: &'a str, start: &str, end: &str) -> Option<&'a str> {
    text.split(start).nth(1)?.split(end).next()
}
