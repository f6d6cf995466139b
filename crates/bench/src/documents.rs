//! What the document cache saves a request: the profile page's document (Q1) executed in
//! this process, against the schema with the server's limits, once without and once with
//! the cache of parsed and validated documents. No database is involved: the request
//! carries no context, so its first resolver refuses it, and what is measured is parsing,
//! validation and that refusal. Both schemas run the same requests, interleaved batch by
//! batch, on one thread; the report gives the median batch's time per request.

use std::sync::Arc;
use std::time::Instant;

use async_graphql::{Request, Variables};
use profilegraph::config::Config;
use profilegraph::http::documents::DocumentCacheFactory;
use profilegraph::shapes::Q1_PROFILE_PAGE;
use serde::Serialize;

/// Requests per batch.
const BATCH: usize = 2_000;
/// Batches per schema.
const BATCHES: usize = 5;

/// What one run measured, microseconds per request.
#[derive(Debug, Clone, Serialize)]
pub struct DocumentsReport {
    /// Parsed and validated every time.
    pub without_cache_us: f64,
    /// Parsed once, validated once per distinct variables (here every request has its own
    /// profile id, as in Q1: so validation runs every time and parsing doesn't).
    pub with_cache_us: f64,
    /// The same request repeated exactly: neither parsed nor validated again.
    pub repeated_us: f64,
}

/// Time Q1's document through both schemas.
pub async fn measure() -> DocumentsReport {
    let config = Config::for_database("sqlite::memory:");
    let plain = profilegraph_schema::builder()
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_recursive_depth(profilegraph::app::limits::RECURSION)
        .limit_directives(profilegraph::app::limits::DIRECTIVES)
        .finish();
    let cached = profilegraph_schema::builder()
        .limit_depth(config.max_depth)
        .limit_complexity(config.max_complexity)
        .limit_recursive_depth(profilegraph::app::limits::RECURSION)
        .limit_directives(profilegraph::app::limits::DIRECTIVES)
        .extension(DocumentCacheFactory(Arc::default()))
        .finish();
    // A different profile id for every request, as Q1's clients send.
    let request = |i: usize| {
        Request::new(Q1_PROFILE_PAGE).variables(Variables::from_json(serde_json::json!({
            "id": format!("UHJvZmlsZTow{i:08}")
        })))
    };
    let same = || {
        Request::new(Q1_PROFILE_PAGE).variables(Variables::from_json(
            serde_json::json!({ "id": "UHJvZmlsZTow" }),
        ))
    };
    for i in 0..200 {
        plain.execute(request(i)).await;
        cached.execute(request(i)).await;
        cached.execute(same()).await;
    }
    let (mut without, mut with, mut repeated) = (Vec::new(), Vec::new(), Vec::new());
    for batch in 0..BATCHES {
        let started = Instant::now();
        for i in 0..BATCH {
            plain.execute(request(batch * BATCH + i)).await;
        }
        without.push(started.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
        let started = Instant::now();
        for i in 0..BATCH {
            cached.execute(request(batch * BATCH + i)).await;
        }
        with.push(started.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
        let started = Instant::now();
        for _ in 0..BATCH {
            cached.execute(same()).await;
        }
        repeated.push(started.elapsed().as_secs_f64() * 1e6 / BATCH as f64);
    }
    DocumentsReport {
        without_cache_us: median(without),
        with_cache_us: median(with),
        repeated_us: median(repeated),
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}
