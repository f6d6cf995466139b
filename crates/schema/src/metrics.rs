//! What the schema reports to the process's metrics recorder (a no-op unless the server
//! installed one).

/// Keys per DataLoader batch (one statement each), by `loader`.
pub const LOADER_BATCH: &str = "profilegraph_dataloader_batch_size";

/// Record one batch of `keys` keys of `loader`.
pub(crate) fn loader_batch(loader: &'static str, keys: usize) {
    metrics::histogram!(LOADER_BATCH, "loader" => loader).record(keys as f64);
}
