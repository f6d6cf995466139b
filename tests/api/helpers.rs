//! The test harness: start the real server on a fresh database, talk to it over HTTP.
//!
//! Every test gets its own database: a new SQLite file, or a new PostgreSQL database
//! created on the server named by `TEST_DATABASE_URL`. The router is the one `serve` runs
//! (`app::prepare` + `app::run`), on `127.0.0.1:0`, with the demo workspace seeded, so a
//! test can call it with the demo token right away. Dropping the [`TestApp`] stops the
//! server and removes the database.

use std::path::PathBuf;
use std::time::Duration;

use profilegraph::app;
use profilegraph::config::Config;
use profilegraph_store::Db;
use reqwest::StatusCode;
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use uuid::Uuid;

/// The environment variable naming a PostgreSQL server for the tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`. Each test creates (and drops) its own
/// database there. Unset: the PostgreSQL variants of the tests are skipped.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// The key the test servers encrypt webhook secrets with (base64 of 32 bytes).
pub const TEST_WEBHOOK_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A running server on its own fresh database.
pub struct TestApp {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub address: String,
    /// A client for `address`.
    pub client: reqwest::Client,
    /// The test's own pool on the same database, to look at (or set up) rows directly.
    pub db: Db,
    /// The token the demo seed printed: `read,write,admin` on the demo workspace.
    pub demo_token: String,
    /// The URL of this test's database. The server was started with it, unless
    /// [`spawn_app_with`] pointed the server elsewhere (e.g. at a proxy in front of it).
    pub db_url: String,
    /// Which backend this is.
    pub backend: Backend,
    /// Where the server serves its metrics, when `metrics_listen` was set.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// The server's task: still running unless it stopped (or crashed).
    pub server: tokio::task::JoinHandle<profilegraph::error::Result<()>>,
    _cleanup: Cleanup,
    shutdown: Option<oneshot::Sender<()>>,
}

/// What dropping a [`TestApp`] removes. Declared after the pool in [`TestApp`], so it
/// drops after it.
enum Cleanup {
    /// The SQLite file (and its `-wal` and `-shm` companions).
    SqliteFile(PathBuf),
    /// A database on the PostgreSQL server: dropped through `admin_url`.
    PostgresDatabase { admin_url: String, name: String },
}

/// The SQL statements a response says its request ran (`x-sql-statements`, which the test
/// server always sends), or `None` when the header is missing or not a number.
pub fn sql_statements(headers: &reqwest::header::HeaderMap) -> Option<u64> {
    headers
        .get("x-sql-statements")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// Start the server on a fresh database of `backend`.
///
/// Returns `None` only for [`Backend::Postgres`] when `TEST_DATABASE_URL` is unset. When it
/// is set but the server cannot be reached, this panics: in CI an unreachable PostgreSQL is
/// a failure, not a reason to skip.
pub async fn spawn_app(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |_| {}).await
}

/// [`spawn_app`] with settings changed by `configure` (limits, production mode, pool size,
/// timeouts, …). The demo workspace is seeded even where the settings would skip it.
/// `configure` may also point `database_url` at another way to the same fresh database
/// (e.g. a proxy); [`TestApp::db_url`] stays the direct URL.
pub async fn spawn_app_with(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
) -> Option<TestApp> {
    spawn_app_custom(backend, configure, |_, _| {}).await
}

/// [`spawn_app_with`], and `adjust` may change the prepared state before the server starts
/// (e.g. swap in a schema with an extra extension), given the final config.
pub async fn spawn_app_custom(
    backend: Backend,
    configure: impl FnOnce(&mut Config),
    adjust: impl FnOnce(&mut profilegraph::http::AppState, &Config),
) -> Option<TestApp> {
    let (db_url, cleanup) = match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join("profilegraph-tests");
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            let path = dir.join(format!("{}.db", Uuid::now_v7()));
            (
                format!("sqlite://{}", path.display()),
                Cleanup::SqliteFile(path),
            )
        }
        Backend::Postgres => {
            let admin_url = std::env::var(TEST_DATABASE_URL).ok()?;
            let name = format!("pgtest_{}", Uuid::now_v7().simple());
            let admin = connect_admin(&admin_url).await;
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap_or_else(|e| panic!("cannot create database {name}: {e}"));
            drop(admin);
            (
                with_database_name(&admin_url, &name),
                Cleanup::PostgresDatabase { admin_url, name },
            )
        }
    };

    // Started like `serve` does it, but on a random port and with the demo seeded.
    let mut config = Config::for_database(db_url.clone());
    config.no_demo = false;
    // Webhooks on, on both backends, with endpoints on loopback allowed: the tests'
    // receivers listen there (the SSRF rules are tested with this turned off).
    config.webhook_secret_key = Some(TEST_WEBHOOK_KEY.to_owned());
    config.webhook_allow_private = true;
    configure(&mut config);
    let seeds_demo = !config.no_demo && !config.production;
    let mut prepared = app::prepare(&config)
        .await
        .unwrap_or_else(|e| panic!("cannot prepare the app on {}: {e}", config.database_url));
    adjust(&mut prepared.state, &config);
    let demo_token = match prepared.demo_token {
        Some(token) => token,
        None => {
            assert!(
                !seeds_demo,
                "a brand-new database gets the demo workspace and its token"
            );
            profilegraph::demo::seed(&prepared.state.db)
                .await
                .expect("seed the demo")
                .token
        }
    };
    let db = prepared.state.db.clone();
    let metrics_addr = prepared.metrics_addr;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a random port");
    let port = listener.local_addr().expect("local address").port();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(app::run(listener, prepared.state, async move {
        let _ = shutdown_rx.await;
    }));

    Some(TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("build the HTTP client"),
        db,
        demo_token,
        db_url,
        backend,
        metrics_addr,
        server,
        _cleanup: cleanup,
        shutdown: Some(shutdown_tx),
    })
}

impl TestApp {
    /// The test's pool on the app's database.
    pub fn conn(&self) -> &DatabaseConnection {
        self.db.pool().expect("the app holds the pool")
    }

    /// `POST /graphql` with `query` and `variables`, as `Authorization: Bearer <token>` if
    /// a token is given. Returns the status and the JSON body.
    pub async fn graphql(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (StatusCode, Value) {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.address))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status();
        let body = response.text().await.expect("read the response body");
        let json = serde_json::from_str(&body).unwrap_or_else(|e| {
            panic!("POST /graphql answered {status} with non-JSON {body:?}: {e}")
        });
        (status, json)
    }

    /// Run `query` with the demo token and return its `data`, failing the test on any error
    /// or a status other than 200.
    pub async fn demo_data(&self, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql(Some(&self.demo_token), query, variables).await;
        assert_eq!(status, StatusCode::OK, "unexpected status, body: {body:#}");
        assert!(
            body.get("errors").is_none(),
            "the query failed: {body:#}\nquery: {query}"
        );
        body["data"].clone()
    }

    /// `GET path` (e.g. `/health/live`).
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// The demo workspace's row.
    pub async fn demo_workspace(&self) -> entity::workspaces::Model {
        profilegraph_store::workspaces::find_by_slug(self.conn(), "demo-company")
            .await
            .expect("look up the demo workspace")
            .expect("the demo workspace exists")
    }
}

impl TestApp {
    /// Stop the server (as SIGTERM would), keeping the database.
    pub fn stop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop the server; the fields drop next: the pool, then the database itself
        // (`Cleanup`).
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

/// Removing the database is the drop of its `Cleanup`, so a test database also goes when
/// starting the app on it fails.
impl Drop for Cleanup {
    fn drop(&mut self) {
        match self {
            Cleanup::SqliteFile(path) => {
                for suffix in ["", "-wal", "-shm", ".webhook-key"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::PostgresDatabase { admin_url, name } => {
                // Drop can't await, and the test's runtime may be busy or shutting down:
                // drop the database from a thread with its own runtime, and wait for it.
                let admin_url = admin_url.clone();
                let statement = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
                let outcome = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .map_err(|e| e.to_string())?;
                    runtime.block_on(async {
                        let admin = Database::connect(admin_options(&admin_url))
                            .await
                            .map_err(|e| e.to_string())?;
                        admin
                            .execute_unprepared(&statement)
                            .await
                            .map_err(|e| e.to_string())?;
                        admin.close().await.map_err(|e| e.to_string())
                    })
                })
                .join();
                match outcome {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => println!("warning: could not drop test database {name}: {e}"),
                    Err(_) => println!("warning: dropping test database {name} panicked"),
                }
            }
        }
    }
}

fn admin_options(url: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .min_connections(0)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5))
        .sqlx_logging(false);
    options
}

/// Connect to the server in `TEST_DATABASE_URL`, or panic with what to do about it.
async fn connect_admin(url: &str) -> DatabaseConnection {
    let conn = Database::connect(admin_options(url)).await.unwrap_or_else(|e| {
        panic!(
            "{TEST_DATABASE_URL} is set to {url}, but PostgreSQL cannot be reached: {e}\n\
             Start PostgreSQL (e.g. `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) \
             or unset {TEST_DATABASE_URL} to run the SQLite tests only."
        )
    });
    assert_eq!(
        conn.get_database_backend(),
        DbBackend::Postgres,
        "{TEST_DATABASE_URL} must be a postgres:// URL, got {url}"
    );
    conn
}

/// `url` with its database name replaced by `name` (query parameters kept).
pub fn with_database_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let (scheme, rest) = base.split_once("://").unwrap_or(("postgres", base));
    let authority = rest
        .split_once('/')
        .map_or(rest, |(authority, _)| authority);
    let mut out = format!("{scheme}://{authority}/{name}");
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// Run a scenario on an app; gives the scenario's closure its parameter type.
pub async fn run_scenario<F, Fut>(app: TestApp, scenario: F)
where
    F: FnOnce(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    scenario(app).await;
}

/// Generate one test per backend from one scenario:
///
/// ```ignore
/// both_backends!(demo_is_seeded, |app| async move {
///     let data = app.demo_data("{ viewer { scopes } }", json!({})).await;
///     assert_eq!(data["viewer"]["scopes"][0], "read");
/// });
/// ```
///
/// makes the module `demo_is_seeded` with the tests `sqlite` and `postgres`
/// (`cargo test --test api demo_is_seeded`, or `cargo test --test api postgres` for every
/// PostgreSQL variant). The scenario gets a fresh [`TestApp`]. The PostgreSQL variant
/// prints a line and returns when `TEST_DATABASE_URL` is unset.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* $name:ident, $scenario:expr) => {
        $crate::both_backends!(
            $(#[$meta])* $name,
            spawn = $crate::helpers::spawn_app,
            $scenario
        );
    };
    // With an app of the scenario's own making (`spawn(backend) -> Option<TestApp>`), for
    // a test that needs the server set up differently.
    ($(#[$meta:meta])* $name:ident, spawn = $spawn:path, $scenario:expr) => {
        $(#[$meta])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                let app = $spawn($crate::helpers::Backend::Sqlite)
                    .await
                    .expect("SQLite is always available");
                $crate::helpers::run_scenario(app, $scenario).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                match $spawn($crate::helpers::Backend::Postgres).await {
                    Some(app) => $crate::helpers::run_scenario(app, $scenario).await,
                    None => println!(
                        "skipped {}: set TEST_DATABASE_URL to run it on PostgreSQL",
                        module_path!()
                    ),
                }
            }
        }
    };
}

#[test]
fn database_names_are_replaced_in_urls() {
    assert_eq!(
        with_database_name("postgres://postgres@127.0.0.1:5432/test", "pgtest_1"),
        "postgres://postgres@127.0.0.1:5432/pgtest_1"
    );
    assert_eq!(
        with_database_name("postgres://u:p@db:5432", "x"),
        "postgres://u:p@db:5432/x"
    );
    assert_eq!(
        with_database_name("postgresql://u@h/test?sslmode=disable", "x"),
        "postgresql://u@h/x?sslmode=disable"
    );
}
