//! Putting the server together: database, schema, router; and running it until a signal.

use std::future::Future;
use std::sync::Arc;

use profilegraph_schema::{AppSchema, Db};
use tokio::net::TcpListener;

use crate::config::Config;
use crate::database;
use crate::error::{Error, Result};
use crate::http::{self, AppState, HttpSettings};

/// A server ready to accept requests: migrated database, built schema.
pub struct Prepared {
    /// The router's shared state.
    pub state: AppState,
    /// The demo token, when this start seeded the demo workspace.
    pub demo_token: Option<String>,
}

/// Build the executable schema with its operation limits.
pub fn schema(db: Db) -> AppSchema {
    profilegraph_schema::builder(db)
        // Deep or self-similar queries are the cheapest way to make a GraphQL server do
        // unbounded work; refuse them before any resolver runs.
        .limit_depth(12)
        .limit_complexity(1_000)
        .limit_recursive_depth(32)
        .limit_directives(5)
        .finish()
}

/// Connect, migrate, and (on a brand-new database, unless disabled) seed the demo.
pub async fn prepare(config: &Config) -> Result<Prepared> {
    database::check_url(&config.database_url)?;
    let conn = database::connect(config).await?;
    let brand_new = database::is_brand_new(&conn).await?;
    database::migrate(&conn).await?;
    tracing::info!(
        backend = database::backend_name(&conn),
        brand_new,
        "database ready"
    );
    let db = Db::new(conn);
    let demo_token = if brand_new && !config.no_demo {
        Some(crate::demo::seed(&db).await?.token)
    } else {
        None
    };
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let state = AppState {
        schema: schema(db.clone()),
        executor: tokio_util::task::LocalPoolHandle::new(workers),
        db,
        settings: Arc::new(HttpSettings {
            graphiql: true,
            sql_stats: config.sql_stats,
        }),
    };
    Ok(Prepared { state, demo_token })
}

/// Serve `state` on `listener` until `shutdown` resolves, then let requests in flight
/// finish.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    axum::serve(listener, http::router(state))
        .with_graceful_shutdown(shutdown)
        .await?;
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
}
