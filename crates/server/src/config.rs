//! Configuration, from flags and the environment.

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Settings shared by every subcommand. Each can be given as a flag or an environment
/// variable; flags win.
#[derive(Debug, Clone, Args)]
pub struct Config {
    /// Where the data lives: `sqlite://PATH` (created if missing) or
    /// `postgres://USER@HOST:PORT/DB`. The default is a SQLite file in the working directory.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://profilegraph.db",
        global = true
    )]
    pub database_url: String,

    /// The address `serve` listens on.
    #[arg(
        long,
        env = "PROFILEGRAPH_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    pub listen: SocketAddr,

    /// Don't seed the demo workspace when `serve` starts on a brand-new database. Set it in
    /// production.
    #[arg(
        long,
        env = "PROFILEGRAPH_NO_DEMO",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub no_demo: bool,

    /// Production mode: no GraphiQL, no "did you mean" suggestions, no demo seeding, and
    /// error messages reduced to their code and the request id (the detail goes to the
    /// log only).
    #[arg(
        long,
        env = "PROFILEGRAPH_PRODUCTION",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub production: bool,

    /// Deepest selection nesting an operation may have.
    #[arg(long, env = "PROFILEGRAPH_MAX_DEPTH", default_value_t = crate::app::limits::DEPTH, global = true)]
    pub max_depth: usize,

    /// Largest complexity an operation may have: every field costs 1, a connection its
    /// page size times one item (a profile page costs 278, a 100-profile export page
    /// 11,801).
    #[arg(long, env = "PROFILEGRAPH_MAX_COMPLEXITY", default_value_t = crate::app::limits::COMPLEXITY, global = true)]
    pub max_complexity: usize,

    /// Most aliases in one document.
    #[arg(long, env = "PROFILEGRAPH_MAX_ALIASES", default_value_t = crate::app::limits::ALIASES, global = true)]
    pub max_aliases: usize,

    /// Most fields at the root of one operation.
    #[arg(long, env = "PROFILEGRAPH_MAX_ROOT_FIELDS", default_value_t = crate::app::limits::ROOT_FIELDS, global = true)]
    pub max_root_fields: usize,

    /// How many seconds a token that authenticated is remembered, saving the look-up
    /// statement on the requests that follow. A token revoked in the database keeps
    /// working on a running server for at most this long; 0 checks every request.
    #[arg(
        long,
        env = "PROFILEGRAPH_TOKEN_CACHE_SECONDS",
        default_value_t = 5,
        global = true
    )]
    pub token_cache_seconds: u64,

    /// How many days profile events are kept; older ones are pruned by the server in
    /// small batches, at start and every hour.
    #[arg(
        long,
        env = "PROFILEGRAPH_EVENT_RETENTION_DAYS",
        default_value_t = 365,
        value_parser = clap::value_parser!(u32).range(1..),
        global = true
    )]
    pub event_retention_days: u32,

    /// How long a WebSocket client may take to send `connection_init` (then 4408).
    #[arg(
        long,
        env = "PROFILEGRAPH_WS_INIT_TIMEOUT_SECS",
        default_value_t = 3,
        global = true
    )]
    pub ws_init_timeout_secs: u64,

    /// Active subscriptions one WebSocket may hold.
    #[arg(
        long,
        env = "PROFILEGRAPH_WS_MAX_SUBSCRIPTIONS",
        default_value_t = 100,
        global = true
    )]
    pub ws_max_subscriptions: usize,

    /// Open WebSockets one token may hold (then 4429).
    #[arg(
        long,
        env = "PROFILEGRAPH_WS_MAX_CONNECTIONS_PER_TOKEN",
        default_value_t = 1_000,
        global = true
    )]
    pub ws_max_connections_per_token: usize,

    /// Points one token may spend per minute. An operation costs the requests it needs
    /// with every page full, divided by 100 and at least 1, as GitHub prices its API: a
    /// profile page 1 point, a page of 100 profiles with their notes and tickets 2.
    #[arg(
        long,
        env = "PROFILEGRAPH_RATE_LIMIT_TOKEN",
        default_value_t = 5_000,
        global = true
    )]
    pub rate_limit_per_token: u64,

    /// Points all tokens of one workspace may spend together per minute.
    #[arg(
        long,
        env = "PROFILEGRAPH_RATE_LIMIT_WORKSPACE",
        default_value_t = 15_000,
        global = true
    )]
    pub rate_limit_per_workspace: u64,

    /// Report how many SQL statements each GraphQL request ran, in the response header
    /// `x-sql-statements`. For benchmarks and debugging; it tells clients about internals,
    /// so leave it off in production.
    #[arg(
        long,
        env = "PROFILEGRAPH_SQL_STATS",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub sql_stats: bool,

    /// Browser origins allowed to call the API across sites (CORS), comma-separated and
    /// exact: `https://app.example.com,http://localhost:5173`. Their preflights are answered
    /// for `POST` with `Authorization`, `Content-Type` and `Idempotency-Key`, and their
    /// scripts may read `X-Request-Id`, `X-RateLimit-*` and `Retry-After`. Other origins get
    /// no `Access-Control-Allow-Origin`, so their browsers keep the answer from them. `*`
    /// is refused: bearer tokens and a wildcard origin don't mix. None by default, which
    /// sends no CORS headers at all.
    #[arg(
        long,
        env = "PROFILEGRAPH_CORS_ORIGINS",
        value_delimiter = ',',
        value_name = "ORIGINS",
        global = true
    )]
    pub cors_origins: Vec<CorsOrigin>,

    /// Serve Prometheus metrics on this address (`GET /metrics`), e.g. `127.0.0.1:9100`: a
    /// listener of its own, so the metrics are never exposed with the API by accident.
    /// Off by default.
    #[arg(
        long,
        env = "PROFILEGRAPH_METRICS_LISTEN",
        value_name = "ADDR",
        global = true
    )]
    pub metrics_listen: Option<SocketAddr>,

    /// A folder of persisted documents: every `*.graphql` file in it is one GraphQL
    /// document, loaded at start and known by the SHA-256 of its bytes (`sha256sum`
    /// prints it). Clients run one by sending that hash in
    /// `extensions.persistedQuery.sha256Hash` instead of the `query`. A file that doesn't
    /// parse stops the start.
    #[arg(
        long,
        env = "PROFILEGRAPH_PERSISTED_DOCUMENTS",
        value_name = "DIR",
        global = true
    )]
    pub persisted_documents: Option<std::path::PathBuf>,

    /// Run only the documents of `--persisted-documents` (by hash, or sent as the same
    /// text), over HTTP and WebSocket, and refuse anything else with
    /// `PERSISTED_QUERY_NOT_IN_LIST`: a safelist for servers that only partners'
    /// integrations call. Without it, any valid document runs, and clients may also
    /// register documents by hash (automatic persisted queries).
    #[arg(
        long,
        env = "PROFILEGRAPH_PERSISTED_ONLY",
        global = true,
        requires = "persisted_documents",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub persisted_only: bool,

    /// Log filter, in `tracing` `EnvFilter` syntax (`info`, `profilegraph=debug,info`, …).
    #[arg(
        long,
        env = "PROFILEGRAPH_LOG",
        default_value = "info,sqlx=warn,sea_orm=warn",
        global = true
    )]
    pub log: String,

    /// Log format: `text` for people, `json` for log collectors.
    #[arg(
        long,
        env = "PROFILEGRAPH_LOG_FORMAT",
        value_enum,
        default_value_t = LogFormat::Text,
        global = true
    )]
    pub log_format: LogFormat,

    /// Most database connections the server opens. On PostgreSQL they are split between
    /// the server's own pool and one pool per execution worker (of 10 on 2 cores: 2, and 4
    /// per worker). SQLite allows one writer at a time, but readers run side by side in
    /// WAL mode, so a small shared pool (at most 4) still helps there.
    #[arg(
        long,
        env = "PROFILEGRAPH_DB_MAX_CONNECTIONS",
        default_value_t = 10,
        global = true
    )]
    pub db_max_connections: u32,

    /// Seconds a request waits for a free database connection before it fails with
    /// SERVICE_UNAVAILABLE. Short, so an overloaded or unreachable database is reported
    /// quickly instead of holding clients for sqlx's default 30 s.
    #[arg(
        long,
        env = "PROFILEGRAPH_DB_ACQUIRE_TIMEOUT",
        default_value_t = 3,
        global = true
    )]
    pub db_acquire_timeout_secs: u64,

    /// The key that encrypts the webhook signing secrets in the database: base64 of 32
    /// random bytes (`openssl rand -base64 32`). Give every instance on one database the
    /// same key, and keep it out of the database's backups. Without it, on SQLite the
    /// server makes one on first start and keeps it beside the database file
    /// (`<file>.webhook-key`); on PostgreSQL webhooks are off.
    #[arg(
        long,
        env = "PROFILEGRAPH_WEBHOOK_SECRET_KEY",
        global = true,
        hide_env_values = true
    )]
    pub webhook_secret_key: Option<String>,

    /// Allow webhook endpoints on `http://` URLs and on loopback, private and link-local
    /// addresses. For development and tests only: with it, anyone with an admin token can
    /// make the server call into its own network.
    #[arg(
        long,
        env = "PROFILEGRAPH_WEBHOOK_ALLOW_PRIVATE",
        global = true,
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub webhook_allow_private: bool,

    /// Seconds a webhook receiver has to answer an attempt (then it is retried).
    #[arg(
        long,
        env = "PROFILEGRAPH_WEBHOOK_TIMEOUT_SECS",
        default_value_t = 10,
        global = true
    )]
    pub webhook_timeout_secs: u64,

    /// Webhook attempts this server has in flight at once, over all endpoints.
    #[arg(
        long,
        env = "PROFILEGRAPH_WEBHOOK_MAX_IN_FLIGHT",
        default_value_t = 64,
        global = true
    )]
    pub webhook_max_in_flight: usize,

    /// Webhook attempts this server has in flight at once to one endpoint, so that a slow
    /// endpoint never holds up the others. It also sets how fast one endpoint's backlog
    /// drains: each round of attempts costs a claim and a write of the results.
    #[arg(
        long,
        env = "PROFILEGRAPH_WEBHOOK_MAX_IN_FLIGHT_PER_ENDPOINT",
        default_value_t = 16,
        global = true
    )]
    pub webhook_max_in_flight_per_endpoint: usize,

    /// The clock webhook deliveries are scheduled by: the real one, or one a test moves.
    #[arg(skip)]
    pub webhook_clock: profilegraph_store::webhooks::Clock,
}

impl Config {
    /// The pool's acquire timeout.
    pub fn db_acquire_timeout(&self) -> Duration {
        Duration::from_secs(self.db_acquire_timeout_secs.max(1))
    }

    /// A configuration for `database_url` with every other setting at its default; used by
    /// tests and tools.
    pub fn for_database(database_url: impl Into<String>) -> Self {
        Config {
            database_url: database_url.into(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            no_demo: true,
            production: false,
            max_depth: crate::app::limits::DEPTH,
            max_complexity: crate::app::limits::COMPLEXITY,
            max_aliases: crate::app::limits::ALIASES,
            max_root_fields: crate::app::limits::ROOT_FIELDS,
            rate_limit_per_token: 1_000_000,
            rate_limit_per_workspace: 3_000_000,
            sql_stats: true,
            cors_origins: Vec::new(),
            metrics_listen: None,
            persisted_documents: None,
            persisted_only: false,
            log: "info".into(),
            log_format: LogFormat::Text,
            db_max_connections: 10,
            db_acquire_timeout_secs: 3,
            // Tests revoke tokens and expect the next request to see it.
            token_cache_seconds: 0,
            event_retention_days: 365,
            ws_init_timeout_secs: 3,
            ws_max_subscriptions: 100,
            ws_max_connections_per_token: 1_000,
            webhook_secret_key: None,
            webhook_allow_private: false,
            webhook_timeout_secs: 10,
            webhook_max_in_flight: 64,
            webhook_max_in_flight_per_endpoint: 16,
            webhook_clock: profilegraph_store::webhooks::Clock::real(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// One origin allowed by `--cors-origins`: `scheme://host[:port]`, as a browser sends it
/// in `Origin` (lowercase, no path, no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsOrigin(String);

impl CorsOrigin {
    /// The origin as a browser writes it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for CorsOrigin {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.contains('*') {
            return Err(format!(
                "`{raw}`: wildcard origins are refused, because bearer tokens and a wildcard \
                 don't mix; list each origin exactly, e.g. https://app.example.com"
            ));
        }
        let shape = || {
            format!(
                "`{raw}` is not an origin: expected scheme://host[:port], e.g. https://app.example.com"
            )
        };
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        let uri: http::Uri = trimmed.parse().map_err(|_| shape())?;
        let scheme = uri.scheme_str().ok_or_else(shape)?.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!("`{raw}`: an origin's scheme is http or https"));
        }
        let authority = uri.authority().ok_or_else(shape)?;
        if authority.as_str().contains('@')
            || uri
                .path_and_query()
                .is_some_and(|p| p.as_str() != "/" && !p.as_str().is_empty())
        {
            return Err(shape());
        }
        let host = authority.host().to_ascii_lowercase();
        let default_port = if scheme == "https" { 443 } else { 80 };
        let origin = match authority.port_u16() {
            Some(port) if port != default_port => format!("{scheme}://{host}:{port}"),
            _ => format!("{scheme}://{host}"),
        };
        Ok(CorsOrigin(origin))
    }
}

#[cfg(test)]
mod tests {
    use super::CorsOrigin;

    #[test]
    fn origins_are_exact_and_wildcards_are_refused() {
        let parse = |s: &str| s.parse::<CorsOrigin>().map(|o| o.as_str().to_owned());
        assert_eq!(
            parse("https://App.Example.com/").as_deref(),
            Ok("https://app.example.com")
        );
        assert_eq!(
            parse("http://localhost:5173").as_deref(),
            Ok("http://localhost:5173")
        );
        assert_eq!(
            parse("https://example.com:443").as_deref(),
            Ok("https://example.com")
        );
        let wildcard = parse("*").unwrap_err();
        assert!(
            wildcard.contains("wildcard origins are refused"),
            "{wildcard}"
        );
        assert!(parse("https://*.example.com").is_err());
        assert!(parse("app.example.com").is_err());
        assert!(parse("https://example.com/app").is_err());
        assert!(parse("ftp://example.com").is_err());
        assert!(parse("https://user@example.com").is_err());
    }
}
