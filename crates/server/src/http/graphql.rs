//! `/graphql` over HTTP, following the GraphQL-over-HTTP specification's MUST rules.
//!
//! - `POST` takes `application/json` only. Anything else (`text/plain`, form bodies, no
//!   Content-Type) is refused with 415: those are the bodies a browser sends across
//!   sites without a preflight, so accepting them would let any web page run mutations
//!   with a victim's cookies or ambient credentials.
//! - `GET` runs queries only: a mutation gets 405 with `Allow: POST`, because GET must
//!   be safe to repeat, prefetch and cache. Without a `query` parameter, GET serves
//!   GraphiQL (unless in production).
//! - `Accept` must allow `application/graphql-response+json` or `application/json`
//!   (406 otherwise); the response uses the first of those the client accepts.
//! - A request that can't be parsed or validated gets 400 and no `data`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use async_graphql::http::GraphiQLSource;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use profilegraph_schema::{Error, ErrorCode};
use profilegraph_store::idempotency::{self, Claim};
use profilegraph_store::{StoreError, stats};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::Instrument;

use super::guard::Outcome;
use super::{AppState, REQUEST_ID, SQL_STATEMENTS};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

/// The media type of the response, chosen from `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    /// `application/graphql-response+json`.
    GraphqlResponse,
    /// `application/json`.
    Json,
}

impl Format {
    fn content_type(self) -> &'static str {
        match self {
            Format::GraphqlResponse => GRAPHQL_RESPONSE_JSON,
            Format::Json => JSON,
        }
    }
}

/// Pick the response format from `Accept`, or `None` when neither JSON form is allowed.
fn negotiate(headers: &HeaderMap) -> Option<Format> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        // No Accept header: the spec's legacy default.
        return Some(Format::Json);
    };
    let mut json = false;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim().replace(' ', "");
            p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
        });
        if refused {
            continue;
        }
        match media.as_str() {
            GRAPHQL_RESPONSE_JSON => return Some(Format::GraphqlResponse),
            JSON | "application/*" | "*/*" => json = true,
            _ => {}
        }
    }
    json.then_some(Format::Json)
}

/// The query string of `GET /graphql`.
#[derive(Debug, Default, Deserialize)]
pub struct GetParams {
    query: Option<String>,
    variables: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
}

/// `GET /graphql`: run a query from the query string, or serve GraphiQL.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Response {
    let request_id = request_id(&headers);
    let Ok(Query(params)) = params else {
        let format = negotiate(&headers).unwrap_or(Format::Json);
        return bad_request(format, "the query string can't be read", &request_id);
    };
    let Some(query) = params.query else {
        if state.settings.graphiql {
            return Html(
                GraphiQLSource::build()
                    .endpoint("/graphql")
                    .title("profilegraph")
                    .finish(),
            )
            .into_response();
        }
        return bad_request(
            negotiate(&headers).unwrap_or(Format::Json),
            "send a GraphQL query in the `query` parameter, or POST it as JSON",
            &request_id,
        );
    };
    let Some(format) = negotiate(&headers) else {
        return not_acceptable();
    };
    // GET must never change anything: find the operation that would run and refuse a
    // mutation before anything else happens.
    if let Ok(document) = async_graphql::parser::parse_query(&query) {
        let kind = match (&document.operations, params.operation_name.as_deref()) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.values().next().map(|op| op.node.ty)
            }
            _ => None,
        };
        if kind == Some(OperationType::Mutation) {
            let mut response = error_body(
                StatusCode::METHOD_NOT_ALLOWED,
                format,
                "mutations must be sent with POST",
                "BAD_REQUEST",
                &request_id,
            );
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
    }
    let mut request = async_graphql::Request::new(query);
    if let Some(name) = params.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = params.variables {
        match serde_json::from_str::<Value>(&variables) {
            Ok(value @ Value::Object(_)) => {
                request = request.variables(async_graphql::Variables::from_json(value));
            }
            _ => {
                return bad_request(format, "`variables` must be a JSON object", &request_id);
            }
        }
    }
    run(state, headers, request, format, request_id, None).await
}

/// The type of the operation `query` would run (by `operation_name`, or its only one);
/// `None` when it doesn't parse or the name matches nothing.
fn operation_type(query: &str, operation_name: Option<&str>) -> Option<OperationType> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// The header a client sets to make a mutation safe to retry.
const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Set on a response that was replayed from an earlier request with the same key.
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `POST /graphql`: run the operation in the JSON body.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = request_id(&headers);
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON));
    if !is_json {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            [(header::ACCEPT, HeaderValue::from_static(JSON))],
            "POST /graphql takes a JSON body with `Content-Type: application/json`",
        )
            .into_response();
    }
    let Some(format) = negotiate(&headers) else {
        return not_acceptable();
    };
    let value: Value = match serde_json::from_slice(&body) {
        Ok(value) => value,
        Err(err) => {
            return bad_request(format, &format!("the body is not JSON: {err}"), &request_id);
        }
    };
    if value.is_array() {
        return bad_request(
            format,
            "batched requests are not supported: send one operation per request",
            &request_id,
        );
    }
    let request: async_graphql::Request = match serde_json::from_value(value) {
        Ok(request) => request,
        Err(err) => {
            return bad_request(
                format,
                &format!(
                    "the body is not a GraphQL request ({{\"query\", \"variables\", \"operationName\"}}): {err}"
                ),
                &request_id,
            );
        }
    };
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) => Some(key.to_owned()),
        Some(Err(_)) => {
            return bad_request(format, "the Idempotency-Key must be ASCII", &request_id);
        }
    };
    run(state, headers, request, format, request_id, idempotency_key).await
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Authenticate, execute on a pinned worker, and shape the response.
async fn run(
    state: AppState,
    headers: HeaderMap,
    request: async_graphql::Request,
    format: Format,
    request_id: String,
    idempotency_key: Option<String>,
) -> Response {
    if request.query.trim().is_empty() {
        return bad_request(format, "the request has no `query`", &request_id);
    }
    let Some(token) = bearer_token(&headers) else {
        return error_response(
            StatusCode::UNAUTHORIZED,
            format,
            Error::from(StoreError::Unauthenticated),
            &request_id,
        );
    };
    let (viewer, auth_statements) =
        stats::counted(state.tokens.authenticate(&state.db.conn, token)).await;
    let viewer = match viewer.map_err(Error::from) {
        Ok(viewer) => viewer,
        Err(err) => {
            let status = match err.code() {
                ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
                ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return error_response(status, format, err, &request_id);
        }
    };

    // A retried mutation with a key we've seen gets the stored response, not a rerun.
    let mut claim = None;
    if let Some(raw) = idempotency_key
        && operation_type(&request.query, request.operation_name.as_deref())
            == Some(OperationType::Mutation)
    {
        let key = match idempotency::parse_key(&raw) {
            Ok(key) => key,
            Err(err) => {
                return error_response(StatusCode::BAD_REQUEST, format, err.into(), &request_id);
            }
        };
        let variables = serde_json::to_value(&request.variables).unwrap_or(Value::Null);
        let hash = idempotency::fingerprint(
            &request.query,
            request.operation_name.as_deref(),
            &variables,
        );
        match idempotency::claim(&state.db, &viewer, &key, &hash).await {
            Ok(Claim::Fresh(id)) => claim = Some(id),
            Ok(Claim::Replay { status, body }) => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
                let mut response = json_response(status, format, &body);
                response
                    .headers_mut()
                    .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
                return response;
            }
            Err(err) => {
                let err = Error::from(err);
                let status = match err.code() {
                    ErrorCode::Conflict => StatusCode::CONFLICT,
                    ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                return error_response(status, format, err, &request_id);
            }
        }
    }

    // Execution runs on a single-threaded worker, where the loaders batch each level of
    // the query in one statement without waiting for a time window (see
    // `profilegraph_schema::exec`). The span keeps the request id on its log lines.
    let outcome = Arc::new(Outcome::default());
    let request = request.data(outcome.clone());
    let schema = state.schema.clone();
    let span = tracing::Span::current();
    let production = state.settings.production;
    let id = request_id.clone();
    let keep_value = claim.is_some();
    // The response is shaped and serialised on the worker that built it, so its values
    // are freed by the thread that allocated them: with the response freed on another
    // thread, the allocator's cross-thread frees cost an export page a tenth of its time.
    let task = state.workers.spawn(move |db| {
        async move {
            let (response, statements) =
                profilegraph_schema::execute_pinned(&schema, &db, viewer, request).await;
            (
                shape(response, &outcome, production, &id, keep_value),
                statements,
            )
        }
        .instrument(span)
    });
    let (shaped, statements) = match task.await {
        Ok(done) => done,
        // A panic in a resolver ends that request's task only; the worker and every other
        // request carry on.
        Err(err) => {
            tracing::error!(error = %err, "request execution panicked");
            return failed(&state, claim, format, &request_id).await;
        }
    };
    let Shaped {
        status,
        quota,
        body,
    } = shaped;
    let mut http = match body {
        Ok(Body::Bytes(bytes)) => (
            status,
            [(header::CONTENT_TYPE, format.content_type())],
            bytes,
        )
            .into_response(),
        Ok(Body::Value(mut body)) => {
            if status != StatusCode::OK
                && let Some(object) = body.as_object_mut()
            {
                // Refused before execution: there is no data, not even null.
                object.remove("data");
            }
            if let Some(claim) = claim
                && let Err(err) =
                    idempotency::complete(&state.db, claim, status.as_u16(), &body).await
            {
                // The mutation ran; only the replay record is missing, so answer normally.
                tracing::error!(error = %err, "cannot store an idempotent response");
            }
            json_response(status, format, &body)
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot serialise a response");
            return failed(&state, claim, format, &request_id).await;
        }
    };
    add_headers(&mut http, &state, quota, auth_statements + statements);
    http
}

/// A 500 for a request whose execution went wrong, freeing its idempotency key (if it
/// claimed one) so that a retry runs instead of waiting for a response that never comes.
async fn failed(
    state: &AppState,
    claim: Option<uuid::Uuid>,
    format: Format,
    request_id: &str,
) -> Response {
    if let Some(claim) = claim
        && let Err(err) = idempotency::release(&state.db, claim).await
    {
        tracing::error!(error = %err, "cannot release an idempotency key");
    }
    error_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        format,
        Error::Panicked,
        request_id,
    )
}

/// A response ready to send: its status, the rate limiter's quota, and its body.
struct Shaped {
    status: StatusCode,
    quota: Option<crate::http::rate_limit::Quota>,
    body: Result<Body, serde_json::Error>,
}

/// A serialised response, or one still to be changed (a refusal loses `data`) or stored
/// (an idempotent mutation's).
enum Body {
    Bytes(Vec<u8>),
    Value(Value),
}

/// Give every error its code and the request id (masking messages in production), choose
/// the status, and serialise: a 200 with nothing to store straight to bytes, since
/// building a `serde_json::Value` first would copy every value once more (an export page
/// holds about 12,000).
fn shape(
    mut response: async_graphql::Response,
    outcome: &Outcome,
    production: bool,
    request_id: &str,
    keep_value: bool,
) -> Shaped {
    let rejected = outcome.rejected.load(Ordering::Relaxed) || no_operation_selected(&response);
    let quota = outcome.quota.lock().ok().and_then(|q| *q);
    let limited = quota.is_some_and(|q| q.retry_after.is_some());
    let mut unavailable = false;
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        // Errors async-graphql raises itself carry no code: parse and validation errors
        // (including our limits) and arguments of the wrong type.
        let code = match extensions.get("code") {
            Some(async_graphql::Value::String(code)) => code.clone(),
            _ => {
                let code = if rejected {
                    "GRAPHQL_VALIDATION_FAILED"
                } else {
                    ErrorCode::BadUserInput.as_str()
                };
                extensions.set("code", code);
                code.to_owned()
            }
        };
        unavailable |= code == ErrorCode::ServiceUnavailable.as_str();
        // Every error carries the request id, so a partner can quote it and we can find
        // the detail that the message leaves out in the logs.
        extensions.set("requestId", request_id);
        if production {
            tracing::info!(code = %code, message = %error.message, path = ?error.path, "error masked in the response");
            error.message = masked_message(&code).to_owned();
        }
    }
    let status = if limited {
        StatusCode::TOO_MANY_REQUESTS
    } else if rejected {
        StatusCode::BAD_REQUEST
    } else if unavailable && response.data == async_graphql::Value::Null {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = if status == StatusCode::OK && !keep_value {
        serde_json::to_vec(&response).map(Body::Bytes)
    } else {
        serde_json::to_value(&response).map(Body::Value)
    };
    Shaped {
        status,
        quota,
        body,
    }
}

/// The rate-limit headers, and the statement count when `--sql-stats` is on.
fn add_headers(
    http: &mut Response,
    state: &AppState,
    quota: Option<crate::http::rate_limit::Quota>,
    statements: u64,
) {
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

/// Whether the request named no operation of its document that could run (an unknown
/// `operationName`, or none for a document with several). The specification treats that
/// like a validation failure (4xx, no data), but async-graphql selects the operation after
/// validation, outside any extension hook, and says so only in its message.
fn no_operation_selected(response: &async_graphql::Response) -> bool {
    match response.errors.as_slice() {
        [only] if response.data == async_graphql::Value::Null => {
            only.message.starts_with("Unknown operation named \"")
                || only.message == "Operation name required in request."
        }
        _ => false,
    }
}

const RATE_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
const RATE_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
const RATE_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// What a production response says for an error: its code in words, nothing more.
fn masked_message(code: &str) -> &'static str {
    match code {
        "UNAUTHENTICATED" => "authentication required",
        "FORBIDDEN" => "not allowed with this token",
        "NOT_FOUND" => "not found",
        "BAD_USER_INPUT" => "bad input",
        "CONFLICT" => "conflict",
        "RATE_LIMITED" => "rate limit exceeded",
        "SERVICE_UNAVAILABLE" => "service unavailable, try again shortly",
        "GRAPHQL_VALIDATION_FAILED" => "the query is not valid",
        _ => "internal error",
    }
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

fn json_response(status: StatusCode, format: Format, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, format.content_type())],
        body.to_string(),
    )
        .into_response()
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        "this endpoint answers with application/graphql-response+json or application/json",
    )
        .into_response()
}

fn error_body(
    status: StatusCode,
    format: Format,
    message: &str,
    code: &str,
    request_id: &str,
) -> Response {
    let body = json!({
        "errors": [{
            "message": message,
            "extensions": { "code": code, "requestId": request_id },
        }]
    });
    json_response(status, format, &body)
}

fn bad_request(format: Format, message: &str, request_id: &str) -> Response {
    error_body(
        StatusCode::BAD_REQUEST,
        format,
        message,
        "BAD_REQUEST",
        request_id,
    )
}

/// A GraphQL error document with no `data`, for failures before execution.
fn error_response(status: StatusCode, format: Format, err: Error, request_id: &str) -> Response {
    let code = err.code();
    if code == ErrorCode::Internal || code == ErrorCode::ServiceUnavailable {
        tracing::error!(error = ?err, "request failed before execution");
    }
    let mut response = error_body(status, format, &err.to_string(), code.as_str(), request_id);
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"profilegraph\""),
        );
    }
    response
}
