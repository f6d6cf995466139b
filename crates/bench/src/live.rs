//! Live events: what open subscriptions cost the server, and how fast a change reaches
//! them.
//!
//! On a freshly started server (so its memory holds no earlier shape's buffers) it:
//! 1. measures the resident memory, opens `sockets` WebSockets (`graphql-transport-ws`,
//!    each initialised with the token and acknowledged, none subscribed yet), and
//!    measures it again: what idle sockets cost;
//! 2. subscribes every socket to `workspaceEvents`, and waits until one probe note has
//!    reached all of them;
//! 3. writes notes at `writes_per_s`, each on a profile of its own, for the measured
//!    window, and records for every delivery the time from the event's `occurredAt`
//!    (taken in the change's transaction, just before its commit) to its arrival here.
//!
//! Every socket subscribes to the whole workspace, so each write fans out to all of them:
//! the heaviest load a number of subscribers can put on one server. The benchmark and
//! the server share the machine's clock, so the two ends of a latency are comparable.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures_util::{SinkExt, StreamExt};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::inputs::profile_gid;
use crate::load::percentile_ms;
use crate::server::{Server, process_cpu_seconds};

/// The subscription every socket runs: the fields of the event itself.
pub const SUBSCRIPTION: &str = "subscription Live { workspaceEvents(kinds: [NOTE_CREATED]) { seq kind profileId occurredAt changes } }";

/// The write: a note, whose event goes to every subscriber.
const NOTE: &str = r#"mutation LiveNote($profileId: ID!, $body: String!) {
  createNote(input: { profileId: $profileId, body: $body }) { note { id } }
}"#;

/// Sockets connecting at once while they are opened.
const CONNECTING_AT_ONCE: usize = 50;
/// How long the run waits for the last writes' deliveries after the window.
const GRACE: Duration = Duration::from_secs(3);

/// What a live run does.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Plan {
    /// Open sockets, each with one subscription.
    pub sockets: usize,
    /// Writes per second during the window.
    pub writes_per_s: f64,
    /// The measured window, seconds.
    pub duration_s: f64,
}

/// What a live run measured.
#[derive(Debug, Clone, Serialize)]
pub struct LiveReport {
    /// What was asked for.
    pub plan: Plan,
    /// The server's resident memory before any socket opened, MiB.
    pub rss_without_mib: f64,
    /// With every socket open and initialised, none subscribed, MiB.
    pub rss_idle_mib: f64,
    /// With every socket subscribed, after the probe reached them, MiB.
    pub rss_subscribed_mib: f64,
    /// `rss_idle_mib - rss_without_mib`.
    pub idle_sockets_extra_mib: f64,
    /// Writes sent in the window.
    pub writes: usize,
    /// Writes that failed (non-200 or a GraphQL error).
    pub write_errors: usize,
    /// Median time of a write, ms.
    pub write_p50_ms: f64,
    /// Deliveries of the window's writes that arrived.
    pub deliveries: usize,
    /// Deliveries expected: successful writes × sockets.
    pub expected_deliveries: usize,
    /// From the event's `occurredAt` to its arrival at a subscriber: median, ms.
    pub delivery_p50_ms: f64,
    /// The same, 99th percentile, ms.
    pub delivery_p99_ms: f64,
    /// The same, the slowest, ms.
    pub delivery_max_ms: f64,
    /// Sockets the server closed during the run (each a subscriber it gave up on).
    pub sockets_closed: usize,
    /// Server CPU per write during the window (its fan-out included), ms.
    pub server_cpu_ms_per_write: f64,
}

/// One socket's end of the run.
struct Received {
    /// Arrival minus `occurredAt`, µs, of the window's writes.
    latencies: Vec<u64>,
    /// Whether the server closed the socket before the end.
    closed: bool,
}

/// Run the live measurement against `server` with `token`, writing on `profiles` (one per
/// write; the plan needs `writes_per_s × duration + 1` of them).
pub async fn measure(
    server: &Server,
    http: &reqwest::Client,
    token: &str,
    profiles: &[Uuid],
    plan: Plan,
    ticks: f64,
) -> Result<LiveReport> {
    let url = format!("{}/graphql", server.base_url);
    let authorization = format!("Bearer {token}");
    let writes = (plan.writes_per_s * plan.duration_s).round() as usize;
    if profiles.len() < writes + 1 {
        return Err(Error::Setup(format!(
            "the live run needs {} profiles, the data has {}",
            writes + 1,
            profiles.len()
        )));
    }
    // Warm the write path, so the first measured writes aren't the server's first.
    for profile in profiles.iter().rev().take(10) {
        note(http, &url, &authorization, *profile, "warm-up").await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_without_mib = server.memory()?.rss_mib;

    // 1. Idle sockets.
    let ws_url = url.replacen("http://", "ws://", 1);
    let (subscribe_tx, subscribe_rx) = watch::channel(false);
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = mpsc::channel::<std::result::Result<(), String>>(plan.sockets);
    let probed = Arc::new(AtomicUsize::new(0));
    let measured: Arc<HashSet<String>> = Arc::new(
        profiles[1..=writes]
            .iter()
            .map(|id| profile_gid(*id))
            .collect(),
    );
    let probe = profile_gid(profiles[0]);
    let connecting = Arc::new(Semaphore::new(CONNECTING_AT_ONCE));
    let mut tasks = Vec::with_capacity(plan.sockets);
    for _ in 0..plan.sockets {
        tasks.push(tokio::spawn(subscriber(Subscriber {
            url: ws_url.clone(),
            authorization: authorization.clone(),
            connecting: connecting.clone(),
            ready: ready_tx.clone(),
            subscribe: subscribe_rx.clone(),
            stop: stop_rx.clone(),
            probe: probe.clone(),
            probed: probed.clone(),
            measured: measured.clone(),
        })));
    }
    drop(ready_tx);
    for _ in 0..plan.sockets {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(err)) => return Err(Error::Setup(format!("a live socket failed: {err}"))),
            None => return Err(Error::Setup("the live sockets ended early".into())),
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_mib = server.memory()?.rss_mib;

    // 2. Subscribed, and a probe through all of them.
    let _ = subscribe_tx.send(true);
    let started = Instant::now();
    loop {
        // A subscription starts listening once the server has run its `subscribe`; the
        // probe is written again until every socket has had it (only its first arrival
        // on each socket counts).
        note(http, &url, &authorization, profiles[0], "probe").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if probed.load(Ordering::Relaxed) >= plan.sockets {
            break;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(Error::Setup(format!(
                "after 30 s the probe had reached {} of {} subscribers",
                probed.load(Ordering::Relaxed),
                plan.sockets
            )));
        }
    }
    let rss_subscribed_mib = server.memory()?.rss_mib;

    // 3. The window: writes at a steady pace, each on its own profile.
    let cpu_before = process_cpu_seconds(server.pid(), ticks);
    let every = Duration::from_secs_f64(1.0 / plan.writes_per_s);
    let mut pace = tokio::time::interval(every);
    pace.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut writers = Vec::with_capacity(writes);
    for profile in &profiles[1..=writes] {
        pace.tick().await;
        let (http, url, authorization, profile) =
            (http.clone(), url.clone(), authorization.clone(), *profile);
        writers.push(tokio::spawn(async move {
            let sent = Instant::now();
            let ok = note(&http, &url, &authorization, profile, "live")
                .await
                .is_ok();
            (ok, sent.elapsed())
        }));
    }
    let mut write_us = Vec::with_capacity(writes);
    let mut write_errors = 0;
    for writer in writers {
        match writer.await {
            Ok((true, took)) => write_us.push(took.as_micros() as u64),
            _ => write_errors += 1,
        }
    }
    tokio::time::sleep(GRACE).await;
    let cpu_after = process_cpu_seconds(server.pid(), ticks);
    let _ = stop_tx.send(true);

    let mut latencies = Vec::new();
    let mut sockets_closed = 0;
    for task in tasks {
        let received = task
            .await
            .map_err(|e| Error::Setup(format!("a live socket's task failed: {e}")))?;
        sockets_closed += usize::from(received.closed);
        latencies.extend(received.latencies);
    }
    latencies.sort_unstable();
    write_us.sort_unstable();
    let ok_writes = writes - write_errors;
    let server_cpu_ms_per_write = match (cpu_before, cpu_after) {
        (Some(before), Some(after)) if ok_writes > 0 => {
            1000.0 * (after - before) / ok_writes as f64
        }
        _ => 0.0,
    };
    Ok(LiveReport {
        plan,
        rss_without_mib,
        rss_idle_mib,
        rss_subscribed_mib,
        idle_sockets_extra_mib: rss_idle_mib - rss_without_mib,
        writes,
        write_errors,
        write_p50_ms: percentile_ms(&write_us, 50.0),
        deliveries: latencies.len(),
        expected_deliveries: ok_writes * plan.sockets,
        delivery_p50_ms: percentile_ms(&latencies, 50.0),
        delivery_p99_ms: percentile_ms(&latencies, 99.0),
        delivery_max_ms: latencies.last().map_or(0.0, |us| *us as f64 / 1000.0),
        sockets_closed,
        server_cpu_ms_per_write,
    })
}

/// Write a note on `profile`.
async fn note(
    http: &reqwest::Client,
    url: &str,
    authorization: &str,
    profile: Uuid,
    body: &str,
) -> Result<()> {
    let answer: Value = http
        .post(url)
        .header(reqwest::header::AUTHORIZATION, authorization)
        .json(&json!({ "query": NOTE, "variables": { "profileId": profile_gid(profile), "body": body } }))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    if answer.get("errors").is_some() {
        return Err(Error::Setup(format!("a live write failed: {answer}")));
    }
    Ok(())
}

/// What one subscriber task needs.
struct Subscriber {
    url: String,
    authorization: String,
    connecting: Arc<Semaphore>,
    ready: mpsc::Sender<std::result::Result<(), String>>,
    subscribe: watch::Receiver<bool>,
    stop: watch::Receiver<bool>,
    probe: String,
    probed: Arc<AtomicUsize>,
    measured: Arc<HashSet<String>>,
}

/// One socket: open and initialise it, subscribe when told, and record arrivals until
/// told to stop.
async fn subscriber(mut s: Subscriber) -> Received {
    let mut received = Received {
        latencies: Vec::new(),
        closed: false,
    };
    let permit = s.connecting.clone().acquire_owned().await;
    let socket = match open(&s.url, &s.authorization).await {
        Ok(socket) => socket,
        Err(err) => {
            let _ = s.ready.send(Err(err)).await;
            return received;
        }
    };
    drop(permit);
    let _ = s.ready.send(Ok(())).await;
    let (mut sink, mut stream) = socket.split();
    until(&mut s.subscribe).await;
    let subscribe = json!({
        "id": "live",
        "type": "subscribe",
        "payload": { "query": SUBSCRIPTION },
    });
    if sink
        .send(Message::Text(subscribe.to_string().into()))
        .await
        .is_err()
    {
        received.closed = true;
        return received;
    }
    let mut probed = false;
    loop {
        tokio::select! {
            () = until(&mut s.stop) => break,
            message = stream.next() => {
                let arrived = Utc::now();
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | Some(Err(_)) | None => {
                        received.closed = true;
                        break;
                    }
                    Some(Ok(_)) => continue,
                };
                let Ok(message) = serde_json::from_str::<Value>(&text) else { continue };
                match message["type"].as_str() {
                    Some("ping") => {
                        let pong = json!({ "type": "pong" }).to_string();
                        let _ = sink.send(Message::Text(pong.into())).await;
                    }
                    Some("next") => {
                        let event = &message["payload"]["data"]["workspaceEvents"];
                        let Some(profile) = event["profileId"].as_str() else { continue };
                        if profile == s.probe {
                            if !probed {
                                probed = true;
                                s.probed.fetch_add(1, Ordering::Relaxed);
                            }
                        } else if s.measured.contains(profile)
                            && let Some(at) = event["occurredAt"]
                                .as_str()
                                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                        {
                            let us = (arrived - at.with_timezone(&Utc))
                                .num_microseconds()
                                .unwrap_or(0)
                                .max(0) as u64;
                            received.latencies.push(us);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    received
}

/// Wait until `flag` is set (or its sender is gone).
async fn until(flag: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns isn't `Send`: it is dropped here, before the caller's
    // next await.
    let _ = flag.wait_for(|set| *set).await;
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A socket on `url`, initialised with `authorization` and acknowledged.
async fn open(url: &str, authorization: &str) -> std::result::Result<Socket, String> {
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| e.to_string())?;
    let init = json!({ "type": "connection_init", "payload": { "Authorization": authorization } });
    socket
        .send(Message::Text(init.to_string().into()))
        .await
        .map_err(|e| e.to_string())?;
    let ack = tokio::time::timeout(Duration::from_secs(30), socket.next())
        .await
        .map_err(|_| "no connection_ack within 30 s".to_owned())?;
    match ack {
        Some(Ok(Message::Text(text))) if text.contains("connection_ack") => Ok(socket),
        other => Err(format!("expected connection_ack, got {other:?}")),
    }
}
