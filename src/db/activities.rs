//! SQL for activities, their linked goals and their actors.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::{ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::actors::ActorRow;
use super::schema::{activities, activity_actors, activity_goals, actors, goals};
use crate::domain::{Recurrence, Role, StartTerm};
use crate::error::{ApiError, ApiResult, FieldError};
use diesel_async::AsyncPgConnection;

#[derive(
    Debug,
    Clone,
    diesel::prelude::Queryable,
    diesel::prelude::QueryableByName,
    diesel::prelude::Selectable,
)]
#[diesel(table_name = activities, check_for_backend(diesel::pg::Pg))]
pub struct ActivityRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub goal_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub start_year: Option<i32>,
    pub start_term: Option<StartTerm>,
    pub end_year: Option<i32>,
    pub recurrence: Recurrence,
    pub tags: Vec<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, diesel::prelude::Insertable)]
#[diesel(table_name = activities)]
pub struct NewActivity {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub goal_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub start_year: Option<i32>,
    pub start_term: Option<StartTerm>,
    pub end_year: Option<i32>,
    pub recurrence: Recurrence,
    pub tags: Vec<String>,
    pub position: i32,
}

#[derive(Debug, Default, Clone, diesel::prelude::AsChangeset)]
#[diesel(table_name = activities)]
pub struct ActivityChanges {
    pub plan_id: Option<Uuid>,
    pub goal_id: Option<Uuid>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub start_year: Option<Option<i32>>,
    pub start_term: Option<Option<StartTerm>>,
    pub end_year: Option<Option<i32>>,
    pub recurrence: Option<Recurrence>,
    pub tags: Option<Vec<String>>,
    pub position: Option<i32>,
}

/// One role of one actor in an activity, with the actor.
#[derive(Debug, Clone)]
pub struct ActorLink {
    pub role: Role,
    pub actor: ActorRow,
}

pub async fn get(conn: &mut Conn, id: Uuid) -> ApiResult<ActivityRow> {
    activities::table
        .find(id)
        .select(ActivityRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("activity", id))
}

/// The plan of a goal, to place an activity created with only its goal.
pub async fn plan_of_goal(conn: &mut Conn, goal_id: Uuid) -> ApiResult<Uuid> {
    goals::table
        .find(goal_id)
        .select(goals::plan_id)
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::field("goal_id", format!("goal {goal_id} does not exist")))
}

async fn check_goals_exist(conn: &mut Conn, ids: &[Uuid]) -> ApiResult<()> {
    let found: Vec<Uuid> = goals::table
        .filter(goals::id.eq_any(ids))
        .select(goals::id)
        .load(conn)
        .await?;
    let errors: Vec<FieldError> = ids
        .iter()
        .enumerate()
        .filter(|(_, id)| !found.contains(id))
        .map(|(i, id)| {
            FieldError::new(
                format!("linked_goal_ids[{i}]"),
                format!("goal {id} does not exist"),
            )
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(errors))
    }
}

/// Inserts an activity with its linked goals; run inside a transaction.
pub async fn insert(
    conn: &mut Conn,
    new: &NewActivity,
    linked_goals: &[Uuid],
) -> ApiResult<ActivityRow> {
    check_goals_exist(conn, linked_goals).await?;
    let row = diesel::insert_into(activities::table)
        .values(new)
        .returning(ActivityRow::as_returning())
        .get_result(conn)
        .await?;
    replace_linked_goals(conn, row.id, linked_goals).await?;
    Ok(row)
}

async fn replace_linked_goals(conn: &mut Conn, id: Uuid, goal_ids: &[Uuid]) -> ApiResult<()> {
    diesel::delete(activity_goals::table.filter(activity_goals::activity_id.eq(id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = goal_ids
        .iter()
        .map(|g| {
            (
                activity_goals::activity_id.eq(id),
                activity_goals::goal_id.eq(*g),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(activity_goals::table)
            .values(rows)
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Linked goal ids of many activities in one query.
pub async fn linked_goals(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<Uuid>>> {
    let pairs: Vec<(Uuid, Uuid)> = activity_goals::table
        .filter(activity_goals::activity_id.eq_any(ids))
        .select((activity_goals::activity_id, activity_goals::goal_id))
        .order((activity_goals::activity_id, activity_goals::goal_id))
        .load(&mut &*conn)
        .await?;
    let mut map: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (activity, goal) in pairs {
        map.entry(activity).or_default().push(goal);
    }
    Ok(map)
}

/// Actor links of many activities in one query, ordered by role and the actor's name.
pub async fn actor_links(
    conn: &AsyncPgConnection,
    ids: &[Uuid],
) -> ApiResult<HashMap<Uuid, Vec<ActorLink>>> {
    let rows: Vec<(Uuid, Role, ActorRow)> = activity_actors::table
        .inner_join(actors::table)
        .filter(activity_actors::activity_id.eq_any(ids))
        .select((
            activity_actors::activity_id,
            activity_actors::role,
            ActorRow::as_select(),
        ))
        .order((
            activity_actors::activity_id,
            activity_actors::role,
            actors::name,
            actors::id,
        ))
        .load(&mut &*conn)
        .await?;
    let mut map: HashMap<Uuid, Vec<ActorLink>> = HashMap::new();
    for (activity, role, actor) in rows {
        map.entry(activity)
            .or_default()
            .push(ActorLink { role, actor });
    }
    Ok(map)
}

/// Updates an activity and, when given, its linked goals; run inside a transaction.
pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i32>,
    changes: &ActivityChanges,
    linked: Option<&[Uuid]>,
) -> ApiResult<ActivityRow> {
    let Some(linked) = linked else {
        return write_update(conn, id, expected_version, changes).await;
    };
    check_goals_exist(conn, linked).await?;
    let current = lock(conn, id).await?;
    super::check_version(current.version, expected_version)?;
    replace_linked_goals(conn, id, linked).await?;
    // The links are part of the activity: their change moves its version too.
    let changes = ActivityChanges { ..changes.clone() };
    let row = write_update(conn, id, None, &changes).await?;
    if row.version == current.version {
        return touch(conn, id).await;
    }
    Ok(row)
}

/// Locks the activity row for the rest of the transaction.
pub async fn lock(conn: &mut Conn, id: Uuid) -> ApiResult<ActivityRow> {
    activities::table
        .find(id)
        .select(ActivityRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("activity", id))
}

/// Moves the activity's version (its links changed).
pub async fn touch(conn: &mut Conn, id: Uuid) -> ApiResult<ActivityRow> {
    Ok(diesel::update(activities::table.find(id))
        .set(activities::updated_at.eq(diesel::dsl::now))
        .returning(ActivityRow::as_returning())
        .get_result(conn)
        .await?)
}

/// Replaces the activity's actor links; run inside a transaction.
pub async fn replace_actors(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i32>,
    links: &[(Uuid, Role)],
) -> ApiResult<ActivityRow> {
    let current = lock(conn, id).await?;
    super::check_version(current.version, expected_version)?;
    let actor_ids: Vec<Uuid> = links.iter().map(|(a, _)| *a).collect();
    let found: Vec<Uuid> = actors::table
        .filter(actors::id.eq_any(&actor_ids))
        .select(actors::id)
        .load(conn)
        .await?;
    let errors: Vec<FieldError> = links
        .iter()
        .enumerate()
        .filter(|(_, (actor, _))| !found.contains(actor))
        .map(|(i, (actor, _))| {
            let mut e = FieldError::new("actor_id", format!("actor {actor} does not exist"));
            e.index = Some(i);
            e
        })
        .collect();
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let mut existing: Vec<(Uuid, Role)> = activity_actors::table
        .filter(activity_actors::activity_id.eq(id))
        .select((activity_actors::actor_id, activity_actors::role))
        .load(conn)
        .await?;
    let mut wanted = links.to_vec();
    existing.sort();
    wanted.sort();
    if existing == wanted {
        return Ok(current);
    }
    diesel::delete(activity_actors::table.filter(activity_actors::activity_id.eq(id)))
        .execute(conn)
        .await?;
    let rows: Vec<_> = links
        .iter()
        .map(|(actor, role)| {
            (
                activity_actors::activity_id.eq(id),
                activity_actors::actor_id.eq(*actor),
                activity_actors::role.eq(*role),
            )
        })
        .collect();
    if !rows.is_empty() {
        diesel::insert_into(activity_actors::table)
            .values(rows)
            .execute(conn)
            .await?;
    }
    touch(conn, id).await
}

super::versioned_writes!(activities, ActivityRow, ActivityChanges);

/// What a follow-up's status is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, diesel::prelude::Queryable)]
pub struct ActivityDates {
    pub start_year: Option<i32>,
    pub end_year: Option<i32>,
    pub recurrence: Recurrence,
}

/// The dates of those of `ids` that exist, in one query.
pub async fn dates(conn: &mut Conn, ids: &[Uuid]) -> ApiResult<HashMap<Uuid, ActivityDates>> {
    let rows: Vec<(Uuid, ActivityDates)> = activities::table
        .filter(activities::id.eq_any(ids))
        .select((
            activities::id,
            (
                activities::start_year,
                activities::end_year,
                activities::recurrence,
            ),
        ))
        .load(conn)
        .await?;
    Ok(rows.into_iter().collect())
}
