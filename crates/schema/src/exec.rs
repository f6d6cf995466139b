//! How a GraphQL request executes: on one thread, with its statements counted.
//!
//! **One thread per request.** The server runs each request's execution on a worker of a
//! pool of single-threaded runtimes (see the server's `http::graphql`), and the loaders'
//! batch tasks are spawned onto that same thread. Before a batch task takes its keys, it
//! yields until the request's task has stopped making progress: the request is then
//! waiting on loaders, so every resolver that could ask for a key has asked. So the
//! loaders need no time window (their delay is zero), and a level's keys never split
//! over two statements however slow or busy the machine: the statement count of a
//! query shape is fixed. (A plain time window splits batches whenever resolving a level
//! takes longer than the window, which a busy server or a debug build easily does.)
//!
//! **Counting.** The count lives in a task-local that execution is scoped in. The batch
//! tasks inherit it from the spawner, and the database's metric callback adds one for
//! every statement, whichever task runs it. Concurrent requests never mix their counts.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sea_orm::DatabaseConnection;

tokio::task_local! {
    static STATEMENTS: Arc<AtomicU64>;
    /// How often the pinned request's task has been polled: its sign of progress.
    static ACTIVITY: Arc<AtomicU64>;
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
    let counter = Arc::new(AtomicU64::new(0));
    let output = STATEMENTS.scope(counter.clone(), fut).await;
    (output, counter.load(Ordering::Relaxed))
}

/// Like [`counted`], for a future that runs inside a `LocalSet` (a worker of the
/// server's pinned pool): loader batches it starts stay on its thread.
pub async fn counted_pinned<F: Future>(fut: F) -> (F::Output, u64) {
    let activity = Arc::new(AtomicU64::new(0));
    let polls = activity.clone();
    let mut fut = std::pin::pin!(fut);
    let tracked = std::future::poll_fn(move |cx| {
        polls.fetch_add(1, Ordering::Relaxed);
        fut.as_mut().poll(cx)
    });
    ACTIVITY.scope(activity, counted(tracked)).await
}

/// Spawn a loader batch: on the request's own thread when it runs pinned, else on the
/// runtime; either way counting its statements towards the request.
pub fn spawn<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let counter = STATEMENTS.try_with(Arc::clone).ok();
    let activity = ACTIVITY.try_with(Arc::clone).ok();
    let pinned = activity.is_some();
    let task = async move {
        if let Some(activity) = activity {
            // Let the request run until it is idle, i.e. waiting on loaders: one full
            // round of the thread's tasks in which it wasn't polled.
            loop {
                let before = activity.load(Ordering::Relaxed);
                tokio::task::yield_now().await;
                if activity.load(Ordering::Relaxed) == before {
                    break;
                }
            }
        }
        match counter {
            Some(counter) => STATEMENTS.scope(counter, fut).await,
            None => fut.await,
        }
    };
    if pinned {
        tokio::task::spawn_local(task);
    } else {
        tokio::spawn(task);
    }
}
