//! The results: summaries of the runs, the table, the JSON file and the SVG chart.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::cli::{Backend, Settings, Shape};
use crate::load::Run;
use crate::server::Memory;

/// The throughput targets, measured on PostgreSQL with M data: requests per second per
/// shape (none for the one-client run, which is about latency).
pub fn target_rps(shape: Shape) -> Option<f64> {
    match shape {
        Shape::Q1 => Some(3_000.0),
        Shape::Q1Single => None,
        Shape::Q2 => Some(1_500.0),
        Shape::Q3 => Some(250.0),
        Shape::Q4 => Some(1_500.0),
    }
}

/// The targets against the anchor (PostGraphile), PostgreSQL, M data: throughput as a
/// multiple of the anchor's, and where a latency counts, the most it may be as a fraction
/// of the anchor's (p99 for Q1 under load, p50 for one client).
pub fn anchor_target(shape: Shape) -> (Option<f64>, Option<(&'static str, f64)>) {
    match shape {
        Shape::Q1 => (Some(3.0), Some(("p99", 0.5))),
        Shape::Q1Single => (None, Some(("p50", 0.5))),
        Shape::Q2 => (Some(4.0), None),
        Shape::Q3 => (Some(6.0), None),
        Shape::Q4 => (Some(2.0), None),
    }
}

/// The profile page's latency target: p99 under 10 ms.
pub const Q1_P99_TARGET_MS: f64 = 10.0;
/// The memory target: the server stays under 100 MB.
pub const MEMORY_TARGET_MIB: f64 = 100.0;
/// Live events: p99 from a change to its delivery, with the live run's subscribers.
pub const LIVE_P99_TARGET_MS: f64 = 100.0;
/// Live events: what the idle sockets may add to the server's memory, MB.
pub const IDLE_SOCKETS_TARGET_MB: f64 = 50.0;
/// The event log's cost on writes: Q4 at least this fraction of the compared results.
pub const Q4_AGAINST_EARLIER_TARGET: f64 = 0.85;
/// Webhooks: deliveries per second to a fast receiver.
pub const WEBHOOK_RATE_TARGET: f64 = 500.0;
/// Webhooks: p99 from a change to its first attempt, ms.
pub const WEBHOOK_P99_TARGET_MS: f64 = 1000.0;

/// The whole result file.
#[derive(Debug, Serialize)]
pub struct Report {
    /// When the benchmark finished (UTC, RFC 3339).
    pub finished_at: String,
    /// The command line it ran with.
    pub command: Vec<String>,
    /// The machine.
    pub machine: Machine,
    /// The resolved settings.
    pub settings: Settings,
    /// What `profilegraph seed` put into each database.
    pub data: Data,
    /// One entry per backend.
    pub backends: Vec<BackendReport>,
    /// The same shapes in an earlier results file (`--compare`), if one was given.
    pub compared: Option<Compared>,
    /// What the document cache saves Q1, in this process.
    pub documents: Option<crate::documents::DocumentsReport>,
}

/// This run's throughput against an earlier results file's.
#[derive(Debug, Serialize)]
pub struct Compared {
    /// The earlier file.
    pub file: String,
    /// When the earlier run finished.
    pub finished_at: String,
    /// Its command line, which names the binary it ran.
    pub command: Vec<String>,
    /// One line per backend and shape both runs have.
    pub shapes: Vec<ComparedShape>,
}

/// One shape on one backend, now and then.
#[derive(Debug, Serialize)]
pub struct ComparedShape {
    /// The backend.
    pub backend: Backend,
    /// The shape.
    pub shape: Shape,
    /// This run's median req/s.
    pub now_rps: f64,
    /// The earlier run's median req/s.
    pub then_rps: f64,
    /// `now_rps / then_rps`.
    pub ratio: f64,
}

impl Compared {
    /// `report` against the results file at `path` (written by this benchmark).
    pub fn of(report: &Report, path: &std::path::Path) -> crate::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(crate::Error::io(format!("reading {}", path.display())))?;
        let earlier: serde_json::Value = serde_json::from_str(&text)?;
        let mut shapes = Vec::new();
        for backend in &report.backends {
            let then_backend = earlier["backends"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|b| b["backend"] == backend.backend.name());
            let Some(then_backend) = then_backend else {
                continue;
            };
            for shape in &backend.shapes {
                let name = shape.shape.name().to_lowercase();
                let then_rps = then_backend["shapes"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|s| s["shape"] == name.as_str())
                    .and_then(|s| s["server"]["requests_per_s"]["median"].as_f64());
                if let Some(then_rps) = then_rps.filter(|r| *r > 0.0) {
                    let now_rps = shape.server.requests_per_s.median;
                    shapes.push(ComparedShape {
                        backend: backend.backend,
                        shape: shape.shape,
                        now_rps,
                        then_rps,
                        ratio: now_rps / then_rps,
                    });
                }
            }
        }
        Ok(Compared {
            file: path.display().to_string(),
            finished_at: earlier["finished_at"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            command: earlier["command"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(str::to_owned))
                .collect(),
            shapes,
        })
    }
}

/// The seeded rows.
#[derive(Debug, Serialize)]
pub struct Data {
    /// Profiles.
    pub profiles: usize,
    /// Contacts.
    pub contacts: usize,
    /// Contact moments.
    pub contact_moments: usize,
    /// Notes.
    pub notes: usize,
    /// Field values.
    pub field_values: usize,
}

impl Data {
    /// What seeding `size` makes.
    pub fn of(size: crate::cli::Size) -> Self {
        let counts = size.counts();
        Data {
            profiles: counts.profiles,
            contacts: counts.contacts,
            contact_moments: counts.moments,
            notes: counts.notes,
            field_values: counts.field_values,
        }
    }
}

/// What the machine is.
#[derive(Debug, Serialize)]
pub struct Machine {
    /// Logical CPUs available to this process.
    pub cpus: usize,
    /// The CPU model from /proc/cpuinfo.
    pub cpu_model: Option<String>,
    /// Total memory, MiB.
    pub memory_mib: Option<u64>,
    /// `uname -sr`-like kernel release from /proc.
    pub kernel: Option<String>,
}

impl Machine {
    /// Read what Linux tells about the machine.
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .and_then(|rest| rest.split_once(':'))
                .map(|(_, model)| model.trim().to_owned()),
            memory_mib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|kb| kb.parse::<u64>().ok())
                .map(|kb| kb / 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
        }
    }
}

/// One backend's results.
#[derive(Debug, Serialize)]
pub struct BackendReport {
    /// Which backend.
    pub backend: Backend,
    /// Where the data was.
    pub database: String,
    /// How long `profilegraph seed` took, seconds.
    pub seed_s: f64,
    /// The server's memory after each shape's runs.
    pub memory_after: Vec<(Shape, Memory)>,
    /// The server's memory at the end.
    pub memory: Option<Memory>,
    /// One entry per shape.
    pub shapes: Vec<ShapeReport>,
    /// The live run (subscriptions), unless skipped.
    pub live: Option<crate::live::LiveReport>,
    /// The webhook runs, unless skipped.
    pub webhooks: Option<Vec<crate::hooks::HooksRun>>,
    /// Profile suggestions one contact at a time, unless skipped.
    pub suggestions: Option<crate::suggestions::SuggestionsReport>,
    /// The anchor's memory at the end, if it ran.
    pub anchor_memory: Option<Memory>,
}

/// One shape on one backend.
#[derive(Debug, Serialize)]
pub struct ShapeReport {
    /// Which shape.
    pub shape: Shape,
    /// Through the server.
    pub server: Summary,
    /// The hand-written SQL, if it ran.
    pub ceiling: Option<Summary>,
    /// Median server req/s over median ceiling statement-sets/s.
    pub fraction_of_ceiling: Option<f64>,
    /// The anchor's runs on the same data, interleaved with the server's, if it ran.
    pub anchor: Option<Summary>,
    /// The size of one response (the shape's first request), bytes: profilegraph's, and
    /// the anchor's for the same data.
    pub response_bytes: Option<usize>,
    /// The anchor's response to the same request, bytes.
    pub anchor_response_bytes: Option<usize>,
}

impl ShapeReport {
    /// Median server req/s over the anchor's.
    pub fn times_anchor(&self) -> Option<f64> {
        self.anchor
            .as_ref()
            .filter(|a| a.requests_per_s.median > 0.0)
            .map(|a| self.server.requests_per_s.median / a.requests_per_s.median)
    }
}

/// A median and the spread around it.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    /// The median (of an even count: the mean of the middle two).
    pub median: f64,
    /// The smallest.
    pub min: f64,
    /// The largest.
    pub max: f64,
}

impl Spread {
    /// The spread of `values` (not empty).
    pub fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        if n == 0 {
            return Spread {
                median: 0.0,
                min: 0.0,
                max: 0.0,
            };
        }
        let median = if n % 2 == 1 {
            values[n / 2]
        } else {
            (values[n / 2 - 1] + values[n / 2]) / 2.0
        };
        Spread {
            median,
            min: values[0],
            max: values[n - 1],
        }
    }
}

/// The runs of one shape through one path (server or ceiling).
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Requests (or statement sets) per second.
    pub requests_per_s: Spread,
    /// Median latency, ms.
    pub p50_ms: Spread,
    /// 99th percentile latency, ms.
    pub p99_ms: Spread,
    /// Failed requests over all runs.
    pub errors: u64,
    /// Per operation, statement count → requests, over all runs.
    pub statements: BTreeMap<String, BTreeMap<u64, u64>>,
    /// Server CPU per request, ms (0 for the ceiling).
    pub server_cpu_ms_per_request: Spread,
    /// This process's CPU per request, ms.
    pub bench_cpu_ms_per_request: Spread,
    /// PostgreSQL's CPU per request, ms (0 on SQLite, where the server does the work).
    pub postgres_cpu_ms_per_request: Spread,
    /// CPU seconds per second of window that other processes used (1.0 = a whole core).
    pub others_cores: Spread,
    /// Every run.
    pub runs: Vec<Run>,
}

impl Summary {
    /// Summarise `runs`.
    pub fn of(runs: Vec<Run>, duration_s: f64) -> Self {
        let spread = |f: &dyn Fn(&Run) -> f64| Spread::of(runs.iter().map(f).collect());
        let mut statements: BTreeMap<String, BTreeMap<u64, u64>> = BTreeMap::new();
        for run in &runs {
            for (op, stats) in &run.ops {
                let entry = statements.entry(op.clone()).or_default();
                for (count, n) in &stats.statements {
                    *entry.entry(*count).or_default() += n;
                }
            }
        }
        // CPU is read over exactly the window; requests over the window plus the last
        // in-flight ones, so this is per request started in the window.
        let per_request = |cpu: &dyn Fn(&Run) -> f64| -> Spread {
            Spread::of(
                runs.iter()
                    .map(|r| 1000.0 * cpu(r) / (r.requests_per_s * duration_s).max(1.0))
                    .collect(),
            )
        };
        Summary {
            requests_per_s: spread(&|r| r.requests_per_s),
            p50_ms: spread(&|r| r.p50_ms),
            p99_ms: spread(&|r| r.p99_ms),
            errors: runs.iter().map(|r| r.errors).sum(),
            statements,
            server_cpu_ms_per_request: per_request(&|r| r.cpu.server_s),
            bench_cpu_ms_per_request: per_request(&|r| r.cpu.bench_s),
            postgres_cpu_ms_per_request: per_request(&|r| r.cpu.postgres_s),
            others_cores: Spread::of(runs.iter().map(|r| r.cpu.others_s / duration_s).collect()),
            runs,
        }
    }

    /// The statement counts as a short text: `10`, or `10 (9 ×5%)` when requests differ,
    /// per operation for Q4.
    pub fn statements_text(&self) -> String {
        let parts: Vec<String> = self
            .statements
            .iter()
            .map(|(op, counts)| {
                let total: u64 = counts.values().sum();
                let mut by_frequency: Vec<(&u64, &u64)> = counts.iter().collect();
                by_frequency.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
                let mut text = match by_frequency.first() {
                    Some((count, _)) => count.to_string(),
                    None => "?".into(),
                };
                let others: Vec<String> = by_frequency
                    .iter()
                    .skip(1)
                    .map(|(count, n)| format!("{count}: {}", share(**n, total)))
                    .collect();
                if !others.is_empty() {
                    text = format!("{text} ({})", others.join(", "));
                }
                if self.statements.len() > 1 {
                    format!("{op} {text}")
                } else {
                    text
                }
            })
            .collect();
        parts.join("; ")
    }
}

fn share(n: u64, total: u64) -> String {
    let pct = 100.0 * n as f64 / total.max(1) as f64;
    if pct < 0.1 {
        format!("{n} req")
    } else {
        format!("{pct:.1}%")
    }
}

/// `1234.5` → `1,235`; small numbers keep a decimal.
fn num(value: f64) -> String {
    if value >= 100.0 {
        let whole = value.round() as u64;
        let digits = whole.to_string();
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(c);
        }
        out
    } else if value >= 10.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.2}")
    }
}

fn spread_text(s: &Spread, runs: usize) -> String {
    if runs > 1 {
        format!("{} ({}–{})", num(s.median), num(s.min), num(s.max))
    } else {
        num(s.median)
    }
}

/// The results as a Markdown table, one row per backend and shape.
pub fn table(report: &Report) -> String {
    let runs = report.settings.runs;
    let anchor = report.settings.anchor.map_or("anchor", |a| a.name());
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| backend | shape | req/s | p50 ms | p99 ms | SQL statements / request | errors | CPU ms / req: server, PostgreSQL, load generator | ceiling sets/s | of ceiling | × {anchor} | other load, cores: server / ceiling runs |"
    );
    let _ = writeln!(out, "|---|---|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|");
    for backend in &report.backends {
        for shape in &backend.shapes {
            let s = &shape.server;
            let cpu = format!(
                "{}, {}, {}",
                num(s.server_cpu_ms_per_request.median),
                num(s.postgres_cpu_ms_per_request.median),
                num(s.bench_cpu_ms_per_request.median)
            );
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} / {} |",
                backend.backend.name(),
                shape.shape.name(),
                shape.shape.title(),
                spread_text(&s.requests_per_s, runs),
                spread_text(&s.p50_ms, runs),
                spread_text(&s.p99_ms, runs),
                s.statements_text(),
                s.errors,
                cpu,
                shape
                    .ceiling
                    .as_ref()
                    .map_or("–".into(), |c| spread_text(&c.requests_per_s, runs)),
                shape
                    .fraction_of_ceiling
                    .map_or("–".into(), |f| format!("{:.0}%", 100.0 * f)),
                shape
                    .times_anchor()
                    .map_or("–".into(), |r| format!("{r:.2}×")),
                s.others_cores.max,
                shape
                    .ceiling
                    .as_ref()
                    .map_or("–".into(), |c| format!("{:.2}", c.others_cores.max)),
            );
        }
    }
    let side_by_side: Vec<_> = report
        .backends
        .iter()
        .flat_map(|b| b.shapes.iter().map(move |s| (b, s)))
        .filter(|(_, s)| s.anchor.is_some())
        .collect();
    if !side_by_side.is_empty() {
        let _ = writeln!(
            out,
            "\n| backend | shape | profilegraph req/s | {anchor} req/s | × {anchor} | p50 ms: profilegraph / {anchor} | p99 ms: profilegraph / {anchor} | CPU ms / req, server + PostgreSQL: profilegraph / {anchor} | errors | response bytes: profilegraph / {anchor} |"
        );
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (backend, shape) in side_by_side {
            let (s, Some(a)) = (&shape.server, &shape.anchor) else {
                continue;
            };
            let cpu = |x: &Summary| {
                num(x.server_cpu_ms_per_request.median + x.postgres_cpu_ms_per_request.median)
            };
            let bytes = |b: Option<usize>| b.map_or("–".into(), |b| b.to_string());
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {} | {} | {} / {} | {} / {} | {} / {} | {} / {} | {} / {} |",
                backend.backend.name(),
                shape.shape.name(),
                shape.shape.title(),
                spread_text(&s.requests_per_s, runs),
                spread_text(&a.requests_per_s, runs),
                shape
                    .times_anchor()
                    .map_or("–".into(), |r| format!("{r:.2}×")),
                num(s.p50_ms.median),
                num(a.p50_ms.median),
                num(s.p99_ms.median),
                num(a.p99_ms.median),
                cpu(s),
                cpu(a),
                s.errors,
                a.errors,
                bytes(shape.response_bytes),
                bytes(shape.anchor_response_bytes),
            );
        }
    }
    let live: Vec<_> = report
        .backends
        .iter()
        .filter_map(|b| b.live.as_ref().map(|l| (b.backend, l)))
        .collect();
    if !live.is_empty() {
        let _ = writeln!(
            out,
            "\n| backend | live sockets | writes/s | deliveries | from the change to delivery, ms: p50 / p99 / max | write p50 ms | server CPU ms / write | RSS MiB: none / idle sockets / subscribed | sockets closed |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|--:|--:|--:|--:|");
        for (backend, l) in live {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} of {} | {} / {} / {} | {} | {} | {:.1} / {:.1} / {:.1} | {} |",
                backend.name(),
                l.plan.sockets,
                num(l.plan.writes_per_s),
                l.deliveries,
                l.expected_deliveries,
                num(l.delivery_p50_ms),
                num(l.delivery_p99_ms),
                num(l.delivery_max_ms),
                num(l.write_p50_ms),
                num(l.server_cpu_ms_per_write),
                l.rss_without_mib,
                l.rss_idle_mib,
                l.rss_subscribed_mib,
                l.sockets_closed,
            );
        }
    }
    let suggestions: Vec<_> = report
        .backends
        .iter()
        .filter_map(|b| b.suggestions.as_ref().map(|r| (b.backend, r)))
        .collect();
    if !suggestions.is_empty() {
        let _ = writeln!(
            out,
            "\n| backend | suggestions: labelled contacts (with any) | precision@1 / recall@5 | API ms: p50 / p99 | store ms: p50 / p99 |"
        );
        let _ = writeln!(out, "|---|--:|--:|--:|--:|");
        for (backend, r) in suggestions {
            let _ = writeln!(
                out,
                "| {} | {} ({}) | {:.3} / {:.3} | {} / {} | {} / {} |",
                backend.name(),
                r.contacts,
                r.with_suggestions,
                r.precision_at_1,
                r.recall_at_5,
                num(r.api_p50_ms),
                num(r.api_p99_ms),
                num(r.store_p50_ms),
                num(r.store_p99_ms),
            );
        }
    }
    let hooks: Vec<_> = report
        .backends
        .iter()
        .flat_map(|b| b.webhooks.iter().flatten().map(move |r| (b.backend, r)))
        .collect();
    if !hooks.is_empty() {
        let _ = writeln!(
            out,
            "\n| backend | webhooks | endpoints | events | delivered (repeats) | deliveries/s | from the change to delivery, ms: p50 / p99 | server CPU ms / delivery |"
        );
        let _ = writeln!(out, "|---|---|--:|--:|--:|--:|--:|--:|");
        for (backend, r) in hooks {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} of {} ({}) | {} | {} / {} | {} |",
                backend.name(),
                r.kind,
                r.endpoints,
                r.events,
                r.delivered,
                r.expected,
                r.repeats,
                num(r.deliveries_per_s),
                num(r.delay_p50_ms),
                num(r.delay_p99_ms),
                num(r.server_cpu_ms_per_delivery),
            );
        }
    }
    for backend in &report.backends {
        if let Some(memory) = backend.memory {
            let _ = writeln!(
                out,
                "\nServer memory on {}: peak RSS (VmHWM) {:.1} MiB, RSS at the end {:.1} MiB.",
                backend.backend.name(),
                memory.peak_rss_mib,
                memory.rss_mib
            );
        }
        if let Some(memory) = backend.anchor_memory {
            let _ = writeln!(
                out,
                "\n{anchor} memory on {}: peak RSS (VmHWM) {:.1} MiB, RSS at the end {:.1} MiB.",
                backend.backend.name(),
                memory.peak_rss_mib,
                memory.rss_mib
            );
        }
    }
    out
}

/// The targets against the results (throughput and memory on PostgreSQL, live events on
/// every backend), one line each.
pub fn verdicts(report: &Report) -> Vec<String> {
    let mut lines = Vec::new();
    for backend in &report.backends {
        let Some(l) = &backend.live else { continue };
        let complete = l.deliveries == l.expected_deliveries && l.sockets_closed == 0;
        lines.push(format!(
            "live on {}: {} of {} deliveries{}; p99 {} ms from the change with {} subscribers at {} writes/s, target < {LIVE_P99_TARGET_MS} ms: {}; {} idle sockets add {:.1} MiB, target < {IDLE_SOCKETS_TARGET_MB} MB: {}",
            backend.backend.name(),
            l.deliveries,
            l.expected_deliveries,
            if complete { "" } else { " (INCOMPLETE)" },
            num(l.delivery_p99_ms),
            l.plan.sockets,
            num(l.plan.writes_per_s),
            if l.delivery_p99_ms < LIVE_P99_TARGET_MS && complete { "met" } else { "NOT met" },
            l.plan.sockets,
            l.idle_sockets_extra_mib,
            if l.idle_sockets_extra_mib * 1.048_576 < IDLE_SOCKETS_TARGET_MB { "met" } else { "NOT met" },
        ));
    }
    for backend in &report.backends {
        for r in backend.webhooks.iter().flatten() {
            let verdict = |met: bool| {
                if met && r.delivered == r.expected {
                    "met"
                } else {
                    "NOT met"
                }
            };
            lines.push(match r.kind {
                "paced" => format!(
                    "webhooks on {}: p99 {} ms from the change to delivery, target < {WEBHOOK_P99_TARGET_MS} ms: {}",
                    backend.backend.name(),
                    num(r.delay_p99_ms),
                    verdict(r.delay_p99_ms < WEBHOOK_P99_TARGET_MS)
                ),
                _ => format!(
                    "webhooks on {}: {} deliveries/s to {} endpoint(s), target ≥ {WEBHOOK_RATE_TARGET}: {}",
                    backend.backend.name(),
                    num(r.deliveries_per_s),
                    r.endpoints,
                    verdict(r.deliveries_per_s >= WEBHOOK_RATE_TARGET)
                ),
            });
        }
    }
    if let Some(earlier) = &report.compared {
        for line in &earlier.shapes {
            let mut text = format!(
                "{} {}: {} req/s against {} in {} ({:.2}×)",
                line.backend.name(),
                line.shape.name(),
                num(line.now_rps),
                num(line.then_rps),
                earlier.file,
                line.ratio
            );
            if line.shape == Shape::Q4 {
                let _ = write!(
                    text,
                    ", target ≥ {Q4_AGAINST_EARLIER_TARGET:.2}×: {}",
                    if line.ratio >= Q4_AGAINST_EARLIER_TARGET {
                        "met"
                    } else {
                        "NOT met"
                    }
                );
            }
            lines.push(text);
        }
    }
    if let Some(anchor) = report.settings.anchor {
        lines.extend(anchor_verdicts(report, anchor.name()));
    }
    let Some(pg) = report
        .backends
        .iter()
        .find(|b| b.backend == Backend::Postgres)
    else {
        lines.push("targets: not judged (they are for PostgreSQL, which did not run)".into());
        return lines;
    };
    for shape in &pg.shapes {
        let rps = shape.server.requests_per_s.median;
        let Some(target) = target_rps(shape.shape) else {
            continue;
        };
        let mut line = format!(
            "{}: {} req/s, target ≥ {}: {}",
            shape.shape.name(),
            num(rps),
            num(target),
            if rps >= target { "met" } else { "NOT met" }
        );
        if shape.shape == Shape::Q1 {
            let p99 = shape.server.p99_ms.median;
            let _ = write!(
                line,
                "; p99 {} ms, target < {Q1_P99_TARGET_MS} ms: {}",
                num(p99),
                if p99 < Q1_P99_TARGET_MS {
                    "met"
                } else {
                    "NOT met"
                }
            );
        }
        lines.push(line);
    }
    if let Some(memory) = pg.memory {
        lines.push(format!(
            "server peak memory {:.1} MiB, target < {MEMORY_TARGET_MIB} MB: {}",
            memory.peak_rss_mib,
            if memory.peak_rss_mib * 1.048_576 < MEMORY_TARGET_MIB {
                "met"
            } else {
                "NOT met"
            }
        ));
    }
    lines
}

/// The targets against the anchor, one line per PostgreSQL shape it ran.
fn anchor_verdicts(report: &Report, anchor: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let verdict = |met: bool| if met { "met" } else { "NOT met" };
    for backend in report
        .backends
        .iter()
        .filter(|b| b.backend == Backend::Postgres)
    {
        for shape in &backend.shapes {
            let Some(a) = &shape.anchor else { continue };
            let (times, latency) = anchor_target(shape.shape);
            let mut parts = Vec::new();
            if let (Some(target), Some(ratio)) = (times, shape.times_anchor()) {
                parts.push(format!(
                    "{ratio:.2}× {anchor}'s req/s, target ≥ {target}×: {}",
                    verdict(ratio >= target)
                ));
            }
            if let Some((which, target)) = latency {
                let (ours, theirs) = match which {
                    "p50" => (shape.server.p50_ms.median, a.p50_ms.median),
                    _ => (shape.server.p99_ms.median, a.p99_ms.median),
                };
                let ratio = ours / theirs.max(f64::MIN_POSITIVE);
                parts.push(format!(
                    "{which} {} / {} ms = {ratio:.2}× {anchor}'s, target ≤ {target}×: {}",
                    num(ours),
                    num(theirs),
                    verdict(ratio <= target)
                ));
            }
            if !parts.is_empty() {
                lines.push(format!(
                    "{} against {anchor}: {}",
                    shape.shape.name(),
                    parts.join("; ")
                ));
            }
        }
        if let (Some(ours), Some(theirs)) = (backend.memory, backend.anchor_memory) {
            lines.push(format!(
                "peak RSS: profilegraph {:.1} MiB, {anchor} {:.1} MiB",
                ours.peak_rss_mib, theirs.peak_rss_mib
            ));
        }
    }
    lines
}

const SQLITE_COLOR: &str = "#3b7dd8";
const SQLITE_LIGHT: &str = "#a9c8f0";
const PG_COLOR: &str = "#d8773b";
const PG_LIGHT: &str = "#f0c6a9";

/// A log-scale position: `value` between `lo` and `hi` mapped onto `0..=height`.
fn log_y(value: f64, lo: f64, hi: f64, height: f64) -> f64 {
    let v = value.max(lo);
    height * (v.log10() - lo.log10()) / (hi.log10() - lo.log10())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart: throughput (server and ceiling) and latency (p50, p99) per shape and
/// backend, each on a log scale.
pub fn chart(report: &Report) -> String {
    let shapes: Vec<Shape> = report.settings.shapes.clone();
    // Room for the anchor's bars beside the backends' when it ran.
    let group_w = if report.settings.anchor.is_some() {
        340.0
    } else {
        230.0
    };
    let left = 70.0;
    let panel_h = 260.0;
    let width = left + group_w * shapes.len() as f64 + 30.0;
    let height = 2.0 * panel_h + 250.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{left}" y="22" font-size="15" font-weight="bold">profilegraph benchmark: size {}, {} clients, {} s × {} runs (median, whiskers min–max), {} cores</text>"#,
        report.settings.size.arg().to_uppercase(),
        report.settings.clients,
        report.settings.duration_s,
        report.settings.runs,
        report.machine.cpus,
    );
    let _ = writeln!(
        svg,
        r##"<text x="{left}" y="40" fill="#555">{}</text>"##,
        escape(&report.finished_at)
    );

    // Panel 1: throughput.
    let top1 = 70.0;
    let (lo, hi) = (10.0, 100_000.0);
    panel(
        &mut svg,
        left,
        top1,
        group_w * shapes.len() as f64,
        panel_h,
        lo,
        hi,
        "Throughput (requests/s; light: hand-written SQL ceiling, statement sets/s; grey: the anchor; dashed: target on PostgreSQL)",
    );
    for (g, shape) in shapes.iter().enumerate() {
        let x0 = left + g as f64 * group_w + 15.0;
        let mut x = x0;
        for backend in &report.backends {
            let Some(sr) = backend.shapes.iter().find(|s| s.shape == *shape) else {
                continue;
            };
            let (solid, light) = colors(backend.backend);
            bar(
                &mut svg,
                x,
                top1,
                panel_h,
                lo,
                hi,
                &sr.server.requests_per_s,
                solid,
                44.0,
            );
            x += 48.0;
            if let Some(ceiling) = &sr.ceiling {
                bar(
                    &mut svg,
                    x,
                    top1,
                    panel_h,
                    lo,
                    hi,
                    &ceiling.requests_per_s,
                    light,
                    44.0,
                );
            }
            x += 56.0;
        }
        if let Some(a) = anchor_of(report, *shape) {
            bar(
                &mut svg,
                x,
                top1,
                panel_h,
                lo,
                hi,
                &a.requests_per_s,
                ANCHOR_COLOR,
                44.0,
            );
        }
        if let Some(target) = target_rps(*shape) {
            let y = top1 + panel_h - log_y(target, lo, hi, panel_h);
            let _ = writeln!(
                svg,
                r##"<line x1="{}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#c00" stroke-dasharray="5,3"/>"##,
                x0 - 5.0,
                x0 + 205.0
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{} {}</text>"#,
            x0 + 100.0,
            top1 + panel_h + 18.0,
            shape.name(),
            shape.title()
        );
    }

    // Panel 2: latency.
    let top2 = top1 + panel_h + 80.0;
    let (lo, hi) = (0.1, 10_000.0);
    panel(
        &mut svg,
        left,
        top2,
        group_w * shapes.len() as f64,
        panel_h,
        lo,
        hi,
        "Latency through the server (ms; solid: p50, light: p99)",
    );
    for (g, shape) in shapes.iter().enumerate() {
        let x0 = left + g as f64 * group_w + 15.0;
        let mut x = x0;
        for backend in &report.backends {
            let Some(sr) = backend.shapes.iter().find(|s| s.shape == *shape) else {
                continue;
            };
            let (solid, light) = colors(backend.backend);
            bar(
                &mut svg,
                x,
                top2,
                panel_h,
                lo,
                hi,
                &sr.server.p50_ms,
                solid,
                44.0,
            );
            x += 48.0;
            bar(
                &mut svg,
                x,
                top2,
                panel_h,
                lo,
                hi,
                &sr.server.p99_ms,
                light,
                44.0,
            );
            x += 56.0;
        }
        if let Some(a) = anchor_of(report, *shape) {
            bar(
                &mut svg,
                x,
                top2,
                panel_h,
                lo,
                hi,
                &a.p50_ms,
                ANCHOR_COLOR,
                44.0,
            );
            bar(
                &mut svg,
                x + 48.0,
                top2,
                panel_h,
                lo,
                hi,
                &a.p99_ms,
                ANCHOR_LIGHT,
                44.0,
            );
        }
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" font-weight="bold">{} {}</text>"#,
            x0 + 100.0,
            top2 + panel_h + 18.0,
            shape.name(),
            shape.title()
        );
    }

    // Legend.
    let ly = top2 + panel_h + 50.0;
    let mut lx = left;
    for backend in &report.backends {
        let (solid, light) = colors(backend.backend);
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{:.1}" width="14" height="14" fill="{solid}"/><text x="{:.1}" y="{:.1}">{} (server; p50)</text>"#,
            ly - 11.0,
            lx + 18.0,
            ly,
            backend.backend.name()
        );
        let _ = writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="14" height="14" fill="{light}"/><text x="{:.1}" y="{:.1}">{} (ceiling; p99)</text>"#,
            lx + 170.0,
            ly - 11.0,
            lx + 188.0,
            ly,
            backend.backend.name()
        );
        lx += 360.0;
    }
    if let Some(anchor) = report.settings.anchor {
        let _ = writeln!(
            svg,
            r#"<rect x="{lx}" y="{:.1}" width="14" height="14" fill="{ANCHOR_COLOR}"/><text x="{:.1}" y="{:.1}">{} on postgres (p50)</text><rect x="{:.1}" y="{:.1}" width="14" height="14" fill="{ANCHOR_LIGHT}"/><text x="{:.1}" y="{:.1}">(p99)</text>"#,
            ly - 11.0,
            lx + 18.0,
            ly,
            anchor.name(),
            lx + 190.0,
            ly - 11.0,
            lx + 208.0,
            ly,
        );
    }
    let _ = writeln!(svg, "</svg>");
    svg
}

const ANCHOR_COLOR: &str = "#5f5f5f";
const ANCHOR_LIGHT: &str = "#bdbdbd";

/// The anchor's runs of `shape` (on PostgreSQL), if it ran.
fn anchor_of(report: &Report, shape: Shape) -> Option<&Summary> {
    report
        .backends
        .iter()
        .filter(|b| b.backend == Backend::Postgres)
        .flat_map(|b| &b.shapes)
        .find(|s| s.shape == shape)
        .and_then(|s| s.anchor.as_ref())
}

fn colors(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (SQLITE_COLOR, SQLITE_LIGHT),
        Backend::Postgres => (PG_COLOR, PG_LIGHT),
    }
}

/// A panel's frame, title and log grid lines.
#[allow(clippy::too_many_arguments)]
fn panel(svg: &mut String, x: f64, top: f64, w: f64, h: f64, lo: f64, hi: f64, title: &str) {
    let _ = writeln!(
        svg,
        r#"<text x="{x}" y="{:.1}" font-size="13" font-weight="bold">{}</text>"#,
        top - 10.0,
        escape(title)
    );
    let mut tick = lo;
    while tick <= hi * 1.0001 {
        let y = top + h - log_y(tick, lo, hi, h);
        let _ = writeln!(
            svg,
            r##"<line x1="{x}" x2="{:.1}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text>"##,
            x + w,
            x - 6.0,
            y + 4.0,
            num(tick)
        );
        tick *= 10.0;
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{x}" y="{top}" width="{w}" height="{h}" fill="none" stroke="#999"/>"##
    );
}

/// A bar at the median with a min–max whisker and the median written above.
#[allow(clippy::too_many_arguments)]
fn bar(
    svg: &mut String,
    x: f64,
    top: f64,
    h: f64,
    lo: f64,
    hi: f64,
    s: &Spread,
    fill: &str,
    w: f64,
) {
    let bh = log_y(s.median, lo, hi, h);
    let y = top + h - bh;
    let _ = writeln!(
        svg,
        r#"<rect x="{x:.1}" y="{y:.1}" width="{w}" height="{bh:.1}" fill="{fill}"/>"#
    );
    let (y_min, y_max) = (
        top + h - log_y(s.min, lo, hi, h),
        top + h - log_y(s.max, lo, hi, h),
    );
    let cx = x + w / 2.0;
    let _ = writeln!(
        svg,
        r##"<line x1="{cx:.1}" x2="{cx:.1}" y1="{y_min:.1}" y2="{y_max:.1}" stroke="#222"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{cx:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"#,
        y_max.min(y) - 4.0,
        num(s.median)
    );
}
