//! Counting the SQL statements a request runs.
//!
//! The count lives in a task-local that a request's execution is scoped in. Tasks that
//! the request spawns (the loaders' batches) carry it along through [`current`] and
//! [`scope`], and the database's metric callback adds one for every statement, whichever
//! task runs it. Concurrent requests never mix their counts. The counts are a tested
//! contract: a query shape runs a fixed number of statements.
//!
//! It also counts, for the whole process, how often a statement or transaction found its
//! pool with no idle connection and no room to open one, so that it had to wait for
//! another to finish: the sign that `--db-max-connections` is too small for the load.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::{DatabaseConnection, DbBackend};

static POOL_WAITS: AtomicU64 = AtomicU64::new(0);

/// One request's statement counter.
pub type Counter = Arc<AtomicU64>;

tokio::task_local! {
    static STATEMENTS: Counter;
}

/// Make `conn` report every statement it runs to the current request's counter, if any.
pub fn count_statements(conn: &mut DatabaseConnection) {
    conn.set_metric_callback(|_info| {
        let _ = STATEMENTS.try_with(|count| count.fetch_add(1, Ordering::Relaxed));
    });
}

/// Count `n` statements that ran without the metric callback seeing them (a
/// transaction's `BEGIN` and `COMMIT`), towards the current request, if any.
pub fn add_statements(n: u64) {
    let _ = STATEMENTS.try_with(|count| count.fetch_add(n, Ordering::Relaxed));
}

/// Run `fut` with a fresh statement counter; returns its output and the count.
pub async fn counted<F: Future>(fut: F) -> (F::Output, u64) {
    let counter = Counter::default();
    let output = STATEMENTS.scope(counter.clone(), fut).await;
    (output, counter.load(Ordering::Relaxed))
}

/// The current request's counter, to hand to a task it spawns.
pub fn current() -> Option<Counter> {
    STATEMENTS.try_with(Arc::clone).ok()
}

/// Run `fut` counting towards `counter` (from [`current`] in the spawning task).
pub async fn scope<F: Future>(counter: Option<Counter>, fut: F) -> F::Output {
    match counter {
        Some(counter) => STATEMENTS.scope(counter, fut).await,
        None => fut.await,
    }
}

/// The connections of `conn`'s pool: how many are open, how many of those are idle, and
/// how many it may open at most.
pub fn pool_state(conn: &DatabaseConnection) -> Option<(u32, usize, u32)> {
    match conn.get_database_backend() {
        DbBackend::Postgres => {
            let pool = conn.get_postgres_connection_pool();
            Some((
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ))
        }
        DbBackend::Sqlite => {
            let pool = conn.get_sqlite_connection_pool();
            Some((
                pool.size(),
                pool.num_idle(),
                pool.options().get_max_connections(),
            ))
        }
        _ => None,
    }
}

/// Run `fut`, which takes a connection from `conn`'s pool, counting it in [`pool_waits`]
/// when the pool has none idle and no room to open one, so that `fut` waits for one.
pub async fn acquiring<F: Future>(conn: &DatabaseConnection, fut: F) -> F::Output {
    if let Some((size, 0, max)) = pool_state(conn)
        && size >= max
    {
        POOL_WAITS.fetch_add(1, Ordering::Relaxed);
    }
    fut.await
}

/// How many times, since the process started, a statement or transaction found its pool
/// full and had to wait for a connection.
pub fn pool_waits() -> u64 {
    POOL_WAITS.load(Ordering::Relaxed)
}
