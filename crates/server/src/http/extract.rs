//! Reading an HTTP request into a GraphQL request, following the GraphQL-over-HTTP
//! specification's MUST rules:
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
//!
//! Nothing here touches the database or the schema; it only reads headers, the query
//! string and the body. Depends on `error` and `respond` (for [`Format`]).

use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use axum::http::{HeaderMap, HeaderName, header};
use serde::Deserialize;
use serde_json::Value;

use super::REQUEST_ID;
use super::error::HttpError;
use super::respond::{Format, GRAPHQL_RESPONSE_JSON, JSON};

/// The header a client sets to make a mutation safe to retry.
pub(super) const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");

/// A GraphQL request read from HTTP, with what the rest of the way needs to know.
pub struct Incoming {
    /// The operation to run.
    pub request: async_graphql::Request,
    /// The media type of the response.
    pub format: Format,
    /// The `Idempotency-Key` header, when given.
    pub idempotency_key: Option<String>,
    /// It came as a GET, so it must not be a mutation: checked here when the query is in
    /// the request, and again once a persisted document's hash has been resolved.
    pub via_get: bool,
}

/// What `GET /graphql` asks for.
pub enum FromGet {
    /// No `query`: the GraphiQL page.
    GraphiQL,
    /// An operation to run (boxed: a request is large, and GraphiQL is nothing).
    Operation(Box<Incoming>),
}

/// The request's id (set by the request-id layer before any handler runs).
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// Pick the response format from `Accept`, or `None` when neither JSON form is allowed.
pub fn negotiate(headers: &HeaderMap) -> Option<Format> {
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
    /// JSON, as in a POST body: `{"persistedQuery": {"version": 1, "sha256Hash": "…"}}`
    /// names a persisted document instead of sending it.
    extensions: Option<String>,
}

/// Read `GET /graphql`: GraphiQL when there is no `query` (and `graphiql` is on), or the
/// operation of the query string, refused if it is a mutation.
pub fn from_get(
    params: Result<Query<GetParams>, QueryRejection>,
    headers: &HeaderMap,
    graphiql: bool,
) -> Result<FromGet, HttpError> {
    let Ok(Query(params)) = params else {
        return Err(HttpError::BadRequest(
            "the query string can't be read".into(),
        ));
    };
    let Some(query) = params
        .query
        .or_else(|| params.extensions.is_some().then(String::new))
    else {
        if graphiql {
            return Ok(FromGet::GraphiQL);
        }
        return Err(HttpError::BadRequest(
            "send a GraphQL query in the `query` parameter, or POST it as JSON".into(),
        ));
    };
    let format = negotiate(headers).ok_or(HttpError::NotAcceptable)?;
    // GET must never change anything: find the operation that would run and refuse a
    // mutation before anything else happens.
    if operation_type(&query, params.operation_name.as_deref()) == Some(OperationType::Mutation) {
        return Err(HttpError::MutationOverGet);
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
                return Err(HttpError::BadRequest(
                    "`variables` must be a JSON object".into(),
                ));
            }
        }
    }
    if let Some(extensions) = params.extensions {
        request.extensions = serde_json::from_str(&extensions)
            .map_err(|_| HttpError::BadRequest("`extensions` must be a JSON object".into()))?;
    }
    Ok(FromGet::Operation(Box::new(with_query(Incoming {
        request,
        format,
        idempotency_key: None,
        via_get: true,
    })?)))
}

/// Read `POST /graphql`: one operation as a JSON object.
pub fn from_post(headers: &HeaderMap, body: &[u8]) -> Result<Incoming, HttpError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case(JSON));
    if !is_json {
        return Err(HttpError::UnsupportedMediaType);
    }
    let format = negotiate(headers).ok_or(HttpError::NotAcceptable)?;
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| HttpError::BadRequest(format!("the body is not JSON: {err}")))?;
    if value.is_array() {
        return Err(HttpError::BadRequest(
            "batched requests are not supported: send one operation per request".into(),
        ));
    }
    let request: async_graphql::Request = serde_json::from_value(value).map_err(|err| {
        HttpError::BadRequest(format!(
            "the body is not a GraphQL request ({{\"query\", \"variables\", \"operationName\"}}): {err}"
        ))
    })?;
    let idempotency_key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) => Some(key.to_owned()),
        Some(Err(_)) => {
            return Err(HttpError::BadRequest(
                "the Idempotency-Key must be ASCII".into(),
            ));
        }
    };
    with_query(Incoming {
        request,
        format,
        idempotency_key,
        via_get: false,
    })
}

/// `incoming`, unless it has no query to run: neither a document nor a persisted one's
/// hash.
fn with_query(incoming: Incoming) -> Result<Incoming, HttpError> {
    let persisted = incoming.request.extensions.0.contains_key("persistedQuery");
    if incoming.request.query.trim().is_empty() && !persisted {
        return Err(HttpError::BadRequest("the request has no `query`".into()));
    }
    Ok(incoming)
}

/// The type of the operation `query` would run (by `operation_name`, or its only one);
/// `None` when it doesn't parse or the name matches nothing.
pub fn operation_type(query: &str, operation_name: Option<&str>) -> Option<OperationType> {
    operation(query, operation_name).map(|(ty, _)| ty)
}

/// The type and name (`None`: anonymous) of the operation a request selects, if its
/// document parses and the selection names one.
pub fn operation(
    query: &str,
    operation_name: Option<&str>,
) -> Option<(OperationType, Option<String>)> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    select(&document, operation_name)
}

/// The type and name of the operation of `document` that `operation_name` selects.
pub fn select(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<(OperationType, Option<String>)> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => Some((op.node.ty, None)),
        (DocumentOperations::Multiple(ops), Some(name)) => {
            ops.get(name).map(|op| (op.node.ty, Some(name.to_owned())))
        }
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops
            .iter()
            .next()
            .map(|(name, op)| (op.node.ty, Some(name.to_string()))),
        _ => None,
    }
}
