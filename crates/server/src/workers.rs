//! The workers GraphQL requests execute on: single-threaded runtimes (so the loaders
//! batch each level of a query without a time window, see `profilegraph_schema::exec`),
//! each with its own connection pool on PostgreSQL.
//!
//! **Why a pool per worker.** A connection's socket belongs to the runtime that opened
//! it: that runtime's I/O driver is what notices the database's answer. With one shared
//! pool, a request on worker A mostly runs on connections that worker B (or the HTTP
//! runtime) opened. Every answer is then first seen by B, which has to wake A: two thread
//! wake-ups per statement instead of one, and a delay whenever B is busy running a
//! request of its own. When each worker only uses connections it opened itself, every
//! round trip stays on one thread. On the benchmark (PostgreSQL, M data, 8 clients, 2
//! cores) the profile page went from 680–846 to 1,068–1,146 requests/s, p99 from 24–32
//! to 15–17 ms.
//!
//! SQLite's connections each run on a thread of their own whatever the runtime, so on
//! SQLite (and when `--db-max-connections` is too small to split) every worker uses the
//! one shared pool.

use std::cell::OnceCell;
use std::future::Future;

use profilegraph_store::Db;
use sea_orm::{ConnectionTrait, DbBackend};
use tokio::task::JoinHandle;
use tokio_util::task::LocalPoolHandle;

use crate::config::Config;
use crate::database;
use crate::error::Result;

thread_local! {
    /// This worker's own pool, when it has one. Each server's workers are threads of
    /// their own, so two servers in one process (as in the tests) never share it.
    static OWN_POOL: OnceCell<Db> = const { OnceCell::new() };
}

/// The single-threaded workers of a server, one per core.
#[derive(Clone)]
pub struct Workers {
    pool: LocalPoolHandle,
    /// The pool for workers without one of their own.
    shared: Db,
}

/// How `total` connections are shared between the server's own pool (authentication,
/// idempotency keys, health checks) and `workers` worker pools: `(shared, per worker)`,
/// or `None` when there are too few for every worker to hold two.
pub fn split_connections(total: u32, workers: usize) -> Option<(u32, u32)> {
    let workers = u32::try_from(workers).ok()?.max(1);
    let shared = (total / 5).max(1);
    let per_worker = total.saturating_sub(shared) / workers;
    (per_worker >= 2).then_some((shared, per_worker))
}

impl Workers {
    /// Start one worker per core. On PostgreSQL each opens its own pool, on its own
    /// thread, with its share of `--db-max-connections` (see [`split_connections`]);
    /// `shared` is the server's pool, sized by the caller.
    pub async fn start(config: &Config, shared: Db, workers: usize) -> Result<Self> {
        let pool = LocalPoolHandle::new(workers);
        let split = split_connections(config.db_max_connections, workers);
        if let (DbBackend::Postgres, Some((_, per_worker))) = (backend(&shared), split) {
            for index in 0..workers {
                let config = config.clone();
                let numbering = shared.numbering().cloned();
                let opened = pool
                    .spawn_pinned_by_idx(
                        move || async move {
                            let conn = database::connect_sized(&config, per_worker).await?;
                            let mut db = Db::new(conn);
                            if let Some(numbering) = numbering {
                                db = db.with_numbering(numbering);
                            }
                            OWN_POOL.with(|own| own.set(db).is_ok());
                            Ok::<_, crate::Error>(())
                        },
                        index,
                    )
                    .await;
                match opened {
                    Ok(result) => result?,
                    Err(err) => return Err(crate::Error::Worker(err.to_string())),
                }
            }
        }
        Ok(Workers { pool, shared })
    }

    /// Run `work` on the least busy worker, with that worker's database pool.
    pub fn spawn<F, Fut>(&self, work: F) -> JoinHandle<Fut::Output>
    where
        F: FnOnce(Db) -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let shared = self.shared.clone();
        self.pool.spawn_pinned(move || {
            let db = OWN_POOL.with(|own| own.get().cloned()).unwrap_or(shared);
            work(db)
        })
    }
}

fn backend(db: &Db) -> DbBackend {
    db.conn.get_database_backend()
}

#[cfg(test)]
mod tests {
    use super::split_connections;

    #[test]
    fn splits_the_connections_between_the_server_and_its_workers() {
        assert_eq!(split_connections(10, 2), Some((2, 4)));
        assert_eq!(split_connections(20, 4), Some((4, 4)));
        // Too few to give every worker two: one shared pool.
        assert_eq!(split_connections(5, 2), Some((1, 2)));
        assert_eq!(split_connections(1, 2), None);
        assert_eq!(split_connections(4, 2), None);
        assert_eq!(split_connections(10, 16), None);
    }
}
