//! SQL for the reports: every count is made by PostgreSQL (aggregates over the plan's
//! activities, recursive CTEs for plan and goal trees); Rust only shapes the rows.
//!
//! A report's scope is a plan, the plans below it, and the activities they hold or include
//! (as `plan_id` filters the activity list). An activity counts under its primary goal only,
//! and so under every goal above it: its parents, and the goals of the plans in scope that a
//! goal on the way realises (`realises_goal_id`: a culture plan's objective counts the
//! activities of its implementation plans' goals that realise it).

use diesel::deserialize::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::activities::ActivityRow;
use super::actors::ActorRow;
use super::plans::PlanRow;
use super::schema::{actors, plans};
use super::sql::{Sql, Value};
use crate::domain::{ActorKind, GoalKind, Role};
use crate::error::{ApiError, ApiResult};

/// Guards the recursive walks against a cycle someone wrote around the API.
const MAX_DEPTH: i32 = 50;

/// `plan_tree`: the plan and every plan below it, with its depth.
fn plan_tree(sql: &mut Sql, plan_id: Uuid) -> String {
    let p = sql.bind(Value::Uuid(plan_id));
    format!(
        "plan_tree(id, depth) AS ( \
             SELECT id, 0 FROM plans WHERE id = {p} \
             UNION ALL SELECT c.id, t.depth + 1 FROM plans c JOIN plan_tree t ON c.parent_id = t.id \
             WHERE t.depth < {MAX_DEPTH})"
    )
}

/// `edges`: the steps up from a goal in a report on the plans of `plan_tree` — to its parent,
/// and to the goal of a plan in the tree that it realises. `shown` marks the edge a goal is
/// listed under: its parent, or for a top-level goal the goal it realises.
fn goal_edges() -> &'static str {
    "edges(id, up_id, shown) AS ( \
         SELECT id, parent_id, true FROM goals WHERE parent_id IS NOT NULL \
         UNION ALL \
         SELECT g.id, g.realises_goal_id, g.parent_id IS NULL FROM goals g \
         JOIN goals r ON r.id = g.realises_goal_id \
         WHERE r.plan_id = ANY(ARRAY(SELECT id FROM plan_tree)))"
}

/// `plan_tree` and `linked_acts`: the activities of other plans that the tree's plans carry on,
/// the only ones the kept counts (`goal_follow_up_counts`, `goal_start_counts`, the plans'
/// matrices) leave out.
fn linked_scope(sql: &mut Sql, plan_id: Uuid) -> String {
    let tree = plan_tree(sql, plan_id);
    format!(
        "{tree}, \
         linked_acts AS ( \
             SELECT a.id, a.goal_id, a.start_year, a.end_year, a.recurrence FROM activities a \
             WHERE a.id IN (SELECT pa.activity_id FROM plan_activities pa \
                            WHERE pa.plan_id = ANY(ARRAY(SELECT id FROM plan_tree))) \
               AND a.plan_id <> ALL(ARRAY(SELECT id FROM plan_tree)))"
    )
}

/// `plan_tree`, `linked_acts` and `acts`: the activities in scope, those of the plans in the
/// tree and those they carry on, for the front of a `WITH RECURSIVE`.
pub(super) fn scope(sql: &mut Sql, plan_id: Uuid) -> String {
    let linked = linked_scope(sql, plan_id);
    format!(
        "{linked}, \
         acts AS ( \
             SELECT a.id, a.goal_id, a.start_year, a.end_year, a.recurrence FROM activities a \
             WHERE a.plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
             UNION ALL SELECT * FROM linked_acts)"
    )
}

/// The reported buckets summed from `goal_follow_up_counts` rows, and the same taken from a
/// `kept` row aliased `k` (zero when none).
fn kept_buckets() -> (String, String) {
    const REPORTED: [&str; 5] = ["planned", "delayed", "completed", "ongoing", "no_status"];
    let sums = REPORTED.map(|b| format!("sum(n) FILTER (WHERE bucket = '{b}') AS {b}"));
    let taken = REPORTED.map(|b| format!("coalesce(k.{b}, 0) AS {b}"));
    (sums.join(", "), taken.join(", "))
}

/// The columns of `CountsRow` for the activities of a `starts` row `s` and the `kept` row `k`
/// of their follow-ups: those without one are the activities less the reported ones, and
/// `planned_derived` when the year is before their start.
fn from_kept(taken: &str) -> String {
    format!(
        "{taken}, \
         s.total - coalesce(k.reported, 0) \
           - (s.later - coalesce(k.reported_before_start, 0)) AS not_reported, \
         s.later - coalesce(k.reported_before_start, 0) AS planned_derived, \
         s.total, coalesce(k.flagged, 0) AS flagged"
    )
}

/// `judged`: each activity of `source` (`acts`: those in scope) with its status bucket for the
/// year `year` (an SQL expression) and whether its follow-up is flagged. Buckets: the reported status; `no_status`
/// for a note without a colour; without a follow-up `planned_derived` when the activity starts
/// after the year, else `not_reported`. Flagged as in `domain::status_warnings`.
fn judged(year: &str, source: &str) -> String {
    format!(
        "SELECT a.id, a.goal_id, \
             CASE WHEN f.id IS NULL THEN \
                  CASE WHEN a.start_year > {year} THEN 'planned_derived' ELSE 'not_reported' END \
                  ELSE coalesce(f.status, 'no_status') END AS bucket, \
             (f.id IS NOT NULL AND ( \
                  (f.status = 'planned' AND a.start_year <= {year}) \
                  OR (f.status <> 'planned' AND a.start_year > {year}) \
                  OR (a.recurrence = 'none' AND a.end_year < {year}))) AS flagged \
         FROM {source} a LEFT JOIN follow_ups f ON f.activity_id = a.id AND f.year = {year}"
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

/// The columns of `CountsRow` summed over pre-aggregated rows aliased `p` (zero when none).
fn sums(p: &str) -> String {
    COUNT_COLUMNS
        .iter()
        .map(|c| format!("coalesce(sum({p}.{c}), 0)::bigint AS {c}"))
        .collect::<Vec<_>>()
        .join(", ")
}

const COUNT_COLUMNS: [&str; 9] = [
    "planned",
    "delayed",
    "completed",
    "ongoing",
    "no_status",
    "not_reported",
    "planned_derived",
    "total",
    "flagged",
];

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
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub realises_goal_id: Option<Uuid>,
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
/// up to the plan's. Each activity counts once in each goal above its primary goal. A
/// top-level goal of a sub-plan that realises a goal of the tree is listed under that goal
/// (`parent_id` is the goal a row is listed under).
pub fn summary_sql(plan_id: Uuid, year: i32) -> Sql {
    let mut sql = Sql::new("");
    let scope = linked_scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    let linked = judged(&format!("{y}::int"), "linked_acts");
    let counts_j = counts("j");
    let counts_r = COUNT_COLUMNS
        .iter()
        .map(|c| format!("coalesce(r.{c}, 0)::bigint AS {c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sums_p = sums("p");
    let (kept, taken) = kept_buckets();
    let own = from_kept(&taken);
    let segment = "lpad(g.position::text, 10, '0') || g.id::text";
    let edges = goal_edges();
    // Counted once per primary goal (`per_goal`), then summed up each goal's ancestors (each
    // once, however many ways lead to it: a goal and its parent may both realise goals). The
    // tree's plans' activities are counted from the counts the triggers keep per primary goal;
    // only the activities carried on from other plans are read one by one. The tree walks touch
    // only goals.
    sql.push(&format!(
        "WITH RECURSIVE {scope}, \
         kept AS ( \
             SELECT goal_id, {kept}, sum(n) AS reported, \
                    sum(n) FILTER (WHERE before_start) AS reported_before_start, \
                    sum(n) FILTER (WHERE flagged) AS flagged \
             FROM goal_follow_up_counts \
             WHERE plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) AND year = {y}::int \
             GROUP BY goal_id), \
         starts AS ( \
             SELECT goal_id, sum(n) AS total, \
                    coalesce(sum(n) FILTER (WHERE start_year > {y}::int), 0) AS later \
             FROM goal_start_counts WHERE plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
             GROUP BY goal_id HAVING sum(n) > 0), \
         own AS ( \
             SELECT s.goal_id, {own} FROM starts s LEFT JOIN kept k ON k.goal_id = s.goal_id), \
         per_goal AS ( \
             SELECT p.goal_id, {sums_p} FROM ( \
                 SELECT * FROM own \
                 UNION ALL \
                 SELECT j.goal_id, {counts_j} FROM ({linked}) j GROUP BY j.goal_id) p \
             GROUP BY p.goal_id), \
         {edges}, \
         up(id) AS ( \
             SELECT goal_id FROM per_goal \
             UNION SELECT e.up_id FROM edges e JOIN up ON e.id = up.id), \
         goal_set AS ( \
             SELECT id FROM goals WHERE plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
             UNION SELECT id FROM up), \
         tree(id, up_id, depth, path) AS ( \
             SELECT g.id, NULL::uuid, 0, ARRAY[lpad(coalesce(pt.depth, 99)::text, 2, '0') \
                                   || lpad(p.first_year::text, 4, '0') || p.id::text, {segment}] \
             FROM goals g JOIN plans p ON p.id = g.plan_id LEFT JOIN plan_tree pt ON pt.id = g.plan_id \
             WHERE g.id IN (SELECT id FROM goal_set) \
               AND NOT EXISTS (SELECT 1 FROM edges e WHERE e.id = g.id AND e.shown) \
             UNION ALL \
             SELECT g.id, t.id, t.depth + 1, t.path || ({segment}) \
             FROM edges e JOIN goals g ON g.id = e.id JOIN tree t ON e.up_id = t.id \
             WHERE e.shown AND g.id IN (SELECT id FROM goal_set) AND t.depth < {MAX_DEPTH}), \
         closure(goal_id, ancestor_id, depth) AS ( \
             SELECT goal_id, goal_id, 0 FROM per_goal \
             UNION ALL SELECT c.goal_id, e.up_id, c.depth + 1 FROM closure c \
             JOIN edges e ON e.id = c.ancestor_id WHERE c.depth < {MAX_DEPTH}), \
         rolled AS ( \
             SELECT c.ancestor_id AS goal_id, {sums_p} \
             FROM per_goal p \
             JOIN (SELECT DISTINCT goal_id, ancestor_id FROM closure) c ON c.goal_id = p.goal_id \
             GROUP BY c.ancestor_id) \
         SELECT g.id AS goal_id, t.up_id AS parent_id, g.plan_id, g.code, g.kind, \
                g.title::text AS title, g.realises_goal_id, t.depth, t.path, {counts_r} \
         FROM tree t JOIN goals g ON g.id = t.id LEFT JOIN rolled r ON r.goal_id = t.id \
         UNION ALL \
         SELECT NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::text, NULL::text, NULL::uuid, -1, \
                ARRAY[]::text[], {sums_p} \
         FROM per_goal p \
         ORDER BY path"
    ));
    sql
}

pub async fn summary(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    year: i32,
) -> ApiResult<Vec<GoalCountsRow>> {
    Ok(summary_sql(plan_id, year)
        .into_query()
        .load(&mut &*conn)
        .await?)
}

/// The plan-level counts of every year from `from` through `to`.
#[derive(Debug, Clone, QueryableByName)]
pub struct YearCountsRow {
    #[diesel(sql_type = Integer)]
    pub year: i32,
    #[diesel(embed)]
    pub counts: CountsRow,
}

pub fn trend_sql(plan_id: Uuid, from: i32, to: i32) -> Sql {
    let mut sql = Sql::new("");
    let scope = linked_scope(&mut sql, plan_id);
    let (f, t) = (sql.bind(Value::Int(from)), sql.bind(Value::Int(to)));
    let linked = judged("y.year", "linked_acts");
    let counts_j = counts("j");
    let sums_p = sums("p");
    let (kept, taken) = kept_buckets();
    let own = from_kept(&taken);
    // As the summary's plan row, for every year.
    sql.push(&format!(
        "WITH RECURSIVE {scope}, \
         years AS (SELECT year FROM generate_series({f}::int, {t}::int) AS y(year)), \
         kept AS ( \
             SELECT year, {kept}, sum(n) AS reported, \
                    sum(n) FILTER (WHERE before_start) AS reported_before_start, \
                    sum(n) FILTER (WHERE flagged) AS flagged \
             FROM goal_follow_up_counts \
             WHERE plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
               AND year BETWEEN {f}::int AND {t}::int \
             GROUP BY year), \
         starts AS ( \
             SELECT y.year, sum(s.n) AS total, \
                    coalesce(sum(s.n) FILTER (WHERE s.start_year > y.year), 0) AS later \
             FROM years y CROSS JOIN goal_start_counts s \
             WHERE s.plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
             GROUP BY y.year), \
         own AS (SELECT s.year, {own} FROM starts s LEFT JOIN kept k ON k.year = s.year) \
         SELECT p.year, {sums_p} FROM ( \
             SELECT * FROM own \
             UNION ALL \
             SELECT y.year, {counts_j} FROM years y LEFT JOIN LATERAL ({linked}) j ON true \
             GROUP BY y.year) p \
         GROUP BY p.year ORDER BY p.year"
    ));
    sql
}

/// The years a plan's reports cover unless told otherwise: from its first year through the
/// later of its last year and the last start or end year of the activities in scope, at most
/// 50 years in all. An implementation plan's period is the year of its edition
/// (Genomförandeplan 2024: 2024–2024); its activities start as late as 2027 and run "till och
/// med 2027", and the region follows them up through those years.
pub fn covered_years_sql(plan_id: Uuid) -> Sql {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let p = sql.bind(Value::Uuid(plan_id));
    sql.push(&format!(
        "WITH RECURSIVE {scope} \
         SELECT p.first_year AS year, \
                least(greatest(p.last_year, \
                               (SELECT max(greatest(a.start_year, a.end_year)) FROM acts a)), \
                      p.first_year + 50) AS last_year \
         FROM plans p WHERE p.id = {p}"
    ));
    sql
}

#[derive(Debug, Clone, QueryableByName)]
struct CoveredYearsRow {
    #[diesel(sql_type = Integer)]
    year: i32,
    #[diesel(sql_type = Integer)]
    last_year: i32,
}

/// `(first, last)` of `covered_years_sql`; 404 when there is no such plan.
pub async fn covered_years(conn: &AsyncPgConnection, plan_id: Uuid) -> ApiResult<(i32, i32)> {
    let row: Option<CoveredYearsRow> = covered_years_sql(plan_id)
        .into_query()
        .get_result(&mut &*conn)
        .await
        .optional()?;
    row.map(|r| (r.year, r.last_year))
        .ok_or_else(|| ApiError::not_found("plan", plan_id))
}

pub async fn trend(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    from: i32,
    to: i32,
) -> ApiResult<Vec<YearCountsRow>> {
    Ok(trend_sql(plan_id, from, to)
        .into_query()
        .load(&mut &*conn)
        .await?)
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

pub fn summary_groups_sql(plan_id: Uuid, year: i32, grouping: Grouping) -> Sql {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    let judged = judged(&format!("{y}::int"), "acts");
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
    sql
}

pub async fn summary_groups(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    year: i32,
    grouping: Grouping,
) -> ApiResult<Vec<GroupCountsRow>> {
    Ok(summary_groups_sql(plan_id, year, grouping)
        .into_query()
        .load(&mut &*conn)
        .await?)
}

/// Whether the activity aliased `a` runs in the year `year` (an SQL expression): from its start
/// year through its end year; without an end year a recurring activity goes on and a one-off
/// one runs in its start year. The activities expected to be followed up that year.
pub fn active_in(a: &str, year: &str) -> String {
    format!(
        "({a}.start_year <= {year} AND ({a}.end_year >= {year} OR ({a}.end_year IS NULL \
         AND ({a}.recurrence = 'annual' OR {a}.start_year = {year}))))"
    )
}

/// The activities in scope active in `year` (as the activity list's `active_in`) that have no
/// follow-up for it, in plan order.
pub fn missing_follow_ups_sql(plan_id: Uuid, year: i32) -> Sql {
    let mut sql = Sql::new("");
    let scope = scope(&mut sql, plan_id);
    let y = sql.bind(Value::Int(year));
    let active = active_in("a", &y);
    sql.push(&format!(
        "WITH RECURSIVE {scope} \
         SELECT a.id, a.plan_id, a.goal_id, a.title, a.description, a.start_year, a.start_term, \
                a.end_year, a.recurrence, a.tags, a.position, a.created_at, a.updated_at, a.version \
         FROM activities a \
         WHERE a.id IN (SELECT id FROM acts) \
           AND {active} \
           AND NOT EXISTS (SELECT 1 FROM follow_ups f WHERE f.activity_id = a.id AND f.year = {y}) \
         ORDER BY a.plan_id, a.position, a.id"
    ));
    sql
}

pub async fn missing_follow_ups(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    year: i32,
) -> ApiResult<Vec<ActivityRow>> {
    Ok(missing_follow_ups_sql(plan_id, year)
        .into_query()
        .load(&mut &*conn)
        .await?)
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

/// `top`: every goal with the top-level goal above it (itself for a top-level goal), walked
/// down from the roots: a hundred goals a plan, so cheaper than walking up from each activity.
fn top_goals() -> String {
    format!(
        "top(goal_id, top_id, depth) AS ( \
             SELECT id, id, 0 FROM goals WHERE parent_id IS NULL \
             UNION ALL SELECT g.id, t.top_id, t.depth + 1 FROM goals g \
             JOIN top t ON g.parent_id = t.goal_id WHERE t.depth < {MAX_DEPTH})"
    )
}

/// `plan_tree`, `linked_acts`, `linked` (their facets) and `columns`: per top-level goal, the
/// activities under it, those with a municipality and the (municipality, activity) pairs, summed
/// over the tree's plans' kept matrices.
fn matrix_scope(sql: &mut Sql, plan_id: Uuid) -> String {
    let linked = linked_scope(sql, plan_id);
    let column_of = column_of();
    format!(
        "{linked}, {column_of}, \
         linked AS ( \
             SELECT f.top_goal_id, f.municipalities \
             FROM linked_acts l JOIN activity_facets f ON f.activity_id = l.id), \
         columns AS ( \
             SELECT coalesce(co.col_id, c.top_goal_id) AS top_goal_id, \
                    sum(activities)::bigint AS activities, \
                    sum(with_municipality)::bigint AS with_municipality, \
                    sum(participations)::bigint AS participations \
             FROM ( \
                 SELECT top_goal_id, activities, with_municipality, participations \
                 FROM plan_matrix_columns WHERE plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
                 UNION ALL \
                 SELECT top_goal_id, 1, (cardinality(municipalities) > 0)::int, \
                        cardinality(municipalities) FROM linked) c \
             LEFT JOIN column_of co ON co.top_id = c.top_goal_id \
             GROUP BY 1 HAVING sum(activities) > 0)"
    )
}

/// `column_of`: the matrix column of a top-level goal that realises a goal of a plan in
/// `plan_tree`: the top-level goal above the realised goal (a culture plan's matrix shows its
/// own objectives, with the activities of the implementation plans' objectives that realise
/// them). Other top-level goals are their own column.
fn column_of() -> &'static str {
    "column_of(top_id, col_id) AS ( \
         SELECT g.id, goal_top(g.realises_goal_id) FROM goals g \
         JOIN goals r ON r.id = g.realises_goal_id \
         WHERE g.parent_id IS NULL AND r.plan_id = ANY(ARRAY(SELECT id FROM plan_tree)))"
}

/// The matrix's columns: the top-level goals of the activities in scope, plans in tree order.
pub fn matrix_goals_sql(plan_id: Uuid) -> Sql {
    let mut sql = Sql::new("");
    let scope = matrix_scope(&mut sql, plan_id);
    sql.push(&format!(
        "WITH RECURSIVE {scope} \
         SELECT g.id AS goal_id, g.plan_id, g.code, g.title::text AS title, c.activities \
         FROM columns c JOIN goals g ON g.id = c.top_goal_id \
         JOIN plans p ON p.id = g.plan_id LEFT JOIN plan_tree pt ON pt.id = g.plan_id \
         ORDER BY coalesce(pt.depth, 99), p.first_year, p.id, g.position, g.id"
    ));
    sql
}

pub async fn matrix_goals(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
) -> ApiResult<Vec<MatrixGoalRow>> {
    Ok(matrix_goals_sql(plan_id)
        .into_query()
        .load(&mut &*conn)
        .await?)
}

/// Municipalities × top-level goals: distinct activities per cell, with row, column and grand
/// totals. Cells without activities are not returned.
pub fn matrix_counts_sql(plan_id: Uuid, role: Option<Role>) -> Sql {
    let mut sql = Sql::new("");
    let Some(role) = role else {
        // Any role: the kept matrices of the tree's plans (see `activity_facets` and
        // `plan_matrix_*`), summed, plus the activities the plans carry on from others. Row
        // totals are the sums of the cells: an activity lies under one top-level goal. Column
        // and grand totals count activities, which several municipalities share.
        let scope = matrix_scope(&mut sql, plan_id);
        sql.push(&format!(
            "WITH RECURSIVE {scope}, \
             cells AS ( \
                 SELECT actor_id, coalesce(co.col_id, c.top_goal_id) AS top_goal_id, \
                        sum(activities)::bigint AS n FROM ( \
                     SELECT actor_id, top_goal_id, activities FROM plan_matrix_cells \
                     WHERE plan_id = ANY(ARRAY(SELECT id FROM plan_tree)) \
                     UNION ALL \
                     SELECT m, l.top_goal_id, 1 FROM linked l, unnest(l.municipalities) m) c \
                 LEFT JOIN column_of co ON co.top_id = c.top_goal_id \
                 GROUP BY 1, 2 HAVING sum(activities) > 0) \
             SELECT actor_id, top_goal_id AS goal_id, 0 AS grouping, n AS activities, \
                    n AS participations FROM cells \
             UNION ALL \
             SELECT actor_id, NULL, 1, sum(n)::bigint, sum(n)::bigint FROM cells GROUP BY actor_id \
             UNION ALL \
             SELECT NULL, top_goal_id, 2, with_municipality, participations FROM columns \
             UNION ALL \
             SELECT NULL, NULL, 3, coalesce(sum(with_municipality), 0)::bigint, \
                    coalesce(sum(participations), 0)::bigint FROM columns"
        ));
        return sql;
    };
    // One role: the facets do not tell roles apart, so the municipalities' links with that role
    // (an index range per municipality) meet the plan's activities and the goals' top-level
    // goals in hash joins; `part` is each (municipality, activity) once.
    let scope = scope(&mut sql, plan_id);
    let top = top_goals();
    let column_of = column_of();
    let r = sql.bind(Value::Text(role.as_str().to_owned()));
    sql.push(&format!(
        "WITH RECURSIVE {scope}, {top}, {column_of}, \
         part AS MATERIALIZED ( \
             SELECT aa.actor_id, a.id AS activity_id, coalesce(co.col_id, t.top_id) AS top_id \
             FROM acts a JOIN activity_actors aa ON aa.activity_id = a.id \
             JOIN top t ON t.goal_id = a.goal_id \
             LEFT JOIN column_of co ON co.top_id = t.top_id \
             WHERE aa.actor_id = ANY(ARRAY(SELECT id FROM actors WHERE kind = 'municipality')) \
               AND aa.role = {r} \
             GROUP BY 1, 2, 3), \
         per_activity AS MATERIALIZED ( \
             SELECT activity_id, top_id, count(*) AS n FROM part GROUP BY 1, 2) \
         SELECT actor_id, top_id AS goal_id, GROUPING(actor_id, top_id) AS grouping, \
                count(*) AS activities, count(*) AS participations \
         FROM part GROUP BY GROUPING SETS ((actor_id, top_id), (actor_id)) \
         UNION ALL \
         SELECT NULL, top_id, 2, count(*), sum(n)::bigint FROM per_activity GROUP BY top_id \
         UNION ALL \
         SELECT NULL, NULL, 3, count(*), coalesce(sum(n), 0)::bigint FROM per_activity"
    ));
    sql
}

pub async fn matrix_counts(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    role: Option<Role>,
) -> ApiResult<Vec<MatrixCountRow>> {
    Ok(matrix_counts_sql(plan_id, role)
        .into_query()
        .load(&mut &*conn)
        .await?)
}

/// The plan a report is about (404 when there is none), on a connection shared by pipelined
/// statements.
pub async fn plan(conn: &AsyncPgConnection, id: Uuid) -> ApiResult<PlanRow> {
    plans::table
        .find(id)
        .select(PlanRow::as_select())
        .first(&mut &*conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("plan", id))
}

/// Every municipality in Swedish order: the matrix's rows.
pub async fn municipalities(conn: &AsyncPgConnection) -> ApiResult<Vec<ActorRow>> {
    Ok(actors::table
        .filter(actors::kind.eq(ActorKind::Municipality))
        .select(ActorRow::as_select())
        .order((actors::name, actors::id))
        .load(&mut &*conn)
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
pub fn network_actors_sql(plan_id: Option<Uuid>, kind: ActorKind, role: Option<Role>) -> Sql {
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
    sql
}

pub async fn network_actors(
    conn: &AsyncPgConnection,
    plan_id: Option<Uuid>,
    kind: ActorKind,
    role: Option<Role>,
) -> ApiResult<Vec<NetworkActorRow>> {
    Ok(network_actors_sql(plan_id, kind, role)
        .into_query()
        .load(&mut &*conn)
        .await?)
}

/// Every pair of actors of `kind` that share an activity, most shared first; each pair once,
/// the first in Swedish order first.
pub fn network_pairs_sql(plan_id: Option<Uuid>, kind: ActorKind, role: Option<Role>) -> Sql {
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
    sql
}

pub async fn network_pairs(
    conn: &AsyncPgConnection,
    plan_id: Option<Uuid>,
    kind: ActorKind,
    role: Option<Role>,
) -> ApiResult<Vec<NetworkPairRow>> {
    Ok(network_pairs_sql(plan_id, kind, role)
        .into_query()
        .load(&mut &*conn)
        .await?)
}
