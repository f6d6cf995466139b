//! The delivery worker every server runs: it derives deliveries from the event log,
//! claims the due ones, sends them, and keeps what came back.
//!
//! It wakes when this server hears of a committed change (after its own mutations, and on
//! PostgreSQL on every instance's `NOTIFY`; at most every [`COMMIT_GAP`] for those), when
//! one of its attempts is done, and at least every [`POLL`] for retries that came due. At
//! most `--webhook-max-in-flight` attempts run at once, and at most
//! `--webhook-max-in-flight-per-endpoint` to one endpoint, so a slow or dead endpoint
//! only ever holds its own slots: the others' deliveries go on.
//!
//! What came back is kept by one recorder task, in batches: whatever attempts finished
//! while the last batch was being written go into the next transaction together, so a
//! busy worker pays one commit per batch, not one per delivery. A slot is free again only
//! once its result is kept, so a delivery is never claimed twice by the same worker.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use profilegraph_store::Db;
use profilegraph_store::webhooks::deliveries::{self, Attempt, ClaimLimits, Claimed};
use profilegraph_store::webhooks::{Clock, SecretKey};
use tokio::sync::{Notify, mpsc};
use uuid::Uuid;

use super::send::Sender;

/// The longest the worker sleeps without being woken.
pub const POLL: Duration = Duration::from_millis(500);
/// The shortest time from one round to the next when a commit wakes the worker. Every
/// write wakes it, and each round asks the database twice (anything to derive? anything
/// due?), so under a stream of writes it would ask after nearly every commit; this way it
/// asks at most every few milliseconds, and a delivery waits at most that much longer.
/// Freed slots wake it at once: a backlog is sent at the worker's own pace.
const COMMIT_GAP: Duration = Duration::from_millis(10);
/// Rounds of deriving in one wake-up, at most (each moves up to 20 endpoints by up to 500
/// events), so claiming is never starved by a large backlog.
const DERIVE_ROUNDS: usize = 10;
/// Results kept in one transaction, at most.
const RECORD_BATCH: usize = 256;

/// What the worker runs with.
#[derive(Clone)]
pub struct WorkerSettings {
    /// The key of the signing secrets.
    pub key: SecretKey,
    /// The clock it schedules by.
    pub clock: Clock,
    /// How long a receiver has to answer.
    pub timeout: Duration,
    /// Whether private addresses and `http` are allowed.
    pub allow_private: bool,
    /// Attempts in flight at once, in all.
    pub max_in_flight: usize,
    /// Attempts in flight at once to one endpoint.
    pub max_in_flight_per_endpoint: usize,
}

/// What is in flight here, per endpoint.
#[derive(Default)]
struct InFlight {
    per_endpoint: HashMap<Uuid, usize>,
    total: usize,
}

/// Run the worker on `db` for as long as the runtime runs; `wake` is notified when new
/// events may have committed.
pub fn spawn(db: Db, settings: WorkerSettings, wake: Arc<Notify>) -> Result<(), reqwest::Error> {
    let sender = Sender::new(settings.timeout, settings.allow_private)?;
    let in_flight = Arc::new(Mutex::new(InFlight::default()));
    // Bounded by the slots: every sent attempt holds one until its result is kept.
    let (results, received) = mpsc::channel(settings.max_in_flight.max(1));
    let freed = Arc::new(Notify::new());
    tokio::spawn(record(
        db.clone(),
        settings.clock.clone(),
        received,
        in_flight.clone(),
        freed.clone(),
    ));
    tokio::spawn(async move {
        loop {
            let round = tokio::time::Instant::now();
            derive(&db, &settings.clock).await;
            claim_and_send(&db, &settings, &sender, &in_flight, &results).await;
            tokio::select! {
                () = freed.notified() => {}
                () = wake.notified() => {
                    tokio::select! {
                        () = freed.notified() => {}
                        () = tokio::time::sleep_until(round + COMMIT_GAP) => {}
                    }
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Ok(())
}

/// Keep the results of finished attempts, in batches, then free their slots and wake the
/// worker to claim again (`freed`).
async fn record(
    db: Db,
    clock: Clock,
    mut received: mpsc::Receiver<(Claimed, Attempt)>,
    in_flight: Arc<Mutex<InFlight>>,
    freed: Arc<Notify>,
) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while received.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        if let Err(err) = deliveries::finish_all(&db, &clock, &batch).await {
            // The leases run out and the deliveries are tried again: at least once.
            tracing::warn!(error = %err, attempts = batch.len(), "cannot keep webhook attempts");
        }
        {
            let mut now = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            for (claimed, _) in &batch {
                now.total = now.total.saturating_sub(1);
                if let Some(n) = now.per_endpoint.get_mut(&claimed.endpoint.id) {
                    *n = n.saturating_sub(1);
                    if *n == 0 {
                        now.per_endpoint.remove(&claimed.endpoint.id);
                    }
                }
            }
        }
        batch.clear();
        // Slots are free: claim again.
        freed.notify_one();
    }
}

async fn derive(db: &Db, clock: &Clock) {
    for _ in 0..DERIVE_ROUNDS {
        match deliveries::derive(db, clock).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(err) => {
                tracing::warn!(error = %err, "cannot make webhook deliveries");
                return;
            }
        }
    }
}

async fn claim_and_send(
    db: &Db,
    settings: &WorkerSettings,
    sender: &Sender,
    in_flight: &Arc<Mutex<InFlight>>,
    results: &mpsc::Sender<(Claimed, Attempt)>,
) {
    loop {
        let (free, snapshot) = {
            let now = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
            (
                settings.max_in_flight.saturating_sub(now.total),
                now.per_endpoint.clone(),
            )
        };
        if free == 0 {
            return;
        }
        let limits = ClaimLimits {
            total: free,
            per_endpoint: settings.max_in_flight_per_endpoint.max(1),
            // Long enough for the attempt and for keeping its result.
            lease: settings.timeout + Duration::from_secs(10),
        };
        let claimed = match deliveries::claim(db, &settings.clock, &limits, &snapshot).await {
            Ok(claimed) if claimed.is_empty() => return,
            Ok(claimed) => claimed,
            Err(err) => {
                tracing::warn!(error = %err, "cannot claim webhook deliveries");
                return;
            }
        };
        // Fewer than the free slots: nothing more is due, or what is due is to endpoints
        // at their limit. Don't ask again before a slot frees up.
        let all_taken = claimed.len() < free;
        for claimed in claimed {
            {
                let mut now = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
                now.total += 1;
                *now.per_endpoint.entry(claimed.endpoint.id).or_default() += 1;
            }
            let (settings, sender, results) = (settings.clone(), sender.clone(), results.clone());
            tokio::spawn(async move {
                let attempted_at = settings.clock.now();
                let attempt = sender.attempt(&settings.key, &claimed, attempted_at).await;
                let outcome = match attempt.verdict {
                    deliveries::Verdict::Delivered => "delivered",
                    deliveries::Verdict::Retry { .. } => "retry",
                    deliveries::Verdict::Failed => "failed",
                };
                metrics::counter!(crate::metrics::WEBHOOK_ATTEMPTS, "outcome" => outcome)
                    .increment(1);
                metrics::histogram!(crate::metrics::WEBHOOK_SECONDS, "outcome" => outcome)
                    .record(attempt.duration.as_secs_f64());
                tracing::debug!(
                    delivery = %claimed.delivery.id,
                    status = ?attempt.http_status,
                    error = ?attempt.error,
                    "webhook attempt"
                );
                // The recorder only stops with the runtime; then the lease runs out and
                // the delivery is tried again.
                let _ = results.send((claimed, attempt)).await;
            });
        }
        if all_taken {
            return;
        }
    }
}
