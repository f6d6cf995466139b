//! Prometheus metrics, served on a listener of their own (`--metrics-listen`).
//!
//! The code records through the `metrics` facade everywhere (a no-op until a recorder is
//! installed); [`install`] installs the Prometheus recorder once per process, and [`serve`]
//! answers `GET /metrics` with the text exposition format. The names are below, one
//! constant each; the README lists them.

use std::collections::HashSet;
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::error::{Error, Result};
use crate::http::AppState;

/// GraphQL requests over HTTP, by `operation` (the document's operation name, or
/// `anonymous`), `type` (`query`, `mutation`, or `unknown` for a document that didn't
/// parse) and `code` (`OK`, or the first error's `extensions.code`).
pub const REQUESTS: &str = "profilegraph_graphql_requests_total";
/// Their latency from the request's arrival to its response, by `operation` and `type`.
pub const REQUEST_SECONDS: &str = "profilegraph_graphql_request_duration_seconds";
/// SQL statements one GraphQL request ran (authentication included), by `operation`.
pub const SQL_STATEMENTS: &str = "profilegraph_sql_statements_per_request";
/// Keys per DataLoader batch (one statement each), by `loader`.
pub const LOADER_BATCH: &str = profilegraph_schema::metrics::LOADER_BATCH;
/// Requests refused by the rate limiter, by `limit` (`token` or `workspace`).
pub const RATE_LIMITED: &str = crate::http::rate_limit::RATE_LIMITED;
/// Connections of the server's shared database pool, by `state` (`idle`, `in_use`); and
/// the pool's ceiling.
pub const DB_CONNECTIONS: &str = "profilegraph_db_pool_connections";
/// The shared pool's most connections.
pub const DB_MAX_CONNECTIONS: &str = "profilegraph_db_pool_max_connections";
/// Open subscription WebSockets.
pub const SOCKETS_OPEN: &str = "profilegraph_websockets_open";
/// Active subscriptions over all sockets.
pub const SUBSCRIPTIONS_OPEN: &str = "profilegraph_subscriptions_open";
/// From an event's recording (its `occurredAt`, in the transaction of its change) to its
/// hand-off to this server's subscribers.
pub const FANOUT_SECONDS: &str = "profilegraph_event_fanout_seconds";
/// Webhook attempts, by `outcome` (`delivered`, `retry`, `failed`).
pub const WEBHOOK_ATTEMPTS: &str = "profilegraph_webhook_attempts_total";
/// Requests that found their document parsed (or their validation done) before, by
/// `cache` (`parsed`, `validated`) and `outcome` (`hit`, `miss`).
pub const DOCUMENT_CACHE: &str = "profilegraph_document_cache_total";
/// Statements and transactions that found their database pool with no idle connection
/// and no room to open one, and so waited for one (all of the process's pools).
pub const DB_POOL_WAITS: &str = "profilegraph_db_pool_waits_total";
/// How long webhook attempts took, by `outcome`.
pub const WEBHOOK_SECONDS: &str = "profilegraph_webhook_attempt_duration_seconds";

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const COUNT_BUCKETS: &[f64] = &[
    1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0, 20.0, 30.0, 50.0, 100.0, 250.0, 1000.0,
];

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Install the Prometheus recorder for this process (once; later calls return the same
/// handle), and keep its histograms trimmed.
pub fn install() -> Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let build = || -> std::result::Result<PrometheusHandle, String> {
        let mut builder = PrometheusBuilder::new();
        for name in [REQUEST_SECONDS, FANOUT_SECONDS, WEBHOOK_SECONDS] {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.into()), LATENCY_BUCKETS)
                .map_err(|e| e.to_string())?;
        }
        for name in [SQL_STATEMENTS, LOADER_BATCH] {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(name.into()), COUNT_BUCKETS)
                .map_err(|e| e.to_string())?;
        }
        builder.install_recorder().map_err(|e| e.to_string())
    };
    let handle = build().map_err(|e| Error::Usage(format!("cannot start the metrics: {e}")))?;
    describe();
    let handle = HANDLE.get_or_init(|| handle).clone();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    Ok(handle)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        REQUESTS,
        "GraphQL requests over HTTP, by operation, type and outcome code."
    );
    describe_histogram!(REQUEST_SECONDS, Unit::Seconds, "GraphQL request latency.");
    describe_histogram!(SQL_STATEMENTS, "SQL statements per GraphQL request.");
    describe_histogram!(LOADER_BATCH, "Keys per DataLoader batch.");
    describe_counter!(RATE_LIMITED, "Requests refused by the rate limiter.");
    describe_gauge!(
        DB_CONNECTIONS,
        "Connections of the shared database pool, by state."
    );
    describe_gauge!(
        DB_MAX_CONNECTIONS,
        "Most connections of the shared database pool."
    );
    describe_gauge!(SOCKETS_OPEN, "Open subscription WebSockets.");
    describe_gauge!(SUBSCRIPTIONS_OPEN, "Active subscriptions.");
    describe_histogram!(
        FANOUT_SECONDS,
        Unit::Seconds,
        "From an event's commit to its hand-off to subscribers."
    );
    describe_counter!(WEBHOOK_ATTEMPTS, "Webhook attempts, by outcome.");
    describe_counter!(
        DOCUMENT_CACHE,
        "Parsed and validated documents found in the cache, or not."
    );
    describe_counter!(
        DB_POOL_WAITS,
        "Connections asked of a database pool with none idle and no room to open one."
    );

    describe_histogram!(
        WEBHOOK_SECONDS,
        Unit::Seconds,
        "Webhook attempt duration, by outcome."
    );
}

/// Bind `addr` for the metrics.
pub async fn bind(addr: std::net::SocketAddr) -> Result<TcpListener> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })
}

/// Answer `GET /metrics` on `listener` until the server shuts down.
pub async fn serve(listener: TcpListener, handle: PrometheusHandle, state: AppState) {
    let shutdown = state.shutdown.clone();
    let router = Router::new()
        .route("/metrics", get(scrape))
        .with_state((handle, state));
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(err) = served {
        tracing::error!(error = %err, "the metrics listener stopped");
    }
}

async fn scrape(State((handle, state)): State<(PrometheusHandle, AppState)>) -> impl IntoResponse {
    pool_gauges(&state);
    document_counts(&state);
    metrics::counter!(DB_POOL_WAITS).absolute(profilegraph_store::stats::pool_waits());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
}

/// The document caches' hits and misses, read at scrape time.
fn document_counts(state: &AppState) {
    let counts = state.document_cache.counts();
    for (cache, outcome, n) in [
        ("parsed", "hit", counts.parsed_hits),
        ("parsed", "miss", counts.parsed_misses),
        ("validated", "hit", counts.validated_hits),
        ("validated", "miss", counts.validated_misses),
    ] {
        metrics::counter!(DOCUMENT_CACHE, "cache" => cache, "outcome" => outcome).absolute(n);
    }
}

/// The shared pool's connections, read at scrape time. (A request that waited out
/// `--db-acquire-timeout` is counted in [`REQUESTS`] as `SERVICE_UNAVAILABLE`.)
fn pool_gauges(state: &AppState) {
    let Some(conn) = state.db.pool() else {
        return;
    };
    let Some((size, idle, max)) = profilegraph_store::stats::pool_state(conn) else {
        return;
    };
    let idle = u32::try_from(idle).unwrap_or(u32::MAX);
    metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(f64::from(idle));
    metrics::gauge!(DB_CONNECTIONS, "state" => "in_use").set(f64::from(size.saturating_sub(idle)));
    metrics::gauge!(DB_MAX_CONNECTIONS).set(f64::from(max));
}

/// Most distinct operation names kept as labels; later ones count as `other`, so a
/// client that sends random names cannot grow the metrics without bound.
pub const MAX_OPERATION_NAMES: usize = 256;

static OPERATION_NAMES: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// The `operation` label for a request whose operation is named `name`.
pub fn operation_label(name: Option<&str>) -> String {
    let Some(name) = name else {
        return "anonymous".to_owned();
    };
    let mut names = OPERATION_NAMES
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if names.contains(name) {
        return name.to_owned();
    }
    if names.len() < MAX_OPERATION_NAMES {
        names.insert(name.to_owned());
        return name.to_owned();
    }
    "other".to_owned()
}

/// What one GraphQL request over HTTP was, for [`REQUESTS`] and the histograms.
#[derive(Debug, Clone)]
pub struct RequestLabels {
    /// The operation's name label (see [`operation_label`]); `unknown` until read.
    pub operation: String,
    /// `query`, `mutation`, `subscription`, or `unknown`.
    pub kind: &'static str,
}

impl Default for RequestLabels {
    fn default() -> Self {
        RequestLabels {
            operation: "unknown".to_owned(),
            kind: "unknown",
        }
    }
}

/// Count a finished request.
pub fn request(
    labels: &RequestLabels,
    code: &'static str,
    took: Duration,
    statements: Option<u64>,
) {
    metrics::counter!(
        REQUESTS,
        "operation" => labels.operation.clone(),
        "type" => labels.kind,
        "code" => code,
    )
    .increment(1);
    metrics::histogram!(
        REQUEST_SECONDS,
        "operation" => labels.operation.clone(),
        "type" => labels.kind,
    )
    .record(took.as_secs_f64());
    if let Some(statements) = statements {
        metrics::histogram!(SQL_STATEMENTS, "operation" => labels.operation.clone())
            .record(statements as f64);
    }
}

/// A gauge counted up while this lives.
#[derive(Debug)]
pub struct Open(&'static str);

impl Open {
    /// Count one more of `gauge`, until dropped.
    pub fn new(gauge: &'static str) -> Self {
        metrics::gauge!(gauge).increment(1.0);
        Open(gauge)
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        metrics::gauge!(self.0).decrement(1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_capped() {
        assert_eq!(operation_label(None), "anonymous");
        assert_eq!(operation_label(Some("ProfilePage")), "ProfilePage");
        for i in 0..MAX_OPERATION_NAMES {
            operation_label(Some(&format!("Random{i}")));
        }
        assert_eq!(operation_label(Some("OneTooMany")), "other");
        assert_eq!(operation_label(Some("ProfilePage")), "ProfilePage");
    }
}
