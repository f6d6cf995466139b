//! How a GraphQL request executes: on one thread, with its statements counted.
//!
//! **One thread per request.** The server runs each request's execution on a worker of a
//! pool of single-threaded runtimes (see the server's `workers`), and the loaders' batch
//! tasks are spawned onto that same thread. Before a batch task takes its keys, it yields
//! until the request's task has stopped making progress: the request is then waiting on
//! loaders, so every resolver that could ask for a key has asked. So the loaders need no
//! time window (their delay is zero), and a level's keys never split over two statements
//! however slow or busy the machine: the statement count of a query shape is fixed. (A
//! plain time window splits batches whenever resolving a level takes longer than the
//! window, which a busy server or a debug build easily does.)
//!
//! **Counting.** Batch tasks count their statements towards the request that spawned
//! them (see `profilegraph_store::stats`).

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use profilegraph_store::stats;

tokio::task_local! {
    /// How often the pinned request's task has been polled: its sign of progress.
    static ACTIVITY: Arc<AtomicU64>;
}

/// Run `fut`, which runs inside a `LocalSet` (a worker of the server's pinned pool), with
/// a fresh statement counter: loader batches it starts stay on its thread. Returns its
/// output and the count.
pub async fn counted_pinned<F: Future>(fut: F) -> (F::Output, u64) {
    let activity = Arc::new(AtomicU64::new(0));
    let polls = activity.clone();
    let mut fut = std::pin::pin!(fut);
    let tracked = std::future::poll_fn(move |cx| {
        polls.fetch_add(1, Ordering::Relaxed);
        fut.as_mut().poll(cx)
    });
    ACTIVITY.scope(activity, stats::counted(tracked)).await
}

/// Spawn a loader batch: on the request's own thread when it runs pinned, else on the
/// runtime; either way counting its statements towards the request.
pub fn spawn<F>(fut: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    let counter = stats::current();
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
        stats::scope(counter, fut).await
    };
    if pinned {
        tokio::task::spawn_local(task);
    } else {
        tokio::spawn(task);
    }
}
