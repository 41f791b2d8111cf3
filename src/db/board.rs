//! SQL for the board's document: a plan's goal tree in document order and every activity in
//! its scope with the follow-up of a year.

use chrono::{DateTime, Utc};
use diesel::deserialize::QueryableByName;
use diesel::sql_types::{Integer, Nullable, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::reports::scope;
use super::sql::{Sql, Value};
use crate::domain::{FollowUpStatus, GoalKind, Recurrence, ReviewState, StartTerm};
use crate::error::ApiResult;

/// Guards the walk down the goal tree against a cycle written around the API.
const MAX_DEPTH: i32 = 50;

#[derive(Debug, Clone, QueryableByName)]
pub struct BoardGoalRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub parent_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub code: Option<String>,
    #[diesel(sql_type = Text)]
    pub kind: GoalKind,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub description: Option<String>,
    /// 0 for a top-level goal.
    #[diesel(sql_type = Integer)]
    pub depth: i32,
}

/// The goals of the plan and the plans below it, each parent before its children, siblings by
/// position: the order of the source document.
pub fn goals_sql(plan_id: Uuid) -> Sql {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    sql.push(&format!(
        "WITH RECURSIVE {scope}, \
         tree AS ( \
             SELECT g.id, g.parent_id, g.code, g.kind, g.title, g.description, 0 AS depth, \
                    ARRAY[p.depth, g.position] AS path \
             FROM goals g JOIN plan_tree p ON p.id = g.plan_id WHERE g.parent_id IS NULL \
             UNION ALL \
             SELECT c.id, c.parent_id, c.code, c.kind, c.title, c.description, t.depth + 1, \
                    t.path || c.position \
             FROM goals c JOIN tree t ON c.parent_id = t.id WHERE t.depth < {MAX_DEPTH}) \
         SELECT id, parent_id, code, kind, title, description, depth FROM tree \
         ORDER BY path, code COLLATE swedish_numeric, id"
    ));
    sql
}

pub async fn goals(conn: &AsyncPgConnection, plan_id: Uuid) -> ApiResult<Vec<BoardGoalRow>> {
    Ok(goals_sql(plan_id).into_query().load(&mut &*conn).await?)
}

/// An activity in the plan's scope with its follow-up of the year (if any).
#[derive(Debug, Clone, QueryableByName)]
pub struct BoardActivityRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub goal_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Nullable<Integer>)]
    pub start_year: Option<i32>,
    #[diesel(sql_type = Nullable<Text>)]
    pub start_term: Option<StartTerm>,
    #[diesel(sql_type = Nullable<Integer>)]
    pub end_year: Option<i32>,
    #[diesel(sql_type = Text)]
    pub recurrence: Recurrence,
    /// Whether the year has a follow-up.
    #[diesel(sql_type = diesel::sql_types::Bool)]
    pub reported: bool,
    #[diesel(sql_type = Nullable<Text>)]
    pub status: Option<FollowUpStatus>,
    #[diesel(sql_type = Nullable<Text>)]
    pub comment: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub review: Option<ReviewState>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub reported_at: Option<DateTime<Utc>>,
}

pub fn activities_sql(plan_id: Uuid, year: i32) -> Sql {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    sql.push(&format!(
        "WITH RECURSIVE {scope} \
         SELECT a.id, a.goal_id, a.title, a.start_year, a.start_term, a.end_year, a.recurrence, \
                f.id IS NOT NULL AS reported, f.status, f.comment, f.review, f.reported_at \
         FROM activities a \
         LEFT JOIN follow_ups f ON f.activity_id = a.id AND f.year = {y} \
         WHERE a.id IN (SELECT id FROM acts) \
         ORDER BY a.plan_id, a.position, a.id"
    ));
    sql
}

pub async fn activities(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    year: i32,
) -> ApiResult<Vec<BoardActivityRow>> {
    Ok(activities_sql(plan_id, year)
        .into_query()
        .load(&mut &*conn)
        .await?)
}
