//! The one error type of the store: what a domain rule or the database can refuse.

use sea_orm::{DbErr, RuntimeErr, SqlErr};

use crate::tokens::Scope;

/// Everything a store operation can fail with. The GraphQL layer gives each a wire code;
/// the CLI prints it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No token, or one that is unknown, revoked or expired.
    #[error("authentication required: send `Authorization: Bearer <token>` with a valid token")]
    Unauthenticated,
    /// The token lacks a scope the operation needs.
    #[error("this token lacks the `{0}` scope")]
    Forbidden(Scope),
    /// No such row in the caller's workspace (named by its type, e.g. `Profile`).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A value a person can fix: `field` names it as the client sent it.
    #[error("{message}")]
    BadInput {
        /// The input field at fault, as the client named it (e.g. `input.name`).
        field: String,
        /// What is wrong, in words a person can act on.
        message: String,
    },
    /// The change conflicts with the data as it is now.
    #[error("{0}")]
    Conflict(String),
    /// The database is out of reach (down, saturated, or the connection broke): retry.
    #[error("the database is unavailable, try again shortly")]
    Unavailable(#[source] DbErr),
    /// Anything else the database said: a bug, never shown to a client.
    #[error("internal error")]
    Database(#[source] DbErr),
}

/// `Result` with the store's error.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// A bad value for `field`, with a message a person can act on.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        StoreError::BadInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// Whether the database refused the write because of a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            StoreError::Database(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
        )
    }

    /// The database's own text, for the log; empty for the errors a client may read.
    pub fn detail(&self) -> String {
        match self {
            StoreError::Database(err) | StoreError::Unavailable(err) => err.to_string(),
            _ => String::new(),
        }
    }
}

/// Whether `err` means the database is out of reach rather than a bug: the pool cannot
/// hand out a connection (the database is down or saturated), or the connection broke
/// under a statement (closed socket, server shutting down or restarting). That is worth
/// a retry.
pub(crate) fn is_unavailable(err: &DbErr) -> bool {
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            connection_lost(e)
        }
        _ => false,
    }
}

/// A statement failed because its connection went away.
fn connection_lost(err: &sea_orm::sqlx::Error) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        // PostgreSQL's connection exceptions (class 08), and the server ending sessions as
        // it shuts down or restarts, or refusing them while it starts (57P01 to 57P03);
        // and a statement cut off by `statement_timeout` (57014): the database is too
        // busy to answer in time, which a retry later may not be.
        Sqlx::Database(db) => db.code().is_some_and(|code| {
            code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03" | "57014")
        }),
        _ => false,
    }
}

/// PostgreSQL ended a transaction because it raced another one: a deadlock (40P01), or a
/// serialisation failure (40001). Nothing of it was kept, and running it again is safe.
fn lost_a_race(err: &DbErr) -> bool {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            matches!(&**e, sea_orm::sqlx::Error::Database(db)
                if db.code().is_some_and(|code| matches!(&*code, "40P01" | "40001")))
        }
        _ => false,
    }
}

impl From<DbErr> for StoreError {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            StoreError::Unavailable(err)
        } else if lost_a_race(&err) {
            tracing::info!(error = %err, "a change lost a race with another and was not made");
            StoreError::Conflict(
                "this change raced a concurrent change of the same data and was not made; try again"
                    .into(),
            )
        } else {
            StoreError::Database(err)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn sqlx_err(err: sea_orm::sqlx::Error) -> RuntimeErr {
        RuntimeErr::SqlxError(Arc::new(err))
    }

    #[test]
    fn a_lost_connection_is_unavailable_and_a_bad_statement_is_internal() {
        let eof =
            || sea_orm::sqlx::Error::Io(std::io::Error::from(std::io::ErrorKind::UnexpectedEof));
        for err in [
            DbErr::Query(sqlx_err(eof())),
            DbErr::Exec(sqlx_err(eof())),
            DbErr::Exec(sqlx_err(sea_orm::sqlx::Error::WorkerCrashed)),
            DbErr::ConnectionAcquire(sea_orm::ConnAcquireErr::Timeout),
        ] {
            assert!(matches!(StoreError::from(err), StoreError::Unavailable(_)));
        }
        for err in [
            DbErr::Query(sqlx_err(sea_orm::sqlx::Error::RowNotFound)),
            DbErr::Exec(sqlx_err(sea_orm::sqlx::Error::Protocol("odd".into()))),
            DbErr::Custom("bug".into()),
        ] {
            assert!(matches!(StoreError::from(err), StoreError::Database(_)));
        }
    }
}
