//! JSON request bodies, with errors a program can act on: every field of the wrong type (or
//! unknown, or missing) named by its path (`status`, `items[3].year`), an item of a batch also by
//! its `index`. A create, update or upsert body must be an object: serde reads a struct from an
//! array too (`[null, null]` fills the first two fields), which no client means.

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures_util::future::LocalBoxFuture;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::value::RawValue;
use serde_path_to_error::Segment;

use crate::error::{ApiError, FieldError};

/// Most problems one refusal lists; a body wrong everywhere need not be listed in full.
const MAX_ERRORS: usize = 100;

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
            parse(text).map(JsonObject).map_err(Into::into)
        })
    }
}

/// `web::Json` for any body (an array), with the fields named as `JsonObject` names them.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let raw = web::Json::<Box<RawValue>>::from_request(req, payload);
        Box::pin(async move {
            let raw = raw.await?.into_inner();
            parse(raw.get()).map(Json).map_err(Into::into)
        })
    }
}

/// Well-formed JSON into `T`, or a 422 listing every field that does not fit.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ApiError> {
    // The common case costs one pass; only a refused body is looked at field by field.
    match serde_json::from_str(text) {
        Ok(value) => Ok(value),
        Err(first) => match serde_json::from_str::<Value>(text) {
            Ok(value) => Err(ApiError::Validation(field_errors::<T>(value))),
            Err(_) => Err(crate::shape_error(&first)),
        },
    }
}

/// Every field of `value` that keeps it from being a `T`: each error is recorded with its path,
/// the offending value taken out, and the rest read again, until it reads or nothing more can be
/// taken out (a missing field ends it: serde reports one after the fields present).
fn field_errors<T: DeserializeOwned>(mut value: Value) -> Vec<FieldError> {
    let mut errors: Vec<FieldError> = Vec::new();
    while errors.len() < MAX_ERRORS {
        let Err(err) = serde_path_to_error::deserialize::<_, T>(&value) else {
            break;
        };
        let message = err.inner().to_string();
        let mut path: Vec<Segment> = err.path().iter().cloned().collect();
        // serde names an unknown or missing field in the message, at its object's path.
        let named = ["unknown field `", "missing field `"]
            .iter()
            .find_map(|marker| message.split(marker).nth(1)?.split('`').next());
        if let Some(name) = named
            && path
                .last()
                .is_none_or(|last| !matches!(last, Segment::Map { key } if key == name))
        {
            path.push(Segment::Map {
                key: name.to_owned(),
            });
        }
        let error = field_error(&path, clean(&message));
        if errors.iter().any(|e| e.field == error.field) {
            break;
        }
        errors.push(error);
        if message.starts_with("missing field") || !take_out(&mut value, &path) {
            break;
        }
    }
    if errors.is_empty() {
        errors.push(FieldError::new("body", "does not fit the expected shape"));
    }
    errors
}

/// serde's message without the position (`at line 1 column 163`), which a body read as a value
/// no longer has anyway.
fn clean(message: &str) -> String {
    message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned()
}

/// The error for a path: `items[3].year`, with the batch item's `index`.
fn field_error(path: &[Segment], message: String) -> FieldError {
    let mut field = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => field.push_str(&format!("[{index}]")),
            Segment::Map { key } | Segment::Enum { variant: key } => {
                if !field.is_empty() {
                    field.push('.');
                }
                field.push_str(key);
            }
            Segment::Unknown => {}
        }
    }
    let mut error = FieldError::new(
        if field.is_empty() {
            "body".into()
        } else {
            field
        },
        message,
    );
    if let [Segment::Map { key }, Segment::Seq { index }, ..] = path
        && key == "items"
    {
        error.index = Some(*index);
    }
    error
}

/// Removes the value at `path`; false when there is none to remove.
fn take_out(value: &mut Value, path: &[Segment]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut current = value;
    for segment in parents {
        let next = match (segment, current) {
            (Segment::Map { key }, Value::Object(map)) => map.get_mut(key),
            (Segment::Seq { index }, Value::Array(items)) => items.get_mut(*index),
            _ => None,
        };
        match next {
            Some(next) => current = next,
            None => return false,
        }
    }
    match (last, current) {
        (Segment::Map { key }, Value::Object(map)) => map.remove(key).is_some(),
        // An array item cannot go without moving the indexes after it: null it instead, once.
        (Segment::Seq { index }, Value::Array(items)) => match items.get_mut(*index) {
            Some(item) if !item.is_null() => {
                *item = Value::Null;
                true
            }
            _ => false,
        },
        _ => false,
    }
}
