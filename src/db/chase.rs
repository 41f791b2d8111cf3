//! SQL for the chase list: per responsible actor and per municipality, the activities expected
//! to be followed up in a year and where their follow-ups are in the review.

use diesel::deserialize::QueryableByName;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::reports::{active_in, scope};
use super::sql::{Sql, Value};
use crate::domain::ReviewState;
use crate::error::ApiResult;

/// `expected` (the activities in scope running in the year, with their follow-up's review state,
/// null when there is none) and `owners` (who is asked for each: its responsible actors, or
/// none, and every municipality with a role in it), for the front of a `WITH RECURSIVE`.
fn owners(sql: &mut Sql, plan_id: Uuid, year: i32) -> String {
    let scope = scope(sql, plan_id);
    let y = sql.bind(Value::Int(year));
    let active = active_in("a", &y);
    format!(
        "{scope}, \
         expected AS ( \
             SELECT a.id, a.plan_id, a.goal_id, a.title, a.position, f.review, f.review_note \
             FROM activities a \
             LEFT JOIN follow_ups f ON f.activity_id = a.id AND f.year = {y} \
             WHERE a.id IN (SELECT id FROM acts) AND {active}), \
         owners AS ( \
             SELECT 'responsible' AS grouping, aa.actor_id, e.id AS activity_id \
             FROM expected e JOIN activity_actors aa \
               ON aa.activity_id = e.id AND aa.role = 'responsible' \
             UNION ALL \
             SELECT 'responsible', NULL::uuid, e.id FROM expected e \
             WHERE NOT EXISTS (SELECT 1 FROM activity_actors aa \
                               WHERE aa.activity_id = e.id AND aa.role = 'responsible') \
             UNION \
             SELECT 'municipality', aa.actor_id, e.id \
             FROM expected e JOIN activity_actors aa ON aa.activity_id = e.id \
             JOIN actors m ON m.id = aa.actor_id AND m.kind = 'municipality')"
    )
}

/// The counts of one group: a responsible actor (or the activities without one) or a
/// municipality (every one, also those with nothing expected).
#[derive(Debug, Clone, QueryableByName)]
pub struct ChaseCountsRow {
    /// `responsible` or `municipality`.
    #[diesel(sql_type = Text)]
    pub grouping: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub actor_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Text>)]
    pub name: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub municipality_code: Option<String>,
    #[diesel(sql_type = BigInt)]
    pub expected: i64,
    #[diesel(sql_type = BigInt)]
    pub submitted: i64,
    #[diesel(sql_type = BigInt)]
    pub approved: i64,
    #[diesel(sql_type = BigInt)]
    pub returned: i64,
    #[diesel(sql_type = BigInt)]
    pub missing: i64,
}

pub fn counts_sql(plan_id: Uuid, year: i32) -> Sql {
    let mut sql = Sql::new("");
    let owners = owners(&mut sql, plan_id, year);
    let n = |state: &str| format!("count(e.id) FILTER (WHERE e.review = '{state}') AS {state}");
    let tally = format!(
        "count(e.id) AS expected, {}, {}, {}, count(e.id) FILTER (WHERE e.id IS NOT NULL \
         AND e.review IS NULL) AS missing",
        n("submitted"),
        n("approved"),
        n("returned")
    );
    sql.push(&format!(
        "WITH RECURSIVE {owners} \
         SELECT * FROM ( \
             SELECT 'responsible' AS grouping, o.actor_id, ac.name::text AS name, \
                    ac.municipality_code, {tally} \
             FROM owners o JOIN expected e ON e.id = o.activity_id \
             LEFT JOIN actors ac ON ac.id = o.actor_id \
             WHERE o.grouping = 'responsible' \
             GROUP BY o.actor_id, ac.name, ac.municipality_code \
             UNION ALL \
             SELECT 'municipality', m.id, m.name::text, m.municipality_code, {tally} \
             FROM actors m \
             LEFT JOIN owners o ON o.actor_id = m.id AND o.grouping = 'municipality' \
             LEFT JOIN expected e ON e.id = o.activity_id \
             WHERE m.kind = 'municipality' \
             GROUP BY m.id) g \
         ORDER BY g.grouping = 'municipality', g.name COLLATE swedish NULLS LAST, g.actor_id"
    ));
    sql
}

pub async fn counts(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    year: i32,
) -> ApiResult<Vec<ChaseCountsRow>> {
    Ok(counts_sql(plan_id, year)
        .into_query()
        .load(&mut &*conn)
        .await?)
}

/// An expected activity without a follow-up (`review` null) or with a returned one, under
/// each group it is asked of.
#[derive(Debug, Clone, QueryableByName)]
pub struct ChaseItemRow {
    #[diesel(sql_type = Text)]
    pub grouping: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    pub actor_id: Option<Uuid>,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub activity_id: Uuid,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub goal_code: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    pub review: Option<ReviewState>,
    #[diesel(sql_type = Nullable<Text>)]
    pub review_note: Option<String>,
    #[diesel(sql_type = Integer)]
    pub position: i32,
}

pub fn items_sql(plan_id: Uuid, year: i32) -> Sql {
    let mut sql = Sql::new("");
    let owners = owners(&mut sql, plan_id, year);
    sql.push(&format!(
        "WITH RECURSIVE {owners} \
         SELECT o.grouping, o.actor_id, e.id AS activity_id, e.title, g.code AS goal_code, \
                e.review, e.review_note, e.position \
         FROM owners o JOIN expected e ON e.id = o.activity_id \
         JOIN goals g ON g.id = e.goal_id \
         WHERE e.review IS NULL OR e.review = 'returned' \
         ORDER BY e.plan_id, e.position, e.id"
    ));
    sql
}

pub async fn items(
    conn: &AsyncPgConnection,
    plan_id: Uuid,
    year: i32,
) -> ApiResult<Vec<ChaseItemRow>> {
    Ok(items_sql(plan_id, year)
        .into_query()
        .load(&mut &*conn)
        .await?)
}
