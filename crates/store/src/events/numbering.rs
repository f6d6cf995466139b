//! Numbering events after their commit (PostgreSQL).
//!
//! A change stores its events where they wait for their number and takes no lock (see
//! the migrations `m20261211_000010_event_numbering` and `m20261213_000012_events_pending`),
//! so the commits of one workspace flush together instead of one after the other. The
//! events get their final `seq`s from [`number`], one short transaction per workspace
//! that moves everything that committed since the last numbering into the log, numbered,
//! and announces it with `NOTIFY`.
//!
//! In the server, a [`Numbering`] runs those: a request that recorded events tells it
//! after its commit ([`Numbering::signal`]), and one task numbers every workspace it was
//! told of, as a batch: while one numbering runs, and for at least [`GAP`] from its
//! start, the next batch gathers. Every second it also numbers whatever another process
//! left pending (a command-line import, a server that stopped between a commit and
//! its numbering).
//!
//! A reader of this process sees its own writes: the feed and histories wait for the
//! numbering of a workspace this process was told of ([`Numbering::settled`]) before they
//! read. Another server instance sees them once numbered, a few milliseconds later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use crate::Db;
use crate::error::Result;

/// The PostgreSQL function that numbers a workspace's committed pending events (made by
/// the migration `m20261213_000012_events_pending`).
const NUMBER: &str = "profile_events_number";
/// Events numbered per transaction: a large import is numbered in several short ones.
const BATCH: i32 = 5_000;
/// How often everything left pending is numbered, whoever wrote it.
const SWEEP: Duration = Duration::from_secs(1);
/// The shortest time from one round's start to the next. A numbering is a transaction
/// of its own (a function call, a commit, a `NOTIFY`); under a stream of writes, rounds
/// back to back numbered one or two changes each, which cost PostgreSQL about as much as
/// the changes' own events. Waiting this long gathers several per round; the first
/// write after a quiet spell is still numbered at once.
const GAP: Duration = Duration::from_millis(5);
/// How long a reader waits for a numbering before it reads anyway (the database is
/// failing; what isn't numbered yet is simply not there yet).
const SETTLE_LIMIT: Duration = Duration::from_secs(2);

/// Number `workspace_id`'s committed pending events, in the order they were written;
/// returns how many. Runs on the pool as the owning role, in transactions of its own. A
/// no-op on SQLite, where a change numbers its own events.
pub async fn number(db: &Db, workspace_id: Uuid) -> Result<u64> {
    let backend = db.conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(0);
    }
    let mut total = 0;
    loop {
        let statement = Statement::from_sql_and_values(
            backend,
            format!("SELECT {NUMBER}($1, $2) AS numbered"),
            [workspace_id.into(), BATCH.into()],
        );
        let numbered: i64 = match db.conn.query_one_raw(statement).await? {
            Some(row) => row.try_get("", "numbered")?,
            None => 0,
        };
        total += u64::try_from(numbered).unwrap_or(0);
        if numbered < i64::from(BATCH) {
            return Ok(total);
        }
    }
}

/// Number every workspace's committed pending events; returns how many.
pub async fn number_all(db: &Db) -> Result<u64> {
    let mut total = 0;
    for workspace_id in waiting(db).await? {
        total += number(db, workspace_id).await?;
    }
    Ok(total)
}

/// The workspaces with pending events: one index probe per workspace.
async fn waiting(db: &Db) -> Result<Vec<Uuid>> {
    let backend = db.conn.get_database_backend();
    if backend != DbBackend::Postgres {
        return Ok(Vec::new());
    }
    let statement = Statement::from_string(
        backend,
        format!(
            "SELECT w.id FROM workspaces AS w WHERE EXISTS \
             (SELECT 1 FROM {} AS e WHERE e.workspace_id = w.id)",
            super::PENDING
        ),
    );
    db.conn
        .query_all_raw(statement)
        .await?
        .iter()
        .map(|row| Ok(row.try_get::<Uuid>("", "id")?))
        .collect()
}

/// The server's numbering of events after their commit (see the module docs).
#[derive(Debug)]
pub struct Numbering {
    db: Db,
    state: Mutex<Told>,
    wake: Arc<Notify>,
    /// The last ticket whose workspaces have been numbered.
    done: watch::Sender<u64>,
}

/// The workspaces told of and not numbered since, each with the last ticket it was told
/// of under.
#[derive(Debug, Default)]
struct Told {
    next_ticket: u64,
    workspaces: HashMap<Uuid, u64>,
}

impl Numbering {
    /// Start numbering through `db` (the pool, as the owning role), in a task that ends
    /// when the last handle is dropped.
    pub fn start(db: Db) -> Arc<Self> {
        let wake = Arc::new(Notify::new());
        let numbering = Arc::new(Numbering {
            db,
            state: Mutex::new(Told::default()),
            wake: wake.clone(),
            done: watch::channel(0).0,
        });
        tokio::spawn(run(Arc::downgrade(&numbering), wake));
        numbering
    }

    /// `workspace_id` has events that just committed.
    pub fn signal(&self, workspace_id: Uuid) {
        {
            let mut told = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            told.next_ticket += 1;
            let ticket = told.next_ticket;
            told.workspaces.insert(workspace_id, ticket);
        }
        self.wake.notify_one();
    }

    /// Wait until the events this process committed for `workspace_id` are numbered (at
    /// once when there are none).
    pub async fn settled(&self, workspace_id: Uuid) {
        let ticket = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .workspaces
            .get(&workspace_id)
            .copied();
        let Some(ticket) = ticket else {
            return;
        };
        let mut done = self.done.subscribe();
        let numbered = done.wait_for(|done| *done >= ticket);
        if tokio::time::timeout(SETTLE_LIMIT, numbered).await.is_err() {
            tracing::warn!(%workspace_id, "profile events are not numbered yet; reading without them");
        }
    }

    /// Number what was told of up to now; every so often, everything pending.
    async fn round(&self, sweep: bool) {
        let (workspaces, upto) = {
            let told = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            let workspaces: Vec<Uuid> = told.workspaces.keys().copied().collect();
            (workspaces, told.next_ticket)
        };
        for workspace_id in workspaces {
            if let Err(err) = number(&self.db, workspace_id).await {
                // Left pending: the sweep tries again.
                tracing::warn!(error = %err, %workspace_id, "cannot number profile events");
            }
        }
        if sweep && let Err(err) = number_all(&self.db).await {
            tracing::warn!(error = %err, "cannot number profile events");
        }
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .workspaces
            .retain(|_, ticket| *ticket > upto);
        self.done.send_replace(upto);
    }
}

/// The numbering task: a round whenever told, but not sooner than [`GAP`] after the last
/// one began (what was told meanwhile makes the next round), and a sweep every [`SWEEP`].
async fn run(numbering: Weak<Numbering>, wake: Arc<Notify>) {
    let mut sweep = tokio::time::interval(SWEEP);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last = tokio::time::Instant::now();
    loop {
        let swept = tokio::select! {
            () = wake.notified() => {
                tokio::time::sleep_until(last + GAP).await;
                false
            }
            _ = sweep.tick() => true,
        };
        let Some(numbering) = numbering.upgrade() else {
            return;
        };
        last = tokio::time::Instant::now();
        numbering.round(swept).await;
    }
}
