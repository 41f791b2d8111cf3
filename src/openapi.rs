//! The OpenAPI document: paths and schemas are collected from the registered handlers.

mod headers;

use actix_web::dev::ResourceDef;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "kulturplan"),
    servers((url = "/", description = "The service that serves this document; every path carries its `/api/v1` prefix")),
    modifiers(&BearerAuth),
    // Query parameter types: utoipa collects the schemas of bodies by itself, not these.
    components(schemas(
        crate::api::csv::Format,
        crate::api::actors::ActorSort,
        crate::api::reports::GroupBy,
        crate::api::board::BoardFormat,
        crate::db::activity_list::ActivitySort,
        crate::db::activity_list::StatusFilter,
        crate::db::goals::GoalSort,
    )),
    tags(
        (name = "plans", description = "Culture plans and the implementation/action plans that belong to them"),
        (name = "goals", description = "Goal trees: objectives, priorities, themes, strategic directions"),
        (name = "activities", description = "Activities and the actors that run and join them"),
        (name = "actors", description = "Municipalities, the region and its units, institutions, networks, persons"),
        (name = "follow-ups", description = "The yearly follow-up of every activity"),
        (name = "auth", description = "Tokens for integration clients (OAuth 2.0 client credentials)"),
        (name = "clients", description = "Integration clients: service accounts with hashed secrets, scopes and an optional actor binding"),
        (name = "collaborations", description = "What an actor or municipality takes part in, with roles, partners and status"),
        (name = "reports", description = "The yearly follow-up per goal and plan, its trend, missing follow-ups; the collaboration matrix and network"),
        (name = "changes", description = "The change feed: every create, update and delete in commit order"),
        (name = "health", description = "Probes for orchestrators"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "HS256 JWT from `POST /api/v1/auth/token` or `kulturplan token`; scopes in the `scope` claim",
                    ))
                    .build(),
            ),
        );
    }
}

/// The document as the service serves it.
pub fn document() -> utoipa::openapi::OpenApi {
    crate::api_app_parts().1
}

/// Pretty JSON with a trailing newline, byte-for-byte what is committed under `openapi/`.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// A problem document answer with a description.
fn problem_response(description: &str) -> utoipa::openapi::Response {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build()
}

/// `If-Match`: `*` or a comma-separated list of entity tags (RFC 9110 §13.1.1).
const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[^"]*"(\s*,\s*(W/)?"[^"]*")*)$"#;

/// Completes the generated document with what holds for every `/api/v1` operation whatever
/// its handler does: the answers the database and the body parsing can give (the handlers' own
/// annotations list what the request can cause), and the parameters as they are on the wire.
pub fn finish_document(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{Schema, SchemaType, Type};
    let unavailable = problem_response(
        "The database is unreachable (`/problems/unavailable`), or a write's connection broke \
         while it committed and whether it was applied could not be learned \
         (`/problems/outcome-unknown`); retry after `Retry-After` seconds",
    );
    let too_large = problem_response("The body exceeds the operation's limit");
    let media_type = problem_response("The body is not of the media type the operation takes");
    for (path, item) in doc.paths.paths.iter_mut() {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                let RefOr::T(parameter) = parameter else {
                    continue;
                };
                let Some(RefOr::T(Schema::Object(schema))) = &mut parameter.schema else {
                    continue;
                };
                // A parameter is absent or a string: `null` in its schema would invite the
                // text "null", which is neither.
                if let SchemaType::Array(types) = &schema.schema_type {
                    let types: Vec<Type> = types
                        .iter()
                        .filter(|t| **t != Type::Null)
                        .cloned()
                        .collect();
                    schema.schema_type = match types.as_slice() {
                        [one] => SchemaType::Type(one.clone()),
                        _ => SchemaType::Array(types),
                    };
                }
                // Every write's `If-Match` is read by `api::if_match`; its syntax is stated once.
                if parameter.name == "If-Match" {
                    schema.pattern = Some(IF_MATCH_PATTERN.to_owned());
                }
            }
            let takes_body = operation.request_body.is_some();
            let responses = &mut operation.responses.responses;
            responses
                .entry("503".to_owned())
                .or_insert_with(|| unavailable.clone().into());
            if takes_body {
                responses
                    .entry("413".to_owned())
                    .or_insert_with(|| too_large.clone().into());
                responses
                    .entry("415".to_owned())
                    .or_insert_with(|| media_type.clone().into());
            }
        }
    }
    headers::document(doc);
}

/// The document's path templates with their methods (HEAD wherever GET is): a request for a
/// path that exists with a method it lacks is told which methods it has (405 with `Allow`), not
/// that nothing is there.
pub struct KnownPaths(Vec<(ResourceDef, Vec<&'static str>)>);

impl KnownPaths {
    pub fn new(doc: &utoipa::openapi::OpenApi) -> Self {
        let paths = doc
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.get.is_some()),
                    ("PUT", item.put.is_some()),
                    ("POST", item.post.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("PATCH", item.patch.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, has)| has.then_some(m))
                .collect();
                // OpenAPI's `{id}` templates are actix's own pattern syntax.
                (ResourceDef::new(template.as_str()), methods)
            })
            .collect();
        KnownPaths(paths)
    }

    /// The methods of the path template `path` matches, if any.
    pub fn methods(&self, path: &str) -> Option<&[&'static str]> {
        self.0
            .iter()
            .find(|(template, _)| template.is_match(path))
            .map(|(_, methods)| methods.as_slice())
    }
}
