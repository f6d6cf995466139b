//! The database handle every store function takes: the pool, or one request's walled
//! transaction; and how write transactions begin.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::OnceCell;
use uuid::Uuid;

use crate::error::Result;
use crate::events::numbering::Numbering;

/// The role a GraphQL request runs as on PostgreSQL, under the row-level security
/// policies of the migration `m20261122_000005_row_security`.
pub const APP_ROLE: &str = "profilegraph_app";

/// How long a statement may go unanswered on PostgreSQL before the database counts as
/// unreachable (`SERVICE_UNAVAILABLE`). A stopped database refuses connections at once,
/// but a cut network answers nothing, and a pooled connection that was used recently is
/// not pinged before use (that would double the round trips), so without this a request
/// would hang until the 10 s request limit. PostgreSQL's own `statement_timeout` (4 s, see
/// the server's `database` module) ends slow statements before this fires.
pub const STATEMENT_DEADLINE: Duration = Duration::from_millis(4_500);

/// Run `fut` within [`STATEMENT_DEADLINE`] on PostgreSQL. SQLite is in the process: its
/// statements can't be cut off from the network, and its writers wait on the busy timeout.
async fn deadline<T>(
    backend: DbBackend,
    fut: impl Future<Output = std::result::Result<T, DbErr>>,
) -> std::result::Result<T, DbErr> {
    if backend != DbBackend::Postgres {
        return fut.await;
    }
    match tokio::time::timeout(STATEMENT_DEADLINE, fut).await {
        Ok(result) => result,
        Err(_) => Err(DbErr::Conn(RuntimeErr::Internal(format!(
            "the database did not answer within {STATEMENT_DEADLINE:?}"
        )))),
    }
}

/// Run `fut` on a connection of `pool`: within the deadline, and counted in the pool's
/// waits (see [`crate::stats::acquiring`]).
async fn pooled<T>(
    pool: &DatabaseConnection,
    fut: impl Future<Output = std::result::Result<T, DbErr>>,
) -> std::result::Result<T, DbErr> {
    deadline(
        pool.get_database_backend(),
        crate::stats::acquiring(pool, fut),
    )
    .await
}

/// Where statements go: the pool, or one request's transaction behind the wall.
#[derive(Debug, Clone)]
pub enum Conn {
    /// The pool: each statement on whichever connection is free, as the owning role.
    Pool(DatabaseConnection),
    /// One request's transaction on PostgreSQL, running as [`APP_ROLE`] with the
    /// request's workspace set, so row-level security hides every other workspace.
    Walled(Arc<Wall>),
}

/// One request's walled transaction, opened by its first statement: a request that a
/// limit refuses, or that needs no data, never touches the database.
#[derive(Debug)]
pub struct Wall {
    pool: DatabaseConnection,
    workspace_id: Uuid,
    txn: OnceCell<DatabaseTransaction>,
    /// The first statement that failed. PostgreSQL aborts the transaction there: every
    /// later statement fails, and COMMIT would quietly roll back what came before. So
    /// the request ends with this error instead of claiming it wrote anything.
    /// (Failures a store expects, like a unique violation, run inside a savepoint
    /// through [`Db::begin_write`] and never get here.)
    failure: Mutex<Option<(bool, String)>>,
    /// Whether a change recorded profile events: after the commit they are numbered.
    recorded: AtomicBool,
}

impl Wall {
    /// The transaction, begun (with the role and workspace set) by the first caller.
    async fn txn(&self) -> std::result::Result<&DatabaseTransaction, DbErr> {
        let txn = self
            .txn
            .get_or_try_init(|| async {
                let begin = crate::stats::acquiring(&self.pool, self.pool.begin());
                let txn = deadline(DbBackend::Postgres, begin).await?;
                // One round trip for both; the id is a parsed UUID, so formatting it into
                // the text is safe (and `SET` takes no bind parameters).
                let settings = format!(
                    "SET LOCAL ROLE {APP_ROLE}; SET LOCAL app.workspace_id = '{}'",
                    self.workspace_id
                );
                deadline(DbBackend::Postgres, txn.execute_unprepared(&settings)).await?;
                // BEGIN and the settings: two statements the metric callback doesn't see.
                crate::stats::add_statements(2);
                Ok::<_, DbErr>(txn)
            })
            .await;
        self.noted(txn)
    }

    /// Pass `result` on, remembering the first failure.
    fn noted<T>(&self, result: std::result::Result<T, DbErr>) -> std::result::Result<T, DbErr> {
        if let Err(err) = &result
            && let Ok(mut failure) = self.failure.lock()
            && failure.is_none()
        {
            *failure = Some((crate::error::is_unavailable(err), err.to_string()));
        }
        result
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for Conn {
    fn get_database_backend(&self) -> DbBackend {
        match self {
            Conn::Pool(conn) => conn.get_database_backend(),
            Conn::Walled(wall) => wall.pool.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        match self {
            Conn::Pool(conn) => pooled(conn, conn.execute_raw(stmt)).await,
            Conn::Walled(wall) => {
                let txn = wall.txn().await?;
                let result = deadline(DbBackend::Postgres, txn.execute_raw(stmt)).await;
                wall.noted(result)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        match self {
            Conn::Pool(conn) => pooled(conn, conn.execute_unprepared(sql)).await,
            Conn::Walled(wall) => {
                let txn = wall.txn().await?;
                let result = deadline(DbBackend::Postgres, txn.execute_unprepared(sql)).await;
                wall.noted(result)
            }
        }
    }

    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> std::result::Result<Option<QueryResult>, DbErr> {
        match self {
            Conn::Pool(conn) => pooled(conn, conn.query_one_raw(stmt)).await,
            Conn::Walled(wall) => {
                let txn = wall.txn().await?;
                let result = deadline(DbBackend::Postgres, txn.query_one_raw(stmt)).await;
                wall.noted(result)
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        match self {
            Conn::Pool(conn) => pooled(conn, conn.query_all_raw(stmt)).await,
            Conn::Walled(wall) => {
                let txn = wall.txn().await?;
                let result = deadline(DbBackend::Postgres, txn.query_all_raw(stmt)).await;
                wall.noted(result)
            }
        }
    }
}

/// A pooled connection to SQLite or PostgreSQL, or one request's walled transaction;
/// cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    /// Where statements go. Writes go through [`Db::begin_write`].
    pub conn: Conn,
    /// Who the changes made through this handle are by, for the event log; `None` for
    /// the server's own work (the CLI, the demo).
    actor: Option<Arc<Actor>>,
    /// The server's numbering of events after their commit (PostgreSQL), told of every
    /// request that recorded some; `None` outside the server, where whoever writes
    /// numbers afterwards (see [`crate::events::numbering`]).
    numbering: Option<Arc<Numbering>>,
    /// SQLite's one writer, taken in turn by this process's write transactions (see
    /// [`Db::begin_write`]); `None` on PostgreSQL.
    writer: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Who made a change: the agent behind the token (if it has one), the token, and the
/// request it came in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Actor {
    /// The agent the token was issued for.
    pub agent_id: Option<Uuid>,
    /// The token.
    pub token_id: Option<Uuid>,
    /// The request id (`x-request-id`).
    pub request_id: Option<String>,
}

impl Db {
    /// Wrap a connected pool.
    pub fn new(conn: DatabaseConnection) -> Self {
        let writer = (conn.get_database_backend() == DbBackend::Sqlite)
            .then(|| Arc::new(tokio::sync::Mutex::new(())));
        Self {
            conn: Conn::Pool(conn),
            actor: None,
            numbering: None,
            writer,
        }
    }

    /// This handle, with `numbering` told of the events its requests commit.
    pub fn with_numbering(mut self, numbering: Arc<Numbering>) -> Db {
        self.numbering = Some(numbering);
        self
    }

    /// The numbering this handle tells, if any.
    pub fn numbering(&self) -> Option<&Arc<Numbering>> {
        self.numbering.as_ref()
    }

    /// A change in this handle's transaction recorded profile events: number them once
    /// it commits.
    pub(crate) fn recorded_events(&self) {
        if let Conn::Walled(wall) = &self.conn {
            wall.recorded.store(true, Ordering::Relaxed);
        }
    }

    /// The pool behind this handle, if it is one (not a request's transaction).
    pub fn pool(&self) -> Option<&DatabaseConnection> {
        match &self.conn {
            Conn::Pool(conn) => Some(conn),
            Conn::Walled(_) => None,
        }
    }

    /// A handle for one GraphQL request of `workspace_id`.
    ///
    /// On PostgreSQL its statements run in one transaction that has switched to
    /// [`APP_ROLE`] and set `app.workspace_id`, so the database itself refuses every row
    /// of another workspace, whatever a statement's `WHERE` says: a second wall behind the
    /// filters in the code. Both settings are `LOCAL`: they end with the transaction, and
    /// the pooled connection goes back as the owning role. The transaction begins with
    /// the first statement; call [`Db::finish`] at the end. On SQLite (which has no
    /// row-level security) it is the pool itself.
    pub fn walled(&self, workspace_id: Uuid) -> Db {
        match &self.conn {
            Conn::Pool(pool) if pool.get_database_backend() == DbBackend::Postgres => Db {
                conn: Conn::Walled(Arc::new(Wall {
                    pool: pool.clone(),
                    workspace_id,
                    txn: OnceCell::new(),
                    failure: Mutex::new(None),
                    recorded: AtomicBool::new(false),
                })),
                actor: self.actor.clone(),
                numbering: self.numbering.clone(),
                writer: None,
            },
            _ => self.clone(),
        }
    }

    /// This handle, with its changes recorded as made by `actor`.
    pub fn acting_as(mut self, actor: Actor) -> Db {
        self.actor = Some(Arc::new(actor));
        self
    }

    /// Who the changes made through this handle are by.
    pub fn actor(&self) -> Actor {
        self.actor.as_deref().cloned().unwrap_or_default()
    }

    /// End a request's handle from [`Db::walled`]: commit its transaction, or roll it
    /// back and return the error when one of its statements failed. A no-op for the pool.
    ///
    /// Loader batches hold clones until they finish; by the time the response is ready
    /// they have, but a last task may still be unwinding, so give it a few turns.
    pub async fn finish(self) -> Result<()> {
        let Conn::Walled(mut wall) = self.conn else {
            return Ok(());
        };
        let numbering = self.numbering;
        let mut turns = 0;
        let wall = loop {
            match Arc::try_unwrap(wall) {
                Ok(wall) => break wall,
                Err(_) if turns >= 1_000 => {
                    // Whoever still holds it drops it later, which rolls it back: nothing
                    // is half-written, and the request says it failed.
                    return Err(crate::StoreError::Database(DbErr::Custom(
                        "a request's transaction was still in use after the request ended".into(),
                    )));
                }
                Err(shared) => {
                    turns += 1;
                    wall = shared;
                    tokio::task::yield_now().await;
                }
            }
        };
        let failure = wall.failure.into_inner().ok().flatten();
        let Some(txn) = wall.txn.into_inner() else {
            return Ok(());
        };
        match failure {
            None => {
                txn.commit().await?;
                crate::stats::add_statements(1);
                if wall.recorded.load(Ordering::Relaxed)
                    && let Some(numbering) = numbering
                {
                    numbering.signal(wall.workspace_id);
                }
                Ok(())
            }
            Some((unavailable, message)) => {
                txn.rollback().await?;
                let err = DbErr::Custom(message);
                Err(if unavailable {
                    crate::StoreError::Unavailable(err)
                } else {
                    crate::StoreError::Database(err)
                })
            }
        }
    }

    /// Start a transaction for a change.
    ///
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front. With the
    /// default `BEGIN DEFERRED`, two transactions that both read and then write deadlock,
    /// and SQLite fails one of them with "database is locked" without waiting. And this
    /// process's writers take turns before they begin, in the order they asked: SQLite
    /// has one writer, and one that finds the lock taken sleeps in its busy handler (1,
    /// 2, 5, … up to 100 ms at a time) however soon the lock is free again: under the
    /// benchmark's writes that put p99 near 85 ms, and 23 ms with turns. The busy timeout
    /// is left for writers of other processes (a command-line import).
    ///
    /// PostgreSQL ignores the mode. Inside a request's walled transaction it is a
    /// savepoint: a failed change rolls back to it and leaves the rest of the request
    /// alone.
    pub async fn begin_write(&self) -> Result<WriteTxn> {
        match &self.conn {
            Conn::Pool(conn) => {
                let turn = match &self.writer {
                    Some(writer) => Some(writer.clone().lock_owned().await),
                    None => None,
                };
                let options = TransactionOptions {
                    sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                    ..TransactionOptions::default()
                };
                let txn = pooled(conn, conn.begin_with_options(options)).await?;
                Ok(WriteTxn { txn, _turn: turn })
            }
            Conn::Walled(wall) => {
                let txn = wall.txn().await?;
                let txn = wall.noted(deadline(DbBackend::Postgres, txn.begin()).await)?;
                Ok(WriteTxn { txn, _turn: None })
            }
        }
    }
}

/// A change's transaction from [`Db::begin_write`]: the transaction, and on SQLite this
/// process's turn to write, given back when the transaction ends.
#[derive(Debug)]
pub struct WriteTxn {
    txn: DatabaseTransaction,
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl WriteTxn {
    /// Commit, and give the turn to the next writer.
    pub async fn commit(self) -> std::result::Result<(), DbErr> {
        self.txn.commit().await
    }

    /// Roll back, and give the turn to the next writer.
    pub async fn rollback(self) -> std::result::Result<(), DbErr> {
        self.txn.rollback().await
    }
}

impl std::ops::Deref for WriteTxn {
    type Target = DatabaseTransaction;

    fn deref(&self) -> &DatabaseTransaction {
        &self.txn
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.txn.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        self.txn.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        self.txn.execute_unprepared(sql).await
    }

    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> std::result::Result<Option<QueryResult>, DbErr> {
        self.txn.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        self.txn.query_all_raw(stmt).await
    }
}

/// The current instant as stored: UTC, truncated to microseconds, which is what
/// PostgreSQL keeps. Both backends then hold (and sort, and page by) the same value.
pub fn now() -> sea_orm::prelude::DateTimeWithTimeZone {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6).into()
}
