//! Putting the server together: database, schema, router; and running it until a signal.

use std::future::Future;
use std::sync::Arc;

use async_graphql::SchemaBuilder;
use profilegraph_schema::events::SubscriptionRoot;
use profilegraph_schema::{AppSchema, MutationRoot, QueryRoot};
use profilegraph_store::Db;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::database;
use crate::error::{Error, Result};
use crate::http::documents::{DocumentCache, DocumentCacheFactory, PersistedDocuments};
use crate::http::guard::{DocumentLimits, GuardFactory};
use crate::http::rate_limit::RateLimiter;
use crate::http::{self, AppState, HttpSettings};
use crate::workers::{Workers, split_connections};

/// A server ready to accept requests: migrated database, built schema.
pub struct Prepared {
    /// The router's shared state.
    pub state: AppState,
    /// The demo token, when this start seeded the demo workspace.
    pub demo_token: Option<String>,
    /// Where the metrics are served (`--metrics-listen`, with its port bound).
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// The operation limits' defaults (see [`Config`] for the flags that change the first
/// four). Each refuses an operation before any resolver or SQL runs.
pub mod limits {
    /// Deepest selection nesting.
    pub const DEPTH: usize = 12;
    /// Largest complexity: every field costs 1 and a connection costs its page size times
    /// one item. The profile page (Q1) costs 278 and a look-up page (Q2) 161; a full
    /// 100-profile export page with each profile's contacts, their 10 latest tickets and
    /// 10 notes (Q3) costs 11,801 and must pass; two of those in one document must not.
    pub const COMPLEXITY: usize = 15_000;
    /// Parser recursion (nested fragments, lists of lists): the stack-overflow guard of
    /// RUSTSEC-2022-0037.
    pub const RECURSION: usize = 32;
    /// Directives on one field (GHSA-5gc2-7c65-8fq8).
    pub const DIRECTIVES: usize = 5;
    /// Aliases in one document.
    pub const ALIASES: usize = 30;
    /// Fields at the root of one operation.
    pub const ROOT_FIELDS: usize = 20;
}

/// Build the executable schema with its operation limits.
pub fn schema(config: &Config) -> AppSchema {
    schema_builder(config).finish()
}

/// [`schema`] with the webhook settings the server runs with.
fn schema_with_webhooks(
    config: &Config,
    key: Option<profilegraph_store::webhooks::SecretKey>,
    documents: Arc<DocumentCache>,
) -> AppSchema {
    schema_builder_with(config, documents)
        .data(profilegraph_schema::webhooks::WebhookSettings {
            key,
            clock: config.webhook_clock.clone(),
            allow_private: config.webhook_allow_private,
        })
        .finish()
}

/// The schema's builder with every limit and extension of [`schema`] set, for a caller
/// that adds to it (the tests add an extension that panics, to prove a panic stays
/// inside its request).
pub fn schema_builder(config: &Config) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    schema_builder_with(config, Arc::default())
}

/// [`schema_builder`] over the server's document cache, which its HTTP layer shares.
fn schema_builder_with(
    config: &Config,
    documents: Arc<DocumentCache>,
) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    let mut builder = profilegraph_schema::builder()
        // Deep, wide or self-similar queries are the cheapest way to make a GraphQL server
        // do unbounded work; refuse them before any resolver runs.
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_recursive_depth(limits::RECURSION)
        .limit_directives(limits::DIRECTIVES)
        .extension(GuardFactory(DocumentLimits {
            max_aliases: config.max_aliases,
            max_root_fields: config.max_root_fields,
        }))
        // Inside the guard, which counts and charges every request, cached or not.
        .extension(DocumentCacheFactory(documents))
        .data(Arc::new(RateLimiter::new(
            config.rate_limit_per_token,
            config.rate_limit_per_workspace,
        )))
        .data(profilegraph_schema::webhooks::WebhookSettings::off());
    if config.production {
        // "Did you mean …?" hints map the schema out for someone probing it.
        builder = builder.disable_suggestions();
    }
    builder
}

/// Connect, migrate, and (on a brand-new database, unless disabled) seed the demo.
pub async fn prepare(config: &Config) -> Result<Prepared> {
    database::check_url(&config.database_url)?;
    // A safelist that can't be read stops the start before anything else happens.
    let persisted = match &config.persisted_documents {
        Some(dir) => PersistedDocuments::load(dir, config.persisted_only)?,
        None => PersistedDocuments::automatic(),
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    // On PostgreSQL the workers get most of the connections (see `workers`).
    let shared = match split_connections(config.db_max_connections, workers) {
        Some((shared, _)) if !database::is_sqlite(&config.database_url) => shared,
        _ => config.db_max_connections,
    };
    let conn = database::connect_sized(config, shared).await?;
    let brand_new = database::is_brand_new(&conn).await?;
    database::migrate(&conn).await?;
    tracing::info!(
        backend = database::backend_name(&conn),
        brand_new,
        "database ready"
    );
    let db = Db::new(conn);
    // Profiles written before name suggestions existed get their name keys once.
    let indexed = profilegraph_store::suggestions::backfill(&db).await?;
    if indexed > 0 {
        tracing::info!(profiles = indexed, "indexed profile names for suggestions");
    }
    let demo_token = if brand_new && !config.no_demo && !config.production {
        Some(crate::demo::seed(&db).await?.token)
    } else {
        None
    };
    // On PostgreSQL events are numbered after their commit: what the demo (or a command
    // line run) left pending first, then whatever each request records.
    let db = if database::is_sqlite(&config.database_url) {
        db
    } else {
        profilegraph_store::events::numbering::number_all(&db).await?;
        let numbering = profilegraph_store::events::numbering::Numbering::start(db.clone());
        db.with_numbering(numbering)
    };
    crate::retention::spawn(db.clone(), config.event_retention_days);
    let hub = crate::live::Hub::new(db.clone());
    if !database::is_sqlite(&config.database_url) {
        crate::live::listen::spawn(config.database_url.clone(), hub.clone());
    }
    let webhook_key = crate::webhooks::load_key(config)?;
    if let Some(key) = &webhook_key {
        crate::webhooks::spawn(
            db.clone(),
            crate::webhooks::worker::WorkerSettings {
                key: key.clone(),
                clock: config.webhook_clock.clone(),
                timeout: std::time::Duration::from_secs(config.webhook_timeout_secs.max(1)),
                allow_private: config.webhook_allow_private,
                max_in_flight: config.webhook_max_in_flight.max(1),
                max_in_flight_per_endpoint: config.webhook_max_in_flight_per_endpoint.max(1),
            },
            hub.committed(),
        )
        .map_err(|e| Error::Usage(format!("cannot start the webhook worker: {e}")))?;
    }
    let sockets = Arc::new(crate::http::socket::SocketLimits::new(
        std::time::Duration::from_secs(config.ws_init_timeout_secs.max(1)),
        config.ws_max_subscriptions.max(1),
        config.ws_max_connections_per_token.max(1),
        // A revoked token loses its sockets as fast as its HTTP requests.
        std::time::Duration::from_secs(config.token_cache_seconds.max(1)),
    ));
    let document_cache = Arc::new(DocumentCache::default());
    let state = AppState {
        persisted: Arc::new(persisted),
        document_cache: document_cache.clone(),
        exports: Arc::default(),
        hub,
        sockets,
        shutdown: tokio_util::sync::CancellationToken::new(),
        schema: schema_with_webhooks(config, webhook_key, document_cache),
        workers: Workers::start(config, db.clone(), workers).await?,
        tokens: Arc::new(profilegraph_store::tokens::TokenCache::new(
            std::time::Duration::from_secs(config.token_cache_seconds),
        )),
        db,
        settings: Arc::new(HttpSettings {
            graphiql: !config.production,
            // Only on loopback, where the page reaches nobody but this machine's user.
            graphiql_headers: demo_token
                .as_deref()
                .filter(|_| !config.production && config.listen.ip().is_loopback())
                .map(crate::http::graphiql::bearer_headers),
            sql_stats: config.sql_stats,
            production: config.production,
            cors_origins: config.cors_origins.clone(),
        }),
    };
    // Metrics get their own listener, so they are never reachable through the API's.
    let metrics_addr = match config.metrics_listen {
        Some(addr) => {
            let handle = crate::metrics::install()?;
            let listener = crate::metrics::bind(addr).await?;
            let bound = listener.local_addr()?;
            tokio::spawn(crate::metrics::serve(listener, handle, state.clone()));
            Some(bound)
        }
        None => None,
    };
    Ok(Prepared {
        state,
        demo_token,
        metrics_addr,
    })
}

/// How long a client may take to send a request's head. Without it, a client that
/// sends half a request and stalls would hold its connection open forever (slowloris),
/// and keep a shutting-down process from exiting.
pub const HEADER_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Serve `state` on `listener` until `shutdown` resolves, then stop accepting and let
/// requests in flight finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::server::graceful::GracefulShutdown;
    use hyper_util::service::TowerToHyperService;

    let sockets_closing = state.shutdown.clone();
    let router = http::router(state);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        // Out of file descriptors and the like: back off instead of spinning.
                        tracing::warn!(error = %err, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let service = TowerToHyperService::new(router.clone());
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let connection = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(err) = connection.await {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                });
            }
            () = &mut shutdown => break,
        }
    }
    // Refuse new connections at once; finish the requests of the open ones, and close
    // the subscription sockets (1001).
    drop(listener);
    sockets_closing.cancel();
    graceful.shutdown().await;
    Ok(())
}

/// Bind `config.listen`.
pub async fn bind(config: &Config) -> Result<TcpListener> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: config.listen,
            source,
        })
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    // Requests get 10 s each; if something still hangs long after, don't let it keep the
    // process from exiting (orchestrators kill at 30 s anyway, without our log line).
    tokio::spawn(async {
        tokio::time::sleep(SHUTDOWN_DEADLINE).await;
        tracing::error!("requests still running {SHUTDOWN_DEADLINE:?} after the signal; exiting");
        std::process::exit(1);
    });
}

/// How long after SIGTERM the process exits even if requests are still running.
pub const SHUTDOWN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(25);
