//! The HTTP surface: `/graphql` (POST to run, GET for GraphiQL) and the health checks.

mod graphql;
pub mod guard;
mod health;
pub mod rate_limit;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::routing::get;
use profilegraph_schema::AppSchema;
use profilegraph_store::Db;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// The header that carries each request's id, in and out.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The largest request body accepted: 2 MiB.
pub const MAX_BODY: usize = 2 * 1024 * 1024;

/// The header that reports how many SQL statements a request ran (when enabled).
pub const SQL_STATEMENTS: HeaderName = HeaderName::from_static("x-sql-statements");

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The executable schema, with its limits.
    pub schema: AppSchema,
    /// The database pool.
    pub db: Db,
    /// Settings the handlers need.
    pub settings: Arc<HttpSettings>,
    /// Tokens that authenticated recently.
    pub tokens: Arc<profilegraph_store::tokens::TokenCache>,
    /// Single-threaded workers that execute GraphQL requests (one per core), with their
    /// database pools.
    pub workers: crate::workers::Workers,
}

/// HTTP behaviour that differs between deployments.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Serve GraphiQL on `GET /graphql`.
    pub graphiql: bool,
    /// Send `x-sql-statements` with each GraphQL response.
    pub sql_stats: bool,
    /// Mask error messages to their codes.
    pub production: bool,
}

/// How long a request may run.
pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Cut a request off after [`REQUEST_TIME_LIMIT`] with a GraphQL-shaped 503, so clients
/// see the same `SERVICE_UNAVAILABLE` error as for any other overload.
async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let request_id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request cut off after {REQUEST_TIME_LIMIT:?}");
            let body = serde_json::json!({
                "errors": [{
                    "message": format!("the request took longer than {} s", REQUEST_TIME_LIMIT.as_secs()),
                    "extensions": { "code": "SERVICE_UNAVAILABLE", "requestId": request_id },
                }]
            });
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(body),
            )
                .into_response()
        }
    }
}

/// The whole router, with request ids, tracing, a request timeout and panic isolation.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/graphql", get(graphql::get).post(graphql::post))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready))
        .with_state(state)
        // Bodies over the limit are refused with 413 before anything parses them: by their
        // Content-Length up front, or as soon as a streamed body passes the limit.
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        // Layers run bottom-up for requests: the id is set first, so the trace span and
        // every log line inside it carry it, and it is echoed back on the response.
        .layer(CatchPanicLayer::new())
        .layer(axum::middleware::from_fn(time_limit))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
                let request_id = request
                    .headers()
                    .get(REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!(
                    "request",
                    method = %request.method(),
                    path = %request.uri().path(),
                    request_id = %request_id,
                )
            }),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
