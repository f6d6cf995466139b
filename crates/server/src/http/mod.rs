//! The HTTP surface: `/graphql` (POST to run, GET for GraphiQL) and the health checks.
//!
//! One module per job, each depending only on modules listed before it (and on the
//! shared state and constants here), so the dependencies run one way and none of them
//! needs to know the handlers:
//!
//! - `price`, `guard`, `rate_limit`: what an operation costs, and the checks inside
//!   async-graphql's pipeline; `health`: probes;
//! - `respond`: media types, the status for each error code, masking, shaping and
//!   serialising a GraphQL response;
//! - `error`: [`HttpError`], every refusal the HTTP layer makes;
//! - `documents`: persisted documents (automatic and safelisted), and the caches of
//!   parsed and validated documents;
//! - `extract`: negotiation and reading GET/POST into a GraphQL request;
//! - `auth`: the bearer token and who it belongs to;
//! - `export`: `GET /export/profiles.jsonl|csv`, the bulk export for partners;
//! - `idempotency`: claim, replay, complete and release an `Idempotency-Key`;
//! - `body_limit`, `reply`: the layers that refuse oversized bodies and render refusals;
//! - `graphql`: the handlers, which put the steps above in order.

mod auth;
mod body_limit;
pub mod documents;
pub mod error;
pub mod export;
mod extract;
pub mod graphiql;
mod graphql;
pub mod guard;
mod health;
mod idempotency;
pub mod price;
pub mod rate_limit;
mod reply;
mod respond;
pub mod socket;

pub use error::HttpError;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use axum::response::IntoResponse;
use axum::routing::get;
use profilegraph_schema::AppSchema;
use profilegraph_store::Db;
use tower_http::catch_panic::CatchPanicLayer;
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
    /// The fan-out of committed profile events to this server's subscribers.
    pub hub: Arc<crate::live::Hub>,
    /// Limits on subscription sockets, and the count of open ones.
    pub sockets: Arc<socket::SocketLimits>,
    /// Cancelled when the server shuts down: open sockets close with 1001.
    pub shutdown: tokio_util::sync::CancellationToken,
    /// Persisted documents: the safelist, and those clients registered by hash.
    pub persisted: Arc<documents::PersistedDocuments>,
    /// Parsed and validated documents, shared with the schema's extension.
    pub document_cache: Arc<documents::DocumentCache>,
    /// The tokens with a bulk export running.
    pub exports: Arc<export::Running>,
}

/// HTTP behaviour that differs between deployments.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Serve GraphiQL on `GET /graphql`.
    pub graphiql: bool,
    /// What GraphiQL's headers tab starts with: the demo token's `Authorization`, when
    /// this development start on loopback seeded the demo; otherwise nothing.
    pub graphiql_headers: Option<String>,
    /// Send `x-sql-statements` with each GraphQL response.
    pub sql_stats: bool,
    /// Mask error messages to their codes.
    pub production: bool,
    /// The origins allowed to call across sites (CORS); none sends no CORS headers.
    pub cors_origins: Vec<crate::config::CorsOrigin>,
}

/// How long a request may run.
pub const REQUEST_TIME_LIMIT: Duration = Duration::from_secs(10);

/// Cut a request off after [`REQUEST_TIME_LIMIT`] with a GraphQL-shaped 503, so clients
/// see the same `SERVICE_UNAVAILABLE` error as for any other overload.
async fn time_limit(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(REQUEST_TIME_LIMIT, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request cut off after {REQUEST_TIME_LIMIT:?}");
            HttpError::TimedOut.into_response()
        }
    }
}

/// The whole router, with request ids, tracing, a request timeout and panic isolation.
pub fn router(state: AppState) -> Router {
    let settings = state.settings.clone();
    let cors = cors(&settings.cors_origins);
    let mut routes = Router::new()
        .route("/graphql", get(graphql::get_or_upgrade).post(graphql::post))
        .route("/health/live", get(health::live))
        .route("/health/ready", get(health::ready));
    if settings.graphiql {
        routes = routes.route("/graphiql/{file}", get(graphiql::asset));
    }
    // Exports are large and repetitive text: gzip when the client accepts it.
    let exports = Router::new()
        .route("/export/{file}", get(export::profiles))
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    let routes = routes.merge(exports);
    let router = routes
        .with_state(state)
        // Bodies over the limit are refused with 413 before anything parses them: by their
        // Content-Length up front, or as soon as a streamed body passes the limit (see
        // `body_limit` for how the client still gets to read the 413).
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(body_limit::limit))
        // Layers run bottom-up for requests: the id is set first, so the trace span and
        // every log line inside it carry it, and it is echoed back on the response.
        .layer(CatchPanicLayer::custom(|_| {
            HttpError::from(profilegraph_schema::Error::Panicked).into_response()
        }))
        .layer(axum::middleware::from_fn(time_limit))
        // Every refusal from the layers above and the handlers gets its request's context.
        .layer(axum::middleware::from_fn_with_state(
            settings,
            reply::render,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID));
    // Outside everything that can refuse a request, so that a refusal (a 413, a 503) still
    // carries the CORS headers its page needs to read it; preflights end here.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router
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

/// How long a browser may cache a preflight's answer.
pub const CORS_MAX_AGE: Duration = Duration::from_secs(600);

/// The CORS layer for `origins`, or none when no origin is allowed (then no CORS header is
/// sent and browsers keep cross-site answers from their pages).
fn cors(origins: &[crate::config::CorsOrigin]) -> Option<tower_http::cors::CorsLayer> {
    use axum::http::{HeaderValue, Method, header};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin.as_str()).ok())
        .collect();
    if origins.is_empty() {
        return None;
    }
    Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([
                header::AUTHORIZATION,
                header::CONTENT_TYPE,
                extract::IDEMPOTENCY_KEY,
            ])
            .expose_headers([
                REQUEST_ID,
                respond::RATE_LIMIT,
                respond::RATE_REMAINING,
                respond::RATE_RESET,
                header::RETRY_AFTER,
                idempotency::IDEMPOTENT_REPLAYED,
            ])
            .max_age(CORS_MAX_AGE),
    )
}
