//! The JSON body of a create, update or upsert: an object. serde reads a struct from an array
//! too (`[null, null]` fills the first two fields), which no client means.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::error::ApiError;

/// `web::Json` for object bodies: the same limits, media type and errors (the route's
/// `JsonConfig`), and a 422 naming `body` when the JSON is not an object.
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = web::Json::<Box<RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let raw = raw.await?.into_inner();
            let text = raw.get().trim_start();
            if !text.starts_with('{') {
                return Err(ApiError::field("body", "must be a JSON object").into());
            }
            serde_json::from_str(text)
                .map(JsonObject)
                .map_err(|e| crate::shape_error(&e).into())
        })
    }
}
