//! The load driver: N clients, each with one request in flight, for a warm-up and then a
//! measured window; and the statistics of a run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use serde::Serialize;

/// What one request (or one statement set) did.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The operation, e.g. `Q1`, or `move` and `note` within Q4.
    pub op: &'static str,
    /// Whether it succeeded: HTTP 200 and no GraphQL error (or every statement ran).
    pub ok: bool,
    /// SQL statements it ran: the server's `x-sql-statements`, or the ceiling's own count.
    pub statements: Option<u64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
}

impl Sample {
    /// A success of `op` that ran `statements`.
    pub fn ok(op: &'static str, statements: Option<u64>) -> Self {
        Sample {
            op,
            ok: true,
            statements,
            error: None,
        }
    }

    /// A failure of `op`.
    pub fn failed(op: &'static str, statements: Option<u64>, error: String) -> Self {
        Sample {
            op,
            ok: false,
            statements,
            error: Some(error),
        }
    }
}

/// One client: something that issues a request and waits for it, again and again.
pub trait Client: Send + 'static {
    /// Issue the next request and wait for its answer.
    fn step(&mut self) -> BoxFuture<'_, Sample>;
}

/// What a run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Run {
    /// Concurrent clients, each with one request in flight at a time.
    pub clients: usize,
    /// Requests that started in the measured window.
    pub requests: u64,
    /// From the start of the window until the last of them finished, seconds.
    pub elapsed_s: f64,
    /// `requests / elapsed_s`.
    pub requests_per_s: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Slowest request, ms.
    pub max_ms: f64,
    /// Failed requests (non-200, GraphQL errors, failed statements).
    pub errors: u64,
    /// Up to five error messages.
    pub error_examples: Vec<String>,
    /// Per operation: how often each statement count was seen, and latencies.
    pub ops: BTreeMap<String, OpStats>,
    /// CPU seconds used during the window: server, this process, PostgreSQL, others.
    pub cpu: crate::cpu::Usage,
}

/// One operation's part of a run.
#[derive(Debug, Clone, Serialize)]
pub struct OpStats {
    /// Requests of this operation in the window.
    pub requests: u64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th percentile latency, ms.
    pub p99_ms: f64,
    /// Statement count → how many requests ran that many.
    pub statements: BTreeMap<u64, u64>,
}

struct Recorded {
    latencies_us: Vec<(&'static str, u64)>,
    statements: Vec<(&'static str, Option<u64>)>,
    errors: u64,
    error_examples: Vec<String>,
    last_finish: Option<Instant>,
}

/// Drive `clients` for `warmup` (not recorded) and then `duration`, all at once.
/// `server_pid` is the process under test, whose CPU time is reported, if any.
pub async fn drive(
    clients: Vec<Box<dyn Client>>,
    warmup: Duration,
    duration: Duration,
    server_pid: Option<u32>,
    ticks_per_second: f64,
) -> Run {
    let start = Instant::now();
    let measure_from = start + warmup;
    let end = measure_from + duration;
    let client_count = clients.len();
    let mut tasks = Vec::with_capacity(client_count);
    for mut client in clients {
        tasks.push(tokio::spawn(async move {
            let mut recorded = Recorded {
                latencies_us: Vec::new(),
                statements: Vec::new(),
                errors: 0,
                error_examples: Vec::new(),
                last_finish: None,
            };
            loop {
                let began = Instant::now();
                if began >= end {
                    break;
                }
                let sample = client.step().await;
                let finished = Instant::now();
                // Only requests that start inside the window count; the one a client has
                // in flight when the window closes still finishes and counts, so the
                // window is measured to the last finish rather than cut short.
                if began < measure_from {
                    continue;
                }
                let micros =
                    u64::try_from(finished.duration_since(began).as_micros()).unwrap_or(u64::MAX);
                recorded.latencies_us.push((sample.op, micros));
                recorded.statements.push((sample.op, sample.statements));
                if !sample.ok {
                    recorded.errors += 1;
                    if recorded.error_examples.len() < 5
                        && let Some(error) = sample.error
                    {
                        recorded
                            .error_examples
                            .push(format!("{}: {error}", sample.op));
                    }
                }
                recorded.last_finish = Some(finished);
            }
            recorded
        }));
    }
    // Take the CPU readings at the edges of the window.
    tokio::time::sleep_until(measure_from.into()).await;
    let before = crate::cpu::Snapshot::take(server_pid, ticks_per_second);
    tokio::time::sleep_until(end.into()).await;
    let cpu = before.until(&crate::cpu::Snapshot::take(server_pid, ticks_per_second));

    let mut all = Vec::new();
    let mut per_op: BTreeMap<&'static str, (Vec<u64>, BTreeMap<u64, u64>)> = BTreeMap::new();
    let mut errors = 0;
    let mut error_examples = Vec::new();
    let mut last_finish = measure_from;
    for task in tasks {
        let Ok(recorded) = task.await else {
            errors += 1;
            error_examples.push("a client task panicked".to_owned());
            continue;
        };
        errors += recorded.errors;
        for example in recorded.error_examples {
            if error_examples.len() < 5 {
                error_examples.push(example);
            }
        }
        if let Some(finish) = recorded.last_finish {
            last_finish = last_finish.max(finish);
        }
        for (op, micros) in recorded.latencies_us {
            all.push(micros);
            per_op.entry(op).or_default().0.push(micros);
        }
        for (op, statements) in recorded.statements {
            if let Some(n) = statements {
                *per_op.entry(op).or_default().1.entry(n).or_default() += 1;
            }
        }
    }
    let elapsed = last_finish.duration_since(measure_from).as_secs_f64();
    all.sort_unstable();
    let requests = all.len() as u64;
    Run {
        clients: client_count,
        requests,
        elapsed_s: elapsed,
        requests_per_s: if elapsed > 0.0 {
            requests as f64 / elapsed
        } else {
            0.0
        },
        p50_ms: percentile_ms(&all, 50.0),
        p99_ms: percentile_ms(&all, 99.0),
        max_ms: all.last().map_or(0.0, |&us| us as f64 / 1000.0),
        errors,
        error_examples,
        ops: per_op
            .into_iter()
            .map(|(op, (mut latencies, statements))| {
                latencies.sort_unstable();
                (
                    op.to_owned(),
                    OpStats {
                        requests: latencies.len() as u64,
                        p50_ms: percentile_ms(&latencies, 50.0),
                        p99_ms: percentile_ms(&latencies, 99.0),
                        statements,
                    },
                )
            })
            .collect(),
        cpu,
    }
}

/// The `p`th percentile (nearest rank) of sorted microseconds, in ms.
pub fn percentile_ms(sorted_us: &[u64], p: f64) -> f64 {
    if sorted_us.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted_us.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted_us.len()) - 1;
    sorted_us[index] as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::percentile_ms;

    #[test]
    fn nearest_rank_percentiles() {
        let us: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_ms(&us, 50.0), 50.0);
        assert_eq!(percentile_ms(&us, 99.0), 99.0);
        assert_eq!(percentile_ms(&[7000], 99.0), 7.0);
        assert_eq!(percentile_ms(&[], 50.0), 0.0);
    }
}
