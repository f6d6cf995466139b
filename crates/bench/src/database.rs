//! Fresh databases for a run: a SQLite file in a temporary folder, or a new database on
//! the PostgreSQL server; and the connection pool the ceiling and the input collection use.

use std::path::PathBuf;
use std::time::Duration;

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::cli::{Backend, Size};
use crate::error::{Error, Result};

/// A database made for this run, removed by [`Fresh::remove`].
pub struct Fresh {
    /// Which backend.
    pub backend: Backend,
    /// The URL the server and the ceiling connect to.
    pub url: String,
    /// What to remove afterwards.
    cleanup: Cleanup,
}

enum Cleanup {
    /// The temporary folder holding the SQLite file and its WAL.
    Folder(PathBuf),
    /// The database's name, dropped through the admin URL.
    Postgres { admin_url: String, name: String },
}

/// Make an empty database for `backend`.
pub async fn create(backend: Backend, size: Size, postgres_admin_url: &str) -> Result<Fresh> {
    match backend {
        Backend::Sqlite => {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let folder = std::env::temp_dir()
                .join(format!("profilegraph-bench-{}-{nanos}", std::process::id()));
            std::fs::create_dir_all(&folder)
                .map_err(Error::io(format!("creating {}", folder.display())))?;
            let url = format!("sqlite://{}", folder.join("bench.db").display());
            Ok(Fresh {
                backend,
                url,
                cleanup: Cleanup::Folder(folder),
            })
        }
        Backend::Postgres => {
            // A fixed name per size: a run that was killed leaves its database behind, and
            // the next run on the same size drops it first instead of piling up copies.
            let name = format!("profilegraph_bench_{}", size.arg());
            let admin = Database::connect(postgres_admin_url).await.map_err(|e| {
                Error::Setup(format!(
                    "cannot connect to PostgreSQL at {postgres_admin_url} ({e}); start it, pass \
                     --postgres-url, or run with --backends sqlite"
                ))
            })?;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.close().await?;
            let url = replace_database(postgres_admin_url, &name)?;
            Ok(Fresh {
                backend,
                url,
                cleanup: Cleanup::Postgres {
                    admin_url: postgres_admin_url.to_owned(),
                    name,
                },
            })
        }
    }
}

impl Fresh {
    /// Remove the database (the server must have stopped).
    pub async fn remove(self) -> Result<()> {
        match self.cleanup {
            Cleanup::Folder(folder) => std::fs::remove_dir_all(&folder)
                .map_err(Error::io(format!("removing {}", folder.display()))),
            Cleanup::Postgres { admin_url, name } => {
                let admin = Database::connect(admin_url.as_str()).await?;
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await?;
                admin.close().await?;
                Ok(())
            }
        }
    }

    /// Where the data is, for the report.
    pub fn describe(&self) -> String {
        match &self.cleanup {
            Cleanup::Folder(folder) => folder.join("bench.db").display().to_string(),
            Cleanup::Postgres { name, .. } => format!("PostgreSQL database {name}"),
        }
    }

    /// A pool on this database set up like the server's: the same size and, on SQLite,
    /// the same WAL, synchronous and busy-timeout settings, so the ceiling runs under
    /// the same rules.
    pub async fn pool(&self, max_connections: u32) -> Result<DatabaseConnection> {
        let mut options = ConnectOptions::new(self.url.clone());
        options
            .max_connections(max_connections.max(1))
            .min_connections(1)
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts: SqliteConnectOptions| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
            });
        Ok(Database::connect(options).await?)
    }
}

/// `postgres://user@host:port/db?opts` with `db` replaced by `name`.
fn replace_database(url: &str, name: &str) -> Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .map(|i| i + 3)
        .ok_or_else(|| Error::Usage(format!("--postgres-url `{url}` is not a postgres:// URL")))?;
    let host_part = &base[scheme_end..];
    let host_end = host_part.find('/').unwrap_or(host_part.len());
    let mut out = format!("{}{}/{name}", &base[..scheme_end], &host_part[..host_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn replaces_the_database_of_a_postgres_url() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "b").unwrap(),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            replace_database("postgres://u:p@h/x?sslmode=disable", "b").unwrap(),
            "postgres://u:p@h/b?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgresql://h:1", "b").unwrap(),
            "postgresql://h:1/b"
        );
    }
}
