//! Database access: the pool, migrations, and one module per resource with its SQL.

pub mod activities;
pub mod activity_list;
pub mod actors;
pub mod board;
pub mod changes;
pub mod chase;
pub mod clients;
pub mod collaborations;
pub mod data_version;
pub mod follow_ups;
pub mod goals;
pub mod idempotency;
pub mod pagination;
pub mod plans;
pub mod reports;
pub mod reviews;
pub mod schema;
pub mod sql;
pub mod write;

use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};
use futures_util::FutureExt;

use crate::config::Config;

pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

pub type DbPool = Pool<AsyncPgConnection>;
pub type Conn = AsyncPgConnection;

/// Builds the pool. Connections are opened lazily, so a service started while PostgreSQL is
/// down comes up and answers 503 until the database is back.
///
/// `DATABASE_URL` may name several hosts (`postgres://h1:5432,h2:5432/db`); with
/// `target_session_attrs=read-write` a new connection skips every server that does not take
/// writes (a standby), so after a failover the pool finds the promoted primary by itself. Such a
/// pool also checks, whenever it hands out a kept connection, that its server still takes writes:
/// a fenced or demoted primary's connections are dropped instead of serving stale reads and
/// refusing writes.
pub fn pool(
    config: &Config,
    metrics: &std::sync::Arc<crate::metrics::Metrics>,
) -> anyhow::Result<DbPool> {
    let statement_timeout = config.db_statement_timeout.as_millis();
    let metrics = metrics.clone();
    let mut manager_config = ManagerConfig::default();
    manager_config.custom_setup = Box::new(move |url| {
        let url = url.to_owned();
        let counter = metrics.instrumentation();
        async move {
            let mut conn = AsyncPgConnection::establish(&url).await?;
            conn.set_instrumentation(counter);
            diesel::sql_query(format!("SET statement_timeout = {statement_timeout}"))
                .execute(&mut conn)
                .await
                .map_err(diesel::ConnectionError::CouldntSetupConfiguration)?;
            Ok(conn)
        }
        .boxed()
    });
    if needs_writable(&config.database_url)? {
        manager_config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| {
            async move { still_writable(conn).await }.boxed()
        }));
    }
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
        &config.database_url,
        manager_config,
    );
    let timeout = Some(config.db_acquire_timeout);
    Ok(Pool::builder(manager)
        .max_size(config.db_pool_size)
        .runtime(deadpool::Runtime::Tokio1)
        .wait_timeout(timeout)
        .create_timeout(timeout)
        .recycle_timeout(timeout)
        .build()?)
}

/// Whether the URL asks for a server that takes writes (`target_session_attrs=read-write`).
/// The URL is parsed the way the driver parses it, so a URL it refuses is refused here first.
pub fn needs_writable(database_url: &str) -> anyhow::Result<bool> {
    let parsed: tokio_postgres::Config = database_url
        .parse()
        .map_err(|e| anyhow::anyhow!("DATABASE_URL is not a PostgreSQL URL: {e}"))?;
    Ok(parsed.get_target_session_attrs() == tokio_postgres::config::TargetSessionAttrs::ReadWrite)
}

/// The recycle check of a pool that needs a writable server: the same question the driver asks
/// when it connects (`transaction_read_only`, on in a standby and on a fenced primary), in place
/// of the `SELECT 1` a pool otherwise sends.
async fn still_writable(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    #[derive(diesel::prelude::QueryableByName)]
    struct ReadOnly {
        #[diesel(sql_type = diesel::sql_types::Text)]
        read_only: String,
    }
    let setting: ReadOnly =
        diesel::sql_query("SELECT current_setting('transaction_read_only') AS read_only")
            .get_result(conn)
            .await?;
    if setting.read_only == "off" {
        Ok(())
    } else {
        // Any error drops the connection; this one says why in the pool's log.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ReadOnlyTransaction,
            Box::new("the server no longer takes writes".to_owned()),
        ))
    }
}

/// Splits `postgres://…/name?opts` into the URL of the server's `postgres` database and `name`.
pub fn maintenance_url(database_url: &str) -> anyhow::Result<(String, String)> {
    let (base, query) = match database_url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (database_url, None),
    };
    let (server, name) = base
        .rsplit_once('/')
        .filter(|(server, name)| {
            server.contains("://") && !server.ends_with('/') && !name.is_empty()
        })
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL must name a database: {database_url}"))?;
    let mut url = format!("{server}/postgres");
    if let Some(query) = query {
        url.push('?');
        url.push_str(query);
    }
    Ok((url, name.to_owned()))
}

/// Creates the configured database when it does not exist yet.
pub async fn create_database_if_missing(database_url: &str) -> anyhow::Result<bool> {
    let (maintenance, name) = maintenance_url(database_url)?;
    let mut conn = AsyncPgConnection::establish(&maintenance).await?;
    #[derive(diesel::prelude::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let found: Found =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS found")
            .bind::<diesel::sql_types::Text, _>(&name)
            .get_result(&mut conn)
            .await?;
    if found.found {
        return Ok(false);
    }
    let quoted = name.replace('"', "\"\"");
    match diesel::sql_query(format!("CREATE DATABASE \"{quoted}\""))
        .execute(&mut conn)
        .await
    {
        Ok(_) => Ok(true),
        // Another process created it in the meantime.
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(err) if err.to_string().contains("already exists") => Ok(false),
        Err(err) => Err(err.into()),
    }
}

/// The advisory lock migrations hold: replicas that start together (or after a deploy with a
/// new migration) apply them one at a time, and the later ones find nothing pending.
const MIGRATION_LOCK: i64 = 0x6b70_6d69_6772;

/// Applies pending migrations; returns their names.
pub async fn migrate(database_url: &str) -> anyhow::Result<Vec<String>> {
    let url = database_url.to_owned();
    // The migration harness is synchronous: it runs on a blocking thread through the wrapper.
    tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)?;
        let lock = |conn: &mut AsyncConnectionWrapper<AsyncPgConnection>, sql: &str| {
            diesel::RunQueryDsl::execute(
                diesel::sql_query(sql).bind::<diesel::sql_types::BigInt, _>(MIGRATION_LOCK),
                conn,
            )
        };
        // Held by the session: released when it ends, also when a migration fails.
        lock(&mut conn, "SELECT pg_advisory_lock($1)")?;
        let applied: Vec<String> = conn
            .run_pending_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?
            .iter()
            .map(ToString::to_string)
            .collect();
        lock(&mut conn, "SELECT pg_advisory_unlock($1)")?;
        Ok(applied)
    })
    .await?
}

/// Reverts every migration (used by the migration round-trip test).
pub async fn revert_all(database_url: &str) -> anyhow::Result<usize> {
    let url = database_url.to_owned();
    tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let mut conn =
            <AsyncConnectionWrapper<AsyncPgConnection> as diesel::Connection>::establish(&url)?;
        let reverted = conn
            .revert_all_migrations(MIGRATIONS)
            .map_err(|e| anyhow::anyhow!("revert failed: {e}"))?;
        Ok(reverted.len())
    })
    .await?
}

/// The self-referencing trees, for the cycle check.
#[derive(Debug, Clone, Copy)]
pub enum Tree {
    Plans,
    Goals,
    Actors,
}

/// Whether making `parent` the parent of `id` would put `id` among its own ancestors.
pub async fn would_cycle(
    conn: &mut Conn,
    tree: Tree,
    id: uuid::Uuid,
    parent: uuid::Uuid,
) -> crate::error::ApiResult<bool> {
    let table = match tree {
        Tree::Plans => "plans",
        Tree::Goals => "goals",
        Tree::Actors => "actors",
    };
    #[derive(diesel::prelude::QueryableByName)]
    struct Found {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        found: bool,
    }
    let sql = format!(
        "WITH RECURSIVE up(id, parent_id) AS ( \
             SELECT id, parent_id FROM {table} WHERE id = $1 \
             UNION SELECT t.id, t.parent_id FROM {table} t JOIN up ON t.id = up.parent_id \
         ) SELECT EXISTS (SELECT 1 FROM up WHERE id = $2) AS found"
    );
    let found: Found = diesel::sql_query(sql)
        .bind::<diesel::sql_types::Uuid, _>(parent)
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(conn)
        .await?;
    Ok(found.found)
}

/// The answer when a conditional write matched no row: 404 when the row is gone, else 412.
pub fn missing_or_stale(lookup: crate::error::ApiResult<()>) -> crate::error::ApiError {
    match lookup {
        Ok(()) => crate::error::ApiError::PreconditionFailed,
        Err(err) => err,
    }
}

pub fn check_version(current: i32, expected: Option<i32>) -> crate::error::ApiResult<()> {
    match expected {
        Some(v) if v != current => Err(crate::error::ApiError::PreconditionFailed),
        _ => Ok(()),
    }
}

/// The `If-Match`-aware update and delete of a versioned table, the same for every resource:
/// a write that matches no row answers 404 when the row is gone and 412 when its version moved.
macro_rules! versioned_writes {
    ($table:ident, $row:ty, $changes:ty) => {
        async fn write_update(
            conn: &mut $crate::db::Conn,
            id: uuid::Uuid,
            expected_version: Option<i32>,
            changes: &$changes,
        ) -> $crate::error::ApiResult<$row> {
            use diesel::{
                BoolExpressionMethods, ExpressionMethods, IntoSql, OptionalExtension, QueryDsl,
                SelectableHelper,
            };
            use diesel_async::RunQueryDsl;
            let target = $table::table.filter($table::id.eq(id)).filter(
                $table::version
                    .eq(expected_version.unwrap_or(0))
                    .or(expected_version
                        .is_none()
                        .into_sql::<diesel::sql_types::Bool>()),
            );
            let updated = diesel::update(target)
                .set(changes)
                .returning(<$row>::as_returning())
                .get_result(conn)
                .await
                .optional();
            match updated {
                Ok(Some(row)) => Ok(row),
                Ok(None) => Err($crate::db::missing_or_stale(
                    get(conn, id).await.map(|_| ()),
                )),
                // An empty change set: answer the current row, still honouring If-Match.
                Err(diesel::result::Error::QueryBuilderError(_)) => {
                    let row = get(conn, id).await?;
                    $crate::db::check_version(row.version, expected_version)?;
                    Ok(row)
                }
                Err(err) => Err(err.into()),
            }
        }

        pub async fn delete(
            conn: &mut $crate::db::Conn,
            id: uuid::Uuid,
            expected_version: Option<i32>,
        ) -> $crate::error::ApiResult<()> {
            use diesel::{BoolExpressionMethods, ExpressionMethods, IntoSql, QueryDsl};
            use diesel_async::RunQueryDsl;
            let target = $table::table.filter($table::id.eq(id)).filter(
                $table::version
                    .eq(expected_version.unwrap_or(0))
                    .or(expected_version
                        .is_none()
                        .into_sql::<diesel::sql_types::Bool>()),
            );
            if diesel::delete(target).execute(conn).await? == 1 {
                Ok(())
            } else {
                Err($crate::db::missing_or_stale(
                    get(conn, id).await.map(|_| ()),
                ))
            }
        }
    };
}
pub(crate) use versioned_writes;

/// The commit-ordered counter every write transaction moves (see migration 2): the validator
/// of every cached representation.
pub async fn data_version(conn: &mut Conn) -> crate::error::ApiResult<i64> {
    data_version_shared(conn).await
}

/// [`data_version`] on a shared connection, to be pipelined with other reads.
pub async fn data_version_shared(conn: &Conn) -> crate::error::ApiResult<i64> {
    #[derive(diesel::prelude::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let version: Version = diesel::sql_query("SELECT n FROM data_version")
        .get_result(&mut &*conn)
        .await?;
    Ok(version.n)
}
