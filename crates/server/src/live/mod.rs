//! Live profile events: the fan-out from the event log to this server's subscribers.
//!
//! A [`Hub`] keeps one broadcast channel per workspace that has subscribers. When it is
//! told that a workspace may have new events ([`Hub::poke`]), it reads them once from the
//! log, behind the workspace's wall, from the last `seq` it delivered, and hands each to
//! every subscriber of the workspace. It is told by this server after each mutation, and
//! on PostgreSQL by every server on the database through `LISTEN`/`NOTIFY` (see
//! [`listen`]), so several instances behave as one. Nothing but the database is needed.

pub mod listen;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use profilegraph_schema::events::EventSource;
use profilegraph_store::{Db, events};
use tokio::sync::broadcast;
use uuid::Uuid;

use entity::profile_events::Model as Event;

/// How many events a subscriber may be behind before it is dropped (and told to catch up
/// through the feed): its buffer is bounded, whatever the load.
pub const SUBSCRIBER_BUFFER: usize = 256;
/// Events read from the log per statement.
const READ_BATCH: u64 = 500;

/// One workspace's channel, and the last `seq` it delivered.
struct Channel {
    sender: broadcast::Sender<Arc<Event>>,
    last_seq: tokio::sync::Mutex<i64>,
}

/// This server's fan-out of committed profile events to its subscribers.
pub struct Hub {
    db: Db,
    channels: Mutex<HashMap<Uuid, Arc<Channel>>>,
    /// Told of every poke, for the webhook worker, which serves every workspace.
    committed: Arc<tokio::sync::Notify>,
}

impl Hub {
    /// A hub reading the log through `db`.
    pub fn new(db: Db) -> Arc<Self> {
        Arc::new(Hub {
            db,
            channels: Mutex::new(HashMap::new()),
            committed: Arc::new(tokio::sync::Notify::new()),
        })
    }

    fn channel(&self, workspace_id: Uuid) -> Option<Arc<Channel>> {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&workspace_id)
            .cloned()
    }

    /// Notified whenever a workspace may have new events (any workspace).
    pub fn committed(&self) -> Arc<tokio::sync::Notify> {
        self.committed.clone()
    }

    /// The workspaces that have subscribers here.
    pub fn workspaces(&self) -> Vec<Uuid> {
        self.channels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .keys()
            .copied()
            .collect()
    }

    /// Deliver the workspace's events committed since the last delivery, if anyone here
    /// listens to it. Safe to call often and from anywhere: each event goes out once.
    pub async fn poke(&self, workspace_id: Uuid) {
        self.committed.notify_one();
        let Some(channel) = self.channel(workspace_id) else {
            return;
        };
        let mut last = channel.last_seq.lock().await;
        loop {
            let walled = self.db.walled(workspace_id);
            let read = events::since(&walled, workspace_id, *last, READ_BATCH).await;
            let finished = walled.finish().await;
            let batch = match (read, finished) {
                (Ok(batch), Ok(())) => batch,
                (Err(err), _) | (_, Err(err)) => {
                    tracing::warn!(error = %err, "cannot read new profile events");
                    return;
                }
            };
            let n = batch.len() as u64;
            let now = chrono::Utc::now();
            for event in batch {
                *last = event.seq;
                let waited = (now - event.occurred_at.to_utc())
                    .to_std()
                    .unwrap_or_default();
                metrics::histogram!(crate::metrics::FANOUT_SECONDS).record(waited.as_secs_f64());
                // No receiver left: nothing to do (the channel goes below).
                let _ = channel.sender.send(Arc::new(event));
            }
            if n < READ_BATCH {
                break;
            }
        }
        drop(last);
        if channel.sender.receiver_count() == 0 {
            self.channels
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .remove(&workspace_id);
        }
    }

    /// Poke every workspace that has subscribers (after a lost `LISTEN` connection).
    pub async fn poke_all(&self) {
        for workspace_id in self.workspaces() {
            self.poke(workspace_id).await;
        }
    }
}

impl EventSource for Hub {
    fn subscribe(
        &self,
        workspace_id: Uuid,
    ) -> Pin<Box<dyn Future<Output = broadcast::Receiver<Arc<Event>>> + Send + '_>> {
        Box::pin(async move {
            if let Some(channel) = self.channel(workspace_id) {
                return channel.sender.subscribe();
            }
            // A new channel starts at the workspace's last seq: its subscribers get what
            // commits from now on.
            let walled = self.db.walled(workspace_id);
            let last = events::last_seq(&walled, workspace_id).await;
            let _ = walled.finish().await;
            let (sender, receiver) = broadcast::channel(SUBSCRIBER_BUFFER);
            let channel = Arc::new(Channel {
                sender,
                last_seq: tokio::sync::Mutex::new(last.unwrap_or(0)),
            });
            let mut channels = self.channels.lock().unwrap_or_else(PoisonError::into_inner);
            // Another subscriber may have made it meanwhile: join that one.
            match channels.get(&workspace_id) {
                Some(existing) => existing.sender.subscribe(),
                None => {
                    channels.insert(workspace_id, channel);
                    receiver
                }
            }
        })
    }
}
