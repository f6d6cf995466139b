//! `Idempotency-Key` around the execution of a mutation: claim the key before it runs (or
//! replay the response stored under it), store the response once it ran, and release the
//! key when the request failed without a response, so that a retry runs instead of
//! waiting for an answer that never comes. Queries run as they are: repeating them is
//! harmless. Depends on `error`, `extract` and `respond`.

use async_graphql::parser::types::OperationType;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use profilegraph_store::Db;
use profilegraph_store::Viewer;
use profilegraph_store::idempotency::{self, Claim};
use serde_json::Value;
use uuid::Uuid;

use super::error::HttpError;
use super::extract::Incoming;
use super::respond;

/// Set on a response that was replayed from an earlier request with the same key.
pub(super) const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// What to do with a request, as far as its idempotency key goes.
pub enum Begin {
    /// Run it; with the claimed key's record, when it has one.
    Run(Option<Uuid>),
    /// Don't: this is the response stored for its key.
    Replay(Response),
}

/// Claim the request's key, if it is a mutation (`operation`: the type of the operation
/// it selects) with one.
pub async fn begin(
    db: &Db,
    viewer: &Viewer,
    incoming: &Incoming,
    operation: Option<OperationType>,
) -> Result<Begin, HttpError> {
    let request = &incoming.request;
    let Some(raw) = &incoming.idempotency_key else {
        return Ok(Begin::Run(None));
    };
    if operation != Some(OperationType::Mutation) {
        return Ok(Begin::Run(None));
    }
    let key = idempotency::parse_key(raw)?;
    let variables = serde_json::to_value(&request.variables).unwrap_or(Value::Null);
    let hash = idempotency::fingerprint(
        &request.query,
        request.operation_name.as_deref(),
        &variables,
    );
    match idempotency::claim(db, viewer, &key, &hash).await? {
        Claim::Fresh(id) => Ok(Begin::Run(Some(id))),
        Claim::Replay { status, body } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            let mut response = respond::json_response(status, incoming.format, &body);
            response
                .headers_mut()
                .insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
            Ok(Begin::Replay(response))
        }
    }
}

/// Store the response of a request that claimed a key.
pub async fn complete(db: &Db, claim: Option<Uuid>, status: StatusCode, body: &Value) {
    if let Some(claim) = claim
        && let Err(err) = idempotency::complete(db, claim, status.as_u16(), body).await
    {
        // The mutation ran; only the replay record is missing, so answer normally.
        tracing::error!(error = %err, "cannot store an idempotent response");
    }
}

/// Free the key of a request that failed without a response.
pub async fn release(db: &Db, claim: Option<Uuid>) {
    if let Some(claim) = claim
        && let Err(err) = idempotency::release(db, claim).await
    {
        tracing::error!(error = %err, "cannot release an idempotency key");
    }
}
