//! The command line, and the settings a run resolves it to.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use serde::Serialize;

/// profilegraph-bench: run the profilegraph server as a separate process on fresh SQLite
/// and PostgreSQL databases, drive the query shapes Q1 to Q4 with concurrent clients, and
/// compare each with the hand-written SQL the loaders should issue (the ceiling).
#[derive(Debug, Parser)]
#[command(name = "profilegraph-bench", version, about, long_about = None)]
pub struct Options {
    /// The databases to run on, comma-separated.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Backend::Sqlite, Backend::Postgres])]
    pub backends: Vec<Backend>,

    /// How much data `profilegraph seed` puts into each fresh database (s: 1k profiles,
    /// m: 10k, l: 100k). Default m (s with --quick).
    #[arg(long, value_enum)]
    pub size: Option<Size>,

    /// Concurrent clients, each with one request in flight at a time.
    #[arg(long, default_value_t = 8)]
    pub clients: usize,

    /// Seconds each run measures. Default 10 (2 with --quick).
    #[arg(long)]
    pub duration: Option<f64>,

    /// Seconds each run drives the load before it starts measuring, so connections,
    /// caches and the database's buffers are warm. Default 3 (1 with --quick).
    #[arg(long)]
    pub warmup: Option<f64>,

    /// Runs per query shape; the report gives their median and their spread. Default 3
    /// (1 with --quick).
    #[arg(long)]
    pub runs: Option<usize>,

    /// A smoke test: size s, 2 s runs after 1 s of warm-up, one run each. Explicit
    /// --size, --duration, --warmup or --runs still win.
    #[arg(long)]
    pub quick: bool,

    /// The query shapes to drive, comma-separated (`q1-1` is Q1 with one client).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Shape::Q1, Shape::Q1Single, Shape::Q2, Shape::Q3, Shape::Q4])]
    pub shapes: Vec<Shape>,

    /// Also run another GraphQL server on the same PostgreSQL data, with the same shapes
    /// and the same load, interleaved run by run with profilegraph's (one server under
    /// load at a time), and report profilegraph's throughput and latency as multiples of
    /// its. `postgraphile`: PostGraphile v4, installed from the npm registry into
    /// `--anchor-dir` on first use (needs Node.js and npm). PostgreSQL only.
    #[arg(long, value_enum)]
    pub anchor: Option<Anchor>,

    /// Where the anchor is installed. Default `$XDG_CACHE_HOME/profilegraph-bench` (or
    /// `~/.cache/profilegraph-bench`), outside the repository.
    #[arg(long, env = "PROFILEGRAPH_BENCH_ANCHOR_DIR")]
    pub anchor_dir: Option<PathBuf>,

    /// Skip the hand-written SQL ceiling runs.
    #[arg(long)]
    pub no_ceiling: bool,

    /// The `profilegraph` binary to run. Without it, the benchmark builds it with
    /// `cargo build --release -p profilegraph` when started through cargo, and otherwise
    /// looks beside its own executable, then in `$CARGO_TARGET_DIR/release` and
    /// `target/release`.
    #[arg(long, env = "PROFILEGRAPH_BIN")]
    pub server_bin: Option<PathBuf>,

    /// An administrative PostgreSQL URL: the benchmark creates (and afterwards drops) its
    /// own database on that server, so the user must be allowed to create databases.
    #[arg(
        long,
        env = "BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub postgres_url: String,

    /// The size of the server's database pool (its `--db-max-connections`); the ceiling
    /// uses a pool of the same size, so both get the same parallelism in the database.
    #[arg(long, default_value_t = 10)]
    pub db_max_connections: u32,

    /// Where the results go as JSON (the folder is created). Default bench/results.json,
    /// the published results; with --quick a new folder in the temporary directory, so a
    /// smoke test never replaces them.
    #[arg(long)]
    pub out: Option<PathBuf>,

    /// Where the SVG chart of throughput and latency goes. Default bench/chart.svg; with
    /// --quick beside the results in the temporary directory.
    #[arg(long)]
    pub chart: Option<PathBuf>,

    /// Don't run `ANALYZE` after seeding. By default the benchmark analyses the freshly
    /// bulk-loaded tables, so the query planners see the data as they would on a database
    /// that has been in use (PostgreSQL's autovacuum analyses soon after a load; SQLite
    /// only ever has statistics if someone runs ANALYZE). With this flag both planners
    /// work without statistics.
    #[arg(long)]
    pub no_analyze: bool,

    /// Sockets the live run opens, each subscribed to the workspace's events. Default
    /// 1000 (50 with --quick).
    #[arg(long)]
    pub live_sockets: Option<usize>,

    /// Writes per second during the live run's window (each a note, whose event goes to
    /// every socket).
    #[arg(long, default_value_t = 20.0)]
    pub live_writes_per_s: f64,

    /// Skip the live run (subscriptions: memory per socket, delivery latency).
    #[arg(long)]
    pub no_live: bool,

    /// Notes written in each webhook burst (a backlog written by 8 clients, delivered to
    /// every endpoint). Default 2000 (200 with --quick).
    #[arg(long)]
    pub webhook_burst_events: Option<usize>,

    /// Skip the webhook runs (deliveries per second, delay to the first attempt).
    #[arg(long)]
    pub no_webhooks: bool,

    /// Labelled contacts without a profile (as `profilegraph seed --duplicates` adds them,
    /// at most 450) added once the shapes have run, whose profile suggestions are then
    /// asked for one at a time, through the API and through the store (p50 and p99 of
    /// each). Default 300 (50 with --quick); 0 skips it.
    #[arg(long)]
    pub suggestions: Option<usize>,

    /// An earlier results file (e.g. of another `--server-bin`) to compare this run's
    /// throughput with, shape by shape; the verdicts then judge the event log's cost on
    /// writes (Q4 at least 85% of the earlier run).
    #[arg(long)]
    pub compare: Option<PathBuf>,

    /// Keep the databases (and the SQLite file's folder) instead of removing them after
    /// the run, e.g. to look at the data or rerun queries by hand.
    #[arg(long)]
    pub keep: bool,
}

impl Options {
    /// Where the results and the chart go: `--out` and `--chart` if given; else the
    /// published files in `bench/`, or for a `--quick` run a folder of its own in the
    /// temporary directory (its numbers are no results to publish).
    pub fn outputs(&self) -> (PathBuf, PathBuf) {
        let dir = if self.quick {
            std::env::temp_dir().join(format!("profilegraph-bench-quick-{}", std::process::id()))
        } else {
            PathBuf::from("bench")
        };
        (
            self.out.clone().unwrap_or_else(|| dir.join("results.json")),
            self.chart.clone().unwrap_or_else(|| dir.join("chart.svg")),
        )
    }
}

/// A database the server runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh database on the PostgreSQL server of `--postgres-url`.
    Postgres,
}

impl Backend {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// The data size `profilegraph seed --size` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Size {
    /// 1k profiles, 3k contacts, 10k contact moments.
    S,
    /// 10k profiles, 30k contacts, 100k contact moments.
    M,
    /// 100k profiles, 300k contacts, 1M contact moments.
    L,
}

impl Size {
    /// The argument `profilegraph seed --size` takes.
    pub fn arg(self) -> &'static str {
        match self {
            Size::S => "s",
            Size::M => "m",
            Size::L => "l",
        }
    }

    /// What the seed command makes for this size.
    pub fn counts(self) -> profilegraph::seed::Size {
        match self {
            Size::S => profilegraph::seed::Size::S,
            Size::M => profilegraph::seed::Size::M,
            Size::L => profilegraph::seed::Size::L,
        }
    }
}

/// A GraphQL server to measure profilegraph against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Anchor {
    /// PostGraphile v4 with the connection-filter plugin (see `bench/anchors/postgraphile`).
    Postgraphile,
}

impl Anchor {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Anchor::Postgraphile => "PostGraphile",
        }
    }
}

/// A query shape of the benchmark (see `profilegraph::shapes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Shape {
    /// The profile page of one profile.
    Q1,
    /// The profile page with one client: the latency of a single person waiting.
    #[value(name = "q1-1")]
    #[serde(rename = "q1-1")]
    Q1Single,
    /// The look-up list: 20 profiles matching a search, with their contacts.
    Q2,
    /// A partner's export page: 100 profiles with everything under them.
    Q3,
    /// Writes: `attachContact(move: true)` back and forth, alternating with `createNote`.
    Q4,
}

impl Shape {
    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Shape::Q1 => "Q1",
            Shape::Q1Single => "Q1-1",
            Shape::Q2 => "Q2",
            Shape::Q3 => "Q3",
            Shape::Q4 => "Q4",
        }
    }

    /// What the shape stands for, for the table.
    pub fn title(self) -> &'static str {
        match self {
            Shape::Q1 => "profile page",
            Shape::Q1Single => "profile page, 1 client",
            Shape::Q2 => "look-up list",
            Shape::Q3 => "export page (100)",
            Shape::Q4 => "move + note",
        }
    }
}

impl Shape {
    /// The concurrent clients of a run of this shape, when the run's setting is `clients`.
    pub fn clients(self, clients: usize) -> usize {
        match self {
            Shape::Q1Single => 1,
            _ => clients,
        }
    }

    /// The shape whose requests this one sends (Q1-1 sends Q1's).
    pub fn requests(self) -> Shape {
        match self {
            Shape::Q1Single => Shape::Q1,
            other => other,
        }
    }
}

/// The options with --quick and the defaults applied.
#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    /// The backends, in order.
    pub backends: Vec<Backend>,
    /// The data size.
    pub size: Size,
    /// Concurrent clients.
    pub clients: usize,
    /// Measured seconds per run.
    pub duration_s: f64,
    /// Warm-up seconds per run.
    pub warmup_s: f64,
    /// Runs per shape.
    pub runs: usize,
    /// The shapes, in order.
    pub shapes: Vec<Shape>,
    /// Whether the ceiling runs.
    pub ceiling: bool,
    /// The pool size of the server and of the ceiling.
    pub db_max_connections: u32,
    /// Whether `ANALYZE` ran after seeding.
    pub analyze: bool,
    /// The live run, unless skipped.
    pub live: Option<crate::live::Plan>,
    /// The webhook runs, unless skipped.
    pub webhooks: Option<crate::hooks::Plan>,
    /// Contacts asked for suggestions, unless skipped.
    pub suggestions: Option<usize>,
    /// The server measured against, if any.
    pub anchor: Option<Anchor>,
}

impl Settings {
    /// Resolve `options`: an explicit value wins, then --quick, then the default.
    pub fn resolve(options: &Options) -> crate::Result<Self> {
        let quick = options.quick;
        let mut settings = Settings {
            backends: dedup(&options.backends),
            size: options
                .size
                .unwrap_or(if quick { Size::S } else { Size::M }),
            clients: options.clients,
            duration_s: options.duration.unwrap_or(if quick { 2.0 } else { 10.0 }),
            warmup_s: options.warmup.unwrap_or(if quick { 1.0 } else { 3.0 }),
            runs: options.runs.unwrap_or(if quick { 1 } else { 3 }),
            shapes: {
                let mut shapes = dedup(&options.shapes);
                shapes.sort();
                shapes
            },
            ceiling: !options.no_ceiling,
            db_max_connections: options.db_max_connections,
            analyze: !options.no_analyze,
            live: None,
            webhooks: None,
            suggestions: Some(options.suggestions.unwrap_or(if quick { 50 } else { 300 }))
                .filter(|n| *n > 0),
            anchor: options.anchor,
        };
        if !options.no_webhooks {
            settings.webhooks = Some(crate::hooks::Plan {
                burst_events: options
                    .webhook_burst_events
                    .unwrap_or(if quick { 200 } else { 2000 })
                    .max(1),
                burst_endpoints: vec![1, 10],
                paced_per_s: 20.0,
                duration_s: settings.duration_s,
            });
        }
        if !options.no_live {
            let sockets = options
                .live_sockets
                .unwrap_or(if quick { 50 } else { 1000 });
            if sockets == 0
                || options.live_writes_per_s.is_nan()
                || options.live_writes_per_s <= 0.0
            {
                return Err(crate::Error::Usage(
                    "--live-sockets and --live-writes-per-s must be positive (or use --no-live)"
                        .into(),
                ));
            }
            settings.live = Some(crate::live::Plan {
                sockets,
                writes_per_s: options.live_writes_per_s,
                duration_s: settings.duration_s,
            });
        }
        if settings.clients == 0 || settings.runs == 0 {
            return Err(crate::Error::Usage(
                "--clients and --runs must be at least 1".into(),
            ));
        }
        if !(settings.duration_s > 0.0 && settings.warmup_s >= 0.0) {
            return Err(crate::Error::Usage(
                "--duration must be positive and --warmup not negative".into(),
            ));
        }
        if let Some(anchor) = settings.anchor
            && !settings.backends.contains(&Backend::Postgres)
        {
            return Err(crate::Error::Usage(format!(
                "--anchor {}: the anchor runs on PostgreSQL only; add postgres to --backends",
                anchor.name().to_lowercase()
            )));
        }
        if settings.backends.is_empty() || settings.shapes.is_empty() {
            return Err(crate::Error::Usage(
                "name at least one backend and one shape".into(),
            ));
        }
        Ok(settings)
    }

    /// The measured time of a run.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration_s)
    }

    /// The warm-up time of a run.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup_s)
    }
}

fn dedup<T: PartialEq + Copy>(items: &[T]) -> Vec<T> {
    let mut out = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(*item);
        }
    }
    out
}
