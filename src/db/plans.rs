//! SQL for plans.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::pagination::Page;
use super::schema::plans;
use crate::domain::{PlanKind, PlanStatus};
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, diesel::prelude::Queryable, diesel::prelude::Selectable)]
#[diesel(table_name = plans, check_for_backend(diesel::pg::Pg))]
pub struct PlanRow {
    pub id: Uuid,
    pub title: String,
    pub kind: PlanKind,
    pub status: PlanStatus,
    pub first_year: i32,
    pub last_year: i32,
    pub parent_id: Option<Uuid>,
    pub reference: Option<String>,
    pub adopted_on: Option<NaiveDate>,
    pub description: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, diesel::prelude::Insertable)]
#[diesel(table_name = plans)]
pub struct NewPlan {
    pub id: Uuid,
    pub title: String,
    pub kind: PlanKind,
    pub status: PlanStatus,
    pub first_year: i32,
    pub last_year: i32,
    pub parent_id: Option<Uuid>,
    pub reference: Option<String>,
    pub adopted_on: Option<NaiveDate>,
    pub description: Option<String>,
}

#[derive(Debug, Default, Clone, diesel::prelude::AsChangeset)]
#[diesel(table_name = plans)]
pub struct PlanChanges {
    pub title: Option<String>,
    pub kind: Option<PlanKind>,
    pub status: Option<PlanStatus>,
    pub first_year: Option<i32>,
    pub last_year: Option<i32>,
    pub parent_id: Option<Option<Uuid>>,
    pub reference: Option<Option<String>>,
    pub adopted_on: Option<Option<NaiveDate>>,
    pub description: Option<Option<String>>,
}

#[derive(Debug, Default)]
pub struct PlanFilter {
    pub parent_id: Option<Uuid>,
    pub kind: Option<PlanKind>,
    pub status: Option<PlanStatus>,
}

/// Sort key of the plan list: period start, then id.
pub type PlanKey = (i32, Uuid);

pub async fn insert(conn: &mut Conn, new: &NewPlan) -> ApiResult<PlanRow> {
    if let Some(parent) = new.parent_id {
        ensure_exists(conn, parent, "parent_id").await?;
    }
    Ok(diesel::insert_into(plans::table)
        .values(new)
        .returning(PlanRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut Conn, id: Uuid) -> ApiResult<PlanRow> {
    plans::table
        .find(id)
        .select(PlanRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("plan", id))
}

async fn ensure_exists(conn: &mut Conn, id: Uuid, field: &str) -> ApiResult<()> {
    let found: Option<Uuid> = plans::table
        .find(id)
        .select(plans::id)
        .first(conn)
        .await
        .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| ApiError::field(field, format!("plan {id} does not exist")))
}

pub async fn list(
    conn: &mut Conn,
    filter: &PlanFilter,
    page: &Page<PlanKey>,
) -> ApiResult<Vec<PlanRow>> {
    let mut query = plans::table.select(PlanRow::as_select()).into_boxed();
    if let Some(parent) = filter.parent_id {
        query = query.filter(plans::parent_id.eq(parent));
    }
    if let Some(kind) = filter.kind {
        query = query.filter(plans::kind.eq(kind));
    }
    if let Some(status) = filter.status {
        query = query.filter(plans::status.eq(status));
    }
    if let Some((year, id)) = page.after {
        query = query.filter(
            plans::first_year
                .gt(year)
                .or(plans::first_year.eq(year).and(plans::id.gt(id))),
        );
    }
    Ok(query
        .order((plans::first_year, plans::id))
        .limit(page.fetch())
        .load(conn)
        .await?)
}

pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i32>,
    changes: &PlanChanges,
) -> ApiResult<PlanRow> {
    if let Some(Some(parent)) = changes.parent_id {
        ensure_exists(conn, parent, "parent_id").await?;
        if super::would_cycle(conn, super::Tree::Plans, id, parent).await? {
            return Err(ApiError::field(
                "parent_id",
                "would make the plan its own ancestor",
            ));
        }
    }
    write_update(conn, id, expected_version, changes).await
}

super::versioned_writes!(plans, PlanRow, PlanChanges);
