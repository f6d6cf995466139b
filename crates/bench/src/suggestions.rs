//! The ticket sidebar's suggestions at the benchmark's data size: labelled contacts
//! without a profile (added once the shapes have run), one after another, the latency of `Contact.profileSuggestions(first: 5)` through the API, and the
//! time the store takes for the same contacts' suggestions from this process on the same
//! machine (the database's time, with its round trips on loopback and the scoring, which
//! is a few microseconds). One client: the time a person waits, not throughput.

use std::time::{Duration, Instant};

use profilegraph_store::Db;
use sea_orm::DatabaseConnection;
use serde::Serialize;
use serde_json::json;
use uuid::Uuid;

use crate::http::Target;
use crate::inputs::contact_gid;
use crate::load::percentile_ms;
use crate::{Error, Result};

/// The document, as the sidebar would send it.
const SUGGEST: &str = "query Suggest($id: ID!) { contact(id: $id) { profileSuggestions(first: 5) { score reasons profile { id name } } } }";

/// What one backend measured.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestionsReport {
    /// Contacts asked about (each once through the API, once through the store): the
    /// labelled set `profilegraph seed --duplicates` adds, added after the shapes ran.
    pub contacts: usize,
    /// Of the contacts that got a suggestion, how often the first was right.
    pub precision_at_1: f64,
    /// Of the contacts that have a profile, how often it was among the first five.
    pub recall_at_5: f64,
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

/// Add `n` labelled contacts (at most 450) and ask for their suggestions.
pub async fn measure(
    pool: &DatabaseConnection,
    target: &Target,
    workspace_id: Uuid,
    n: usize,
) -> Result<SuggestionsReport> {
    // The sidebar's case: contacts that wrote in without a profile, a labelled set of name
    // variants, the same numbers and addresses on other channels, and near misses (the
    // seed's own contacts all have their profiles, and few resemble another's).
    let db = Db::new(pool.clone());
    let cases = profilegraph::quality::seed_labelled(&db, workspace_id, n, 0x5eed_5a17)
        .await
        .map_err(|e| Error::Setup(format!("adding the labelled contacts: {e}")))?;
    let quality = profilegraph::quality::evaluate(&db, workspace_id, &cases)
        .await
        .map_err(|e| Error::Setup(format!("scoring the labelled contacts: {e}")))?;
    let ids: Vec<Uuid> = cases.iter().map(|case| case.contact_id).collect();
    if ids.is_empty() {
        return Err(Error::Setup("no contacts to ask suggestions for".into()));
    }

    // Warm both paths, so that the first measured request pays no connection set-up.
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
        precision_at_1: quality.precision_at_1,
        recall_at_5: quality.recall_at_5,
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
