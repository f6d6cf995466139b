//! How an import's rows reach the store: in batches, and on PostgreSQL several batches
//! side by side.
//!
//! One row at a time, a row is its own transaction of about ten statements, each waiting
//! for the database's answer before the next is sent: the import spends its time on round
//! trips. So rows go in **batches** of up to [`BATCH`] rows, each through
//! [`upsert::upsert_many_in`], which makes the new profiles of a batch in one statement
//! per table. A batch is one transaction (or, when the whole import is one, a savepoint):
//! should any of its rows be refused, it is rolled back and its rows are brought in one by
//! one, each in a transaction (or savepoint) of its own, so that a bad row is reported
//! with its line and the others go in. Never half a profile either way.
//!
//! With `--on-error skip` on PostgreSQL, up to [`IN_FLIGHT`] batches run at once, each on
//! a connection of its own. What stays as it was one row after the other:
//! - **Rows that could depend on each other never run side by side, nor in one batch**:
//!   rows that share an external id, a contact (channel and identifier), or, for rows with
//!   neither, a name (a bare profile is matched by its name). Such a row starts a new
//!   batch, which waits until the batch with the earlier row is done.
//! - **Reports come in file order**: results are taken in the order the rows were read,
//!   and a row refused before it reaches the store waits for the rows before it.
//! - **Profiles keep the file's order**: a profile a row makes is created at the import's
//!   start plus its line number in microseconds, so lists ordered by creation (and the
//!   next export) show them as the file has them, whichever batch committed first.
//!
//! - **The planner keeps up**: on PostgreSQL, once [`ANALYZE_FIRST`] rows went in, then
//!   each time the workspace has grown fourfold since, and once more at the end, the
//!   import refreshes the statistics of the profiles and contacts
//!   ([`profilegraph_store::bulk::refresh_statistics`]), so that its own look-ups (and the
//!   next import's) are planned for the workspace as it is now, not as it was when it was
//!   empty. (An import that is one transaction refreshes them once, after its commit.)
//!
//! SQLite has one writer at a time, and an import that is one transaction has one
//! connection: there the batches go one after another.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use profilegraph_store::upsert::{self, Outcome, Upsert};
use profilegraph_store::{Db, StoreError, WriteTxn};
use sea_orm::prelude::DateTimeWithTimeZone;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::import::{Failure, Labels, Summary};

/// Batches in flight at once on PostgreSQL, at most.
pub const IN_FLIGHT: usize = 8;

/// Rows per batch, at most.
pub const BATCH: usize = 100;

/// Rows written before the first refresh of the statistics.
pub const ANALYZE_FIRST: u64 = 1_000;

/// What ties a row to the rows around it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    External(String),
    Contact(Uuid, String),
    Name(String),
}

fn keys(upsert: &Upsert) -> Vec<Key> {
    let mut keys: Vec<Key> = upsert
        .contacts
        .iter()
        .map(|c| Key::Contact(c.channel_id, c.identifier.as_str().to_owned()))
        .collect();
    match (&upsert.external_id, &upsert.name) {
        (Some(external_id), _) => keys.push(Key::External(external_id.as_str().to_owned())),
        (None, Some(name)) if keys.is_empty() => keys.push(Key::Name(name.as_str().to_owned())),
        _ => {}
    }
    keys
}

/// Rows gathered for one batch, and the keys they hold.
#[derive(Default)]
struct Batch {
    rows: Vec<(u64, Upsert)>,
    keys: HashSet<Key>,
}

/// One batch on its way: its lines, its keys, and its task.
struct Running {
    lines: Vec<u64>,
    keys: Vec<Key>,
    task: JoinHandle<Vec<Result<Outcome, Failure>>>,
}

/// Where the batches are written.
#[derive(Clone)]
struct Target {
    db: Db,
    workspace_id: Uuid,
    labels: Arc<Labels>,
    /// The one transaction of an import that is one (`--on-error abort`, `--dry-run`).
    outer: Option<Arc<WriteTxn>>,
}

/// The batch being gathered and the batches in flight, in file order.
pub struct Pipeline {
    target: Target,
    started: DateTimeWithTimeZone,
    limit: usize,
    gathering: Batch,
    running: VecDeque<Running>,
    keys: HashMap<Key, usize>,
    /// Rows created or updated when the statistics were last refreshed.
    analyzed_at: u64,
}

impl Pipeline {
    /// Batches into `workspace_id`, up to `limit` at once; inside `outer` when the import
    /// is one transaction (then one at a time).
    pub fn new(
        db: &Db,
        workspace_id: Uuid,
        labels: Arc<Labels>,
        outer: Option<Arc<WriteTxn>>,
        limit: usize,
    ) -> Self {
        let limit = if outer.is_some() { 1 } else { limit.max(1) };
        Pipeline {
            target: Target {
                db: db.clone(),
                workspace_id,
                labels,
                outer,
            },
            started: profilegraph_store::now(),
            limit,
            gathering: Batch::default(),
            running: VecDeque::new(),
            keys: HashMap::new(),
            analyzed_at: 0,
        }
    }

    /// Add `upsert` (of the row at `line`) to the batch being gathered, sending that batch
    /// off first when it is full or holds a row this one could depend on.
    pub async fn push(
        &mut self,
        line: u64,
        mut upsert: Upsert,
        summary: &mut Summary,
        fail: &mut impl FnMut(&mut Summary, Failure),
    ) {
        let keys = keys(&upsert);
        let offset = chrono::Duration::microseconds(i64::try_from(line).unwrap_or(i64::MAX));
        upsert.created_at = self.started.checked_add_signed(offset);
        if self.gathering.rows.len() >= BATCH
            || keys.iter().any(|k| self.gathering.keys.contains(k))
        {
            self.send(summary, fail).await;
        }
        self.gathering.keys.extend(keys);
        self.gathering.rows.push((line, upsert));
    }

    /// Send the batch being gathered, and wait for every batch in flight, counting and
    /// reporting each row in file order.
    pub async fn drain(
        &mut self,
        summary: &mut Summary,
        fail: &mut impl FnMut(&mut Summary, Failure),
    ) {
        self.send(summary, fail).await;
        while !self.running.is_empty() {
            self.finish_one(summary, fail).await;
        }
    }

    /// At the import's end, after the last [`Pipeline::drain`]: refresh the statistics if
    /// many rows went in since they were last refreshed, for whatever reads next.
    pub async fn end(mut self, summary: &Summary) {
        let written = summary.created + summary.updated;
        if written - self.analyzed_at >= ANALYZE_FIRST {
            self.refresh_statistics(written).await;
        }
    }

    /// Refresh the statistics, `written` rows in (see the module docs). Each refresh costs
    /// a few hundred milliseconds at M size; a plan made for an empty workspace costs some
    /// 20 ms per look-up once it is full. Not inside an import that is one transaction:
    /// its rows are not there for anyone else until it commits.
    async fn refresh_statistics(&mut self, written: u64) {
        if self.target.outer.is_some() {
            return;
        }
        self.analyzed_at = written;
        if let Err(err) = profilegraph_store::bulk::refresh_statistics(&self.target.db).await {
            // The import goes on as it would have without: only its planning suffers.
            tracing::warn!(error = %err, "cannot refresh the statistics during an import");
        }
    }

    /// Start the batch being gathered, once a place is free and no batch in flight shares
    /// a key with it.
    async fn send(&mut self, summary: &mut Summary, fail: &mut impl FnMut(&mut Summary, Failure)) {
        let Batch { rows, keys } = std::mem::take(&mut self.gathering);
        if rows.is_empty() {
            return;
        }
        while self.running.len() >= self.limit || keys.iter().any(|k| self.keys.contains_key(k)) {
            self.finish_one(summary, fail).await;
        }
        for key in &keys {
            *self.keys.entry(key.clone()).or_default() += 1;
        }
        let lines = rows.iter().map(|(line, _)| *line).collect();
        let target = self.target.clone();
        // Its statements count towards the import's, when someone counts them.
        let counter = profilegraph_store::stats::current();
        let task = tokio::spawn(profilegraph_store::stats::scope(counter, async move {
            target.apply(rows).await
        }));
        self.running.push_back(Running {
            lines,
            keys: keys.into_iter().collect(),
            task,
        });
    }

    async fn finish_one(
        &mut self,
        summary: &mut Summary,
        fail: &mut impl FnMut(&mut Summary, Failure),
    ) {
        let Some(Running { lines, keys, task }) = self.running.pop_front() else {
            return;
        };
        for key in keys {
            if let Some(n) = self.keys.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.keys.remove(&key);
                }
            }
        }
        let results = task.await.unwrap_or_else(|err| {
            tracing::error!(error = %err, first_line = lines.first(), "an import batch's task failed");
            lines
                .iter()
                .map(|&line| {
                    Err(Failure {
                        line,
                        column: None,
                        reason: "internal error".into(),
                    })
                })
                .collect()
        });
        for result in results {
            match result {
                Ok(Outcome::Created) => summary.created += 1,
                Ok(Outcome::Updated) => summary.updated += 1,
                Ok(Outcome::Unchanged) => summary.unchanged += 1,
                Err(failure) => fail(summary, failure),
            }
        }
        let written = summary.created + summary.updated;
        if written >= ANALYZE_FIRST.max(self.analyzed_at * 4) {
            self.refresh_statistics(written).await;
        }
    }
}

impl Target {
    /// Bring a batch in: all of it in one transaction (or savepoint), else, when that is
    /// refused, row by row.
    async fn apply(&self, rows: Vec<(u64, Upsert)>) -> Vec<Result<Outcome, Failure>> {
        if rows.len() > 1 {
            let upserts = rows.iter().map(|(_, u)| u.clone()).collect();
            if let Ok(done) = self.all_at_once(upserts).await {
                return done.into_iter().map(|d| Ok(d.outcome)).collect();
            }
        }
        let mut results = Vec::with_capacity(rows.len());
        for (line, upsert) in rows {
            results.push(
                self.one(upsert)
                    .await
                    .map_err(|err| self.labels.failure(line, err)),
            );
        }
        results
    }

    async fn all_at_once(&self, upserts: Vec<Upsert>) -> Result<Vec<upsert::Upserted>, StoreError> {
        let (db, id) = (&self.db, self.workspace_id);
        match &self.outer {
            Some(outer) => {
                let savepoint = outer.begin().await?;
                let done = upsert::upsert_many_in(&savepoint, db, id, upserts).await?;
                savepoint.commit().await?;
                Ok(done)
            }
            None => {
                let txn = db.begin_write().await?;
                let done = upsert::upsert_many_in(&txn, db, id, upserts).await?;
                txn.commit().await?;
                Ok(done)
            }
        }
    }

    async fn one(&self, upsert: Upsert) -> Result<Outcome, StoreError> {
        let (db, id) = (&self.db, self.workspace_id);
        let done = match &self.outer {
            Some(outer) => {
                let savepoint = outer.begin().await?;
                let done = upsert::upsert_in(&savepoint, db, id, upsert).await?;
                savepoint.commit().await?;
                done
            }
            None => {
                let txn = db.begin_write().await?;
                let done = upsert::upsert_in(&txn, db, id, upsert).await?;
                txn.commit().await?;
                done
            }
        };
        Ok(done.outcome)
    }
}
