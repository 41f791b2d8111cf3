//! `/api/v1/reports/board-document`: the plan's follow-up of a year as the culture board
//! receives it — the colour legend, every goal with its priority text and its activities in
//! their status colours — as a print-ready HTML document or as an `.xlsx` spreadsheet.

mod html;
mod xlsx;

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use diesel_async::AsyncPgConnection;
use futures_util::future::try_join4;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::csv::Rendered;
use super::report_cache::{Lookup, keep, lookup};
use crate::AppState;
use crate::auth::Auth;
use crate::db::activities::{ActorLink, actor_links, linked_goals};
use crate::db::board::{self as db, BoardActivityRow, BoardGoalRow};
use crate::db::plans::PlanRow;
use crate::domain::{FollowUpStatus, GoalKind, Recurrence, Role, Scope, StartTerm};
use crate::error::{ApiError, ApiResult, Problem};

pub const HTML: &str = "text/html; charset=utf-8";
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// An `.xlsx` workbook (binary).
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct XlsxWorkbook(pub Vec<u8>);

/// The `format` query parameter: overrides the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BoardFormat {
    Html,
    Xlsx,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BoardQuery {
    /// The plan; a culture plan includes its implementation plans' goals and activities.
    #[param(required = true)]
    pub plan_id: Option<Uuid>,
    /// The year followed up (the document's column is "Uppföljning jan" of the next year).
    #[param(required = true, minimum = 1900, maximum = 2100, example = 2024)]
    pub year: Option<i32>,
    /// `xlsx` for the spreadsheet (as `Accept` naming its media type); default HTML.
    pub format: Option<BoardFormat>,
}

/// The colour of a row: a follow-up's status, a note without a colour, or no follow-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colour {
    Blue,
    Red,
    Green,
    Yellow,
    /// A follow-up with a note and no colour.
    None,
    /// No follow-up for the year.
    NotReported,
}

impl Colour {
    pub const ALL: [Colour; 6] = [
        Colour::Blue,
        Colour::Red,
        Colour::Green,
        Colour::Yellow,
        Colour::None,
        Colour::NotReported,
    ];

    fn of(status: FollowUpStatus) -> Self {
        match status {
            FollowUpStatus::Planned => Colour::Blue,
            FollowUpStatus::Delayed => Colour::Red,
            FollowUpStatus::Completed => Colour::Green,
            FollowUpStatus::Ongoing => Colour::Yellow,
        }
    }

    /// The name the plan's follow-up uses.
    pub fn label(self) -> &'static str {
        match self {
            Colour::Blue => "Blått",
            Colour::Red => "Rött",
            Colour::Green => "Grönt",
            Colour::Yellow => "Gult",
            Colour::None => "Utan färg",
            Colour::NotReported => "Ej rapporterad",
        }
    }

    /// The fill, as `RRGGBB`: light enough to read black text on, distinct in print.
    pub fn rgb(self) -> u32 {
        match self {
            Colour::Blue => 0x9DC3E6,
            Colour::Red => 0xF4A09C,
            Colour::Green => 0xA9D18E,
            Colour::Yellow => 0xFFE699,
            Colour::None => 0xFFFFFF,
            Colour::NotReported => 0xE7E6E6,
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            Colour::Blue => "blue",
            Colour::Red => "red",
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::None => "none",
            Colour::NotReported => "not-reported",
        }
    }
}

/// Section 3 of the plan, "Om uppföljningen": what each colour means.
pub const LEGEND: [(Colour, &str); 4] = [
    (
        Colour::Blue,
        "Aktiviteten har planerats att påbörjas längre fram.",
    ),
    (
        Colour::Red,
        "Aktiviteten har inte påbörjats i planerad tid eller det finns betydande svårigheter att \
         genomföra aktiviteten inom planperioden.",
    ),
    (
        Colour::Green,
        "Aktiviteten har påbörjats och är genomförd under aktuellt år.",
    ),
    (
        Colour::Yellow,
        "Aktiviteten har påbörjats men är inte slutförd under aktuellt år.",
    ),
];

/// How many rows have each colour, in the order of `Colour::ALL`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts([usize; 6]);

impl Counts {
    fn add(&mut self, colour: Colour) {
        if let Some(i) = Colour::ALL.iter().position(|c| *c == colour) {
            self.0[i] += 1;
        }
    }

    pub fn of(&self, colour: Colour) -> usize {
        Colour::ALL
            .iter()
            .position(|c| *c == colour)
            .map_or(0, |i| self.0[i])
    }

    pub fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

/// A row of a goal's table.
#[derive(Debug, Clone)]
pub struct Row {
    pub activity_id: Uuid,
    pub title: String,
    /// "Ansvar för handläggning": the responsible actors, "med stöd av" the supporting ones.
    pub responsible: String,
    /// "Påbörjas": the start as the plan writes it ("2024 (görs årligen)").
    pub starts: String,
    pub colour: Colour,
    /// Blue because the activity starts after the year, not because it was reported so.
    pub derived: bool,
    pub comment: Option<String>,
}

/// A goal with the activities listed under it.
#[derive(Debug, Clone)]
pub struct Section {
    pub code: Option<String>,
    pub kind: GoalKind,
    pub title: String,
    /// The "Prioritering:" (or "Strategisk inriktning för samverkan:") text.
    pub description: Option<String>,
    pub depth: i32,
    pub rows: Vec<Row>,
    pub counts: Counts,
    /// Codes of the goals where the activities linked to this one are listed.
    pub found_under: Vec<String>,
}

/// The whole document.
#[derive(Debug, Clone)]
pub struct BoardDocument {
    pub plan: PlanRow,
    pub year: i32,
    pub produced_at: DateTime<Utc>,
    pub sections: Vec<Section>,
    /// Activities the plan carries on whose goal lies outside its goal tree.
    pub carried_on: Vec<Row>,
    pub counts: Counts,
    /// Follow-ups of the year approved by a reviewer, of those reported.
    pub approved: usize,
    pub reported: usize,
}

/// The "Påbörjas" text of an activity.
fn starts(row: &BoardActivityRow) -> String {
    let Some(year) = row.start_year else {
        return String::new();
    };
    let mut text = match row.start_term {
        Some(StartTerm::Spring) => format!("Vt {year}"),
        Some(StartTerm::Autumn) => format!("Ht {year}"),
        None => year.to_string(),
    };
    match (row.recurrence, row.end_year) {
        (Recurrence::Annual, Some(end)) => {
            text.push_str(&format!(" (görs årligen till och med {end})"));
        }
        (Recurrence::Annual, None) => text.push_str(" (görs årligen)"),
        (Recurrence::None, Some(end)) if end != year => {
            text.push_str(&format!(" (Pågår till och med {end})"));
        }
        (Recurrence::None, _) => {}
    }
    text
}

/// The "Ansvar för handläggning" text: those responsible (or coordinating, convening), then
/// "med stöd av" those supporting. Participants are not named there.
fn responsible(links: &[ActorLink]) -> String {
    let names = |roles: &[Role]| {
        links
            .iter()
            .filter(|l| roles.contains(&l.role))
            .map(|l| l.actor.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let leading = names(&[Role::Responsible, Role::Coordinator, Role::Convener]);
    let supporting = names(&[Role::Supporting]);
    match (leading.is_empty(), supporting.is_empty()) {
        (_, true) => leading,
        (true, false) => format!("Med stöd av {supporting}"),
        (false, false) => format!("{leading} med stöd av {supporting}"),
    }
}

fn row(a: BoardActivityRow, year: i32, links: &[ActorLink]) -> Row {
    let derived = !a.reported && a.start_year.is_some_and(|s| s > year);
    let colour = match (a.reported, a.status) {
        (true, Some(status)) => Colour::of(status),
        (true, None) => Colour::None,
        (false, _) if derived => Colour::Blue,
        (false, _) => Colour::NotReported,
    };
    Row {
        activity_id: a.id,
        starts: starts(&a),
        responsible: responsible(links),
        title: a.title,
        colour,
        derived,
        comment: a.comment,
    }
}

/// Lays the plan's activities out under their goals.
fn document(
    plan: PlanRow,
    year: i32,
    goals: Vec<BoardGoalRow>,
    activities: Vec<BoardActivityRow>,
    mut links: HashMap<Uuid, Vec<ActorLink>>,
    linked: HashMap<Uuid, Vec<Uuid>>,
) -> BoardDocument {
    let code_of: HashMap<Uuid, Option<String>> =
        goals.iter().map(|g| (g.id, g.code.clone())).collect();
    // Per goal: the codes of the goals under which its linked activities are listed.
    let mut found_under: HashMap<Uuid, Vec<String>> = HashMap::new();
    for a in &activities {
        for goal in linked.get(&a.id).into_iter().flatten() {
            if let Some(Some(code)) = code_of.get(&a.goal_id) {
                let codes = found_under.entry(*goal).or_default();
                if !codes.contains(code) {
                    codes.push(code.clone());
                }
            }
        }
    }
    let mut counts = Counts::default();
    let (mut approved, mut reported) = (0, 0);
    let mut rows_of: HashMap<Uuid, Vec<Row>> = HashMap::new();
    for a in activities {
        if a.reported {
            reported += 1;
        }
        if a.review == Some(crate::domain::ReviewState::Approved) {
            approved += 1;
        }
        let goal = a.goal_id;
        let activity_links = links.remove(&a.id).unwrap_or_default();
        let row = row(a, year, &activity_links);
        counts.add(row.colour);
        rows_of.entry(goal).or_default().push(row);
    }
    let sections = goals
        .into_iter()
        .map(|g| {
            let rows = rows_of.remove(&g.id).unwrap_or_default();
            let mut c = Counts::default();
            for r in &rows {
                c.add(r.colour);
            }
            Section {
                found_under: found_under.remove(&g.id).unwrap_or_default(),
                code: g.code,
                kind: g.kind,
                title: g.title,
                description: g.description,
                depth: g.depth,
                rows,
                counts: c,
            }
        })
        .collect();
    let mut carried_on: Vec<Row> = rows_of.into_values().flatten().collect();
    carried_on.sort_by(|a, b| a.title.cmp(&b.title));
    BoardDocument {
        plan,
        year,
        produced_at: Utc::now(),
        sections,
        carried_on,
        counts,
        approved,
        reported,
    }
}

/// The representation asked for: `format` decides; without it, the spreadsheet when `Accept`
/// ranks its media type before HTML.
fn negotiate(req: &HttpRequest, format: Option<BoardFormat>) -> BoardFormat {
    use actix_web::HttpMessage as _;
    if let Some(format) = format {
        return format;
    }
    if let Some(accept) = req.get_header::<header::Accept>() {
        for mime in accept.ranked() {
            match mime.essence_str() {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
                    return BoardFormat::Xlsx;
                }
                "text/html" | "text/*" | "*/*" => return BoardFormat::Html,
                _ => {}
            }
        }
    }
    BoardFormat::Html
}

/// The plan's follow-up of a year as the culture board receives it: the legend of the four
/// colours, every goal with its code, title and priority text, and its activities as a table
/// (Aktivitet | Ansvar för handläggning | Påbörjas | Uppföljning jan YEAR+1), each row in its
/// status colour with the comment, and per goal the count of each colour as a bar.
///
/// HTML by default: one self-contained document in Swedish (no scripts, no external assets),
/// laid out for A4 print. `format=xlsx` or `Accept` with the spreadsheet's media type gives the
/// same rows as an `.xlsx` workbook, status cells filled in the four colours.
///
/// Computed once per change of the data and kept: later reads cost what a 304 costs.
/// `Cache-Control: no-cache` has it computed afresh.
#[utoipa::path(
    tag = "reports",
    params(BoardQuery),
    responses(
        (status = 200, description = "The document", content(
            (String = "text/html"),
            (XlsxWorkbook = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        ), headers(("ETag" = String), ("Cache-Control" = String), ("Vary" = String), ("Content-Disposition" = String))),
        (status = 304, description = "Not modified since the ETag in If-None-Match"),
        (status = 400, description = "Malformed query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "No valid token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Token lacks `read`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such plan", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid query value", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = ["read"]))
)]
#[get("/reports/board-document")]
pub async fn board_document(
    auth: Auth,
    state: web::Data<AppState>,
    req: HttpRequest,
    query: crate::api::query::Query<BoardQuery>,
) -> ApiResult<HttpResponse> {
    auth.require(Scope::Read)?;
    let query = query.into_inner();
    let (plan_id, year) = super::reports::plan_and_year(query.plan_id, query.year)?;
    let format = negotiate(&req, query.format);
    let key = match lookup(&state, &req, &auth).await? {
        Lookup::Answered(response) => return Ok(response),
        Lookup::Compute(key) => key,
    };
    let mut conn = state.pool.get().await?;
    let (version, doc) = conn
        .build_transaction()
        .read_only()
        .repeatable_read()
        .run::<_, ApiError, _>(async move |conn| {
            let conn: &AsyncPgConnection = conn;
            let (version, plan, goals, activities) = try_join4(
                crate::db::data_version_shared(conn),
                crate::db::reports::plan(conn, plan_id),
                db::goals(conn, plan_id),
                db::activities(conn, plan_id, year),
            )
            .await?;
            let ids: Vec<Uuid> = activities.iter().map(|a| a.id).collect();
            let (links, linked) =
                futures_util::future::try_join(actor_links(conn, &ids), linked_goals(conn, &ids))
                    .await?;
            Ok((
                version,
                document(plan, year, goals, activities, links, linked),
            ))
        })
        .await?;
    let rendered = match format {
        BoardFormat::Html => Rendered {
            content_type: HTML,
            disposition: None,
            body: html::render(&doc).into(),
        },
        BoardFormat::Xlsx => Rendered {
            content_type: XLSX,
            disposition: Some(format!(
                "attachment; filename=\"uppfoljning-{}.xlsx\"",
                doc.year
            )),
            body: xlsx::render(&doc)?.into(),
        },
    };
    Ok(keep(&req, key, version, rendered))
}

pub fn routes(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(board_document);
}
