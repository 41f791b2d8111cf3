//! `/api/v1/actors`: municipalities, the region and its units, institutions, networks, persons.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::body::JsonObject;
use super::csv::{self, CsvRecord, Format, Representation, Table};
use super::lists::ActorList;
use super::{cache, created, double_option, if_match, ok_with_etag};
use crate::AppState;
use crate::auth::Auth;
use crate::db::actors::{self as db, ActorChanges, ActorFilter, ActorRow, NewActor};
use crate::db::pagination::{Page, finish};
use crate::domain::{ActorKind, Scope};
use crate::error::{ApiResult, Checks, Problem};

/// Someone who runs or joins activities.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "9a2f0e55-31c4-5d0b-8f8e-52d1e6b0c7a2", "name": "Hallsbergs kommun", "kind": "municipality",
    "municipality_code": "1861", "parent_id": null, "title": null, "website": null, "email": null,
    "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "version": 1
}))]
pub struct Actor {
    pub id: Uuid,
    pub name: String,
    pub kind: ActorKind,
    /// Official four-digit municipality code (municipalities only).
    pub municipality_code: Option<String>,
    /// The organisation a unit belongs to.
    pub parent_id: Option<Uuid>,
    /// A person's role.
    pub title: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

impl From<ActorRow> for Actor {
    fn from(row: ActorRow) -> Self {
        Actor {
            id: row.id,
            name: row.name,
            kind: row.kind,
            municipality_code: row.municipality_code,
            parent_id: row.parent_id,
            title: row.title,
            website: row.website,
            email: row.email,
            created_at: row.created_at,
            updated_at: row.updated_at,
            version: row.version,
        }
    }
}

impl CsvRecord for Actor {
    fn headers() -> &'static [&'static str] {
        &[
            "id",
            "name",
            "kind",
            "municipality_code",
            "parent_id",
            "title",
            "website",
            "email",
            "version",
            "updated_at",
        ]
    }

    fn record(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.kind.to_string(),
            csv::opt(self.municipality_code.as_ref()),
            csv::opt(self.parent_id),
            csv::opt(self.title.as_ref()),
            csv::opt(self.website.as_ref()),
            csv::opt(self.email.as_ref()),
            self.version.to_string(),
            self.updated_at.to_rfc3339(),
        ]
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Hallsbergs kommun", "kind": "municipality", "municipality_code": "1861"}))]
pub struct CreateActor {
    #[schema(min_length = 1, max_length = 300)]
    pub name: String,
    pub kind: ActorKind,
    /// Required for municipalities, refused for others.
    #[schema(pattern = "^[0-9]{4}$")]
    pub municipality_code: Option<String>,
    pub parent_id: Option<Uuid>,
    /// Persons only.
    #[schema(min_length = 1, max_length = 300)]
    pub title: Option<String>,
    #[schema(min_length = 1, max_length = 500)]
    pub website: Option<String>,
    #[schema(min_length = 3, max_length = 320, pattern = "@")]
    pub email: Option<String>,
}

/// Fields to change; absent fields stay, `null` clears a nullable field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"website": "https://www.hallsberg.se"}))]
pub struct UpdateActor {
    #[schema(min_length = 1, max_length = 300)]
    pub name: Option<String>,
    pub kind: Option<ActorKind>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, pattern = "^[0-9]{4}$")]
    pub municipality_code: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Uuid>)]
    pub parent_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 300)]
    pub title: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 500)]
    pub website: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, min_length = 3, max_length = 320, pattern = "@")]
    pub email: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
pub enum ActorSort {
    #[default]
    #[serde(rename = "name")]
    Name,
    #[serde(rename = "-name")]
    NameDesc,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListActorsQuery {
    pub kind: Option<ActorKind>,
    #[param(example = "1880", pattern = "^[0-9]{4}$")]
    pub municipality_code: Option<String>,
    /// Only the units belonging to this actor.
    pub parent_id: Option<Uuid>,
    /// Text the name contains (case-insensitive), e.g. `kommun`.
    #[param(example = "främjande", max_length = 200)]
    pub q: Option<String>,
    /// `name` (default, Swedish order) or `-name`.
    pub sort: Option<ActorSort>,
    /// Page size, 1–500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// `csv` for CSV (as `Accept: text/csv`; the next page is in the `Link` header).
    pub format: Option<Format>,
    /// CSV in the dialect a Swedish Excel opens: UTF-8 BOM, `;` separators.
    pub excel: Option<bool>,
}

struct ActorFields<'a> {
    name: Option<&'a str>,
    kind: Option<ActorKind>,
    code: Option<&'a str>,
    title: Option<&'a str>,
    website: Option<&'a str>,
    email: Option<&'a str>,
}

fn check_actor(c: &mut Checks, f: ActorFields<'_>) {
    c.text("name", f.name, 1, 300);
    c.municipality_code("municipality_code", f.code);
    match (f.kind, f.code) {
        (Some(ActorKind::Municipality), None) => {
            c.push("municipality_code", "is required for a municipality")
        }
        (Some(kind), Some(_)) if kind != ActorKind::Municipality => {
            c.push("municipality_code", "is only for municipalities")
        }
        _ => {}
    }
    if f.title.is_some() && f.kind.is_some_and(|k| k != ActorKind::Person) {
        c.push("title", "is only for persons");
    }
    c.text("title", f.title, 1, 300);
    c.text("website", f.website, 1, 500);
    c.text("email", f.email, 3, 320);
    if f.email.is_some_and(|e| !e.contains('@')) {
        c.push("email", "is not an e-mail address");
    }
}

/// List actors in Swedish alphabetical order.
#[utoipa::path(
    tag = "actors",
    params(ListActorsQuery),
    responses(
        (status = 200, description = "A page of actors", content(
            (ActorList = "application/json"),
            (String = "text/csv"),
        ), headers(("ETag" = String), ("Cache-Control" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No municipality has the `municipality_code`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/actors")]
pub async fn list_actors(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<ListActorsQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    c.text("q", query.q.as_deref(), 0, 200);
    c.municipality_code("municipality_code", query.municipality_code.as_deref());
    c.finish()?;
    let representation = Representation::negotiate(&req, query.format, query.excel)?;
    let page = Page::new(query.limit, query.cursor.as_deref())?;
    let filter = ActorFilter {
        kind: query.kind,
        municipality_code: query.municipality_code,
        parent_id: query.parent_id,
        q: query
            .q
            .map(|q| q.trim().to_lowercase())
            .filter(|q| !q.is_empty()),
        descending: query.sort == Some(ActorSort::NameDesc),
    };
    let mut conn = state.pool.get().await?;
    if let Some(code) = &filter.municipality_code {
        crate::db::collaborations::municipality(&conn, code).await?;
    }
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let rows = db::list(&mut conn, &filter, &page).await?;
    let (rows, next_cursor) = finish(rows, page.limit, |r| (r.name.clone(), r.id));
    let items = rows.into_iter().map(Actor::from).collect::<Vec<_>>();
    let body = ActorList::new(items, next_cursor);
    csv::reply(
        representation,
        cache::builder(etag),
        &req,
        &body,
        || Table::of("actors.csv", &body.items),
        body.next_cursor.as_deref().map(|c| ("cursor", c)),
    )
}

/// Create an actor.
#[utoipa::path(
    tag = "actors",
    request_body = CreateActor,
    responses(
        (status = 201, description = "Created", body = Actor, headers(("ETag" = String), ("Location" = String))),
        (status = 400, description = "Malformed JSON or unknown field", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Municipality code already used", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[post("/actors")]
pub async fn create_actor(
    auth: Auth,
    state: web::Data<AppState>,
    body: JsonObject<CreateActor>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_actor(
        &mut c,
        ActorFields {
            name: Some(&body.name),
            kind: Some(body.kind),
            code: body.municipality_code.as_deref(),
            title: body.title.as_deref(),
            website: body.website.as_deref(),
            email: body.email.as_deref(),
        },
    );
    c.finish()?;
    let new = NewActor {
        id: Uuid::new_v4(),
        name: body.name,
        kind: body.kind,
        municipality_code: body.municipality_code,
        parent_id: body.parent_id,
        title: body.title,
        website: body.website,
        email: body.email,
    };
    let mut conn = state.pool.get().await?;
    let row = db::insert(&mut conn, &new).await?;
    Ok(created(
        format!("/api/v1/actors/{}", row.id),
        row.version,
        &Actor::from(row),
    ))
}

/// Read an actor.
#[utoipa::path(
    tag = "actors",
    params(("id" = Uuid, Path, description = "Actor id")),
    responses(
        (status = 200, description = "The actor", body = Actor, headers(("ETag" = String))),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such actor", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/actors/{id}")]
pub async fn get_actor(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let mut conn = state.pool.get().await?;
    let row = db::get(&mut conn, id.into_inner()).await?;
    Ok(cache::versioned(&req, row.version, &Actor::from(row)))
}

/// Change some fields of an actor. Honours `If-Match`.
#[utoipa::path(
    tag = "actors",
    params(
        ("id" = Uuid, Path, description = "Actor id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version this change is based on"),
    ),
    request_body = UpdateActor,
    responses(
        (status = 200, description = "The changed actor", body = Actor, headers(("ETag" = String))),
        (status = 400, description = "Malformed request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such actor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Municipality code already used", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[patch("/actors/{id}")]
pub async fn update_actor(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    body: JsonObject<UpdateActor>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let body = body.into_inner();
    let mut c = Checks::default();
    check_actor(
        &mut c,
        ActorFields {
            name: body.name.as_deref(),
            // Kind/code consistency across partial updates is the database's check to make.
            kind: None,
            code: body.municipality_code.as_ref().and_then(|c| c.as_deref()),
            title: body.title.as_ref().and_then(|t| t.as_deref()),
            website: body.website.as_ref().and_then(|w| w.as_deref()),
            email: body.email.as_ref().and_then(|e| e.as_deref()),
        },
    );
    c.finish()?;
    let changes = ActorChanges {
        name: body.name,
        kind: body.kind,
        municipality_code: body.municipality_code,
        parent_id: body.parent_id,
        title: body.title,
        website: body.website,
        email: body.email,
    };
    let mut conn = state.pool.get().await?;
    let row = db::update(&mut conn, id.into_inner(), expected, &changes).await?;
    Ok(ok_with_etag(row.version, &Actor::from(row)))
}

/// Delete an actor. Refused with 409 while activities, units or clients refer to it.
#[utoipa::path(
    tag = "actors",
    params(
        ("id" = Uuid, Path, description = "Actor id"),
        ("If-Match" = Option<String>, Header, description = "ETag of the version to delete"),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `plans:write`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such actor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Still referenced", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "Stale If-Match", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["plans:write"]))
)]
#[delete("/actors/{id}")]
pub async fn delete_actor(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::PlansWrite)?;
    let expected = if_match(&req)?;
    let mut conn = state.pool.get().await?;
    db::delete(&mut conn, id.into_inner(), expected).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_actors)
        .service(create_actor)
        .service(get_actor)
        .service(update_actor)
        .service(delete_actor);
}
