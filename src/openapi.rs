//! The OpenAPI document: paths and schemas are collected from the registered handlers.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "kulturplan"),
    modifiers(&BearerAuth),
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
        components.add_security_scheme(
            "client_basic",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some(
                        "An integration client's `client_id` and `client_secret`, for `POST /api/v1/auth/token` only",
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

/// Adds the answer every `/api/v1` operation can give when the database is unreachable: the
/// handlers' own annotations list what the request can cause, this what the database can.
pub fn add_database_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{
        ContentBuilder, Ref, ResponseBuilder, header::HeaderBuilder, schema::Type,
    };
    let unavailable = ResponseBuilder::new()
        .description(
            "The database is unreachable (`/problems/unavailable`), or a write's connection broke \
             while it committed and whether it was applied could not be learned \
             (`/problems/outcome-unknown`); retry after `Retry-After` seconds",
        )
        .header(
            "Retry-After",
            HeaderBuilder::new()
                .schema(Some(
                    utoipa::openapi::ObjectBuilder::new().schema_type(Type::Integer),
                ))
                .description(Some("Seconds to wait before retrying"))
                .build(),
        )
        .content(
            "application/problem+json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("Problem")))
                .build(),
        )
        .build();
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
            operation
                .responses
                .responses
                .entry("503".to_owned())
                .or_insert_with(|| unavailable.clone().into());
        }
    }
}
