//! Rows of an import brought in side by side, for `--on-error skip` on PostgreSQL.
//!
//! Each row is its own transaction of about ten statements, and each statement waits for
//! the database's answer before the next is sent: one row after another, the import spends
//! its time waiting on round trips while the database is mostly idle. So up to
//! [`IN_FLIGHT`] rows run at once, each in a transaction of its own on its own connection.
//!
//! What stays as it was one row after the other:
//! - **Rows that could depend on each other never run side by side**: rows that share an
//!   external id, a contact (channel and identifier), or, for rows with neither, a name (a
//!   bare profile is matched by its name). Such a row waits until the earlier one is done.
//! - **Reports come in file order**: results are taken in the order the rows were read,
//!   and a row refused before it reaches the store waits for the rows before it.
//! - **Profiles keep the file's order**: a profile a row makes is created at the import's
//!   start plus its line number in microseconds, so lists ordered by creation (and the
//!   next export) show them as the file has them, whichever row committed first.
//!
//! SQLite has one writer at a time, so there the rows go one by one (a pipeline of one).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use profilegraph_store::Db;
use profilegraph_store::upsert::{Outcome, Upsert};
use sea_orm::prelude::DateTimeWithTimeZone;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::import::{Failure, Labels, Summary, apply_alone};

/// Rows in flight at once on PostgreSQL, at most.
pub const IN_FLIGHT: usize = 8;

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

/// One row on its way: its line, its keys, and its task.
struct Running {
    line: u64,
    keys: Vec<Key>,
    task: JoinHandle<Result<Outcome, Failure>>,
}

/// The rows in flight, in file order.
pub struct Pipeline {
    db: Db,
    started: DateTimeWithTimeZone,
    workspace_id: Uuid,
    labels: Arc<Labels>,
    limit: usize,
    running: VecDeque<Running>,
    keys: HashMap<Key, usize>,
}

impl Pipeline {
    /// Up to `limit` rows at once into `workspace_id`.
    pub fn new(db: &Db, workspace_id: Uuid, labels: Arc<Labels>, limit: usize) -> Self {
        Pipeline {
            db: db.clone(),
            started: profilegraph_store::now(),
            workspace_id,
            labels,
            limit: limit.max(1),
            running: VecDeque::new(),
            keys: HashMap::new(),
        }
    }

    /// Start `upsert` (of the row at `line`), once a place is free and no row in flight
    /// shares a key with it.
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
        while self.running.len() >= self.limit || keys.iter().any(|k| self.keys.contains_key(k)) {
            self.finish_one(summary, fail).await;
        }
        for key in &keys {
            *self.keys.entry(key.clone()).or_default() += 1;
        }
        let (db, workspace_id, labels) = (self.db.clone(), self.workspace_id, self.labels.clone());
        let task =
            tokio::spawn(
                async move { apply_alone(&db, workspace_id, &labels, line, upsert).await },
            );
        self.running.push_back(Running { line, keys, task });
    }

    /// Wait for every row in flight, counting and reporting each in file order.
    pub async fn drain(
        &mut self,
        summary: &mut Summary,
        fail: &mut impl FnMut(&mut Summary, Failure),
    ) {
        while !self.running.is_empty() {
            self.finish_one(summary, fail).await;
        }
    }

    async fn finish_one(
        &mut self,
        summary: &mut Summary,
        fail: &mut impl FnMut(&mut Summary, Failure),
    ) {
        let Some(Running { line, keys, task }) = self.running.pop_front() else {
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
        let result = task.await.unwrap_or_else(|err| {
            tracing::error!(error = %err, line, "an import row's task failed");
            Err(Failure {
                line,
                column: None,
                reason: "internal error".into(),
            })
        });
        match result {
            Ok(Outcome::Created) => summary.created += 1,
            Ok(Outcome::Updated) => summary.updated += 1,
            Ok(Outcome::Unchanged) => summary.unchanged += 1,
            Err(failure) => fail(summary, failure),
        }
    }
}
