//! The database handle the schema works with, and how write transactions begin.

use sea_orm::{
    DatabaseConnection, DatabaseTransaction, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::error::Result;

/// A pooled connection to SQLite or PostgreSQL; cheap to clone.
#[derive(Debug, Clone)]
pub struct Db {
    /// The pool. Reads go straight through it; writes go through [`Db::begin_write`].
    pub conn: DatabaseConnection,
}

impl Db {
    /// Wrap a connected pool.
    pub fn new(conn: DatabaseConnection) -> Self {
        Self { conn }
    }

    /// Start a transaction for a change.
    ///
    /// On SQLite it is `BEGIN IMMEDIATE`: the write lock is taken up front, so concurrent
    /// writers queue on the busy timeout. With the default `BEGIN DEFERRED`, two
    /// transactions that both read and then write deadlock, and SQLite fails one of them
    /// with "database is locked" without waiting. PostgreSQL ignores the mode.
    pub async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        Ok(self.conn.begin_with_options(options).await?)
    }
}

/// The current instant as stored: UTC, truncated to microseconds, which is what
/// PostgreSQL keeps. Both backends then hold (and sort, and page by) the same value.
pub fn now() -> sea_orm::prelude::DateTimeWithTimeZone {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6).into()
}

/// The request's database handle.
pub fn get<'a>(ctx: &async_graphql::Context<'a>) -> &'a Db {
    ctx.data_unchecked::<Db>()
}
