//! SQL for goals.

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::sql_types::{Bool, Text};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::pagination::Page;
use super::schema::goals;
use crate::domain::GoalKind;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, diesel::prelude::Queryable, diesel::prelude::Selectable)]
#[diesel(table_name = goals, check_for_backend(diesel::pg::Pg))]
pub struct GoalRow {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub code: Option<String>,
    pub kind: GoalKind,
    pub title: String,
    pub description: Option<String>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
    pub realises_goal_id: Option<Uuid>,
}

#[derive(Debug, Clone, diesel::prelude::Insertable)]
#[diesel(table_name = goals)]
pub struct NewGoal {
    pub id: Uuid,
    pub plan_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub code: Option<String>,
    pub kind: GoalKind,
    pub title: String,
    pub description: Option<String>,
    pub position: i32,
    pub realises_goal_id: Option<Uuid>,
}

#[derive(Debug, Default, Clone, diesel::prelude::AsChangeset)]
#[diesel(table_name = goals)]
pub struct GoalChanges {
    pub parent_id: Option<Option<Uuid>>,
    pub code: Option<Option<String>>,
    pub kind: Option<GoalKind>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub position: Option<i32>,
    pub realises_goal_id: Option<Option<Uuid>>,
}

#[derive(Debug, Default)]
pub struct GoalFilter {
    pub plan_id: Option<Uuid>,
    pub parent_id: Option<Uuid>,
    pub kind: Option<GoalKind>,
    /// Lower-cased text the title must contain.
    pub q: Option<String>,
    pub sort: GoalSort,
}

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
)]
pub enum GoalSort {
    /// Plan, then place among siblings.
    #[default]
    #[serde(rename = "position")]
    Position,
    /// The code in numeric order: 4.2 before 4.10.
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "title")]
    Title,
}

/// Sort key of the last goal of a page.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum GoalKey {
    Position(Uuid, i32, Uuid),
    Text(String, Uuid),
}

impl GoalRow {
    pub fn key(&self, sort: GoalSort) -> GoalKey {
        match sort {
            GoalSort::Position => GoalKey::Position(self.plan_id, self.position, self.id),
            GoalSort::Code => GoalKey::Text(self.code.clone().unwrap_or_default(), self.id),
            GoalSort::Title => GoalKey::Text(self.title.clone(), self.id),
        }
    }
}

pub async fn insert(conn: &mut Conn, new: &NewGoal) -> ApiResult<GoalRow> {
    super::plans::get(conn, new.plan_id)
        .await
        .map_err(|_| ApiError::field("plan_id", format!("plan {} does not exist", new.plan_id)))?;
    if let Some(realised) = new.realises_goal_id {
        check_realises(conn, new.plan_id, realised).await?;
    }
    Ok(diesel::insert_into(goals::table)
        .values(new)
        .returning(GoalRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut Conn, id: Uuid) -> ApiResult<GoalRow> {
    goals::table
        .find(id)
        .select(GoalRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("goal", id))
}

pub async fn list(
    conn: &mut Conn,
    filter: &GoalFilter,
    page: &Page<GoalKey>,
) -> ApiResult<Vec<GoalRow>> {
    let mut query = goals::table.select(GoalRow::as_select()).into_boxed();
    if let Some(plan) = filter.plan_id {
        query = query.filter(goals::plan_id.eq(plan));
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(goals::parent_id.eq(parent));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(goals::kind.eq(kind));
    }
    if let Some(q) = &filter.q {
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query = query.filter(sql::<Bool>("lower(goals.title) LIKE ").bind::<Text, _>(pattern));
    }
    const CODE: &str = "coalesce(goals.code, '') COLLATE swedish_numeric";
    match (filter.sort, &page.after) {
        (_, None) => {}
        (GoalSort::Position, Some(GoalKey::Position(plan, position, id))) => {
            query = query.filter(
                sql::<Bool>("(goals.plan_id, goals.position, goals.id) > (")
                    .bind::<diesel::sql_types::Uuid, _>(*plan)
                    .sql(", ")
                    .bind::<diesel::sql_types::Integer, _>(*position)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(*id)
                    .sql(")"),
            );
        }
        (GoalSort::Code, Some(GoalKey::Text(code, id))) => {
            query = query.filter(
                sql::<Bool>(&format!("({CODE} > "))
                    .bind::<Text, _>(code.clone())
                    .sql(&format!(" OR ({CODE} = "))
                    .bind::<Text, _>(code.clone())
                    .sql(" AND goals.id > ")
                    .bind::<diesel::sql_types::Uuid, _>(*id)
                    .sql("))"),
            );
        }
        (GoalSort::Title, Some(GoalKey::Text(title, id))) => {
            query = query.filter(
                goals::title
                    .gt(title.clone())
                    .or(goals::title.eq(title.clone()).and(goals::id.gt(*id))),
            );
        }
        _ => return Err(ApiError::field("cursor", "belongs to another sort order")),
    }
    query = match filter.sort {
        GoalSort::Position => query.order((goals::plan_id, goals::position, goals::id)),
        GoalSort::Code => query.order((sql::<Text>(CODE), goals::id)),
        GoalSort::Title => query.order((goals::title, goals::id)),
    };
    Ok(query.limit(page.fetch()).load(conn).await?)
}

/// Every goal of a plan, in tree order material (parent, position).
pub async fn of_plan(conn: &mut Conn, plan_id: Uuid) -> ApiResult<Vec<GoalRow>> {
    Ok(goals::table
        .filter(goals::plan_id.eq(plan_id))
        .select(GoalRow::as_select())
        .order((goals::position, goals::id))
        .load(conn)
        .await?)
}

pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i32>,
    changes: &GoalChanges,
) -> ApiResult<GoalRow> {
    if let Some(Some(parent)) = changes.parent_id
        && super::would_cycle(conn, super::Tree::Goals, id, parent).await?
    {
        return Err(ApiError::field(
            "parent_id",
            "would make the goal its own ancestor",
        ));
    }
    if let Some(Some(realised)) = changes.realises_goal_id {
        let plan_id = get(conn, id).await?.plan_id;
        check_realises(conn, plan_id, realised).await?;
    }
    write_update(conn, id, expected_version, changes).await
}

/// A goal of a plan may realise only a goal of the plan it implements (its parent plan); the
/// `goals_realises_check` trigger holds the same rule for writes around the API.
async fn check_realises(conn: &mut Conn, plan_id: Uuid, realised: Uuid) -> ApiResult<()> {
    let parent = super::plans::get(conn, plan_id).await?.parent_id;
    let realised_plan = goals::table
        .find(realised)
        .select(goals::plan_id)
        .first::<Uuid>(conn)
        .await
        .optional()?;
    match (realised_plan, parent) {
        (None, _) => Err(ApiError::field(
            "realises_goal_id",
            format!("goal {realised} does not exist"),
        )),
        (Some(p), Some(parent)) if p == parent => Ok(()),
        (Some(_), Some(parent)) => Err(ApiError::field(
            "realises_goal_id",
            format!("must be a goal of plan {parent}, the plan this goal's plan implements"),
        )),
        (Some(_), None) => Err(ApiError::field(
            "realises_goal_id",
            "the goal's plan implements no other plan (it has no parent plan)",
        )),
    }
}

super::versioned_writes!(goals, GoalRow, GoalChanges);
