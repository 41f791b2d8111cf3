//! SQL for actors.

use chrono::{DateTime, Utc};
use diesel::{
    BoolExpressionMethods, ExpressionMethods, OptionalExtension, QueryDsl, SelectableHelper,
};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::Conn;
use super::pagination::Page;
use super::schema::actors;
use crate::domain::ActorKind;
use crate::error::{ApiError, ApiResult};

/// Also read from JSON: the activity list's kept actor lists hold whole rows (`to_jsonb`).
#[derive(
    Debug, Clone, diesel::prelude::Queryable, diesel::prelude::Selectable, serde::Deserialize,
)]
#[diesel(table_name = actors, check_for_backend(diesel::pg::Pg))]
pub struct ActorRow {
    pub id: Uuid,
    pub name: String,
    pub kind: ActorKind,
    pub municipality_code: Option<String>,
    pub parent_id: Option<Uuid>,
    pub title: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub version: i32,
}

#[derive(Debug, Clone, diesel::prelude::Insertable)]
#[diesel(table_name = actors)]
pub struct NewActor {
    pub id: Uuid,
    pub name: String,
    pub kind: ActorKind,
    pub municipality_code: Option<String>,
    pub parent_id: Option<Uuid>,
    pub title: Option<String>,
    pub website: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Default, Clone, diesel::prelude::AsChangeset)]
#[diesel(table_name = actors)]
pub struct ActorChanges {
    pub name: Option<String>,
    pub kind: Option<ActorKind>,
    pub municipality_code: Option<Option<String>>,
    pub parent_id: Option<Option<Uuid>>,
    pub title: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub email: Option<Option<String>>,
}

#[derive(Debug, Default)]
pub struct ActorFilter {
    pub kind: Option<ActorKind>,
    pub municipality_code: Option<String>,
    pub parent_id: Option<Uuid>,
    /// Lower-cased text the name must contain.
    pub q: Option<String>,
    /// Z to A instead of A to Z.
    pub descending: bool,
}

/// Sort key of the actor list: name in Swedish order, then id.
pub type ActorKey = (String, Uuid);

pub async fn insert(conn: &mut Conn, new: &NewActor) -> ApiResult<ActorRow> {
    if let Some(parent) = new.parent_id {
        ensure_exists(conn, parent, "parent_id").await?;
    }
    Ok(diesel::insert_into(actors::table)
        .values(new)
        .returning(ActorRow::as_returning())
        .get_result(conn)
        .await?)
}

pub async fn get(conn: &mut Conn, id: Uuid) -> ApiResult<ActorRow> {
    actors::table
        .find(id)
        .select(ActorRow::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| ApiError::not_found("actor", id))
}

pub async fn get_many(conn: &mut Conn, ids: &[Uuid]) -> ApiResult<Vec<ActorRow>> {
    Ok(actors::table
        .filter(actors::id.eq_any(ids))
        .select(ActorRow::as_select())
        .load(conn)
        .await?)
}

async fn ensure_exists(conn: &mut Conn, id: Uuid, field: &str) -> ApiResult<()> {
    let found: Option<Uuid> = actors::table
        .find(id)
        .select(actors::id)
        .first(conn)
        .await
        .optional()?;
    found
        .map(|_| ())
        .ok_or_else(|| ApiError::field(field, format!("actor {id} does not exist")))
}

pub async fn list(
    conn: &mut Conn,
    filter: &ActorFilter,
    page: &Page<ActorKey>,
) -> ApiResult<Vec<ActorRow>> {
    let mut query = actors::table.select(ActorRow::as_select()).into_boxed();
    if let Some(kind) = filter.kind {
        query = query.filter(actors::kind.eq(kind));
    }
    if let Some(code) = &filter.municipality_code {
        query = query.filter(actors::municipality_code.eq(code.clone()));
    }
    if let Some(parent) = filter.parent_id {
        query = query.filter(actors::parent_id.eq(parent));
    }
    if let Some(q) = &filter.q {
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query = query.filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(actors.name) LIKE ")
                .bind::<diesel::sql_types::Text, _>(pattern),
        );
    }
    if let Some((name, id)) = &page.after {
        query = if filter.descending {
            query.filter(
                actors::name
                    .lt(name.clone())
                    .or(actors::name.eq(name.clone()).and(actors::id.lt(*id))),
            )
        } else {
            query.filter(
                actors::name
                    .gt(name.clone())
                    .or(actors::name.eq(name.clone()).and(actors::id.gt(*id))),
            )
        };
    }
    query = if filter.descending {
        query.order((actors::name.desc(), actors::id.desc()))
    } else {
        query.order((actors::name, actors::id))
    };
    Ok(query.limit(page.fetch()).load(conn).await?)
}

pub async fn update(
    conn: &mut Conn,
    id: Uuid,
    expected_version: Option<i32>,
    changes: &ActorChanges,
) -> ApiResult<ActorRow> {
    if let Some(Some(parent)) = changes.parent_id {
        ensure_exists(conn, parent, "parent_id").await?;
        if super::would_cycle(conn, super::Tree::Actors, id, parent).await? {
            return Err(ApiError::field(
                "parent_id",
                "would make the actor its own ancestor",
            ));
        }
    }
    write_update(conn, id, expected_version, changes).await
}

super::versioned_writes!(actors, ActorRow, ActorChanges);
