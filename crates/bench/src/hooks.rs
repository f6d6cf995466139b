//! Webhooks: how many deliveries a second the server pushes to a fast receiver, and how
//! long an event waits from its commit to its first attempt.
//!
//! A receiver in this process, on loopback, answers every `POST` with 200 at once and
//! records when each arrived and the event's `occurredAt` from the body (taken in the
//! change's transaction, just before its commit; the benchmark and the server share the
//! machine's clock). Each run has a freshly started server with webhooks on and
//! private addresses allowed:
//! - **paced**: one endpoint, notes written at a steady rate for the measured window: the
//!   delay from the change to its first attempt;
//! - **burst**: 1 and 10 endpoints, a backlog of notes written by 8 clients as fast as
//!   they go while the receiver holds the first requests unanswered (so every endpoint's
//!   slots are taken and the backlog waits in the database), then the receiver answers:
//!   deliveries per second from then until every event has reached every endpoint. That
//!   is the worker's own pace, not the pace of the writes that made the backlog.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::inputs::profile_gid;
use crate::load::percentile_ms;
use crate::server::{Server, process_cpu_seconds};

const REGISTER: &str = r#"mutation Hook($url: String!) {
  createWebhookEndpoint(input: { url: $url, kinds: [NOTE_CREATED], description: "benchmark" }) { endpoint { id } }
}"#;

const NOTE: &str = r#"mutation HookNote($profileId: ID!, $body: String!) {
  createNote(input: { profileId: $profileId, body: $body }) { note { id } }
}"#;

/// Clients writing the burst's backlog.
const BURST_WRITERS: usize = 8;
/// How long a run waits for its last deliveries.
const DRAIN: Duration = Duration::from_secs(120);

/// What the webhook runs do.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// Notes in each burst.
    pub burst_events: usize,
    /// The endpoint counts of the bursts.
    pub burst_endpoints: Vec<usize>,
    /// Notes per second in the paced run.
    pub paced_per_s: f64,
    /// The paced run's window, seconds.
    pub duration_s: f64,
}

/// What one run measured.
#[derive(Debug, Clone, Serialize)]
pub struct HooksRun {
    /// `paced` or `burst`.
    pub kind: &'static str,
    /// Endpoints registered.
    pub endpoints: usize,
    /// Notes written.
    pub events: usize,
    /// Deliveries expected: events × endpoints.
    pub expected: usize,
    /// Distinct deliveries that arrived.
    pub delivered: usize,
    /// Arrivals of a delivery that had arrived already (at least once: allowed, counted).
    pub repeats: usize,
    /// Deliveries per second: paced, from the first write to the last arrival; burst, from
    /// the moment the receiver starts answering to the last arrival.
    pub deliveries_per_s: f64,
    /// From the change to its arrival: median, ms (in a burst this includes the time the
    /// backlog was held).
    pub delay_p50_ms: f64,
    /// The same, 99th percentile, ms.
    pub delay_p99_ms: f64,
    /// Server CPU per delivery, ms.
    pub server_cpu_ms_per_delivery: f64,
}

/// One arrival at the receiver.
struct Arrival {
    endpoint: usize,
    webhook_id: String,
    delay_us: u64,
}

type Arrivals = Arc<Mutex<Vec<Arrival>>>;

/// The receiver's state: what arrived, and whether it answers yet.
#[derive(Clone)]
struct Receiving {
    arrivals: Arrivals,
    open: tokio::sync::watch::Receiver<bool>,
}

/// The receiver: 200 for everything once it is open, each arrival recorded.
async fn receive(
    State(Receiving { arrivals, mut open }): State<Receiving>,
    UrlPath(endpoint): UrlPath<usize>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> StatusCode {
    // Closed: hold the request (the server's attempt waits, its slot stays taken).
    let _ = open.wait_for(|open| *open).await;
    let now = Utc::now();
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let occurred = serde_json::from_slice::<Value>(&body).ok().and_then(|v| {
        v["data"]["occurredAt"]
            .as_str()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
    });
    let delay_us = occurred.map_or(0, |at| {
        (now - at.with_timezone(&Utc))
            .num_microseconds()
            .unwrap_or(0)
            .max(0) as u64
    });
    arrivals
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Arrival {
            endpoint,
            webhook_id,
            delay_us,
        });
    StatusCode::OK
}

/// A receiver on a free loopback port, open if `open`: its base URL, what arrives, and
/// the switch that opens it.
async fn receiver(open: bool) -> Result<(String, Arrivals, tokio::sync::watch::Sender<bool>)> {
    let arrivals: Arrivals = Arc::new(Mutex::new(Vec::new()));
    let (switch, open) = tokio::sync::watch::channel(open);
    let app = axum::Router::new()
        .route("/hook/{endpoint}", axum::routing::post(receive))
        .with_state(Receiving {
            arrivals: arrivals.clone(),
            open,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(Error::io("binding the webhook receiver"))?;
    let address = listener
        .local_addr()
        .map_err(Error::io("binding the webhook receiver"))?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{address}"), arrivals, switch))
}

/// The environment a server needs for these runs: webhooks on, loopback allowed.
pub fn server_env() -> Vec<(&'static str, String)> {
    use base64::Engine as _;
    let key: Vec<u8> = Uuid::new_v4()
        .as_bytes()
        .iter()
        .chain(Uuid::new_v4().as_bytes())
        .copied()
        .collect();
    vec![
        (
            "PROFILEGRAPH_WEBHOOK_SECRET_KEY",
            base64::engine::general_purpose::STANDARD.encode(key),
        ),
        ("PROFILEGRAPH_WEBHOOK_ALLOW_PRIVATE", "true".to_owned()),
        // A burst's first attempts wait unanswered while its backlog is written.
        ("PROFILEGRAPH_WEBHOOK_TIMEOUT_SECS", "120".to_owned()),
    ]
}

/// One run against `server` (fresh, with [`server_env`]): register `endpoints`, write
/// `events` notes on `profiles` (paced at `per_s`, or a burst when `None`), and wait for
/// every delivery.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    server: &Server,
    http: &reqwest::Client,
    token: &str,
    profiles: &[Uuid],
    endpoints: usize,
    events: usize,
    per_s: Option<f64>,
    ticks: f64,
) -> Result<HooksRun> {
    let url = format!("{}/graphql", server.base_url);
    let authorization = format!("Bearer {token}");
    let (base, arrivals, switch) = receiver(per_s.is_some()).await?;
    for endpoint in 0..endpoints {
        graphql(
            http,
            &url,
            &authorization,
            REGISTER,
            json!({ "url": format!("{base}/hook/{endpoint}") }),
        )
        .await?;
    }
    let mut cpu_before = process_cpu_seconds(server.pid(), ticks);
    let mut started = Instant::now();
    match per_s {
        Some(per_s) => {
            let mut pace = tokio::time::interval(Duration::from_secs_f64(1.0 / per_s));
            let mut writes = Vec::with_capacity(events);
            for i in 0..events {
                pace.tick().await;
                let (http, url, authorization) = (http.clone(), url.clone(), authorization.clone());
                let profile = profiles[i % profiles.len()];
                writes.push(tokio::spawn(async move {
                    graphql(&http, &url, &authorization, NOTE, note_vars(profile)).await
                }));
            }
            for write in writes {
                write
                    .await
                    .map_err(|e| Error::Setup(format!("a webhook write failed: {e}")))??;
            }
        }
        None => {
            let mut writers = Vec::with_capacity(BURST_WRITERS);
            for w in 0..BURST_WRITERS {
                let (http, url, authorization) = (http.clone(), url.clone(), authorization.clone());
                let share = events / BURST_WRITERS + usize::from(w < events % BURST_WRITERS);
                let mine: Vec<Uuid> = (0..share)
                    .map(|k| profiles[(w + k * BURST_WRITERS) % profiles.len()])
                    .collect();
                writers.push(tokio::spawn(async move {
                    for profile in mine {
                        graphql(&http, &url, &authorization, NOTE, note_vars(profile)).await?;
                    }
                    Ok::<(), Error>(())
                }));
            }
            for writer in writers {
                writer
                    .await
                    .map_err(|e| Error::Setup(format!("a webhook writer failed: {e}")))??;
            }
            // The backlog is written: answer from now on, and count from now.
            cpu_before = process_cpu_seconds(server.pid(), ticks);
            started = Instant::now();
            let _ = switch.send(true);
        }
    }
    let expected = events * endpoints;
    let drained = Instant::now();
    let last_arrival = loop {
        let n = distinct(&arrivals);
        if n >= expected {
            break started.elapsed();
        }
        if drained.elapsed() > DRAIN {
            return Err(Error::Setup(format!(
                "webhooks: {n} of {expected} deliveries after waiting {DRAIN:?}"
            )));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let cpu_after = process_cpu_seconds(server.pid(), ticks);
    let arrivals = std::mem::take(&mut *arrivals.lock().unwrap_or_else(PoisonError::into_inner));
    let mut seen = HashSet::new();
    let mut delays = Vec::with_capacity(arrivals.len());
    let mut repeats = 0;
    for arrival in arrivals {
        if seen.insert((arrival.endpoint, arrival.webhook_id)) {
            delays.push(arrival.delay_us);
        } else {
            repeats += 1;
        }
    }
    delays.sort_unstable();
    let delivered = delays.len();
    Ok(HooksRun {
        kind: if per_s.is_some() { "paced" } else { "burst" },
        endpoints,
        events,
        expected,
        delivered,
        repeats,
        deliveries_per_s: delivered as f64 / last_arrival.as_secs_f64().max(1e-9),
        delay_p50_ms: percentile_ms(&delays, 50.0),
        delay_p99_ms: percentile_ms(&delays, 99.0),
        server_cpu_ms_per_delivery: match (cpu_before, cpu_after) {
            (Some(b), Some(a)) if delivered > 0 => 1000.0 * (a - b) / delivered as f64,
            _ => 0.0,
        },
    })
}

fn note_vars(profile: Uuid) -> Value {
    json!({ "profileId": profile_gid(profile), "body": "webhook benchmark" })
}

/// Distinct deliveries so far.
fn distinct(arrivals: &Arrivals) -> usize {
    let arrivals = arrivals.lock().unwrap_or_else(PoisonError::into_inner);
    arrivals
        .iter()
        .map(|a| (a.endpoint, a.webhook_id.as_str()))
        .collect::<HashSet<_>>()
        .len()
}

async fn graphql(
    http: &reqwest::Client,
    url: &str,
    authorization: &str,
    query: &str,
    variables: Value,
) -> Result<()> {
    let answer: Value = http
        .post(url)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    if answer.get("errors").is_some() {
        return Err(Error::Setup(format!(
            "webhooks: a request failed: {answer}"
        )));
    }
    Ok(())
}
