//! `GET /api/v1/follow-ups/sheet`: a municipality's or unit's follow-up sheet for a year, as a
//! Swedish Excel opens it, to fill in and post back to `/follow-ups/import` as it is.

use actix_web::{HttpRequest, HttpResponse, get, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::cache;
use super::csv::{Representation, Table, render};
use crate::AppState;
use crate::auth::Auth;
use crate::db::actors::ActorRow;
use crate::db::follow_ups::SheetRow;
use crate::domain::Scope;
use crate::error::{ApiError, ApiResult, Checks, Problem};

/// The sheet's columns. The import reads `activity_id`, `year`, `status` and `comment` and
/// ignores the rest, so the file goes back as it is.
const COLUMNS: [&str; 7] = [
    "activity_id",
    "year",
    "goal_code",
    "title",
    "responsible",
    "status",
    "comment",
];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SheetQuery {
    /// The year followed up.
    #[param(minimum = 1900, maximum = 2100)]
    pub year: i32,
    /// The actor whose sheet it is (it and the units below it report on the activities where
    /// they have a role). Default: the token's bound actor.
    pub actor_id: Option<Uuid>,
    /// The municipality whose sheet it is, by its four-digit code, instead of `actor_id`.
    #[param(pattern = "^[0-9]{4}$", example = "1880")]
    pub municipality_code: Option<String>,
}

fn record(row: SheetRow, year: i32) -> Vec<String> {
    vec![
        row.activity_id.to_string(),
        year.to_string(),
        row.goal_code.unwrap_or_default(),
        row.title,
        row.responsible,
        row.status
            .map(|s| s.colour().to_owned())
            .unwrap_or_default(),
        row.comment.unwrap_or_default(),
    ]
}

/// A follow-up sheet: every activity the actor reports on for a year, as Excel-dialect CSV.
///
/// One row per activity where the actor (or a unit below it) has a role that runs in `year` or
/// already has a follow-up for it: `activity_id;year;goal_code;title;responsible;status;comment`,
/// with the current status as the plans' colour word (`blå`, `röd`, `grön`, `gul`; empty when
/// nothing is reported or the note has no colour). UTF-8 with a byte-order mark, `;` between
/// fields, CRLF. Fill in `status` and `comment` in Excel, save as "CSV UTF-8", and post the file
/// to `POST /follow-ups/import` unchanged: the import reads the four columns it knows, ignores
/// the others and skips rows left without status and comment.
#[utoipa::path(
    tag = "follow-ups",
    params(SheetQuery),
    responses(
        (status = 200, description = "The sheet (UTF-8 with BOM, `;`, CRLF)", content(
            (String = "text/csv", example = "activity_id;year;goal_code;title;responsible;status;comment\r\n3c1d8f0e-1b7a-5a52-9d44-7d1e0a6b2f33;2024;4.1.1;Barnkulturnätverk;Region Örebro län;grön;Genomfört\r\n"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String), ("Content-Disposition" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such actor, or no municipality has the code", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Year out of range; neither or both of `actor_id` and `municipality_code` (without a bound actor)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/sheet")]
pub async fn get_follow_up_sheet(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<SheetQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let mut c = Checks::default();
    c.year("year", Some(query.year));
    c.municipality_code("municipality_code", query.municipality_code.as_deref());
    if query.actor_id.is_some() && query.municipality_code.is_some() {
        c.push("municipality_code", "cannot be given with actor_id");
    }
    if query.actor_id.is_none() && query.municipality_code.is_none() && auth.actor_id.is_none() {
        c.push(
            "actor_id",
            "or municipality_code is required (the token is bound to no actor)",
        );
    }
    c.finish()?;
    let mut conn = state.pool.get().await?;
    let etag = cache::etag(&req, crate::db::data_version(&mut conn).await?);
    if cache::fresh(&req, &etag) {
        return Ok(cache::not_modified(etag));
    }
    let actor: ActorRow = match (&query.municipality_code, query.actor_id.or(auth.actor_id)) {
        (Some(code), _) => crate::db::collaborations::municipality(&conn, code).await?,
        (None, Some(id)) => crate::db::actors::get(&mut conn, id).await?,
        (None, None) => return Err(ApiError::internal("sheet without an actor")),
    };
    let rows = crate::db::follow_ups::sheet(&mut conn, actor.id, query.year).await?;
    let label = actor
        .municipality_code
        .clone()
        .unwrap_or_else(|| actor.id.to_string());
    let mut table = Table::new(format!("uppfoljning-{}-{label}.csv", query.year), &COLUMNS);
    for row in rows {
        table.push(record(row, query.year));
    }
    Ok(render(Representation::Csv { excel: true }, &(), || table)?.respond(cache::builder(etag)))
}
