//! The database handle every store function takes: the pool, or one request's walled
//! transaction; and how write transactions begin.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::sqlx::{self, Postgres};
use sea_orm::{
    ConnAcquireErr, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    ExecResult, QueryResult, RuntimeErr, Statement, TransactionTrait,
};
use sea_query_sqlx::SqlxValues;
use uuid::Uuid;

use crate::error::Result;
use crate::events::numbering::Numbering;

mod sqlite;

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

/// A request's transaction on PostgreSQL, held directly on sqlx: SeaORM begins a
/// transaction with a bare `BEGIN`, and the wall needs its settings in the same round trip.
type PgTxn = sqlx::Transaction<'static, Postgres>;

/// One request's walled transaction, opened by its first statement: a request that a
/// limit refuses, or that needs no data, never touches the database.
///
/// It is begun with one simple query, `BEGIN; SET LOCAL ROLE …; SET LOCAL
/// app.workspace_id = …`: one round trip for the transaction and its wall, where a
/// SeaORM transaction takes one for `BEGIN` and another for the settings.
pub struct Wall {
    pool: DatabaseConnection,
    workspace_id: Uuid,
    /// The transaction, once a statement began it; `None` again after a change that
    /// began it failed and took it back whole (see [`Db::begin_write`]).
    txn: tokio::sync::Mutex<Option<PgTxn>>,
    /// Changes whose handles were dropped before they ended (an early return between
    /// `begin_write` and `commit`): undone before the transaction's next statement.
    undo: Mutex<Vec<Undo>>,
    /// Savepoints named so far, for unique names.
    savepoints: AtomicU32,
    /// The first statement that failed. PostgreSQL aborts the transaction there: every
    /// later statement fails, and COMMIT would quietly roll back what came before. So
    /// the request ends with this error instead of claiming it wrote anything.
    /// (Failures a store expects, like a unique violation, run in a change of their own
    /// through [`Db::begin_write`] and never get here.)
    failure: Mutex<Option<(bool, String)>>,
    /// Whether a change recorded profile events: after the commit they are numbered.
    recorded: AtomicBool,
    /// Whether anything but a `SELECT` ran: a request that only read ends its
    /// transaction off its path (see [`Db::finish`]).
    wrote: AtomicBool,
}

impl std::fmt::Debug for Wall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wall")
            .field("workspace_id", &self.workspace_id)
            .finish_non_exhaustive()
    }
}

/// A change to take back before the next statement.
#[derive(Debug, Clone, Copy)]
enum Undo {
    /// Back to the savepoint with this number.
    ToSavepoint(u32),
    /// The whole transaction: the change began it.
    All,
}

impl Wall {
    /// The transaction as it is (`None` before the first statement), with the changes
    /// dropped half-way taken back.
    async fn settled(
        &self,
    ) -> std::result::Result<tokio::sync::MutexGuard<'_, Option<PgTxn>>, DbErr> {
        let mut guard = self.txn.lock().await;
        self.settle(&mut guard).await?;
        Ok(guard)
    }

    /// The transaction, begun (with the role and workspace set) if it isn't yet.
    async fn open(&self) -> std::result::Result<tokio::sync::MutexGuard<'_, Option<PgTxn>>, DbErr> {
        let mut guard = self.settled().await?;
        if guard.is_none() {
            *guard = Some(self.begin().await?);
        }
        Ok(guard)
    }

    /// Begin the transaction behind the wall, in one round trip.
    async fn begin(&self) -> std::result::Result<PgTxn, DbErr> {
        let pool = self.pool.get_postgres_connection_pool();
        // The id is a parsed UUID, so formatting it into the text is safe (and `SET`
        // takes no bind parameters).
        let begin = format!(
            "BEGIN; SET LOCAL ROLE {APP_ROLE}; SET LOCAL app.workspace_id = '{}'",
            self.workspace_id
        );
        let begun = crate::stats::acquiring(&self.pool, async {
            pool.begin_with(sqlx::AssertSqlSafe(begin))
                .await
                .map_err(begin_err)
        });
        let txn = deadline(DbBackend::Postgres, begun).await?;
        crate::stats::add_statements(1);
        Ok(txn)
    }

    /// Take back the changes whose handles were dropped before they ended.
    async fn settle(&self, txn: &mut Option<PgTxn>) -> std::result::Result<(), DbErr> {
        let undo = match self.undo.lock() {
            Ok(mut undo) => std::mem::take(&mut *undo),
            Err(_) => Vec::new(),
        };
        for step in undo {
            match step {
                Undo::ToSavepoint(n) => {
                    if let Some(txn) = txn.as_mut() {
                        let sql = format!("ROLLBACK TO SAVEPOINT sp{n}; RELEASE SAVEPOINT sp{n}");
                        simple(txn, &sql).await?;
                    }
                }
                Undo::All => {
                    if let Some(txn) = txn.take() {
                        rollback(txn).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Remember whether `sql` may write: anything but a `SELECT` may (an `INSERT …
    /// RETURNING` comes as a query too).
    fn sent(&self, sql: &str) {
        let select = sql
            .trim_start()
            .get(..6)
            .is_some_and(|word| word.eq_ignore_ascii_case("SELECT"));
        if !select {
            self.wrote.store(true, Ordering::Relaxed);
        }
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

/// How SeaORM reports a failed `begin`: the pool's own failures as acquiring errors,
/// the rest as the statement's.
fn begin_err(err: sqlx::Error) -> DbErr {
    match err {
        sqlx::Error::PoolTimedOut => DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
        sqlx::Error::PoolClosed => DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed),
        err => DbErr::Query(RuntimeErr::SqlxError(Arc::new(err))),
    }
}

fn exec_err(err: sqlx::Error) -> DbErr {
    DbErr::Exec(RuntimeErr::SqlxError(Arc::new(err)))
}

fn query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}

/// `stmt` with its values bound, as SeaORM binds them.
fn bound(stmt: &Statement) -> sqlx::query::Query<'_, Postgres, SqlxValues> {
    let values = stmt
        .values
        .clone()
        .unwrap_or(sea_orm::sea_query::Values(Vec::new()));
    sqlx::query_with(sqlx::AssertSqlSafe(stmt.sql.as_str()), SqlxValues(values))
}

/// Run `sql` (one or more statements, no parameters) as one round trip.
async fn simple(txn: &mut PgTxn, sql: &str) -> std::result::Result<(), DbErr> {
    unprepared_in(txn, sql).await.map(drop)
}

async fn rollback(txn: PgTxn) -> std::result::Result<(), DbErr> {
    crate::stats::add_statements(1);
    deadline(DbBackend::Postgres, async {
        txn.rollback().await.map_err(exec_err)
    })
    .await
}

async fn execute_in(txn: &mut PgTxn, stmt: &Statement) -> std::result::Result<ExecResult, DbErr> {
    crate::stats::add_statements(1);
    let run = async { bound(stmt).execute(&mut **txn).await.map_err(exec_err) };
    deadline(DbBackend::Postgres, run)
        .await
        .map(ExecResult::from)
}

async fn unprepared_in(txn: &mut PgTxn, sql: &str) -> std::result::Result<ExecResult, DbErr> {
    crate::stats::add_statements(1);
    let run = async {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
            .execute(&mut **txn)
            .await
            .map_err(exec_err)
    };
    deadline(DbBackend::Postgres, run)
        .await
        .map(ExecResult::from)
}

async fn query_one_in(
    txn: &mut PgTxn,
    stmt: &Statement,
) -> std::result::Result<Option<QueryResult>, DbErr> {
    crate::stats::add_statements(1);
    let run = async {
        bound(stmt)
            .fetch_optional(&mut **txn)
            .await
            .map_err(query_err)
    };
    deadline(DbBackend::Postgres, run)
        .await
        .map(|row| row.map(QueryResult::from))
}

async fn query_all_in(
    txn: &mut PgTxn,
    stmt: &Statement,
) -> std::result::Result<Vec<QueryResult>, DbErr> {
    crate::stats::add_statements(1);
    let run = async { bound(stmt).fetch_all(&mut **txn).await.map_err(query_err) };
    deadline(DbBackend::Postgres, run)
        .await
        .map(|rows| rows.into_iter().map(QueryResult::from).collect())
}

/// The error for a statement of a change whose transaction a failure already ended.
fn ended() -> DbErr {
    DbErr::Custom("the change's transaction has already ended".into())
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
                wall.wrote.store(true, Ordering::Relaxed);
                let result = async {
                    let mut txn = wall.open().await?;
                    execute_in(txn.as_mut().ok_or_else(ended)?, &stmt).await
                };
                wall.noted(result.await)
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        match self {
            Conn::Pool(conn) => pooled(conn, conn.execute_unprepared(sql)).await,
            Conn::Walled(wall) => {
                wall.wrote.store(true, Ordering::Relaxed);
                let result = async {
                    let mut txn = wall.open().await?;
                    unprepared_in(txn.as_mut().ok_or_else(ended)?, sql).await
                };
                wall.noted(result.await)
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
                wall.sent(&stmt.sql);
                let result = async {
                    let mut txn = wall.open().await?;
                    query_one_in(txn.as_mut().ok_or_else(ended)?, &stmt).await
                };
                wall.noted(result.await)
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        match self {
            Conn::Pool(conn) => pooled(conn, conn.query_all_raw(stmt)).await,
            Conn::Walled(wall) => {
                wall.sent(&stmt.sql);
                let result = async {
                    let mut txn = wall.open().await?;
                    query_all_in(txn.as_mut().ok_or_else(ended)?, &stmt).await
                };
                wall.noted(result.await)
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
    /// This process's write connection to SQLite, taken in turn by its changes (see
    /// [`sqlite::Writer`]); `None` on PostgreSQL.
    writer: Option<sqlite::Writer>,
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
            .then(|| Arc::new(tokio::sync::Mutex::new(None)));
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
    /// the first statement, in the same round trip as its settings; call [`Db::finish`]
    /// at the end. On SQLite (which has no row-level security) it is the pool itself.
    pub fn walled(&self, workspace_id: Uuid) -> Db {
        match &self.conn {
            Conn::Pool(pool) if pool.get_database_backend() == DbBackend::Postgres => Db {
                conn: Conn::Walled(Arc::new(Wall {
                    pool: pool.clone(),
                    workspace_id,
                    txn: tokio::sync::Mutex::new(None),
                    undo: Mutex::new(Vec::new()),
                    savepoints: AtomicU32::new(0),
                    failure: Mutex::new(None),
                    recorded: AtomicBool::new(false),
                    wrote: AtomicBool::new(false),
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
        let mut txn = wall.txn.lock().await.take();
        // A change dropped half-way is taken back before the commit.
        let settled = wall.settle(&mut txn).await;
        let _ = wall.noted(settled);
        let failure = wall.failure.into_inner().ok().flatten();
        let Some(txn) = txn else {
            return match failure {
                None => Ok(()),
                Some(failure) => Err(failed(failure)),
            };
        };
        match failure {
            // A transaction that only read has nothing to commit. Dropped, it queues its
            // `ROLLBACK`, which goes out with the check the pool makes of every connection
            // given back, in the background: the response doesn't wait for it.
            None if !wall.wrote.load(Ordering::Relaxed) => {
                drop(txn);
                crate::stats::add_statements(1);
                Ok(())
            }
            None => {
                let commit = async { txn.commit().await.map_err(exec_err) };
                deadline(DbBackend::Postgres, commit).await?;
                crate::stats::add_statements(1);
                if wall.recorded.load(Ordering::Relaxed)
                    && let Some(numbering) = numbering
                {
                    numbering.signal(wall.workspace_id);
                }
                Ok(())
            }
            Some(failure) => {
                rollback(txn).await?;
                Err(failed(failure))
            }
        }
    }

    /// Start a transaction for a change.
    ///
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front. With the
    /// default `BEGIN DEFERRED`, two transactions that both read and then write deadlock,
    /// and SQLite fails one of them with "database is locked" without waiting. It runs on
    /// this process's one write connection, whose changes take turns in the order they
    /// asked (under the benchmark's writes, p99 went from 85 ms, with writers sleeping in
    /// SQLite's busy handler, to 23 ms); its `BEGIN` goes out with its first statement,
    /// and its events with its next statement or its `COMMIT` (see [`sqlite`]).
    ///
    /// On PostgreSQL, a transaction on the pool, or inside a request's walled transaction
    /// a savepoint: a failed change rolls back to it and leaves the rest of the request
    /// alone.
    pub async fn begin_write(&self) -> Result<WriteTxn> {
        match &self.conn {
            Conn::Pool(conn) => match &self.writer {
                Some(writer) => Ok(WriteTxn {
                    kind: Write::Sqlite(sqlite::SqliteWrite::begin(conn, writer).await?),
                }),
                None => Ok(WriteTxn {
                    kind: Write::Txn(pooled(conn, conn.begin()).await?),
                }),
            },
            Conn::Walled(wall) => {
                wall.wrote.store(true, Ordering::Relaxed);
                let change = WalledWrite::begin(wall.clone()).await;
                Ok(WriteTxn {
                    kind: Write::Walled(wall.noted(change)?),
                })
            }
        }
    }
}

/// A change's transaction from [`Db::begin_write`] (on SQLite with this process's turn
/// to write, given back when the transaction ends).
#[derive(Debug)]
pub struct WriteTxn {
    kind: Write,
}

#[derive(Debug)]
enum Write {
    /// A transaction of its own on the PostgreSQL pool (or a savepoint in one).
    Txn(DatabaseTransaction),
    /// A change inside a request's walled transaction.
    Walled(WalledWrite),
    /// A change on SQLite, or a savepoint in one.
    Sqlite(sqlite::SqliteWrite),
}

/// A change inside a request's walled transaction: a savepoint, or, when the change is
/// the first thing the request sends, the transaction itself. A savepoint costs two
/// round trips (`SAVEPOINT`, `RELEASE`); a change that fails before anything else ran
/// loses nothing by taking the whole transaction back, and the request's next statement
/// begins a new one.
#[derive(Debug)]
struct WalledWrite {
    wall: Arc<Wall>,
    /// `None` when the change began the transaction.
    savepoint: Option<u32>,
    ended: bool,
}

impl WalledWrite {
    async fn begin(wall: Arc<Wall>) -> std::result::Result<WalledWrite, DbErr> {
        let savepoint = {
            let mut txn = wall.settled().await?;
            match txn.as_mut() {
                None => {
                    *txn = Some(wall.begin().await?);
                    None
                }
                Some(txn) => {
                    let n = wall.savepoints.fetch_add(1, Ordering::Relaxed) + 1;
                    simple(txn, &format!("SAVEPOINT sp{n}")).await?;
                    Some(n)
                }
            }
        };
        Ok(WalledWrite {
            wall,
            savepoint,
            ended: false,
        })
    }

    /// A nested change: always a savepoint.
    async fn nested(&self) -> std::result::Result<WalledWrite, DbErr> {
        let mut txn = self.wall.settled().await?;
        let txn = txn.as_mut().ok_or_else(ended)?;
        let n = self.wall.savepoints.fetch_add(1, Ordering::Relaxed) + 1;
        simple(txn, &format!("SAVEPOINT sp{n}")).await?;
        Ok(WalledWrite {
            wall: self.wall.clone(),
            savepoint: Some(n),
            ended: false,
        })
    }

    /// Keep the change (`commit`) or take it back.
    async fn end(&mut self, commit: bool) -> std::result::Result<(), DbErr> {
        self.ended = true;
        // A nested change dropped half-way goes first, or releasing this one would keep it.
        let mut txn = self.wall.settled().await?;
        match (self.savepoint, commit) {
            // The request's commit keeps it.
            (None, true) => Ok(()),
            (None, false) => match txn.take() {
                Some(txn) => rollback(txn).await,
                None => Ok(()),
            },
            (Some(n), true) => {
                let txn = txn.as_mut().ok_or_else(ended)?;
                simple(txn, &format!("RELEASE SAVEPOINT sp{n}")).await
            }
            (Some(n), false) => {
                let txn = txn.as_mut().ok_or_else(ended)?;
                simple(
                    txn,
                    &format!("ROLLBACK TO SAVEPOINT sp{n}; RELEASE SAVEPOINT sp{n}"),
                )
                .await
            }
        }
    }
}

impl Drop for WalledWrite {
    fn drop(&mut self) {
        if !self.ended
            && let Ok(mut undo) = self.wall.undo.lock()
        {
            undo.push(match self.savepoint {
                Some(n) => Undo::ToSavepoint(n),
                None => Undo::All,
            });
        }
    }
}

impl WriteTxn {
    /// Commit, and give the turn to the next writer.
    pub async fn commit(self) -> std::result::Result<(), DbErr> {
        match self.kind {
            Write::Txn(txn) => txn.commit().await,
            Write::Walled(mut change) => change.end(true).await,
            Write::Sqlite(change) => change.end(true).await,
        }
    }

    /// Roll back, and give the turn to the next writer.
    pub async fn rollback(self) -> std::result::Result<(), DbErr> {
        match self.kind {
            Write::Txn(txn) => txn.rollback().await,
            Write::Walled(mut change) => change.end(false).await,
            Write::Sqlite(change) => change.end(false).await,
        }
    }

    /// A change inside this one (a savepoint), which can fail without ending this one.
    pub async fn begin(&self) -> std::result::Result<WriteTxn, DbErr> {
        let kind = match &self.kind {
            Write::Txn(txn) => Write::Txn(txn.begin().await?),
            Write::Walled(change) => Write::Walled(change.nested().await?),
            Write::Sqlite(change) => Write::Sqlite(change.nested()),
        };
        Ok(WriteTxn { kind })
    }

    /// Run `statement`, whose answer no one reads (a change's events): on SQLite it goes
    /// out with the change's next statement or its `COMMIT`, in the same call; elsewhere
    /// at once. Its failure then fails that statement, or the commit.
    pub async fn defer(&self, statement: Statement) -> std::result::Result<(), DbErr> {
        match &self.kind {
            Write::Sqlite(change) => {
                change.txn().defer(statement);
                Ok(())
            }
            _ => self.execute_raw(statement).await.map(drop),
        }
    }
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        match &self.kind {
            Write::Txn(txn) => txn.get_database_backend(),
            Write::Walled(_) => DbBackend::Postgres,
            Write::Sqlite(_) => DbBackend::Sqlite,
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> std::result::Result<ExecResult, DbErr> {
        match &self.kind {
            Write::Txn(txn) => txn.execute_raw(stmt).await,
            Write::Sqlite(change) => change.txn().run(stmt).await.map(|(_, done)| done),
            Write::Walled(change) => {
                let mut txn = change.wall.settled().await?;
                execute_in(txn.as_mut().ok_or_else(ended)?, &stmt).await
            }
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> std::result::Result<ExecResult, DbErr> {
        match &self.kind {
            Write::Txn(txn) => txn.execute_unprepared(sql).await,
            Write::Sqlite(change) => {
                let stmt = Statement::from_string(DbBackend::Sqlite, sql.to_owned());
                change.txn().run(stmt).await.map(|(_, done)| done)
            }
            Write::Walled(change) => {
                let mut txn = change.wall.settled().await?;
                unprepared_in(txn.as_mut().ok_or_else(ended)?, sql).await
            }
        }
    }

    async fn query_one_raw(
        &self,
        stmt: Statement,
    ) -> std::result::Result<Option<QueryResult>, DbErr> {
        match &self.kind {
            Write::Txn(txn) => txn.query_one_raw(stmt).await,
            Write::Sqlite(change) => {
                let (rows, _) = change.txn().run(stmt).await?;
                Ok(rows.into_iter().next())
            }
            Write::Walled(change) => {
                let mut txn = change.wall.settled().await?;
                query_one_in(txn.as_mut().ok_or_else(ended)?, &stmt).await
            }
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> std::result::Result<Vec<QueryResult>, DbErr> {
        match &self.kind {
            Write::Txn(txn) => txn.query_all_raw(stmt).await,
            Write::Sqlite(change) => change.txn().run(stmt).await.map(|(rows, _)| rows),
            Write::Walled(change) => {
                let mut txn = change.wall.settled().await?;
                query_all_in(txn.as_mut().ok_or_else(ended)?, &stmt).await
            }
        }
    }
}

/// The current instant as stored: UTC, truncated to microseconds, which is what
/// PostgreSQL keeps. Both backends then hold (and sort, and page by) the same value.
pub fn now() -> sea_orm::prelude::DateTimeWithTimeZone {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6).into()
}

/// A request's failure as the store's error.
fn failed((unavailable, message): (bool, String)) -> crate::StoreError {
    let err = DbErr::Custom(message);
    if unavailable {
        crate::StoreError::Unavailable(err)
    } else {
        crate::StoreError::Database(err)
    }
}
