//! profilegraph-bench: the benchmark. See `profilegraph-bench --help` and the
//! README's "Performance" section.
//!
//! For each backend it makes a fresh database, seeds it with `profilegraph seed`, starts
//! `profilegraph serve` as a separate process, drives the query shapes Q1 to Q4 with
//! concurrent clients over HTTP, then runs the same statements by hand on the same
//! database (the ceiling), and reports throughput, latency, statements per request and
//! the server's memory as a table, JSON and an SVG chart.

mod anchor;
mod ceiling;
mod cli;
mod cpu;
mod database;
mod documents;
mod error;
mod hooks;
mod http;
mod inputs;
mod live;
mod load;
mod report;
mod server;
mod suggestions;

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};

use cli::{Backend, Options, Settings, Shape};
pub use error::{Error, Result};
use inputs::Inputs;
use report::{BackendReport, Report, ShapeReport, Summary};
use server::Server;

fn main() -> ExitCode {
    let options = Options::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: Options) -> Result<()> {
    let settings = Settings::resolve(&options)?;
    if let Some(path) = &options.compare
        && !path.is_file()
    {
        return Err(Error::Usage(format!(
            "--compare {}: no such results file",
            path.display()
        )));
    }
    let anchor = match settings.anchor {
        Some(cli::Anchor::Postgraphile) => Some(anchor::install(options.anchor_dir.as_deref())?),
        None => None,
    };
    let bin = server::locate(options.server_bin.as_deref())?;
    eprintln!("server binary: {}", bin.display());
    let ticks = server::clock_ticks();
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(settings.clients * 2)
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(30))
        .build()?;

    let mut backends = Vec::new();
    for backend in &settings.backends {
        let anchor = anchor.as_ref().filter(|_| *backend == Backend::Postgres);
        backends
            .push(run_backend(*backend, &settings, &options, &bin, anchor, &http, ticks).await?);
    }
    let documents = documents::measure().await;
    eprintln!(
        "documents: Q1's document {:.1} µs a request parsed and validated, {:.1} µs with the cache (validated, not parsed), {:.1} µs repeated exactly",
        documents.without_cache_us, documents.with_cache_us, documents.repeated_us
    );
    let mut report = Report {
        documents: Some(documents),
        finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        command: std::env::args().collect(),
        machine: report::Machine::detect(),
        settings: settings.clone(),
        data: report::Data::of(settings.size),
        backends,
        compared: None,
    };
    if let Some(path) = &options.compare {
        report.compared = Some(report::Compared::of(&report, path)?);
    }

    println!();
    println!(
        "profilegraph-bench {} — size {}, {} clients, {} s after {} s warm-up, {} run(s), {} cores",
        report.finished_at,
        settings.size.arg(),
        settings.clients,
        settings.duration_s,
        settings.warmup_s,
        settings.runs,
        report.machine.cpus
    );
    println!();
    print!("{}", report::table(&report));
    println!();
    for line in report::verdicts(&report) {
        println!("{line}");
    }
    let (out, chart) = options.outputs();
    write(&out, &serde_json::to_string_pretty(&report)?)?;
    write(&chart, &report::chart(&report))?;
    println!();
    println!("results: {}, chart: {}", out.display(), chart.display());
    Ok(())
}

fn write(path: &Path, contents: &str) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(Error::io(format!("creating {}", parent.display())))?;
    }
    std::fs::write(path, contents).map_err(Error::io(format!("writing {}", path.display())))
}

async fn run_backend(
    backend: Backend,
    settings: &Settings,
    options: &Options,
    bin: &Path,
    anchor: Option<&anchor::Installed>,
    http: &reqwest::Client,
    ticks: f64,
) -> Result<BackendReport> {
    eprintln!("== {}: a fresh database", backend.name());
    let fresh = database::create(backend, settings.size, &options.postgres_url).await?;
    let outcome = measure(&fresh, settings, bin, anchor, http, ticks).await;
    // The server is gone by now (dropped inside `measure`), so nothing holds the database.
    if options.keep {
        eprintln!("kept {} ({})", fresh.describe(), fresh.url);
    } else if let Err(err) = fresh.remove().await {
        eprintln!(
            "warning: could not remove the {} database: {err}",
            backend.name()
        );
    }
    outcome
}

async fn measure(
    fresh: &database::Fresh,
    settings: &Settings,
    bin: &Path,
    installed_anchor: Option<&anchor::Installed>,
    http: &reqwest::Client,
    ticks: f64,
) -> Result<BackendReport> {
    let backend = fresh.backend;
    eprintln!(
        "== {}: seeding size {} into {}",
        backend.name(),
        settings.size.arg(),
        fresh.describe()
    );
    let seeding = Instant::now();
    let (seed_bin, url, size) = (bin.to_owned(), fresh.url.clone(), settings.size);
    let token = tokio::task::spawn_blocking(move || server::seed(&seed_bin, &url, size))
        .await
        .map_err(|e| Error::Setup(format!("the seed task failed: {e}")))??;
    let seed_s = seeding.elapsed().as_secs_f64();
    if settings.analyze {
        // Planner statistics: without them both databases plan a profile's timeline as a
        // scan of every contact moment of the workspace (see the README).
        let started = Instant::now();
        let pool = fresh.pool(1).await?;
        // On PostgreSQL also VACUUM: rows inserted in bulk sit in the trigram indexes'
        // pending lists until a vacuum merges them, and a search then scans those lists
        // row by row (autovacuum would get there on its own, minutes later).
        let analyze = match pool.get_database_backend() {
            sea_orm::DbBackend::Postgres => "VACUUM ANALYZE",
            _ => "ANALYZE",
        };
        pool.execute_unprepared(analyze).await?;
        pool.close().await?;
        eprintln!(
            "== {}: ANALYZE took {:.1?}",
            backend.name(),
            started.elapsed()
        );
    }

    let log = std::env::temp_dir().join(format!(
        "profilegraph-bench-{}-{}.log",
        backend.name(),
        std::process::id()
    ));
    let mut server = Server::start(bin, &fresh.url, settings.db_max_connections, log, &[])?;
    server.wait_ready(http, Duration::from_secs(60)).await?;
    eprintln!(
        "== {}: server pid {} on {} (log: {})",
        backend.name(),
        server.pid(),
        server.base_url,
        server.log.display()
    );
    let pool = fresh.pool(settings.db_max_connections).await?;
    let mut inputs = inputs::collect(&pool, settings.clients).await?;
    inputs::walk_cursors(http, &server.base_url, &token, &mut inputs).await?;
    eprintln!(
        "inputs: {} profiles for Q1, {} search terms for Q2, {} export pages for Q3, {} moves per client for Q4",
        inputs.profiles.len(),
        inputs.terms.len(),
        inputs.cursors.len(),
        inputs.moves.first().map_or(0, Vec::len)
    );
    let target = Arc::new(http::Target {
        client: http.clone(),
        url: format!("{}/graphql", server.base_url),
        authorization: format!("Bearer {token}"),
    });
    let anchor = match installed_anchor {
        Some(installed) => Some(start_anchor(installed, fresh, &pool, http, &inputs).await?),
        None => None,
    };

    let mut shapes = Vec::new();
    let mut memory_after = Vec::new();
    for &shape in &settings.shapes {
        let clients_n = shape.clients(settings.clients);
        let response_bytes = validate(shape, &target, &inputs).await?;
        let anchor_response_bytes = match &anchor {
            Some((_, a)) => anchor::validate(shape, a, &inputs).await?,
            None => None,
        };
        let mut runs = Vec::new();
        let mut anchor_runs = Vec::new();
        // Run by run, profilegraph then the anchor: one server under load at a time, and
        // whatever else the machine does hits both alike.
        for run in 0..settings.runs {
            let clients = http::clients(shape, &target, &inputs, clients_n);
            let result = load::drive(
                clients,
                settings.warmup(),
                settings.duration(),
                Some(server.pid()),
                ticks,
            )
            .await;
            progress(backend, shape, "server", run, settings.runs, &result);
            runs.push(result);
            if let Some((anchor_server, anchor_target)) = &anchor {
                let clients = anchor::clients(shape, anchor_target, &inputs, clients_n);
                let result = load::drive(
                    clients,
                    settings.warmup(),
                    settings.duration(),
                    Some(anchor_server.pid()),
                    ticks,
                )
                .await;
                progress(backend, shape, "anchor", run, settings.runs, &result);
                anchor_runs.push(result);
            }
        }
        let server_summary = Summary::of(runs, settings.duration_s);
        let anchor_summary = anchor
            .as_ref()
            .map(|_| Summary::of(anchor_runs, settings.duration_s));
        memory_after.push((shape, server.memory()?));

        let ceiling = if settings.ceiling {
            let mut runs = Vec::new();
            for run in 0..settings.runs {
                let clients = ceiling::clients(shape, &pool, &inputs, clients_n).await?;
                let result =
                    load::drive(clients, settings.warmup(), settings.duration(), None, ticks).await;
                progress(backend, shape, "ceiling", run, settings.runs, &result);
                runs.push(result);
            }
            Some(Summary::of(runs, settings.duration_s))
        } else {
            None
        };
        let fraction_of_ceiling = ceiling
            .as_ref()
            .filter(|c| c.requests_per_s.median > 0.0)
            .map(|c| server_summary.requests_per_s.median / c.requests_per_s.median);
        shapes.push(ShapeReport {
            shape,
            server: server_summary,
            ceiling,
            fraction_of_ceiling,
            anchor: anchor_summary,
            response_bytes,
            anchor_response_bytes,
        });
    }
    let suggestions = match settings.suggestions {
        Some(n) => {
            let report = suggestions::measure(&pool, &target, inputs.workspace_id, n).await?;
            eprintln!(
                "{} suggestions: {} labelled contacts ({} with any; precision@1 {:.3}, recall@5 {:.3}), API p50 {:.2} ms, p99 {:.2} ms; store p50 {:.2} ms, p99 {:.2} ms",
                backend.name(),
                report.contacts,
                report.with_suggestions,
                report.precision_at_1,
                report.recall_at_5,
                report.api_p50_ms,
                report.api_p99_ms,
                report.store_p50_ms,
                report.store_p99_ms
            );
            Some(report)
        }
        None => None,
    };
    let memory = server.memory().ok();
    let anchor_memory = anchor.as_ref().and_then(|(a, _)| a.memory().ok());
    if let Some((a, _)) = anchor {
        let log = a.log.clone();
        drop(a);
        let _ = std::fs::remove_file(log);
    }
    let log = server.log.clone();
    drop(server);
    // The log only matters when something failed; this run went through.
    let _ = std::fs::remove_file(log);

    let live = match settings.live {
        Some(plan) => {
            Some(live_run(fresh, settings, bin, http, &token, &inputs, plan, ticks).await?)
        }
        None => None,
    };
    let webhooks = match &settings.webhooks {
        Some(plan) => {
            Some(webhook_runs(fresh, settings, bin, http, &token, &inputs, plan, ticks).await?)
        }
        None => None,
    };
    pool.close().await?;
    Ok(BackendReport {
        backend,
        database: fresh.describe(),
        seed_s,
        memory_after,
        memory,
        shapes,
        live,
        webhooks,
        suggestions,
        anchor_memory,
    })
}

/// Prepare the database for the anchor, start it, and walk its export pages.
async fn start_anchor(
    installed: &anchor::Installed,
    fresh: &database::Fresh,
    pool: &sea_orm::DatabaseConnection,
    http: &reqwest::Client,
    inputs: &Inputs,
) -> Result<(anchor::AnchorServer, Arc<anchor::AnchorTarget>)> {
    anchor::prepare(pool).await?;
    let log = std::env::temp_dir().join(format!(
        "profilegraph-bench-anchor-{}.log",
        std::process::id()
    ));
    let mut server = anchor::AnchorServer::start(installed, &fresh.url, log)?;
    server.wait_ready(http, Duration::from_secs(60)).await?;
    eprintln!(
        "== anchor: PostGraphile pid {} on {} (log: {})",
        server.pid(),
        server.url,
        server.log.display()
    );
    let cursors =
        anchor::walk_cursors(http, &server.url, inputs.workspace_id, inputs.cursors.len()).await?;
    let target = Arc::new(anchor::AnchorTarget {
        client: http.clone(),
        url: server.url.clone(),
        workspace_id: inputs.workspace_id,
        cursors,
    });
    Ok((server, target))
}

/// The live run, on a server of its own: started afresh, so that the memory it measures
/// holds no earlier shape's buffers.
#[allow(clippy::too_many_arguments)]
async fn live_run(
    fresh: &database::Fresh,
    settings: &Settings,
    bin: &Path,
    http: &reqwest::Client,
    token: &str,
    inputs: &Inputs,
    plan: live::Plan,
    ticks: f64,
) -> Result<live::LiveReport> {
    let backend = fresh.backend;
    let log = std::env::temp_dir().join(format!(
        "profilegraph-bench-{}-live-{}.log",
        backend.name(),
        std::process::id()
    ));
    let mut server = Server::start(bin, &fresh.url, settings.db_max_connections, log, &[])?;
    server.wait_ready(http, Duration::from_secs(60)).await?;
    eprintln!(
        "== {}: live run, {} sockets, {} writes/s, on a fresh server (pid {})",
        backend.name(),
        plan.sockets,
        plan.writes_per_s,
        server.pid()
    );
    let report = live::measure(&server, http, token, &inputs.profiles, plan, ticks).await?;
    eprintln!(
        "{} live: {} of {} deliveries, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms from the change; idle sockets +{:.1} MiB; {} sockets closed by the server",
        backend.name(),
        report.deliveries,
        report.expected_deliveries,
        report.delivery_p50_ms,
        report.delivery_p99_ms,
        report.delivery_max_ms,
        report.idle_sockets_extra_mib,
        report.sockets_closed
    );
    let log = server.log.clone();
    drop(server);
    let _ = std::fs::remove_file(log);
    Ok(report)
}

/// The webhook runs, each on a server of its own (webhooks on, loopback allowed).
#[allow(clippy::too_many_arguments)]
async fn webhook_runs(
    fresh: &database::Fresh,
    settings: &Settings,
    bin: &Path,
    http: &reqwest::Client,
    token: &str,
    inputs: &Inputs,
    plan: &hooks::Plan,
    ticks: f64,
) -> Result<Vec<hooks::HooksRun>> {
    let backend = fresh.backend;
    let paced_events = (plan.paced_per_s * plan.duration_s).round().max(1.0) as usize;
    let mut runs_to_do = vec![(1, paced_events, Some(plan.paced_per_s))];
    runs_to_do.extend(
        plan.burst_endpoints
            .iter()
            .map(|&n| (n, plan.burst_events, None)),
    );
    let mut runs = Vec::new();
    for (endpoints, events, per_s) in runs_to_do {
        let log = std::env::temp_dir().join(format!(
            "profilegraph-bench-{}-webhooks-{}.log",
            backend.name(),
            std::process::id()
        ));
        let env = hooks::server_env();
        let mut server = Server::start(bin, &fresh.url, settings.db_max_connections, log, &env)?;
        server.wait_ready(http, Duration::from_secs(60)).await?;
        let run = hooks::run(
            &server,
            http,
            token,
            &inputs.profiles,
            endpoints,
            events,
            per_s,
            ticks,
        )
        .await?;
        eprintln!(
            "{} webhooks {} to {} endpoint(s): {} of {} delivered ({} repeats), {:.0}/s, from the change p50 {:.1} ms, p99 {:.1} ms",
            backend.name(),
            run.kind,
            run.endpoints,
            run.delivered,
            run.expected,
            run.repeats,
            run.deliveries_per_s,
            run.delay_p50_ms,
            run.delay_p99_ms
        );
        runs.push(run);
        let log = server.log.clone();
        drop(server);
        let _ = std::fs::remove_file(log);
    }
    Ok(runs)
}

fn progress(backend: Backend, shape: Shape, path: &str, run: usize, runs: usize, r: &load::Run) {
    eprintln!(
        "{} {} {path} run {}/{runs}: {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, {} errors; CPU s: server {:.1}, bench {:.1}, postgres {:.1}, others {:.1} (machine {:.0}% busy){}",
        backend.name(),
        shape.name(),
        run + 1,
        r.requests_per_s,
        r.p50_ms,
        r.p99_ms,
        r.errors,
        r.cpu.server_s,
        r.cpu.bench_s,
        r.cpu.postgres_s,
        r.cpu.others_s,
        100.0 * r.cpu.machine_busy,
        r.error_examples
            .first()
            .map_or(String::new(), |e| format!(" (first: {e})"))
    );
}

/// Send one request of `shape` and check that the answer holds what the shape asks for,
/// so a benchmark never measures fast empty answers; returns the response's size in bytes.
async fn validate(shape: Shape, target: &http::Target, inputs: &Inputs) -> Result<Option<usize>> {
    use profilegraph::shapes::{Q1_PROFILE_PAGE, Q2_LOOKUP, Q3_EXPORT};
    let (query, variables) = match shape {
        Shape::Q1 | Shape::Q1Single => (
            Q1_PROFILE_PAGE,
            json!({ "id": inputs::profile_gid(inputs.profiles[0]) }),
        ),
        Shape::Q2 => (Q2_LOOKUP, json!({ "q": inputs.terms[0] })),
        Shape::Q3 => (Q3_EXPORT, json!({ "cursor": null })),
        // Writes are checked on every request: any error counts.
        Shape::Q4 => return Ok(None),
    };
    let bytes = target
        .client
        .post(&target.url)
        .header(reqwest::header::AUTHORIZATION, &target.authorization)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let body: Value = serde_json::from_slice(&bytes)?;
    let data = &body["data"];
    let fine = body.get("errors").is_none()
        && match shape {
            Shape::Q1 | Shape::Q1Single => data["profile"]["name"].is_string(),
            Shape::Q2 => data["profiles"]["totalCount"]
                .as_u64()
                .is_some_and(|n| n > 0),
            Shape::Q3 => data["profiles"]["edges"]
                .as_array()
                .is_some_and(|edges| edges.len() == 100.min(inputs.profiles.len())),
            Shape::Q4 => true,
        };
    if fine {
        Ok(Some(bytes.len()))
    } else {
        Err(Error::Setup(format!(
            "{} did not answer as expected: {}",
            shape.name(),
            http::clip(&body.to_string())
        )))
    }
}
