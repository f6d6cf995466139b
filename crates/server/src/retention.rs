//! Pruning the profile event log: events older than `--event-retention-days` go, in
//! batches of a few hundred rows with a pause between them, so pruning never holds one
//! long statement (or its locks) against the writers.

use std::time::Duration;

use profilegraph_store::{Db, Result, events};

/// Rows per batch.
const BATCH: u64 = 500;
/// The pause between two batches.
const PAUSE: Duration = Duration::from_millis(50);
/// How often the log is pruned.
const EVERY: Duration = Duration::from_secs(60 * 60);

/// Prune now and then every hour, in the background, for as long as the server runs.
pub fn spawn(db: Db, retention_days: u32) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        loop {
            tick.tick().await;
            match prune_once(&db, retention_days).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(events = n, "pruned old profile events"),
                Err(err) => tracing::warn!(error = %err, "cannot prune profile events"),
            }
        }
    });
}

/// Delete every event older than `retention_days`, batch by batch; returns how many.
pub async fn prune_once(db: &Db, retention_days: u32) -> Result<u64> {
    let before = profilegraph_store::now() - chrono::Duration::days(i64::from(retention_days));
    let mut total = 0;
    loop {
        let n = events::prune(db, before, BATCH).await?;
        total += n;
        if n < BATCH {
            return Ok(total);
        }
        tokio::time::sleep(PAUSE).await;
    }
}
