//! Shaping what `/graphql` answers: the media type, the status, the error documents and
//! what production mode lets an error message say.
//!
//! Every status the HTTP layer chooses for an error code comes from [`status_for`], and
//! every error message a client reads passes through [`public_message`], so that a status
//! or a masking rule can't differ between the GraphQL errors of an executed request and
//! the refusals the HTTP layer makes before or around execution ([`super::error`]).
//! Of the other modules of `http` this one uses only what `guard` and `rate_limit`
//! record about a request, so that all the others can use it.

use std::borrow::Cow;
use std::sync::atomic::Ordering;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use profilegraph_schema::ErrorCode;
use serde_json::{Value, json};

use super::guard::Outcome;
use super::rate_limit::Quota;
use super::{AppState, SQL_STATEMENTS};

/// The GraphQL-over-HTTP media type.
pub const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
/// The legacy media type, which clients from before the specification expect.
pub const JSON: &str = "application/json";

/// The media type of the response, chosen from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/graphql-response+json`.
    GraphqlResponse,
    /// `application/json`.
    Json,
}

impl Format {
    /// The `Content-Type` of a response in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
            Format::Json => JSON,
        }
    }
}

/// The HTTP status that goes with an error code, when the error decides the status.
pub fn status_for(code: ErrorCode) -> StatusCode {
    match code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::BadUserInput
        | ErrorCode::BadRequest
        | ErrorCode::GraphqlValidationFailed
        | ErrorCode::PersistedQueryNotFound
        | ErrorCode::PersistedQueryNotInList => StatusCode::BAD_REQUEST,
        ErrorCode::Conflict => StatusCode::CONFLICT,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The status of an executed (or refused) GraphQL request.
///
/// A document refused before it ran (it doesn't parse or validate, its variables don't
/// coerce, its `operationName` names nothing) is a request error: 400 in
/// `application/graphql-response+json`, whose clients read the status; 200 in legacy
/// `application/json`, whose clients read only the body and may treat any other status
/// as a transport failure (the specification's advice for that media type).
fn graphql_status(format: Format, limited: bool, rejected: bool, unavailable: bool) -> StatusCode {
    if limited {
        status_for(ErrorCode::RateLimited)
    } else if rejected {
        document_refusal_status(format)
    } else if unavailable {
        status_for(ErrorCode::ServiceUnavailable)
    } else {
        StatusCode::OK
    }
}

/// The status of a request refused for its document (it doesn't parse or validate, or
/// isn't a persisted one): see [`graphql_status`].
pub fn document_refusal_status(format: Format) -> StatusCode {
    match format {
        Format::GraphqlResponse => status_for(ErrorCode::GraphqlValidationFailed),
        Format::Json => StatusCode::OK,
    }
}

/// The message a client reads for an error with `code` and the message `detail`: the
/// detail itself, or in production only the code's meaning (the detail then goes to the
/// log, inside the request's span, which carries the request id the client sees).
pub fn public_message(code: ErrorCode, detail: &str, production: bool) -> Cow<'_, str> {
    if production {
        tracing::info!(code = code.as_str(), message = %detail, "error masked in the response");
        Cow::Borrowed(code.masked_message())
    } else {
        Cow::Borrowed(detail)
    }
}

/// A GraphQL response of one error and no `data`, for a request that never ran.
pub fn error_document(code: ErrorCode, message: &str, request_id: &str) -> Value {
    json!({
        "errors": [{
            "message": message,
            "extensions": { "code": code.as_str(), "requestId": request_id },
        }]
    })
}

/// `body` as a response in `format`.
pub fn json_response(status: StatusCode, format: Format, body: &Value) -> Response {
    bytes_response(status, format, body.to_string().into_bytes())
}

/// Serialised JSON as a response in `format`.
pub fn bytes_response(status: StatusCode, format: Format, body: Vec<u8>) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body,
    )
        .into_response()
}

/// A response ready to send: its status, the rate limiter's quota, and its body.
pub struct Shaped {
    /// The status.
    pub status: StatusCode,
    /// What the rate limiter said, for the `X-RateLimit-*` headers.
    pub quota: Option<Quota>,
    /// The first error's code, if any (for the metrics).
    pub code: Option<ErrorCode>,
    /// The body, or why it couldn't be serialised.
    pub body: Result<Body, serde_json::Error>,
}

/// A serialised response, or one still to be stored (an idempotent mutation's).
pub enum Body {
    /// Ready to send.
    Bytes(Vec<u8>),
    /// To store, then send.
    Value(Value),
}

/// What [`shape`] needs to know about the request besides its response.
#[derive(Debug, Clone, Copy)]
pub struct ShapeOptions<'a> {
    /// The media type the client accepts.
    pub format: Format,
    /// Mask error messages.
    pub production: bool,
    /// The request id, for every error's `extensions.requestId`.
    pub request_id: &'a str,
    /// The caller stores the response (an idempotent mutation): build a `Value`.
    pub keep_value: bool,
}

/// Give every error its code and the request id (masking messages in production), choose
/// the status, drop `data` from a request that never ran, and serialise: a 200 with
/// nothing to store straight to bytes, since building a `serde_json::Value` first would
/// copy every value once more (an export page holds about 12,000).
pub fn shape(
    mut response: async_graphql::Response,
    outcome: &Outcome,
    options: ShapeOptions<'_>,
) -> Shaped {
    let rejected = outcome.rejected.load(Ordering::Relaxed) || no_operation_selected(&response);
    let quota = outcome.quota.lock().ok().and_then(|q| *q);
    let limited = quota.is_some_and(|q| q.retry_after.is_some());
    let mut unavailable = false;
    let mut first_code = None;
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        // Errors async-graphql raises itself carry no code: parse and validation errors
        // (including our limits) and arguments of the wrong type.
        let code = match extensions.get("code") {
            Some(async_graphql::Value::String(code)) => {
                ErrorCode::from_wire(code).unwrap_or(ErrorCode::Internal)
            }
            _ => {
                let code = if rejected {
                    ErrorCode::GraphqlValidationFailed
                } else {
                    ErrorCode::BadUserInput
                };
                extensions.set("code", code.as_str());
                code
            }
        };
        unavailable |= code == ErrorCode::ServiceUnavailable;
        first_code.get_or_insert(code);
        // Every error carries the request id, so a partner can quote it and we can find
        // the detail that the message leaves out in the logs.
        extensions.set("requestId", options.request_id);
        if options.production {
            error.message = public_message(code, &error.message, true).into_owned();
        }
    }
    let unavailable = unavailable && response.data == async_graphql::Value::Null;
    let status = graphql_status(options.format, limited, rejected, unavailable);
    // A request that was refused, or cut short before anything ran, has no data, not
    // even null.
    let no_data = rejected || status != StatusCode::OK;
    let body = if !no_data && !options.keep_value {
        serde_json::to_vec(&response).map(Body::Bytes)
    } else {
        serde_json::to_value(&response).map(|mut body| {
            if no_data && let Some(object) = body.as_object_mut() {
                object.remove("data");
            }
            Body::Value(body)
        })
    };
    Shaped {
        status,
        quota,
        code: first_code,
        body,
    }
}

/// Whether the request named no operation of its document that could run (an unknown
/// `operationName`, or none for a document with several). The specification treats that
/// like a validation failure (a request error, no data), but async-graphql selects the
/// operation after validation, outside any extension hook, and says so only in its
/// message.
fn no_operation_selected(response: &async_graphql::Response) -> bool {
    match response.errors.as_slice() {
        [only] if response.data == async_graphql::Value::Null => {
            only.message.starts_with("Unknown operation named \"")
                || only.message == "Operation name required in request."
        }
        _ => false,
    }
}

pub(super) const RATE_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
pub(super) const RATE_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
pub(super) const RATE_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The rate-limit headers, and the statement count when `--sql-stats` is on.
pub fn add_headers(http: &mut Response, state: &AppState, quota: Option<Quota>, statements: u64) {
    let headers = http.headers_mut();
    if let Some(quota) = quota {
        headers.insert(RATE_LIMIT, HeaderValue::from(quota.limit));
        headers.insert(RATE_REMAINING, HeaderValue::from(quota.remaining));
        headers.insert(RATE_RESET, HeaderValue::from(quota.reset));
        if let Some(wait) = quota.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
        }
    }
    if state.settings.sql_stats {
        headers.insert(SQL_STATEMENTS, HeaderValue::from(statements));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_document_is_200_in_legacy_json_and_400_otherwise() {
        assert_eq!(
            graphql_status(Format::Json, false, true, false),
            StatusCode::OK
        );
        assert_eq!(
            graphql_status(Format::GraphqlResponse, false, true, false),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(
            graphql_status(Format::Json, true, false, false),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[test]
    fn production_says_only_what_the_code_means() {
        for code in ErrorCode::ALL {
            assert_eq!(
                public_message(code, "SELECT secret FROM t", true),
                code.masked_message()
            );
            assert_eq!(public_message(code, "detail", false), "detail");
        }
    }
}
