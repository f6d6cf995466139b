//! The ticket sidebar's suggestions at the benchmark's data size: one contact after
//! another, the latency of `Contact.profileSuggestions(first: 5)` through the API, and the
//! time the store takes for the same contacts' suggestions from this process on the same
//! machine (the database's time, with its round trips on loopback and the scoring, which
//! is a few microseconds). One client: the time a person waits, not throughput.

use std::time::{Duration, Instant};

use profilegraph_store::Db;
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::http::Target;
use crate::inputs::{contact_gid, shuffle};
use crate::load::percentile_ms;
use crate::{Error, Result};

/// The document, as the sidebar would send it.
const SUGGEST: &str = "query Suggest($id: ID!) { contact(id: $id) { profileSuggestions(first: 5) { score reasons profile { id name } } } }";

/// What one backend measured.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionsReport {
    /// Contacts asked about (each once through the API, once through the store).
    pub contacts: usize,
    /// How many of them got at least one suggestion.
    pub with_suggestions: usize,
    /// Through the API, ms: p50 and p99.
    pub api_p50_ms: f64,
    /// Through the API, ms: p99.
    pub api_p99_ms: f64,
    /// The store's statements for one contact's suggestions, ms: p50.
    pub store_p50_ms: f64,
    /// The same, p99.
    pub store_p99_ms: f64,
}

/// Ask for `n` contacts' suggestions (a deterministic sample of the workspace's).
pub async fn measure(
    pool: &DatabaseConnection,
    target: &Target,
    workspace_id: Uuid,
    n: usize,
) -> Result<SuggestionsReport> {
    let backend = pool.get_database_backend();
    let rows = pool
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            crate::ceiling::placeholders(
                backend,
                "SELECT id FROM contacts WHERE workspace_id = ? ORDER BY id LIMIT 20000",
            ),
            [workspace_id.into()],
        ))
        .await?;
    let mut ids: Vec<Uuid> = rows
        .iter()
        .filter_map(|row| row.try_get::<Uuid>("", "id").ok())
        .collect();
    shuffle(&mut ids, 0x5eed_5a17);
    ids.truncate(n);
    if ids.is_empty() {
        return Err(Error::Setup("no contacts to ask suggestions for".into()));
    }

    // Warm both paths, so that the first measured request pays no connection set-up.
    let db = Db::new(pool.clone());
    for id in ids.iter().take(10) {
        ask_api(target, *id).await?;
        ask_store(&db, workspace_id, *id).await?;
    }
    let mut api = Vec::with_capacity(ids.len());
    let mut store = Vec::with_capacity(ids.len());
    let mut with_suggestions = 0;
    for id in &ids {
        let started = Instant::now();
        let found = ask_api(target, *id).await?;
        api.push(started.elapsed().as_micros() as u64);
        with_suggestions += usize::from(found > 0);
        let took = ask_store(&db, workspace_id, *id).await?;
        store.push(took.as_micros() as u64);
    }
    api.sort_unstable();
    store.sort_unstable();
    Ok(SuggestionsReport {
        contacts: ids.len(),
        with_suggestions,
        api_p50_ms: percentile_ms(&api, 50.0),
        api_p99_ms: percentile_ms(&api, 99.0),
        store_p50_ms: percentile_ms(&store, 50.0),
        store_p99_ms: percentile_ms(&store, 99.0),
    })
}

/// The suggestions of contact `id` through the API; how many came back.
async fn ask_api(target: &Target, id: Uuid) -> Result<usize> {
    let body: serde_json::Value = target
        .client
        .post(&target.url)
        .header("authorization", &target.authorization)
        .json(&json!({ "query": SUGGEST, "variables": { "id": contact_gid(id) } }))
        .send()
        .await?
        .json()
        .await?;
    match body["data"]["contact"]["profileSuggestions"].as_array() {
        Some(list) if body.get("errors").is_none() => Ok(list.len()),
        _ => Err(Error::Setup(format!(
            "the suggestions query failed: {body}"
        ))),
    }
}

/// The same contact's suggestions through the store, and how long they took: the
/// contact's row is read first, as the API's loader does, and not timed.
async fn ask_store(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<Duration> {
    let contact = profilegraph_store::contacts::by_ids(db, workspace_id, vec![id])
        .await
        .map_err(|e| Error::Setup(format!("reading a contact: {e}")))?;
    let Some(contact) = contact.into_iter().next() else {
        return Err(Error::Setup(format!("contact {id} is gone")));
    };
    let started = Instant::now();
    profilegraph_store::suggestions::for_contact(db, workspace_id, &contact, 5)
        .await
        .map_err(|e| Error::Setup(format!("the store's suggestions failed: {e}")))?;
    Ok(started.elapsed())
}
