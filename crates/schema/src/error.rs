//! The one error type of the schema crate, and the stable codes clients match on.

use std::sync::Arc;

use profilegraph_store::StoreError;
use serde::Serialize;

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
    /// An automatic persisted query whose hash this server doesn't know: send the request
    /// again with its `query` (the message is `PersistedQueryNotFound`, which Apollo's
    /// clients match on).
    PersistedQueryNotFound,
    /// The server runs only its persisted documents (`--persisted-only`), and this
    /// request's document is not one of them.
    PersistedQueryNotInList,
}

impl ErrorCode {
    /// Every code, in the order of the list above.
    pub const ALL: [ErrorCode; 12] = [
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
        ErrorCode::PersistedQueryNotFound,
        ErrorCode::PersistedQueryNotInList,
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
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
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
            // The protocol's own words, which its clients match on.
            ErrorCode::PersistedQueryNotFound => "PersistedQueryNotFound",
            ErrorCode::PersistedQueryNotInList => "only persisted documents run here",
        }
    }
}

/// Everything that can go wrong while serving a GraphQL operation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A rule of the store refused, or the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A loader's batch failed; every key waiting on it gets the same error.
    #[error("{0}")]
    Loader(Arc<StoreError>),
    /// The schema ran without a request context (see [`crate::RequestCtx`]): it refuses
    /// rather than read through anything but the request's own walled handle.
    #[error("internal error")]
    NoRequestContext,
    /// The request's execution panicked.
    #[error("internal error")]
    Panicked,
    /// This server was started without a webhook secret key, so it can't keep signing
    /// secrets.
    #[error(
        "webhooks are off on this server: start it with --webhook-secret-key (PROFILEGRAPH_WEBHOOK_SECRET_KEY)"
    )]
    WebhooksOff,
    /// A live subscriber fell behind the events of its workspace.
    #[error("this subscription fell behind; catch up with `events(after:)` from seq {last_seq}")]
    SlowSubscriber {
        /// The last `seq` it was sent.
        last_seq: i64,
    },
}

/// `Result` with the schema crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A bad value for `field`, with a message a person can act on.
    pub fn bad_input(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Store(StoreError::bad_input(field, message))
    }

    /// No such object (of type `kind`) in the caller's workspace.
    pub fn not_found(kind: &'static str) -> Self {
        Error::Store(StoreError::NotFound(kind))
    }

    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Store(err) => code_of(err),
            Error::Loader(err) => code_of(err),
            Error::NoRequestContext | Error::Panicked => ErrorCode::Internal,
            Error::SlowSubscriber { .. } | Error::WebhooksOff => ErrorCode::ServiceUnavailable,
        }
    }

    /// What the log should say beyond the message (the database's text), if anything.
    fn detail(&self) -> String {
        match self {
            Error::Store(err) => err.detail(),
            Error::Loader(err) => err.detail(),
            Error::NoRequestContext
            | Error::Panicked
            | Error::SlowSubscriber { .. }
            | Error::WebhooksOff => String::new(),
        }
    }
}

/// The wire code of a store error.
pub fn code_of(err: &StoreError) -> ErrorCode {
    match err {
        StoreError::Unauthenticated => ErrorCode::Unauthenticated,
        StoreError::Forbidden(_) => ErrorCode::Forbidden,
        StoreError::NotFound(_) => ErrorCode::NotFound,
        StoreError::BadInput { .. } => ErrorCode::BadUserInput,
        StoreError::Conflict(_) => ErrorCode::Conflict,
        StoreError::Unavailable(_) => ErrorCode::ServiceUnavailable,
        StoreError::Database(_) => ErrorCode::Internal,
    }
}

impl From<Arc<StoreError>> for Error {
    fn from(err: Arc<StoreError>) -> Self {
        Error::Loader(err)
    }
}

impl From<Error> for async_graphql::Error {
    fn from(err: Error) -> Self {
        let code = err.code();
        if matches!(code, ErrorCode::Internal | ErrorCode::ServiceUnavailable) {
            // The detail (SQL, driver text) goes to the log only, inside the request's span,
            // which carries the request id that the response shows the client.
            tracing::error!(code = code.as_str(), error = %err.detail(), "request failed");
        }
        let mut gql = async_graphql::Error::new(err.to_string());
        let extensions = gql.extensions.get_or_insert_with(Default::default);
        extensions.set("code", code.as_str());
        let field = match &err {
            Error::Store(StoreError::BadInput { field, .. }) => Some(field.as_str()),
            Error::Loader(inner) => match inner.as_ref() {
                StoreError::BadInput { field, .. } => Some(field.as_str()),
                _ => None,
            },
            _ => None,
        };
        if let Some(field) = field {
            extensions.set("field", field);
        }
        if let Error::SlowSubscriber { last_seq } = &err {
            extensions.set("lastSeq", *last_seq);
        }
        gql
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_reads_back_from_the_wire() {
        for code in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_wire(code.as_str()), Some(code));
        }
        assert_eq!(ErrorCode::from_wire("NOPE"), None);
    }

    #[test]
    fn store_errors_keep_their_codes_through_a_loader() {
        let err = Error::from(Arc::new(StoreError::NotFound("Profile")));
        assert_eq!(err.code(), ErrorCode::NotFound);
        let err = Error::from(StoreError::Database(sea_orm::DbErr::Custom("bug".into())));
        assert_eq!(err.code(), ErrorCode::Internal);
        assert_eq!(err.to_string(), "internal error");
    }
}
