//! Connecting to SQLite or PostgreSQL, and migrating.

use std::str::FromStr;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::postgres::PgConnectOptions;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};

use crate::config::Config;
use crate::error::Result;

/// How long a SQLite writer waits for the write lock before giving up. Writers queue on
/// this instead of failing with "database is locked".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The most connections a SQLite pool gets, whatever `--db-max-connections` says.
pub const SQLITE_MAX_CONNECTIONS: u32 = 4;

/// Open the pool described by `config`, creating a SQLite file if it does not exist.
pub async fn connect(config: &Config) -> Result<DatabaseConnection> {
    connect_sized(config, config.db_max_connections).await
}

/// Open a pool of at most `max_connections` to `config`'s database (the server splits
/// `--db-max-connections` between its own pool and its workers': see `workers`).
pub async fn connect_sized(config: &Config, max_connections: u32) -> Result<DatabaseConnection> {
    // SQLite runs each connection on its own thread with its own page cache; on a small
    // machine a few readers beside the one writer are plenty, and more only cost memory.
    let max_connections = if is_sqlite(&config.database_url) {
        max_connections.clamp(1, SQLITE_MAX_CONNECTIONS)
    } else {
        max_connections.max(1)
    };
    let mut options = ConnectOptions::new(config.database_url.clone());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(config.db_acquire_timeout())
        .connect_timeout(config.db_acquire_timeout())
        .sqlx_logging(false)
        // Every new SQLite connection gets the same settings: WAL so readers never block
        // the writer, a busy timeout so writers wait their turn, and foreign keys, which
        // SQLite leaves off by default (the cascade rules depend on them). Deleted content
        // is overwritten with zeros (`secure_delete`), so a profile deleted for good is not
        // left readable in the file's free pages.
        .map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(SQLITE_BUSY_TIMEOUT)
                .foreign_keys(true)
                .pragma("secure_delete", "ON")
        })
        // A runaway statement is cut off by PostgreSQL itself, well inside the 10 s
        // request limit, instead of holding a connection after its client gave up.
        .map_sqlx_postgres_opts(|opts: PgConnectOptions| {
            opts.options([
                ("statement_timeout", "4s"),
                ("idle_in_transaction_session_timeout", "10s"),
            ])
        })
        // Pinging every connection before every statement would double the round trips of
        // a request. Ping only connections that sat idle long enough to have gone stale
        // (a restart, a firewall's idle cut); a connection that breaks mid-use is dropped
        // by the pool, and the request gets SERVICE_UNAVAILABLE.
        .test_before_acquire_if_idle_for(Duration::from_secs(30));
    let mut conn = Database::connect(options).await?;
    profilegraph_store::stats::count_statements(&mut conn);
    Ok(conn)
}

/// Whether the URL names a SQLite database.
pub fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// Whether the database has no profilegraph data yet: no migrations applied, or no
/// workspace at all. Checked before migrating, to decide whether to seed the demo.
pub async fn is_brand_new(conn: &DatabaseConnection) -> Result<bool> {
    // No migrations table means nothing was ever migrated here. Any other failure is a
    // real error: guessing "new" would seed a second demo into a live database.
    let manager = migration::SchemaManager::new(conn);
    if !manager.has_table("seaql_migrations").await? {
        return Ok(true);
    }
    if !manager.has_table("workspaces").await? {
        return Ok(true);
    }
    let row = conn
        .query_one_raw(sea_orm::Statement::from_string(
            conn.get_database_backend(),
            "SELECT COUNT(*) AS n FROM workspaces",
        ))
        .await?;
    let count: i64 = match row {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(count == 0)
}

/// Apply every pending migration; on SQLite also refresh the planner's statistics.
pub async fn migrate(conn: &DatabaseConnection) -> Result<()> {
    Migrator::up(conn, None).await?;
    if conn.get_database_backend() == DbBackend::Sqlite {
        // SQLite never gathers statistics by itself, and without them it plans a
        // profile's timeline as a scan of every ticket of the workspace. `optimize` with
        // this mask analyses the tables that need it, cheaply, as SQLite recommends on
        // opening a database. (PostgreSQL's autovacuum does this on its own.)
        conn.execute_unprepared("PRAGMA optimize=0x10002").await?;
    }
    Ok(())
}

/// A cheap round trip, for `/health/ready`.
pub async fn ping(conn: &impl ConnectionTrait) -> Result<()> {
    conn.execute_unprepared("SELECT 1").await?;
    Ok(())
}

/// The backend's name, for logs.
pub fn backend_name(conn: &DatabaseConnection) -> &'static str {
    match conn.get_database_backend() {
        DbBackend::Sqlite => "sqlite",
        DbBackend::Postgres => "postgres",
        _ => "other",
    }
}

/// Make sure a SQLite URL parses before anything else happens, so a typo is reported as
/// such rather than as a connection failure.
pub fn check_url(url: &str) -> Result<()> {
    if is_sqlite(url) {
        SqliteConnectOptions::from_str(url)
            .map(|_| ())
            .map_err(|e| crate::Error::Usage(format!("bad DATABASE_URL `{url}`: {e}")))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(())
    } else {
        Err(crate::Error::Usage(format!(
            "DATABASE_URL must start with sqlite:// or postgres://, got `{url}`"
        )))
    }
}
