//! SQL for collaborations: the activities an actor takes part in, filtered and paged by keyset.

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::activities::ActivityRow;
use super::activity_list::StatusFilter;
use super::actors::ActorRow;
use super::schema::{activities, actors};
use super::sql::{Sql, Value};
use crate::domain::{ActorKind, Recurrence, Role, StartTerm};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone)]
pub struct CollaborationQuery {
    pub actor_id: Uuid,
    /// Only activities where the actor has this role.
    pub role: Option<Role>,
    /// Activities of this plan and the plans below it (and activities they include).
    pub plan_id: Option<Uuid>,
    /// The follow-up year `status` looks at; the latest follow-up when absent.
    pub year: Option<i32>,
    pub status: Option<StatusFilter>,
}

/// Newest plan first, then the document's order: (plan first year, plan, position, activity).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CollaborationCursor(i32, Uuid, i32, Uuid);

#[derive(Debug, Clone, diesel::prelude::QueryableByName)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
struct PageRow {
    id: Uuid,
    plan_id: Uuid,
    goal_id: Uuid,
    title: String,
    description: Option<String>,
    start_year: Option<i32>,
    start_term: Option<StartTerm>,
    end_year: Option<i32>,
    recurrence: Recurrence,
    tags: Vec<String>,
    position: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    version: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    plan_first_year: i32,
}

/// An activity of the page with its sort key.
#[derive(Debug, Clone)]
pub struct CollaborationRow {
    pub row: ActivityRow,
    pub plan_first_year: i32,
}

impl CollaborationRow {
    pub fn cursor(&self) -> CollaborationCursor {
        CollaborationCursor(
            self.plan_first_year,
            self.row.plan_id,
            self.row.position,
            self.row.id,
        )
    }
}

impl From<PageRow> for CollaborationRow {
    fn from(r: PageRow) -> Self {
        CollaborationRow {
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
            plan_first_year: r.plan_first_year,
        }
    }
}

/// The municipality with an official code.
pub async fn municipality(conn: &AsyncPgConnection, code: &str) -> ApiResult<ActorRow> {
    actors::table
        .filter(actors::municipality_code.eq(code))
        .filter(actors::kind.eq(ActorKind::Municipality))
        .select(ActorRow::as_select())
        .first(&mut &*conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::NotFound(format!("no municipality has the code {code}")))
}

/// One page of the actor's activities (one row more than the page when another follows).
pub async fn page(
    conn: &AsyncPgConnection,
    q: &CollaborationQuery,
    after: Option<&CollaborationCursor>,
    fetch: i64,
) -> ApiResult<Vec<CollaborationRow>> {
    let mut sql = Sql::new(
        "SELECT a.id, a.plan_id, a.goal_id, a.title, a.description, a.start_year, a.start_term, \
         a.end_year, a.recurrence, a.tags, a.position, a.created_at, a.updated_at, a.version, \
         p.first_year AS plan_first_year \
         FROM activities a JOIN plans p ON p.id = a.plan_id",
    );
    let actor = sql.bind(Value::Uuid(q.actor_id));
    sql.push(&format!(
        " WHERE a.id IN (SELECT aa.activity_id FROM activity_actors aa WHERE aa.actor_id = {actor}"
    ));
    if let Some(role) = q.role {
        let r = sql.bind(Value::Text(role.as_str().to_owned()));
        sql.push(&format!(" AND aa.role = {r}"));
    }
    sql.push(")");
    let mut ctes = String::new();
    if let Some(plan) = q.plan_id {
        let p = sql.bind(Value::Uuid(plan));
        ctes = format!(
            "WITH RECURSIVE plan_tree(id) AS (SELECT id FROM plans WHERE id = {p} \
             UNION SELECT c.id FROM plans c JOIN plan_tree t ON c.parent_id = t.id) "
        );
        sql.push(
            " AND (a.plan_id IN (SELECT id FROM plan_tree) OR a.id IN \
               (SELECT activity_id FROM plan_activities WHERE plan_id IN (SELECT id FROM plan_tree)))",
        );
    }
    if let Some(status) = q.status {
        // The follow-up the item shows: of `year`, or the activity's latest.
        let shown = match q.year {
            Some(year) => {
                let y = sql.bind(Value::Int(year));
                format!("f.activity_id = a.id AND f.year = {y}")
            }
            None => "f.activity_id = a.id AND f.year = \
                     (SELECT max(l.year) FROM follow_ups l WHERE l.activity_id = a.id)"
                .to_owned(),
        };
        let condition = status.condition(&mut sql, &shown);
        sql.push(&condition);
    }
    if let Some(CollaborationCursor(first_year, plan, position, id)) = after {
        let (y, p, n, i) = (
            sql.bind(Value::Int(-first_year)),
            sql.bind(Value::Uuid(*plan)),
            sql.bind(Value::Int(*position)),
            sql.bind(Value::Uuid(*id)),
        );
        sql.push(&format!(
            " AND (-p.first_year, p.id, a.position, a.id) > ({y}, {p}, {n}, {i})"
        ));
    }
    let limit = sql.bind(Value::BigInt(fetch));
    sql.push(&format!(
        " ORDER BY p.first_year DESC, p.id, a.position, a.id LIMIT {limit}"
    ));
    if !ctes.is_empty() {
        let text = format!("{ctes}{}", sql.text());
        sql.replace_text(text);
    }
    let rows: Vec<PageRow> = sql.into_query().load(&mut &*conn).await?;
    Ok(rows.into_iter().map(CollaborationRow::from).collect())
}
