//! The one error type of the schema crate, and the stable codes clients match on.

use std::sync::Arc;

use sea_orm::{DbErr, RuntimeErr, SqlErr};
use serde::Serialize;

use crate::auth::Scope;

/// Every stable, machine-readable code the server sends as `extensions.code`, from the
/// GraphQL layer and the HTTP layer alike: the one list of wire codes.
///
/// Partners branch on these, so a code is never renamed or reused; new ones are only added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum ErrorCode {
    /// No token, or one that is unknown, revoked or expired.
    Unauthenticated,
    /// The token lacks the scope the operation needs.
    Forbidden,
    /// No such object in the caller's workspace.
    NotFound,
    /// An argument or input field is invalid (`extensions.field` names it).
    BadUserInput,
    /// The change conflicts with the current state (a stale version, a taken contact).
    Conflict,
    /// Too many requests or too much query cost in the window; see `Retry-After`.
    RateLimited,
    /// The database is out of reach; retry shortly.
    ServiceUnavailable,
    /// A bug on our side; the request id finds its detail in the logs.
    Internal,
    /// The HTTP request is not a GraphQL request at all (a body that isn't JSON, a batch,
    /// no query, a mutation over GET).
    BadRequest,
    /// The document doesn't parse or validate, or breaks an operation limit.
    GraphqlValidationFailed,
}

impl ErrorCode {
    /// Every code, in the order of the list above.
    pub const ALL: [ErrorCode; 10] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadUserInput,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::ServiceUnavailable,
        ErrorCode::Internal,
        ErrorCode::BadRequest,
        ErrorCode::GraphqlValidationFailed,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
        }
    }

    /// The code a wire string names, if it is one of ours.
    pub fn from_wire(code: &str) -> Option<ErrorCode> {
        ErrorCode::ALL.into_iter().find(|c| c.as_str() == code)
    }

    /// What a production response says for an error with this code: the code in words,
    /// nothing more (the detail goes to the log, under the request id).
    pub fn masked_message(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "authentication required",
            ErrorCode::Forbidden => "not allowed with this token",
            ErrorCode::NotFound => "not found",
            ErrorCode::BadUserInput => "bad input",
            ErrorCode::Conflict => "conflict",
            ErrorCode::RateLimited => "rate limit exceeded",
            ErrorCode::ServiceUnavailable => "service unavailable, try again shortly",
            ErrorCode::Internal => "internal error",
            ErrorCode::BadRequest => "bad request",
            ErrorCode::GraphqlValidationFailed => "the query is not valid",
        }
    }
}

/// Everything that can go wrong while serving a GraphQL operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("authentication required: send `Authorization: Bearer <token>` with a valid token")]
    Unauthenticated,
    #[error("this token lacks the `{0}` scope")]
    Forbidden(Scope),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    BadUserInput {
        /// The input field at fault, as the client named it (e.g. `input.name`).
        field: String,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("the database is unavailable, try again shortly")]
    Unavailable(#[source] DbErr),
    #[error("internal error")]
    Database(#[source] DbErr),
    #[error("internal error")]
    Loader(#[source] Arc<DbErr>),
    #[error("internal error")]
    Panicked,
}

/// `Result` with the schema crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A bad value for `field`, with a message a person can act on.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::BadUserInput {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Unauthenticated => ErrorCode::Unauthenticated,
            Error::Forbidden(_) => ErrorCode::Forbidden,
            Error::NotFound(_) => ErrorCode::NotFound,
            Error::BadUserInput { .. } => ErrorCode::BadUserInput,
            Error::Conflict(_) => ErrorCode::Conflict,
            Error::Unavailable(_) => ErrorCode::ServiceUnavailable,
            Error::Database(_) | Error::Loader(_) | Error::Panicked => ErrorCode::Internal,
        }
    }

    /// Whether the database refused the write because of a unique constraint.
    pub fn is_unique_violation(&self) -> bool {
        matches!(
            self,
            Error::Database(err) if matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
        )
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

impl From<DbErr> for Error {
    fn from(err: DbErr) -> Self {
        if is_unavailable(&err) {
            Error::Unavailable(err)
        } else {
            Error::Database(err)
        }
    }
}

impl From<Arc<DbErr>> for Error {
    fn from(err: Arc<DbErr>) -> Self {
        if is_unavailable(&err) {
            Error::Unavailable(DbErr::Custom(err.to_string()))
        } else {
            Error::Loader(err)
        }
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        let code = err.code();
        if matches!(code, ErrorCode::Internal | ErrorCode::ServiceUnavailable) {
            // The detail (SQL, driver text) goes to the log only, inside the request's span,
            // which carries the request id that the response shows the client.
            let detail = match &err {
                Error::Database(e) | Error::Unavailable(e) => e.to_string(),
                Error::Loader(e) => e.to_string(),
                _ => String::new(),
            };
            tracing::error!(code = code.as_str(), error = %detail, "request failed");
        }
        let mut gql = async_graphql::Error::new(err.to_string());
        let extensions = gql.extensions.get_or_insert_with(Default::default);
        extensions.set("code", code.as_str());
        if let Error::BadUserInput { field, .. } = &err {
            extensions.set("field", field.as_str());
        }
        gql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqlx_err(err: sea_orm::sqlx::Error) -> RuntimeErr {
        RuntimeErr::SqlxError(Arc::new(err))
    }

    #[test]
    fn every_code_reads_back_from_the_wire() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::from_wire("NOPE"), None);
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
            assert_eq!(Error::from(err).code(), ErrorCode::ServiceUnavailable);
        }
        assert_eq!(
            Error::from(Arc::new(DbErr::Query(sqlx_err(eof())))).code(),
            ErrorCode::ServiceUnavailable
        );
        for err in [
            DbErr::Query(sqlx_err(sea_orm::sqlx::Error::RowNotFound)),
            DbErr::Exec(sqlx_err(sea_orm::sqlx::Error::Protocol("odd".into()))),
            DbErr::Custom("bug".into()),
        ] {
            assert_eq!(Error::from(err).code(), ErrorCode::Internal);
        }
    }
}
