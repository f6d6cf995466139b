//! The body of a webhook, as the Standard Webhooks spec shapes it: `type`, `timestamp`,
//! `data`. `data` is the event as the API shows it (`ProfileEvent`), with global ids.

use chrono::SecondsFormat;
use profilegraph_store::events::EventKind;
use profilegraph_store::webhooks::webhook_type;
use serde_json::{Value, json};

use crate::ids::{self, NodeKind};

/// The `webhook-id` of the deliveries of `event`: its global id, the same on every
/// attempt and for every endpoint.
pub fn webhook_id(event: &entity::profile_events::Model) -> String {
    ids::encode(NodeKind::ProfileEvent, event.id).0
}

/// The JSON body of the webhook that carries `event`.
pub fn body(event: &entity::profile_events::Model) -> Vec<u8> {
    let kind = EventKind::from_db(&event.kind);
    let occurred = event
        .occurred_at
        .with_timezone(&chrono::Utc)
        .to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let value = json!({
        // A kind this build doesn't know (a newer server on the same database) goes out
        // under its stored name, lower-cased.
        "type": kind.map_or_else(|| event.kind.to_lowercase(), |k| webhook_type(k).to_owned()),
        "timestamp": occurred,
        "data": {
            "id": webhook_id(event),
            "seq": event.seq,
            "kind": event.kind,
            "profileId": ids::encode(NodeKind::Profile, event.profile_id).0,
            "actor": event.actor_agent_id.map(|id| Value::String(ids::encode(NodeKind::Agent, id).0)),
            "actorTokenId": event.actor_token_id.map(|id| id.to_string()),
            "changes": crate::events::global_ids(event.changes.clone()),
            "occurredAt": occurred,
        },
    });
    serde_json::to_vec(&value).unwrap_or_default()
}
