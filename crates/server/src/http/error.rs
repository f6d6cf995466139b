//! Every refusal the HTTP layer makes before or around execution, as one type.
//!
//! A handler or middleware returns an [`HttpError`]; its response is a GraphQL error
//! document with the error's code, and the status and headers the error calls for. The
//! document needs the request's context (the media type the client accepts, the request
//! id, production mode), which `IntoResponse` doesn't get: so the response made here is
//! already complete and safe (its message is the masked one, as application/json), and
//! carries a [`Refusal`] that [`super::reply`] uses to fill in that context. Depends only
//! on [`super::respond`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use profilegraph_schema::ErrorCode;

use super::respond::{self, Format};
use super::{MAX_BODY, REQUEST_TIME_LIMIT};

/// The `Retry-After` of a second export of one token, seconds: the first is usually done
/// by then (an M workspace exports in about a second).
pub const EXPORT_RETRY_AFTER_S: u32 = 5;

/// Why the HTTP layer answered without running an operation (or without its result).
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The request is not a GraphQL request (a body that isn't JSON, a batch, no query,
    /// a bad query string or header).
    #[error("{0}")]
    BadRequest(String),
    /// A POST whose body isn't declared as JSON: the bodies a browser sends across sites
    /// without a preflight (`text/plain`, forms) must not run operations.
    #[error("POST /graphql takes a JSON body with `Content-Type: application/json`")]
    UnsupportedMediaType,
    /// `Accept` allows neither JSON form.
    #[error("this endpoint answers with application/graphql-response+json or application/json")]
    NotAcceptable,
    /// A mutation over GET, which must be safe to repeat, prefetch and cache.
    #[error("mutations must be sent with POST")]
    MutationOverGet,
    /// A body over [`MAX_BODY`].
    #[error("the request body is larger than {MAX_BODY} bytes")]
    PayloadTooLarge,
    /// The request ran over [`REQUEST_TIME_LIMIT`].
    #[error("the request took longer than {} s", REQUEST_TIME_LIMIT.as_secs())]
    TimedOut,
    /// An automatic persisted query whose hash this server doesn't know (yet): the client
    /// sends the request again with its `query`. Apollo's clients match this message.
    #[error("PersistedQueryNotFound")]
    PersistedQueryNotFound,
    /// `--persisted-only`, and the request's document (named by its hash, or sent as
    /// text) is not a persisted one.
    #[error("{}", if *by_hash {
        "this server runs only its persisted documents, and none has this sha256Hash"
    } else {
        "this server runs only its persisted documents, and this is not one of them: send the sha256Hash of one in extensions.persistedQuery"
    })]
    NotPersisted {
        /// Named by a hash, rather than sent as text.
        by_hash: bool,
    },
    /// `GET /export/…` for a file there is none of.
    #[error("there is no such export: GET /export/profiles.jsonl or /export/profiles.csv")]
    NoSuchExport,
    /// The token already has an export running.
    #[error("this token has an export running; one at a time per token, try again when it ends")]
    ExportRunning,
    /// An error of the domain: no or a bad token, an idempotency key in use or malformed,
    /// the database out of reach, a panic or another bug.
    #[error(transparent)]
    Schema(#[from] profilegraph_schema::Error),
}

impl From<profilegraph_store::StoreError> for HttpError {
    fn from(err: profilegraph_store::StoreError) -> Self {
        HttpError::Schema(err.into())
    }
}

impl HttpError {
    /// The `extensions.code` of the reply.
    pub fn code(&self) -> ErrorCode {
        match self {
            HttpError::BadRequest(_)
            | HttpError::UnsupportedMediaType
            | HttpError::NotAcceptable
            | HttpError::MutationOverGet
            | HttpError::PayloadTooLarge => ErrorCode::BadRequest,
            HttpError::TimedOut => ErrorCode::ServiceUnavailable,
            HttpError::PersistedQueryNotFound => ErrorCode::PersistedQueryNotFound,
            HttpError::NoSuchExport => ErrorCode::NotFound,
            HttpError::ExportRunning => ErrorCode::RateLimited,
            HttpError::NotPersisted { .. } => ErrorCode::PersistedQueryNotInList,
            HttpError::Schema(err) => err.code(),
        }
    }

    /// Whether the request was refused for its document, like a document that doesn't
    /// validate: a request error, 200 in legacy application/json (see `respond`).
    pub fn is_document_refusal(&self) -> bool {
        matches!(
            self,
            HttpError::PersistedQueryNotFound | HttpError::NotPersisted { .. }
        )
    }

    /// The status of the reply: the HTTP refusals have their own, every other error the
    /// one its code calls for.
    pub fn status(&self) -> StatusCode {
        match self {
            HttpError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::NotAcceptable => StatusCode::NOT_ACCEPTABLE,
            HttpError::MutationOverGet => StatusCode::METHOD_NOT_ALLOWED,
            HttpError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            _ => respond::status_for(self.code()),
        }
    }
}

/// What [`super::reply`] needs to render an [`HttpError`]'s reply in its request's
/// context; carried in the response's extensions.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The error's code.
    pub code: ErrorCode,
    /// The error's message, before masking.
    pub detail: String,
    /// Refused for its document: 200 in legacy application/json.
    pub document: bool,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let code = self.code();
        if matches!(code, ErrorCode::Internal | ErrorCode::ServiceUnavailable) {
            // The chain of sources (driver text, SQL) is for the log only.
            tracing::error!(error = ?self, "request failed outside execution");
        }
        let body = respond::error_document(code, code.masked_message(), "");
        let mut response = respond::json_response(self.status(), Format::Json, &body);
        let headers = response.headers_mut();
        match &self {
            // The media type a POST must use.
            HttpError::UnsupportedMediaType => {
                headers.insert(header::ACCEPT, HeaderValue::from_static(respond::JSON));
            }
            HttpError::MutationOverGet => {
                headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
            }
            HttpError::ExportRunning => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from(EXPORT_RETRY_AFTER_S));
            }
            _ if code == ErrorCode::Unauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"profilegraph\""),
                );
            }
            _ => {}
        }
        response.extensions_mut().insert(Refusal {
            code,
            detail: self.to_string(),
            document: self.is_document_refusal(),
        });
        response
    }
}
