//! A change's transaction on SQLite: on this process's one write connection, held
//! directly on sqlx, so that the statements that need no answer of their own share a
//! call with the next one.
//!
//! SQLite has one writer, and its lock is held from `BEGIN IMMEDIATE` to `COMMIT`. Each
//! statement sent is a call to the connection's thread and back to the runtime, and
//! while the change's task waits for its turn on a busy core, every other writer waits
//! for the lock. A note through SeaORM's transaction was four calls (`BEGIN IMMEDIATE`,
//! the note, its events, `COMMIT`); here it is two: `BEGIN IMMEDIATE` goes out with the
//! first statement, and the events (which no one reads back) with the `COMMIT`.
//!
//! The process's changes all go through one connection ([`Writer`]), taken in turn:
//! SQLite lets one write at a time anyway, and a connection keeps its page cache and its
//! prepared statements only as long as no other connection writes. Changes spread over
//! the pool's connections made each one read back from the file what the last change
//! wrote elsewhere, and prepare its statements again.
//!
//! What waits for the next call is kept in order: the `BEGIN`, savepoints and their
//! ends, and statements handed over with [`SqliteTxn::defer`]. A call sends them and the
//! statement as one text (SQLite runs several statements of one text, binding the
//! positional `?` parameters of each in turn) and answers with the last statement's
//! rows and counts only.

use std::sync::{Arc, Mutex, PoisonError};

use futures_util::TryStreamExt;
use sea_orm::sqlx::{self, ConnectOptions, Either, Executor, SqliteConnection};
use sea_orm::{DatabaseConnection, DbErr, ExecResult, QueryResult, RuntimeErr, Statement};
use sea_query_sqlx::SqlxValues;

/// This process's write connection to SQLite, opened with the pool's settings on the
/// first change and kept; whoever holds its lock has the turn to write. Writers take
/// turns in the order they ask: a writer that finds SQLite's lock taken sleeps in its
/// busy handler (1, 2, 5, … up to 100 ms at a time) however soon the lock is free again.
/// The busy timeout is left for writers of other processes (a command-line import).
pub(crate) type Writer = Arc<tokio::sync::Mutex<Option<SqliteConnection>>>;

/// A change's turn: the write connection, held until the change ends.
type Turn = tokio::sync::OwnedMutexGuard<Option<SqliteConnection>>;

/// One change's transaction on the write connection, shared by the change and the
/// savepoints inside it.
#[derive(Debug)]
pub(super) struct SqliteTxn {
    /// The turn, given back when the transaction ends.
    turn: tokio::sync::Mutex<Option<Turn>>,
    /// What goes out with the next statement, in order.
    pending: Mutex<Vec<Statement>>,
    /// Whether `BEGIN` went out (or went out with a call that failed, and may have run).
    begun: Mutex<bool>,
    /// Whether a deferred statement waits: then a commit has something to send even if
    /// nothing else went out.
    deferred: Mutex<bool>,
    /// Savepoints named so far, for unique names.
    savepoints: Mutex<u32>,
}

/// A change on SQLite: the transaction itself, or a savepoint inside it.
#[derive(Debug)]
pub(super) struct SqliteWrite {
    txn: Arc<SqliteTxn>,
    /// `None` for the transaction itself.
    savepoint: Option<u32>,
    ended: bool,
}

impl SqliteWrite {
    /// Wait for the turn on `writer` (opening its connection with `pool`'s settings if
    /// it has none) for a change; `BEGIN IMMEDIATE` goes out with its first statement.
    pub(super) async fn begin(
        pool: &DatabaseConnection,
        writer: &Writer,
    ) -> Result<SqliteWrite, DbErr> {
        let mut turn = writer.clone().lock_owned().await;
        if turn.is_none() {
            let options = pool.get_sqlite_connection_pool().connect_options();
            let conn = options
                .connect()
                .await
                .map_err(|err| DbErr::Conn(RuntimeErr::SqlxError(Arc::new(err))))?;
            *turn = Some(conn);
        }
        let txn = SqliteTxn {
            turn: tokio::sync::Mutex::new(Some(turn)),
            pending: Mutex::new(vec![plain("BEGIN IMMEDIATE")]),
            begun: Mutex::new(false),
            deferred: Mutex::new(false),
            savepoints: Mutex::new(0),
        };
        Ok(SqliteWrite {
            txn: Arc::new(txn),
            savepoint: None,
            ended: false,
        })
    }

    /// A savepoint inside this change; `SAVEPOINT` goes out with its first statement.
    pub(super) fn nested(&self) -> SqliteWrite {
        let n = {
            let mut savepoints = lock(&self.txn.savepoints);
            *savepoints += 1;
            *savepoints
        };
        self.txn.push(plain(&format!("SAVEPOINT sp{n}")));
        SqliteWrite {
            txn: self.txn.clone(),
            savepoint: Some(n),
            ended: false,
        }
    }

    /// The transaction, for statements.
    pub(super) fn txn(&self) -> &SqliteTxn {
        &self.txn
    }

    /// Keep the change (`commit`) or take it back. A savepoint's end goes out with the
    /// next statement; the transaction's `COMMIT` takes whatever is still waiting with it.
    pub(super) async fn end(mut self, commit: bool) -> Result<(), DbErr> {
        self.ended = true;
        match (self.savepoint, commit) {
            (Some(n), true) => {
                self.txn.push(plain(&format!("RELEASE SAVEPOINT sp{n}")));
                Ok(())
            }
            (Some(n), false) => {
                self.txn.undo(n);
                Ok(())
            }
            (None, true) => {
                if !self.txn.began() && !*lock(&self.txn.deferred) {
                    // Nothing was sent and nothing waits: there is nothing to commit.
                    self.txn.release().await;
                    return Ok(());
                }
                match self.txn.run(plain("COMMIT")).await {
                    Ok(_) => {
                        *lock(&self.txn.begun) = false;
                        self.txn.release().await;
                        Ok(())
                    }
                    Err(err) => {
                        // The `COMMIT`, or a statement that went with it, failed: take
                        // the whole change back, so nothing of it is left half-written.
                        self.txn.rollback().await;
                        Err(err)
                    }
                }
            }
            (None, false) => {
                self.txn.rollback().await;
                Ok(())
            }
        }
    }
}

impl Drop for SqliteWrite {
    /// A change dropped before it ended (an early return between `begin_write` and
    /// `commit`): a savepoint is taken back with the next statement; the transaction is
    /// rolled back before its connection and the turn go back.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        match self.savepoint {
            Some(n) => self.txn.undo(n),
            None => {
                let txn = self.txn.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(runtime) => {
                        runtime.spawn(async move { txn.rollback().await });
                    }
                    // No runtime to roll back on: a closed connection takes its
                    // transaction with it (the next change opens another).
                    Err(_) => {
                        if let Ok(mut turn) = txn.turn.try_lock()
                            && let Some(turn) = turn.as_mut()
                        {
                            **turn = None;
                        }
                    }
                }
            }
        }
    }
}

impl SqliteTxn {
    /// `statement` goes out with the next call. One SQL statement each: a call answers
    /// with what follows the statements that waited, counted by their results.
    fn push(&self, statement: Statement) {
        lock(&self.pending).push(statement);
    }

    /// Take savepoint `n` back, with the next call.
    fn undo(&self, n: u32) {
        self.push(plain(&format!("ROLLBACK TO SAVEPOINT sp{n}")));
        self.push(plain(&format!("RELEASE SAVEPOINT sp{n}")));
    }

    fn began(&self) -> bool {
        *lock(&self.begun)
    }

    /// Send `statement` with the next call: for statements whose answer no one reads
    /// (the change's events).
    pub(super) fn defer(&self, statement: Statement) {
        *lock(&self.deferred) = true;
        self.push(statement);
    }

    /// Give the turn to the next writer.
    async fn release(&self) {
        lock(&self.pending).clear();
        self.turn.lock().await.take();
    }

    /// Roll the transaction back, if it began, and give the turn to the next writer. A
    /// failed `ROLLBACK` closes the connection instead, which takes the transaction with
    /// it; the next change opens another.
    async fn rollback(&self) {
        lock(&self.pending).clear();
        let Some(mut turn) = self.turn.lock().await.take() else {
            return;
        };
        let Some(conn) = turn.as_mut() else {
            return;
        };
        if std::mem::take(&mut *lock(&self.begun)) {
            crate::stats::add_statements(1);
            match conn.execute("ROLLBACK").await {
                Ok(_) => {}
                // The `BEGIN` went out with a statement that failed before it ran.
                Err(sqlx::Error::Database(err)) if err.message().contains("no transaction") => {}
                Err(err) => {
                    tracing::warn!(error = %err, "closing the SQLite write connection: its change could not be rolled back");
                    *turn = None;
                }
            }
        }
    }

    /// Run `statement` after whatever waits: its `rows`, and its `ExecResult`.
    pub(super) async fn run(
        &self,
        statement: Statement,
    ) -> Result<(Vec<QueryResult>, ExecResult), DbErr> {
        let mut turn = self.turn.lock().await;
        let conn = turn
            .as_mut()
            .and_then(|turn| turn.as_mut())
            .ok_or_else(|| DbErr::Custom("the change's transaction has already ended".into()))?;
        let mut calls = Vec::new();
        let pending = std::mem::take(&mut *lock(&self.pending));
        *lock(&self.deferred) = false;
        if !pending.is_empty() {
            if pending
                .iter()
                .any(|s| s.sql.starts_with("BEGIN") && s.values.is_none())
            {
                *lock(&self.begun) = true;
            }
            let mut together = pending;
            if together.iter().chain([&statement]).all(positional) {
                together.push(statement);
                calls.push(together);
            } else {
                // Numbered parameters name their place in the whole text: send what
                // waits on its own.
                calls.push(together);
                calls.push(vec![statement]);
            }
        } else {
            calls.push(vec![statement]);
        }
        let mut answer = (
            Vec::new(),
            ExecResult::from(sqlx::sqlite::SqliteQueryResult::default()),
        );
        for call in calls {
            answer = send(conn, call).await?;
        }
        Ok(answer)
    }
}

/// Send `statements` as one text with their parameters in order: the rows of the last
/// one (which may hold several SQL statements, as `execute_unprepared` may send), and the
/// result of its last. Every other one is a single SQL statement ([`SqliteTxn::push`]).
async fn send(
    conn: &mut SqliteConnection,
    statements: Vec<Statement>,
) -> Result<(Vec<QueryResult>, ExecResult), DbErr> {
    crate::stats::add_statements(1);
    let before = statements.len().saturating_sub(1);
    let mut sql = String::new();
    let mut values = Vec::new();
    for statement in statements {
        if !sql.is_empty() {
            sql.push_str("; ");
        }
        sql.push_str(&statement.sql);
        if let Some(more) = statement.values {
            values.extend(more.0);
        }
    }
    let query = sqlx::query_with(
        sqlx::AssertSqlSafe(sql),
        SqlxValues(sea_orm::sea_query::Values(values)),
    );
    let mut results = conn.fetch_many(query);
    let mut done = 0;
    let mut rows = Vec::new();
    let mut last = None;
    while let Some(step) = results.try_next().await.map_err(query_err)? {
        match step {
            Either::Left(result) => {
                done += 1;
                last = Some(result);
            }
            Either::Right(row) if done >= before => rows.push(QueryResult::from(row)),
            Either::Right(_) => {}
        }
    }
    let result = last.unwrap_or_default();
    Ok((rows, ExecResult::from(result)))
}

/// A statement without parameters.
fn plain(sql: &str) -> Statement {
    Statement::from_string(sea_orm::DbBackend::Sqlite, sql.to_owned())
}

/// Whether `statement`'s parameters are all plain `?`s, bound in order (what SeaQuery
/// writes for SQLite), so that it can share a text with others: `?NNN` and `$NNN` name
/// their place in the whole text. Errs on the side of sending alone (a `$` followed by
/// a digit inside a string literal counts too).
fn positional(statement: &Statement) -> bool {
    let sql = statement.sql.as_bytes();
    !sql.windows(2)
        .any(|pair| matches!(pair[0], b'?' | b'$') && pair[1].is_ascii_digit())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn query_err(err: sqlx::Error) -> DbErr {
    DbErr::Query(RuntimeErr::SqlxError(Arc::new(err)))
}
