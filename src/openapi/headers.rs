//! The HTTP headers of the document: each defined once under `components`, and referenced by
//! every operation and answer it applies to, by the rules the handlers follow (a GET of the API
//! answers `ETag` and 304; a CSV answer is a download; a page links to the next one).

use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::{OpenApi, Ref, RefOr, Required, Response, ResponseBuilder};

pub const X_REQUEST_ID: &str = "X-Request-Id";
pub const ETAG: &str = "ETag";
pub const CACHE_CONTROL: &str = "Cache-Control";
pub const VARY: &str = "Vary";
pub const LINK: &str = "Link";
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
pub const RETRY_AFTER: &str = "Retry-After";
pub const CONTENT_DISPOSITION: &str = "Content-Disposition";
pub const LOCATION: &str = "Location";
pub const IF_NONE_MATCH: &str = "If-None-Match";
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// A header's definition. `required` headers are on every answer they are listed for; the
/// Header Object of OpenAPI has the field, utoipa's type lacks it.
fn header(ty: Type, required: bool, description: &str) -> RefOr<Header> {
    let mut header = HeaderBuilder::new()
        .schema(Some(ObjectBuilder::new().schema_type(ty)))
        .description(Some(description))
        .build();
    if required {
        header.extensions = Some(Extensions::from_iter([("required", true)]));
    }
    RefOr::T(header)
}

fn definitions() -> Vec<(&'static str, RefOr<Header>)> {
    vec![
        (
            X_REQUEST_ID,
            header(
                Type::String,
                true,
                "The request's id, as in the service's log: the caller's own `X-Request-Id` when \
                 it is short and printable, otherwise a new UUID",
            ),
        ),
        (
            ETAG,
            header(
                Type::String,
                true,
                "Strong entity tag of this representation. Send it as `If-None-Match` to get a \
                 304 while it is current; a single row's tag also goes into `If-Match` of a write",
            ),
        ),
        (
            CACHE_CONTROL,
            header(
                Type::String,
                true,
                "`public, max-age=30, stale-while-revalidate=30` for the plan's data; `no-cache` \
                 for the change feed (always revalidated); `private, no-cache` for clients; \
                 `no-store` for tokens",
            ),
        ),
        (
            VARY,
            header(
                Type::String,
                true,
                "`Accept, Authorization`: one copy per media type and token",
            ),
        ),
        (
            LINK,
            header(
                Type::String,
                false,
                "CSV pages: `<path?…&cursor=…>; rel=\"next\"` when there is a next page (JSON \
                 pages carry `next_cursor` instead)",
            ),
        ),
        (
            IDEMPOTENT_REPLAYED,
            header(
                Type::String,
                false,
                "`true` when this is the stored answer to an earlier request with the same \
                 `Idempotency-Key`, not a new write",
            ),
        ),
        (
            RETRY_AFTER,
            header(Type::Integer, true, "Seconds to wait before retrying"),
        ),
        (
            CONTENT_DISPOSITION,
            header(
                Type::String,
                false,
                "With CSV: `attachment; filename=\"….csv\"`, a download",
            ),
        ),
        (
            LOCATION,
            header(Type::String, true, "The path of the created resource"),
        ),
    ]
}

fn reference(kind: &str, name: &str) -> Ref {
    Ref::new(format!("#/components/{kind}/{name}"))
}

fn add(response: &mut Response, name: &str) {
    response
        .headers
        .insert(name.to_owned(), RefOr::Ref(reference("headers", name)));
}

fn if_none_match() -> Parameter {
    ParameterBuilder::new()
        .name(IF_NONE_MATCH)
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .description(Some(
            "The `ETag` of the copy the caller holds: 304 without a body while it is current",
        ))
        .build()
}

fn has_parameter(operation: &Operation, name: &str) -> bool {
    operation.parameters.iter().flatten().any(|p| match p {
        RefOr::T(p) => p.name == name,
        RefOr::Ref(r) => r.ref_location.ends_with(&format!("/{name}")),
    })
}

/// Defines the headers under `components` and lists them where they apply. Public operations
/// (no scope declared) say so with an empty `security`.
pub fn document(doc: &mut OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, definition) in definitions() {
        components.headers.insert(name.to_owned(), definition);
    }
    components
        .parameters
        .insert(IF_NONE_MATCH.to_owned(), RefOr::T(if_none_match()));
    let shared: Vec<&str> = definitions().into_iter().map(|(name, _)| name).collect();

    for (path, item) in doc.paths.paths.iter_mut() {
        let api = path.starts_with("/api/v1/");
        let gets = item.get.is_some();
        let operations = [
            (&mut item.get, "get"),
            (&mut item.put, "put"),
            (&mut item.post, "post"),
            (&mut item.delete, "delete"),
            (&mut item.patch, "patch"),
        ];
        for (operation, method) in operations {
            let (is_get, is_put) = (method == "get", method == "put");
            let Some(operation) = operation else { continue };
            operation.security.get_or_insert_with(Vec::new);
            let cached = api && is_get && gets;
            if cached {
                if !has_parameter(operation, IF_NONE_MATCH) {
                    operation
                        .parameters
                        .get_or_insert_with(Vec::new)
                        .push(RefOr::Ref(reference("parameters", IF_NONE_MATCH)));
                }
                operation
                    .responses
                    .responses
                    .entry("304".to_owned())
                    .or_insert_with(|| {
                        RefOr::T(
                            ResponseBuilder::new()
                                .description(
                                    "Not modified: the `If-None-Match` tag is current; no body",
                                )
                                .build(),
                        )
                    });
            }
            let pages = has_parameter(operation, "cursor") || has_parameter(operation, "since");
            let idempotent = has_parameter(operation, IDEMPOTENCY_KEY);
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                // A header a handler named inline becomes the shared definition.
                for name in &shared {
                    if response.headers.contains_key(*name) {
                        add(response, name);
                    }
                }
                add(response, X_REQUEST_ID);
                let ok = status == "200";
                if cached && (ok || status == "304") {
                    for name in [ETAG, CACHE_CONTROL, VARY] {
                        add(response, name);
                    }
                }
                if response.content.contains_key("text/csv") {
                    add(response, CONTENT_DISPOSITION);
                    if pages {
                        add(response, LINK);
                    }
                }
                if idempotent && ok {
                    add(response, IDEMPOTENT_REPLAYED);
                }
                match status.as_str() {
                    // A PUT that creates answers at the URI it was sent to.
                    "201" if !is_put => add(response, LOCATION),
                    "503" => add(response, RETRY_AFTER),
                    _ => {}
                }
            }
        }
    }
}
