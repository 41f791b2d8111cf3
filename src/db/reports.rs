//! SQL for the reports: every count is made by PostgreSQL (aggregates over the plan's
//! activities, recursive CTEs for plan and goal trees); Rust only shapes the rows.
//!
//! A report's scope is a plan, the plans below it, and the activities they hold or include
//! (as `plan_id` filters the activity list). An activity counts under its primary goal only.

use diesel::deserialize::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{ExpressionMethods, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::activities::ActivityRow;
use super::actors::ActorRow;
use super::schema::actors;
use super::sql::{Sql, Value};
use crate::domain::{ActorKind, GoalKind, Role};
use crate::error::ApiResult;

/// Guards the recursive walks against a cycle someone wrote around the API.
const MAX_DEPTH: i32 = 50;

/// `plan_tree` (the plan and every plan below it, with its depth) and `acts` (the activities
/// in scope), for the front of a `WITH RECURSIVE`.
fn scope(sql: &mut Sql, plan_id: Uuid) -> String {
    let p = sql.bind(Value::Uuid(plan_id));
    format!(
        "plan_tree(id, depth) AS ( \
             SELECT id, 0 FROM plans WHERE id = {p} \
             UNION ALL SELECT c.id, t.depth + 1 FROM plans c JOIN plan_tree t ON c.parent_id = t.id \
             WHERE t.depth < {MAX_DEPTH}), \
         acts AS ( \
             SELECT a.id, a.goal_id, a.start_year, a.end_year, a.recurrence FROM activities a \
             WHERE a.plan_id IN (SELECT id FROM plan_tree) \
                OR a.id IN (SELECT pa.activity_id FROM plan_activities pa \
                            WHERE pa.plan_id IN (SELECT id FROM plan_tree)))"
    )
}

/// `judged`: each activity in scope with its status bucket for the year `year` (an SQL
/// expression) and whether its follow-up is flagged. Buckets: the reported status; `no_status`
/// for a note without a colour; without a follow-up `planned_derived` when the activity starts
/// after the year, else `not_reported`. Flagged as in `domain::status_warnings`.
fn judged(year: &str) -> String {
    format!(
        "SELECT a.id, a.goal_id, \
             CASE WHEN f.id IS NULL THEN \
                  CASE WHEN a.start_year > {year} THEN 'planned_derived' ELSE 'not_reported' END \
                  ELSE coalesce(f.status, 'no_status') END AS bucket, \
             (f.id IS NOT NULL AND ( \
                  (f.status = 'planned' AND a.start_year <= {year}) \
                  OR (f.status <> 'planned' AND a.start_year > {year}) \
                  OR (a.recurrence = 'none' AND a.end_year < {year}))) AS flagged \
         FROM acts a LEFT JOIN follow_ups f ON f.activity_id = a.id AND f.year = {year}"
    )
}

/// The aggregate columns of `CountsRow` over the judged rows aliased `j`.
fn counts(j: &str) -> String {
    let bucket = |b: &str| format!("count({j}.id) FILTER (WHERE {j}.bucket = '{b}') AS {b}");
    format!(
        "{}, {}, {}, {}, {}, {}, {}, count({j}.id) AS total, \
         count({j}.id) FILTER (WHERE {j}.flagged) AS flagged",
        bucket("planned"),
        bucket("delayed"),
        bucket("completed"),
        bucket("ongoing"),
        bucket("no_status"),
        bucket("not_reported"),
        bucket("planned_derived"),
    )
}

/// Activities per status bucket; the buckets add up to `total`. `flagged` counts reported
/// statuses that do not fit the activity's dates (they are in their buckets too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, QueryableByName)]
pub struct CountsRow {
    #[diesel(sql_type = BigInt)]
    pub planned: i64,
    #[diesel(sql_type = BigInt)]
    pub delayed: i64,
    #[diesel(sql_type = BigInt)]
    pub completed: i64,
    #[diesel(sql_type = BigInt)]
    pub ongoing: i64,
    #[diesel(sql_type = BigInt)]
    pub no_status: i64,
    #[diesel(sql_type = BigInt)]
    pub not_reported: i64,
    #[diesel(sql_type = BigInt)]
    pub planned_derived: i64,
    #[diesel(sql_type = BigInt)]
    pub total: i64,
    #[diesel(sql_type = BigInt)]
    pub flagged: i64,
}

/// A goal of the summary with the counts of its whole subtree; the plan's own row has no goal.
#[derive(Debug, Clone, QueryableByName)]
pub struct GoalCountsRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub goal_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub parent_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub plan_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub kind: Option<GoalKind>,
    #[diesel(sql_type = Nullable<Text>)]
    pub title: Option<String>,
    /// 0 for a top-level goal; -1 for the plan's row.
    #[diesel(sql_type = Integer)]
    pub depth: i32,
    #[diesel(embed)]
    pub counts: CountsRow,
}

/// The plan's row (first) and every goal in tree order, each with the counts of its subtree.
///
/// The goals are those of the plan and its sub-plans, and the goals (with their ancestors)
/// that included activities from other plans hang under, so the top-level goals' totals add
/// up to the plan's. Each activity counts once in each goal above its primary goal.
pub async fn summary(conn: &mut Conn, plan_id: Uuid, year: i32) -> ApiResult<Vec<GoalCountsRow>> {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    let judged = judged(&format!("{y}::int"));
    let counts_r = [
        "planned",
        "delayed",
        "completed",
        "ongoing",
        "no_status",
        "not_reported",
    ]
    .iter()
    .chain(&["planned_derived", "total", "flagged"])
    .map(|c| format!("coalesce(r.{c}, 0) AS {c}"))
    .collect::<Vec<_>>()
    .join(", ");
    let counts_j = counts("j");
    let segment = "lpad(g.position::text, 10, '0') || g.id::text";
    sql.push(&format!(
        "WITH RECURSIVE {scope}, \
         judged AS ({judged}), \
         up(id) AS ( \
             SELECT goal_id FROM acts \
             UNION SELECT g.parent_id FROM goals g JOIN up ON g.id = up.id WHERE g.parent_id IS NOT NULL), \
         goal_set AS ( \
             SELECT id FROM goals WHERE plan_id IN (SELECT id FROM plan_tree) UNION SELECT id FROM up), \
         tree(id, depth, path) AS ( \
             SELECT g.id, 0, ARRAY[lpad(coalesce(pt.depth, 99)::text, 2, '0') \
                                   || lpad(p.first_year::text, 4, '0') || p.id::text, {segment}] \
             FROM goals g JOIN plans p ON p.id = g.plan_id LEFT JOIN plan_tree pt ON pt.id = g.plan_id \
             WHERE g.parent_id IS NULL AND g.id IN (SELECT id FROM goal_set) \
             UNION ALL \
             SELECT g.id, t.depth + 1, t.path || ({segment}) \
             FROM goals g JOIN tree t ON g.parent_id = t.id \
             WHERE g.id IN (SELECT id FROM goal_set) AND t.depth < {MAX_DEPTH}), \
         closure(goal_id, ancestor_id, depth) AS ( \
             SELECT DISTINCT goal_id, goal_id, 0 FROM acts \
             UNION ALL SELECT c.goal_id, g.parent_id, c.depth + 1 FROM closure c \
             JOIN goals g ON g.id = c.ancestor_id \
             WHERE g.parent_id IS NOT NULL AND c.depth < {MAX_DEPTH}), \
         rolled AS ( \
             SELECT c.ancestor_id AS goal_id, {counts_j} \
             FROM judged j JOIN closure c ON c.goal_id = j.goal_id GROUP BY c.ancestor_id) \
         SELECT g.id AS goal_id, g.parent_id, g.plan_id, g.code, g.kind, g.title::text AS title, \
                t.depth, t.path, {counts_r} \
         FROM tree t JOIN goals g ON g.id = t.id LEFT JOIN rolled r ON r.goal_id = t.id \
         UNION ALL \
         SELECT NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::text, -1, \
                ARRAY[]::text[], {counts_j} \
         FROM judged j \
         ORDER BY path"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// The plan-level counts of every year from `from` through `to`.
#[derive(Debug, Clone, QueryableByName)]
pub struct YearCountsRow {
    #[diesel(sql_type = Integer)]
    pub year: i32,
    #[diesel(embed)]
    pub counts: CountsRow,
}

pub async fn trend(
    conn: &mut Conn,
    plan_id: Uuid,
    from: i32,
    to: i32,
) -> ApiResult<Vec<YearCountsRow>> {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let (f, t) = (sql.bind(Value::Int(from)), sql.bind(Value::Int(to)));
    let judged = judged("y.year");
    let counts_j = counts("j");
    sql.push(&format!(
        "WITH RECURSIVE {scope} \
         SELECT y.year, {counts_j} \
         FROM generate_series({f}::int, {t}::int) AS y(year) \
         LEFT JOIN LATERAL ({judged}) j ON true \
         GROUP BY y.year ORDER BY y.year"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// How to group the summary's plan-level counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Per actor with the `responsible` role; an activity counts for each of them, and the
    /// activities without one form a group without an actor.
    Responsible,
    /// Per municipality (every one, also without activities); an activity counts for each
    /// municipality that has any role in it.
    Municipality,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct GroupCountsRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub actor_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub kind: Option<ActorKind>,
    #[diesel(sql_type = Nullable<Text>)]
    pub municipality_code: Option<String>,
    #[diesel(embed)]
    pub counts: CountsRow,
}

pub async fn summary_groups(
    conn: &mut Conn,
    plan_id: Uuid,
    year: i32,
    grouping: Grouping,
) -> ApiResult<Vec<GroupCountsRow>> {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    let judged = judged(&format!("{y}::int"));
    let counts_j = counts("j");
    let body = match grouping {
        Grouping::Responsible => format!(
            "SELECT * FROM ( \
             SELECT ac.id AS actor_id, ac.name, ac.kind, ac.municipality_code, {counts_j} \
             FROM judged j \
             JOIN activity_actors aa ON aa.activity_id = j.id AND aa.role = 'responsible' \
             JOIN actors ac ON ac.id = aa.actor_id \
             GROUP BY ac.id \
             UNION ALL \
             SELECT NULL::uuid, NULL::text, NULL::text, NULL::text, {counts_j} \
             FROM judged j \
             WHERE NOT EXISTS (SELECT 1 FROM activity_actors aa \
                               WHERE aa.activity_id = j.id AND aa.role = 'responsible') \
             HAVING count(*) > 0) g \
             ORDER BY g.name COLLATE swedish NULLS LAST, g.actor_id"
        ),
        Grouping::Municipality => format!(
            "SELECT m.id AS actor_id, m.name::text AS name, m.kind, m.municipality_code, {counts_j} \
             FROM actors m \
             LEFT JOIN (SELECT DISTINCT aa.actor_id, aa.activity_id FROM activity_actors aa \
                        WHERE aa.activity_id IN (SELECT id FROM acts)) x ON x.actor_id = m.id \
             LEFT JOIN judged j ON j.id = x.activity_id \
             WHERE m.kind = 'municipality' \
             GROUP BY m.id \
             ORDER BY m.name, m.id"
        ),
    };
    sql.push(&format!(
        "WITH RECURSIVE {scope}, judged AS ({judged}) {body}"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// The activities in scope active in `year` (as the activity list's `active_in`) that have no
/// follow-up for it, in plan order.
pub async fn missing_follow_ups(
    conn: &mut Conn,
    plan_id: Uuid,
    year: i32,
) -> ApiResult<Vec<ActivityRow>> {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    sql.push(&format!(
        "WITH RECURSIVE {scope} \
         SELECT a.id, a.plan_id, a.goal_id, a.title, a.description, a.start_year, a.start_term, \
                a.end_year, a.recurrence, a.tags, a.position, a.created_at, a.updated_at, a.version \
         FROM activities a \
         WHERE a.id IN (SELECT id FROM acts) \
           AND a.start_year <= {y} \
           AND (a.end_year >= {y} OR (a.end_year IS NULL AND (a.recurrence = 'annual' OR a.start_year = {y}))) \
           AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.activity_id = a.id AND f.year = {y}) \
         ORDER BY a.plan_id, a.position, a.id"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// A top-level goal that activities in scope hang under: a column of the matrix.
#[derive(Debug, Clone, QueryableByName)]
pub struct MatrixGoalRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub goal_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub plan_id: Uuid,
    #[diesel(sql_type = Nullable<Text>)]
    pub code: Option<String>,
    #[diesel(sql_type = Text)]
    pub title: String,
    /// Activities under the goal, with or without a municipality.
    #[diesel(sql_type = BigInt)]
    pub activities: i64,
}

/// A cell, a row total (`goal_id` null), a column total (`actor_id` null) or the grand total
/// (both null) of the matrix.
#[derive(Debug, Clone, QueryableByName)]
pub struct MatrixCountRow {
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub actor_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub goal_id: Option<Uuid>,
    /// Which of the two are totalled over: bit 1 `actor_id`, bit 0 `goal_id`.
    #[diesel(sql_type = Integer)]
    pub grouping: i32,
    /// Distinct activities.
    #[diesel(sql_type = BigInt)]
    pub activities: i64,
    /// (municipality, activity) pairs.
    #[diesel(sql_type = BigInt)]
    pub participations: i64,
}

/// `top`: every primary goal of an activity in scope with the top-level goal above it.
fn top_goals() -> String {
    format!(
        "up(goal_id, id, parent_id, depth) AS ( \
             SELECT g.id, g.id, g.parent_id, 0 FROM goals g WHERE g.id IN (SELECT goal_id FROM acts) \
             UNION ALL SELECT u.goal_id, g.id, g.parent_id, u.depth + 1 FROM up u \
             JOIN goals g ON g.id = u.parent_id WHERE u.depth < {MAX_DEPTH}), \
         top AS (SELECT goal_id, id AS top_id FROM up WHERE parent_id IS NULL)"
    )
}

/// The matrix's columns: the top-level goals of the activities in scope, plans in tree order.
pub async fn matrix_goals(conn: &mut Conn, plan_id: Uuid) -> ApiResult<Vec<MatrixGoalRow>> {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let top = top_goals();
    sql.push(&format!(
        "WITH RECURSIVE {scope}, {top} \
         SELECT g.id AS goal_id, g.plan_id, g.code, g.title::text AS title, count(a.id) AS activities \
         FROM top t JOIN acts a ON a.goal_id = t.goal_id JOIN goals g ON g.id = t.top_id \
         JOIN plans p ON p.id = g.plan_id LEFT JOIN plan_tree pt ON pt.id = g.plan_id \
         GROUP BY g.id, p.id, pt.depth \
         ORDER BY coalesce(pt.depth, 99), p.first_year, p.id, g.position, g.id"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// Municipalities × top-level goals: distinct activities per cell, with row, column and grand
/// totals from one aggregate (`GROUPING SETS`). Cells without activities are not returned.
pub async fn matrix_counts(
    conn: &mut Conn,
    plan_id: Uuid,
    role: Option<Role>,
) -> ApiResult<Vec<MatrixCountRow>> {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let top = top_goals();
    let role = match role {
        Some(role) => {
            let r = sql.bind(Value::Text(role.as_str().to_owned()));
            format!(" AND aa.role = {r}")
        }
        None => String::new(),
    };
    sql.push(&format!(
        "WITH RECURSIVE {scope}, {top}, \
         part AS ( \
             SELECT DISTINCT aa.actor_id, a.id AS activity_id, t.top_id \
             FROM acts a JOIN top t ON t.goal_id = a.goal_id \
             JOIN activity_actors aa ON aa.activity_id = a.id{role} \
             JOIN actors m ON m.id = aa.actor_id AND m.kind = 'municipality') \
         SELECT actor_id, top_id AS goal_id, GROUPING(actor_id, top_id) AS grouping, \
                count(DISTINCT activity_id) AS activities, count(*) AS participations \
         FROM part \
         GROUP BY GROUPING SETS ((actor_id, top_id), (actor_id), (top_id), ())"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// Every municipality in Swedish order: the matrix's rows.
pub async fn municipalities(conn: &mut Conn) -> ApiResult<Vec<ActorRow>> {
    Ok(actors::table
        .filter(actors::kind.eq(ActorKind::Municipality))
        .select(ActorRow::as_select())
        .order((actors::name, actors::id))
        .load(conn)
        .await?)
}

/// An actor of the network with the number of activities it takes part in.
#[derive(Debug, Clone, QueryableByName)]
pub struct NetworkActorRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub actor_id: Uuid,
    #[diesel(sql_type = Text)]
    pub name: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub municipality_code: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub activities: i64,
}

/// Two actors and the number of activities both take part in.
#[derive(Debug, Clone, QueryableByName)]
pub struct NetworkPairRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub a_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub b_id: Uuid,
    #[diesel(sql_type = BigInt)]
    pub shared: i64,
}

/// `part`: (activity, actor) for the actors of `kind` in the activities in scope (every
/// activity without a plan), with `role` when given.
fn network_part(
    sql: &mut Sql,
    plan_id: Option<Uuid>,
    kind: ActorKind,
    role: Option<Role>,
) -> String {
    let mut ctes = Vec::new();
    let mut filter = String::new();
    if let Some(plan) = plan_id {
        ctes.push(scope(sql, plan));
        filter.push_str(" AND aa.activity_id IN (SELECT id FROM acts)");
    }
    let k = sql.bind(Value::Text(kind.as_str().to_owned()));
    if let Some(role) = role {
        let r = sql.bind(Value::Text(role.as_str().to_owned()));
        filter.push_str(&format!(" AND aa.role = {r}"));
    }
    ctes.push(format!(
        "part AS ( \
             SELECT DISTINCT aa.activity_id, ac.id AS actor_id, ac.name \
             FROM activity_actors aa JOIN actors ac ON ac.id = aa.actor_id \
             WHERE ac.kind = {k}{filter})"
    ));
    format!("WITH RECURSIVE {}", ctes.join(", "))
}

/// Every actor of `kind` (also those without activities) in Swedish order.
pub async fn network_actors(
    conn: &mut Conn,
    plan_id: Option<Uuid>,
    kind: ActorKind,
    role: Option<Role>,
) -> ApiResult<Vec<NetworkActorRow>> {
    let mut sql = Sql::new("");
    let with = network_part(&mut sql, plan_id, kind, role);
    let k = sql.bind(Value::Text(kind.as_str().to_owned()));
    sql.push(&format!(
        "{with} \
         SELECT ac.id AS actor_id, ac.name::text AS name, ac.municipality_code, \
                count(p.activity_id) AS activities \
         FROM actors ac LEFT JOIN part p ON p.actor_id = ac.id \
         WHERE ac.kind = {k} \
         GROUP BY ac.id ORDER BY ac.name, ac.id"
    ));
    Ok(sql.into_query().load(conn).await?)
}

/// Every pair of actors of `kind` that share an activity, most shared first; each pair once,
/// the first in Swedish order first.
pub async fn network_pairs(
    conn: &mut Conn,
    plan_id: Option<Uuid>,
    kind: ActorKind,
    role: Option<Role>,
) -> ApiResult<Vec<NetworkPairRow>> {
    let mut sql = Sql::new("");
    let with = network_part(&mut sql, plan_id, kind, role);
    sql.push(&format!(
        "{with} \
         SELECT x.actor_id AS a_id, y.actor_id AS b_id, count(*) AS shared \
         FROM part x JOIN part y ON y.activity_id = x.activity_id \
              AND (x.name, x.actor_id) < (y.name, y.actor_id) \
         GROUP BY x.actor_id, x.name, y.actor_id, y.name \
         ORDER BY shared DESC, x.name, x.actor_id, y.name, y.actor_id"
    ));
    Ok(sql.into_query().load(conn).await?)
}
