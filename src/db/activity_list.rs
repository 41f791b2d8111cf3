//! The activity list: every filter of `GET /activities` built once into SQL that serves both the
//! page and its count, keyset pagination for each sort order, and the embedded rows of a page.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::deserialize::QueryableByName;
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::activities::{ActivityRow, ActorLink};
use super::actors::ActorRow;
use super::follow_ups::FollowUpRow;
use super::goals::GoalRow;
use super::plans::PlanRow;
use super::schema::{activities, follow_ups, goals, plans};
use super::sql::{Sql, Value};
use crate::domain::{FollowUpStatus, Recurrence, Role};
use crate::error::{ApiError, ApiResult};
use diesel_async::AsyncPgConnection;

/// A follow-up status to filter on: a reported colour, a follow-up recorded without one, or no
/// follow-up at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusFilter {
    Planned,
    Delayed,
    Completed,
    Ongoing,
    /// A follow-up without a colour (a note only).
    NoStatus,
    /// No follow-up.
    NotReported,
}

impl StatusFilter {
    /// ` AND …` over the activity `a`: its follow-up that `shown` picks (a condition over `f`)
    /// is of this kind.
    pub fn condition(self, sql: &mut Sql, shown: &str) -> String {
        let colour = match self {
            StatusFilter::Planned => FollowUpStatus::Planned,
            StatusFilter::Delayed => FollowUpStatus::Delayed,
            StatusFilter::Completed => FollowUpStatus::Completed,
            StatusFilter::Ongoing => FollowUpStatus::Ongoing,
            StatusFilter::NoStatus => {
                return format!(
                    " AND EXISTS (SELECT 1 FROM follow_ups f WHERE {shown} AND f.status IS NULL)"
                );
            }
            StatusFilter::NotReported => {
                return format!(" AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE {shown})");
            }
        };
        let s = sql.bind(Value::Text(colour.as_str().to_owned()));
        format!(" AND EXISTS (SELECT 1 FROM follow_ups f WHERE {shown} AND f.status = {s})")
    }
}

/// Orders of the activity list; every one ends in the id, so ties are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, utoipa::ToSchema)]
pub enum ActivitySort {
    /// Plan, then the activity's place in it (the document's order).
    #[default]
    #[serde(rename = "position")]
    Position,
    #[serde(rename = "title")]
    Title,
    #[serde(rename = "-title")]
    TitleDesc,
    #[serde(rename = "start_year")]
    StartYear,
    #[serde(rename = "-start_year")]
    StartYearDesc,
    /// The goal's code in numeric order (4.2 before 4.10), then position.
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "updated_at")]
    UpdatedAt,
    /// Best match of `q` first.
    #[serde(rename = "relevance")]
    Relevance,
}

#[derive(Debug, Default, Clone)]
pub struct ActivityQuery {
    pub plan_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub municipality_code: Option<String>,
    pub role: Option<Role>,
    pub status: Option<StatusFilter>,
    pub year: Option<i32>,
    pub start_year: Option<i32>,
    pub active_in: Option<i32>,
    pub recurrence: Option<Recurrence>,
    pub tag: Option<String>,
    /// The words of `q`, lower-cased.
    pub words: Vec<String>,
    pub sort: ActivitySort,
}

/// The sort key of the last row of a page, tagged with its kind so a cursor of one sort order
/// is never read as another's.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Cursor {
    Position(Uuid, i32, Uuid),
    Text(String, Uuid),
    Year(i32, Uuid),
    Code(String, i32, Uuid),
    Time(DateTime<Utc>, Uuid),
    Rank(f32, Uuid),
}

/// A row of the list: the activity and the values its sort orders need.
#[derive(Debug, Clone, QueryableByName)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
struct ListedRow {
    id: Uuid,
    plan_id: Uuid,
    goal_id: Uuid,
    title: String,
    description: Option<String>,
    start_year: Option<i32>,
    start_term: Option<crate::domain::StartTerm>,
    end_year: Option<i32>,
    recurrence: Recurrence,
    tags: Vec<String>,
    position: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    goal_code: String,
    #[diesel(sql_type = diesel::sql_types::Float)]
    rank: f32,
}

#[derive(Debug, Clone)]
pub struct ListedActivity {
    pub row: ActivityRow,
    pub goal_code: String,
    pub rank: f32,
}

impl From<ListedRow> for ListedActivity {
    fn from(r: ListedRow) -> Self {
        ListedActivity {
            row: ActivityRow {
                id: r.id,
                plan_id: r.plan_id,
                goal_id: r.goal_id,
                title: r.title,
                description: r.description,
                start_year: r.start_year,
                start_term: r.start_term,
                end_year: r.end_year,
                recurrence: r.recurrence,
                tags: r.tags,
                position: r.position,
                created_at: r.created_at,
                updated_at: r.updated_at,
                version: r.version,
            },
            goal_code: r.goal_code,
            rank: r.rank,
        }
    }
}

impl ListedActivity {
    pub fn cursor(&self, sort: ActivitySort) -> Cursor {
        let r = &self.row;
        match sort {
            ActivitySort::Position => Cursor::Position(r.plan_id, r.position, r.id),
            ActivitySort::Title | ActivitySort::TitleDesc => Cursor::Text(r.title.clone(), r.id),
            ActivitySort::StartYear => Cursor::Year(r.start_year.unwrap_or(NO_YEAR_LAST), r.id),
            ActivitySort::StartYearDesc => {
                Cursor::Year(r.start_year.unwrap_or(NO_YEAR_FIRST), r.id)
            }
            ActivitySort::Code => Cursor::Code(self.goal_code.clone(), r.position, r.id),
            ActivitySort::UpdatedAt => Cursor::Time(r.updated_at, r.id),
            ActivitySort::Relevance => Cursor::Rank(self.rank, r.id),
        }
    }
}

/// Searches with more words than this are not kept as prepared statements.
const MAX_CACHED_WORDS: usize = 3;

/// Activities without a start year sort after all others, in both directions.
const NO_YEAR_LAST: i32 = 9999;
const NO_YEAR_FIRST: i32 = -1;

const COLUMNS: &str = "a.id, a.plan_id, a.goal_id, a.title, a.description, a.start_year, a.start_term, \
     a.end_year, a.recurrence, a.tags, a.position, a.created_at, a.updated_at, a.version";

/// Relevance: matches of the words and of words they begin (title above description above goal
/// title). Matches only inside a compound rank lowest, in list order.
fn rank_expr(sql: &mut Sql, words: &[String]) -> String {
    let prefixes = words
        .iter()
        .map(|w| format!("{w}:*"))
        .collect::<Vec<_>>()
        .join(" | ");
    let q = sql.bind(Value::Text(prefixes));
    format!("ts_rank(s.document, to_tsquery('swedish', {q}))::real")
}

/// FROM and WHERE of the list, shared by the page and the count; returns the recursive CTEs
/// the WHERE refers to, to go in front of the statement.
///
/// The goal filter reads `goal_activities` (kept by triggers: every goal each activity is listed
/// under, with the activity's plan and position), so the default order is one index range of it
/// and a page reads only its own rows.
fn from_where(sql: &mut Sql, q: &ActivityQuery) -> Vec<String> {
    let mut ctes = Vec::new();
    if q.goal_id.is_some() {
        sql.push(" FROM goal_activities x JOIN activities a ON a.id = x.activity_id");
    } else {
        sql.push(" FROM activities a");
    }
    if q.sort == ActivitySort::Code {
        sql.push(" JOIN goals g ON g.id = a.goal_id");
    }
    if !q.words.is_empty() {
        sql.push(" JOIN activity_search s ON s.activity_id = a.id");
    }
    sql.push(" WHERE true");
    if let Some(goal) = q.goal_id {
        let p = sql.bind(Value::Uuid(goal));
        sql.push(&format!(" AND x.goal_id = {p}"));
    }
    if let Some(plan) = q.plan_id {
        let p = sql.bind(Value::Uuid(plan));
        ctes.push(format!(
            "plan_tree(id) AS (SELECT id FROM plans WHERE id = {p} UNION SELECT c.id FROM plans c JOIN plan_tree t ON c.parent_id = t.id)"
        ));
        sql.push(
            " AND (a.plan_id IN (SELECT id FROM plan_tree) OR a.id IN \
               (SELECT activity_id FROM plan_activities WHERE plan_id IN (SELECT id FROM plan_tree)))",
        );
    }
    if q.actor_id.is_some() || q.municipality_code.is_some() {
        sql.push(" AND EXISTS (SELECT 1 FROM activity_actors aa JOIN actors ac ON ac.id = aa.actor_id WHERE aa.activity_id = a.id");
        if let Some(actor) = q.actor_id {
            let p = sql.bind(Value::Uuid(actor));
            sql.push(&format!(" AND aa.actor_id = {p}"));
        }
        if let Some(code) = &q.municipality_code {
            let p = sql.bind(Value::Text(code.clone()));
            sql.push(&format!(" AND ac.municipality_code = {p}"));
        }
        if let Some(role) = q.role {
            let p = sql.bind(Value::Text(role.as_str().to_owned()));
            sql.push(&format!(" AND aa.role = {p}"));
        }
        sql.push(")");
    }
    if let (Some(status), Some(year)) = (q.status, q.year) {
        let y = sql.bind(Value::Int(year));
        let condition = status.condition(sql, &format!("f.activity_id = a.id AND f.year = {y}"));
        sql.push(&condition);
    }
    if let Some(year) = q.start_year {
        let p = sql.bind(Value::Int(year));
        sql.push(&format!(" AND a.start_year = {p}"));
    }
    if let Some(year) = q.active_in {
        let p = sql.bind(Value::Int(year));
        // Active from the start year through the end year; without an end year a recurring
        // activity goes on, a one-off one is active in its start year.
        sql.push(&format!(
            " AND a.start_year <= {p} AND (a.end_year >= {p} OR (a.end_year IS NULL AND (a.recurrence = 'annual' OR a.start_year = {p})))"
        ));
    }
    if let Some(recurrence) = q.recurrence {
        let p = sql.bind(Value::Text(recurrence.as_str().to_owned()));
        sql.push(&format!(" AND a.recurrence = {p}"));
    }
    if let Some(tag) = &q.tag {
        let p = sql.bind(Value::Text(tag.clone()));
        sql.push(&format!(" AND a.tags @> ARRAY[{p}]::text[]"));
    }
    for word in &q.words {
        // A stemmed match ("biblioteken" ~ "bibliotek") or the word inside a compound
        // ("folkbibliotekens"); the trigram index serves the substring test.
        let stem = sql.bind(Value::Text(word.clone()));
        let like = sql.bind(Value::Text(format!("%{word}%")));
        sql.push(&format!(
            " AND (s.document @@ plainto_tsquery('swedish', {stem}) OR s.body LIKE {like})"
        ));
    }
    ctes
}

/// Puts the CTEs in front of the statement.
fn with_ctes(mut sql: Sql, ctes: &[String]) -> Sql {
    if !ctes.is_empty() {
        let text = format!("WITH RECURSIVE {} {}", ctes.join(", "), sql.text());
        sql.replace_text(text);
    }
    sql
}

/// The default order's columns: those of `goal_activities` when the goal filter reads it (the
/// same values, kept by triggers), so that its index gives the order.
fn position_key(q: &ActivityQuery) -> &'static str {
    if q.goal_id.is_some() {
        "x.plan_id, x.position, x.activity_id"
    } else {
        "a.plan_id, a.position, a.id"
    }
}

fn keyset(sql: &mut Sql, q: &ActivityQuery, after: &Cursor, rank: Option<&str>) -> ApiResult<()> {
    let bad = || ApiError::field("cursor", "belongs to another sort order");
    let clause = match (q.sort, after) {
        (ActivitySort::Position, Cursor::Position(plan, position, id)) => {
            let (p, n, i) = (
                sql.bind(Value::Uuid(*plan)),
                sql.bind(Value::Int(*position)),
                sql.bind(Value::Uuid(*id)),
            );
            format!("({}) > ({p}, {n}, {i})", position_key(q))
        }
        (ActivitySort::Title, Cursor::Text(title, id)) => {
            let (t, i) = (
                sql.bind(Value::Text(title.clone())),
                sql.bind(Value::Uuid(*id)),
            );
            format!("(a.title, a.id) > ({t}, {i})")
        }
        (ActivitySort::TitleDesc, Cursor::Text(title, id)) => {
            let (t, i) = (
                sql.bind(Value::Text(title.clone())),
                sql.bind(Value::Uuid(*id)),
            );
            format!("(a.title, a.id) < ({t}, {i})")
        }
        (ActivitySort::StartYear, Cursor::Year(year, id)) => {
            let (y, i) = (sql.bind(Value::Int(*year)), sql.bind(Value::Uuid(*id)));
            format!("(coalesce(a.start_year, {NO_YEAR_LAST}), a.id) > ({y}, {i})")
        }
        (ActivitySort::StartYearDesc, Cursor::Year(year, id)) => {
            let (y, i) = (sql.bind(Value::Int(*year)), sql.bind(Value::Uuid(*id)));
            format!("(coalesce(a.start_year, {NO_YEAR_FIRST}), a.id) < ({y}, {i})")
        }
        (ActivitySort::Code, Cursor::Code(code, position, id)) => {
            let (c, n, i) = (
                sql.bind(Value::Text(code.clone())),
                sql.bind(Value::Int(*position)),
                sql.bind(Value::Uuid(*id)),
            );
            format!(
                "(coalesce(g.code, '') COLLATE swedish_numeric > {c} COLLATE swedish_numeric \
                  OR (coalesce(g.code, '') = {c} AND (a.position, a.id) > ({n}, {i})))"
            )
        }
        (ActivitySort::UpdatedAt, Cursor::Time(at, id)) => {
            let (t, i) = (sql.bind(Value::Timestamp(*at)), sql.bind(Value::Uuid(*id)));
            format!("(a.updated_at, a.id) > ({t}, {i})")
        }
        (ActivitySort::Relevance, Cursor::Rank(value, id)) => {
            let rank = rank.ok_or_else(bad)?;
            let (r, i) = (sql.bind(Value::Float(*value)), sql.bind(Value::Uuid(*id)));
            format!("({rank} < {r} OR ({rank} = {r} AND a.id > {i}))")
        }
        _ => return Err(bad()),
    };
    sql.push(" AND ");
    sql.push(&clause);
    Ok(())
}

fn order_by(q: &ActivityQuery, rank: Option<&str>) -> String {
    match q.sort {
        ActivitySort::Position => position_key(q).into(),
        ActivitySort::Title => "a.title, a.id".into(),
        ActivitySort::TitleDesc => "a.title DESC, a.id DESC".into(),
        ActivitySort::StartYear => format!("coalesce(a.start_year, {NO_YEAR_LAST}), a.id"),
        ActivitySort::StartYearDesc => {
            format!("coalesce(a.start_year, {NO_YEAR_FIRST}) DESC, a.id DESC")
        }
        ActivitySort::Code => {
            "coalesce(g.code, '') COLLATE swedish_numeric, a.position, a.id".into()
        }
        ActivitySort::UpdatedAt => "a.updated_at, a.id".into(),
        ActivitySort::Relevance => format!("{} DESC, a.id", rank.unwrap_or("0")),
    }
}

/// One page of activities (one row more than `limit` when another page follows).
pub async fn page(
    conn: &AsyncPgConnection,
    q: &ActivityQuery,
    after: Option<&Cursor>,
    fetch: i64,
) -> ApiResult<Vec<ListedActivity>> {
    if q.sort == ActivitySort::Relevance && q.words.is_empty() {
        return Err(ApiError::field(
            "sort",
            "`relevance` needs a search text `q`",
        ));
    }
    let mut sql = Sql::new("");
    let rank = if q.words.is_empty() {
        None
    } else {
        Some(rank_expr(&mut sql, &q.words))
    };
    // The goal's code is read only for the order that needs it.
    let goal_code = if q.sort == ActivitySort::Code {
        "coalesce(g.code, '')"
    } else {
        "''"
    };
    sql.push(&format!(
        "SELECT {COLUMNS}, {goal_code} AS goal_code, {} AS rank",
        rank.as_deref().unwrap_or("0::real")
    ));
    let ctes = from_where(&mut sql, q);
    if let Some(after) = after {
        keyset(&mut sql, q, after, rank.as_deref())?;
    }
    let order = order_by(q, rank.as_deref());
    let limit = sql.bind(Value::BigInt(fetch));
    sql.push(&format!(" ORDER BY {order} LIMIT {limit}"));
    // Each distinct text is a prepared statement per connection: long searches, whose text
    // grows with every word, are planned afresh instead of filling the cache.
    if q.words.len() > MAX_CACHED_WORDS {
        sql.uncached();
    }
    let rows: Vec<ListedRow> = with_ctes(sql, &ctes).into_query().load(&mut &*conn).await?;
    Ok(rows.into_iter().map(ListedActivity::from).collect())
}

/// How many activities match the filters.
pub async fn count(conn: &AsyncPgConnection, q: &ActivityQuery) -> ApiResult<i64> {
    #[derive(diesel::prelude::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut sql = Sql::new("SELECT count(*) AS n");
    let ctes = from_where(&mut sql, q);
    if q.words.len() > MAX_CACHED_WORDS {
        sql.uncached();
    }
    let found: Count = with_ctes(sql, &ctes)
        .into_query()
        .get_result(&mut &*conn)
        .await?;
    Ok(found.n)
}

/// One activity, on a shared connection (to be pipelined with the reads of its related rows).
pub async fn item(conn: &AsyncPgConnection, id: Uuid) -> ApiResult<ActivityRow> {
    activities::table
        .find(id)
        .select(ActivityRow::as_select())
        .first(&mut &*conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("activity", id))
}

/// Goals of many activities in one query.
pub async fn goals_by_id(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, GoalRow>> {
    let rows: Vec<GoalRow> = goals::table
        .filter(goals::id.eq_any(ids))
        .select(GoalRow::as_select())
        .load(&mut &*conn)
        .await?;
    Ok(rows.into_iter().map(|g| (g.id, g)).collect())
}

/// Plans of many activities in one query.
pub async fn plans_by_id(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, PlanRow>> {
    let rows: Vec<PlanRow> = plans::table
        .filter(plans::id.eq_any(ids))
        .select(PlanRow::as_select())
        .load(&mut &*conn)
        .await?;
    Ok(rows.into_iter().map(|p| (p.id, p)).collect())
}

/// The follow-ups of many activities in one query: of `year`, or each activity's latest.
pub async fn follow_ups_of(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
    year: Option<i32>,
) -> ApiResult<HashMap<Uuid, FollowUpRow>> {
    let rows: Vec<FollowUpRow> = match year {
        Some(year) => {
            follow_ups::table
                .filter(follow_ups::activity_id.eq_any(ids))
                .filter(follow_ups::year.eq(year))
                .select(FollowUpRow::as_select())
                .load(&mut &*conn)
                .await?
        }
        None => {
            // Each activity's latest: one index probe per activity, cheaper than sorting all
            // of their follow-ups.
            let mut sql = Sql::new("SELECT f.* FROM unnest(");
            let ids = sql.bind(Value::UuidArray(ids.to_vec()));
            sql.push(&format!(
                "{ids}::uuid[]) AS i(id) CROSS JOIN LATERAL \
                 (SELECT * FROM follow_ups WHERE activity_id = i.id ORDER BY year DESC LIMIT 1) f"
            ));
            sql.into_query().load(&mut &*conn).await?
        }
    };
    Ok(rows.into_iter().map(|f| (f.activity_id, f)).collect())
}

/// The actors of many activities with their roles, in the order they are shown, from the lists
/// kept by triggers (`activity_actor_lists`): one index probe per activity.
pub async fn actor_lists(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<ActorLink>>> {
    #[derive(QueryableByName)]
    struct Kept {
        #[diesel(sql_type = diesel::sql_types::Uuid)]
        activity_id: Uuid,
        #[diesel(sql_type = diesel::sql_types::Text)]
        actors: String,
    }
    #[derive(Deserialize)]
    struct KeptLink {
        role: Role,
        actor: ActorRow,
    }
    let mut sql = Sql::new(
        "SELECT activity_id, actors::text AS actors FROM activity_actor_lists WHERE activity_id = ANY(",
    );
    let p = sql.bind(Value::UuidArray(ids.to_vec()));
    sql.push(&format!("{p}::uuid[])"));
    let rows: Vec<Kept> = sql.into_query().load(&mut &*conn).await?;
    rows.into_iter()
        .map(|kept| {
            let links: Vec<KeptLink> = serde_json::from_str(&kept.actors).map_err(|e| {
                ApiError::internal(format!("kept actor list of {}: {e}", kept.activity_id))
            })?;
            let links = links
                .into_iter()
                .map(|l| ActorLink {
                    role: l.role,
                    actor: l.actor,
                })
                .collect();
            Ok((kept.activity_id, links))
        })
        .collect()
}
