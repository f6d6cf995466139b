//! The delivery worker every server runs: it derives deliveries from the event log,
//! claims the due ones, sends them, and keeps what came back.
//!
//! It wakes when this server hears of a committed change (after its own mutations, and on
//! PostgreSQL on every instance's `NOTIFY`), and at least every [`POLL`] for retries that
//! came due. At most `--webhook-max-in-flight` attempts run at once, and at most
//! `--webhook-max-in-flight-per-endpoint` to one endpoint, so a slow or dead endpoint
//! only ever holds its own slots: the others' deliveries go on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use profilegraph_store::Db;
use profilegraph_store::webhooks::deliveries::{self, ClaimLimits, Claimed};
use profilegraph_store::webhooks::{Clock, SecretKey};
use tokio::sync::Notify;
use uuid::Uuid;

use super::send::Sender;

/// The longest the worker sleeps without being woken.
pub const POLL: Duration = Duration::from_millis(500);
/// Rounds of deriving in one wake-up, at most (each moves up to 20 endpoints by up to 500
/// events), so claiming is never starved by a large backlog.
const DERIVE_ROUNDS: usize = 10;

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
    tokio::spawn(async move {
        let in_flight = Arc::new(Mutex::new(InFlight::default()));
        loop {
            derive(&db, &settings.clock).await;
            claim_and_send(&db, &settings, &sender, &in_flight, &wake).await;
            tokio::select! {
                () = wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    });
    Ok(())
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
    wake: &Arc<Notify>,
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
        for claimed in claimed {
            {
                let mut now = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
                now.total += 1;
                *now.per_endpoint.entry(claimed.endpoint.id).or_default() += 1;
            }
            let (db, settings, sender) = (db.clone(), settings.clone(), sender.clone());
            let (in_flight, wake) = (in_flight.clone(), wake.clone());
            tokio::spawn(async move {
                deliver(&db, &settings, &sender, &claimed).await;
                {
                    let mut now = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
                    now.total = now.total.saturating_sub(1);
                    if let Some(n) = now.per_endpoint.get_mut(&claimed.endpoint.id) {
                        *n = n.saturating_sub(1);
                        if *n == 0 {
                            now.per_endpoint.remove(&claimed.endpoint.id);
                        }
                    }
                }
                // A slot is free: claim again.
                wake.notify_one();
            });
        }
    }
}

async fn deliver(db: &Db, settings: &WorkerSettings, sender: &Sender, claimed: &Claimed) {
    let attempted_at = settings.clock.now();
    let attempt = sender.attempt(&settings.key, claimed, attempted_at).await;
    let outcome = match attempt.verdict {
        deliveries::Verdict::Delivered => "delivered",
        deliveries::Verdict::Retry { .. } => "retry",
        deliveries::Verdict::Failed => "failed",
    };
    metrics::counter!(crate::metrics::WEBHOOK_ATTEMPTS, "outcome" => outcome).increment(1);
    metrics::histogram!(crate::metrics::WEBHOOK_SECONDS, "outcome" => outcome)
        .record(attempt.duration.as_secs_f64());
    tracing::debug!(
        delivery = %claimed.delivery.id,
        status = ?attempt.http_status,
        error = ?attempt.error,
        "webhook attempt"
    );
    if let Err(err) = deliveries::finish(db, &settings.clock, claimed, attempt).await {
        // The lease runs out and the delivery is tried again: at least once.
        tracing::warn!(error = %err, delivery = %claimed.delivery.id, "cannot keep a webhook attempt");
    }
}
