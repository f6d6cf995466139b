//! The `/graphql` handlers: read the request (`extract`), find the caller (`auth`), claim
//! its idempotency key (`idempotency`), execute it on a pinned worker, and answer
//! (`respond`). Each step lives in its module; this one only puts them in order, and
//! depends on all of them while none depends on it.

use std::sync::Arc;

use async_graphql::parser::types::OperationType;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use profilegraph_schema::Error;
use tracing::Instrument;

use super::AppState;
use super::auth;
use super::error::HttpError;
use super::extract::{self, FromGet, GetParams, Incoming};
use super::guard::Outcome;
use super::idempotency::{self, Begin};
use super::respond::{self, Body, ShapeOptions, Shaped};

/// `GET /graphql`: run a query from the query string, or serve GraphiQL.
pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    params: Result<Query<GetParams>, QueryRejection>,
) -> Result<Response, HttpError> {
    match extract::from_get(params, &headers, state.settings.graphiql)? {
        FromGet::GraphiQL => Ok(super::graphiql::page(
            state.settings.graphiql_headers.as_deref(),
        )),
        FromGet::Operation(incoming) => run(state, headers, *incoming).await,
    }
}

/// `POST /graphql`: run the operation in the JSON body.
pub async fn post(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, HttpError> {
    let incoming = extract::from_post(&headers, &body)?;
    run(state, headers, incoming).await
}

/// What [`execute`] found out about a request, for the metrics.
#[derive(Default)]
struct Report {
    labels: crate::metrics::RequestLabels,
    code: Option<profilegraph_schema::ErrorCode>,
    statements: Option<u64>,
}

/// [`execute`], counted in the metrics.
async fn run(
    state: AppState,
    headers: HeaderMap,
    incoming: Incoming,
) -> Result<Response, HttpError> {
    let started = std::time::Instant::now();
    let mut report = Report::default();
    let result = execute(state, headers, incoming, &mut report).await;
    let code = match &result {
        Ok(_) => report.code.map_or("OK", |code| code.as_str()),
        Err(err) => err.code().as_str(),
    };
    crate::metrics::request(&report.labels, code, started.elapsed(), report.statements);
    result
}

/// Authenticate, claim the idempotency key, execute on a pinned worker, and answer.
async fn execute(
    state: AppState,
    headers: HeaderMap,
    mut incoming: Incoming,
    report: &mut Report,
) -> Result<Response, HttpError> {
    let request_id = extract::request_id(&headers);
    let (viewer, auth_statements) = auth::authenticate(&state, &headers).await?;
    // After authentication: only a caller with a token may teach the server a document.
    state.persisted.resolve(&mut incoming.request)?;
    let selected = select(&state, &mut incoming.request);
    if incoming.via_get && matches!(selected, Some((OperationType::Mutation, _))) {
        // Named by a hash: only now is it known to be a mutation.
        return Err(HttpError::MutationOverGet);
    }
    // A retried mutation with a key we've seen gets the stored response, not a rerun.
    let operation = selected.as_ref().map(|(ty, _)| *ty);
    let claim = match idempotency::begin(&state.db, &viewer, &incoming, operation).await? {
        Begin::Run(claim) => claim,
        Begin::Replay(response) => return Ok(response),
    };
    let format = incoming.format;
    if let Some((ty, name)) = &selected {
        report.labels = crate::metrics::RequestLabels {
            operation: crate::metrics::operation_label(name.as_deref()),
            kind: match ty {
                OperationType::Query => "query",
                OperationType::Mutation => "mutation",
                OperationType::Subscription => "subscription",
            },
        };
    }
    let writes = matches!(selected, Some((OperationType::Mutation, _)));
    let workspace_id = viewer.workspace_id;

    // Execution runs on a single-threaded worker, where the loaders batch each level of
    // the query in one statement without waiting for a time window (see
    // `profilegraph_schema::exec`). The span keeps the request id on its log lines.
    let outcome = Arc::new(Outcome::default());
    let request = incoming.request.data(outcome.clone());
    let schema = state.schema.clone();
    let span = tracing::Span::current();
    let production = state.settings.production;
    let id = request_id.clone();
    let actor_request = (!request_id.is_empty()).then(|| request_id.clone());
    let keep_value = claim.is_some();
    // The response is shaped and serialised on the worker that built it, so its values
    // are freed by the thread that allocated them: with the response freed on another
    // thread, the allocator's cross-thread frees cost an export page a tenth of its time.
    let task = state.workers.spawn(move |db| {
        async move {
            let (response, statements) =
                profilegraph_schema::execute_pinned(&schema, &db, viewer, actor_request, request)
                    .await;
            let options = ShapeOptions {
                format,
                production,
                request_id: &id,
                keep_value,
            };
            (respond::shape(response, &outcome, options), statements)
        }
        .instrument(span)
    });
    let (shaped, statements) = match task.await {
        Ok(done) => done,
        // A panic in a resolver ends that request's task only; the worker and every other
        // request carry on.
        Err(err) => {
            tracing::error!(error = %err, "request execution panicked");
            return Err(failed(&state, claim).await);
        }
    };
    let Shaped {
        status,
        quota,
        code,
        body,
    } = shaped;
    report.code = code;
    report.statements = Some(auth_statements + statements);
    let mut http = match body {
        Ok(Body::Bytes(bytes)) => respond::bytes_response(status, format, bytes),
        Ok(Body::Value(body)) => {
            idempotency::complete(&state.db, claim, status, &body).await;
            respond::json_response(status, format, &body)
        }
        Err(err) => {
            tracing::error!(error = %err, "cannot serialise a response");
            return Err(failed(&state, claim).await);
        }
    };
    respond::add_headers(&mut http, &state, quota, auth_statements + statements);
    if writes {
        // Its events (if it made any) have committed: deliver them to this server's
        // subscribers now. Other servers hear of them through PostgreSQL.
        let hub = state.hub.clone();
        tokio::spawn(async move { hub.poke(workspace_id).await });
    }
    Ok(http)
}

/// The type and name of the operation `request` selects, from the document cache when a
/// request parsed its text before; otherwise parsed here, once: the parsed document goes
/// along with the request, so that async-graphql doesn't parse it again.
fn select(
    state: &AppState,
    request: &mut async_graphql::Request,
) -> Option<(OperationType, Option<String>)> {
    let operation_name = request.operation_name.as_deref();
    if let Some(document) = state.document_cache.parsed(&request.query) {
        return extract::select(&document, operation_name);
    }
    let document = async_graphql::parser::parse_query(&request.query).ok()?;
    let selected = extract::select(&document, operation_name);
    request.set_parsed_query(document);
    selected
}

/// `GET /graphql` with `Upgrade: websocket`: subscriptions (see `socket`); any other GET
/// goes to [`get`].
pub async fn get_or_upgrade(
    State(state): State<AppState>,
    request: axum::extract::Request,
) -> Result<Response, HttpError> {
    let upgrade = request
        .headers()
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let (mut parts, _) = request.into_parts();
    if upgrade {
        use axum::extract::FromRequestParts;
        let header_token = auth::bearer_token(&parts.headers).map(str::to_owned);
        let ws = axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &state)
            .await
            .map_err(|rejection| HttpError::BadRequest(rejection.body_text()))?;
        return Ok(super::socket::configure(ws)
            .protocols([super::socket::PROTOCOL])
            .on_upgrade(move |socket| super::socket::serve(state, socket, header_token))
            .into_response());
    }
    let params = Query::<GetParams>::try_from_uri(&parts.uri);
    get(State(state), parts.headers, params).await
}

/// A 500 for a request whose execution went wrong, freeing its idempotency key (if it
/// claimed one) so that a retry runs instead of waiting for a response that never comes.
async fn failed(state: &AppState, claim: Option<uuid::Uuid>) -> HttpError {
    idempotency::release(&state.db, claim).await;
    HttpError::from(Error::Panicked)
}
