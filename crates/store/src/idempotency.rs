//! Idempotency keys for mutations.
//!
//! A partner that times out doesn't know whether its mutation ran. Sending it again with
//! the same `Idempotency-Key` is safe: the first request claims the key, and every later
//! one with the same key and the same operation gets the stored response instead of
//! running it again, including requests that arrive while the first is still running
//! (they wait for it). The same key with a different operation is refused. Keys are kept
//! for 24 hours, per token.
//!
//! The record is written after the mutation's own transaction commits, so a crash in
//! between leaves the key unclaimed after a minute and a retry runs again.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use entity::idempotency_keys as keys;

use crate::Db;
use crate::Viewer;
use crate::error::{Result, StoreError};

/// How long a key is remembered.
pub const RETENTION: chrono::Duration = chrono::Duration::hours(24);
/// A claim older than this without a result was abandoned (its request died).
const ABANDONED: chrono::Duration = chrono::Duration::seconds(60);
/// How long a replay waits for the first request to finish.
const WAIT: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// A valid key: 1 to 200 visible ASCII characters.
pub fn parse_key(raw: &str) -> Result<String> {
    let key = raw.trim();
    if key.is_empty() || key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(StoreError::bad_input(
            "Idempotency-Key",
            "an Idempotency-Key is 1 to 200 visible ASCII characters",
        ));
    }
    Ok(key.to_owned())
}

/// The fingerprint of an operation: its text, name and variables.
pub fn fingerprint(query: &str, operation_name: Option<&str>, variables: &Value) -> String {
    let mut hasher = Sha256::new();
    hasher.update(query.as_bytes());
    hasher.update([0]);
    hasher.update(operation_name.unwrap_or_default().as_bytes());
    hasher.update([0]);
    hasher.update(variables.to_string().as_bytes());
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What claiming a key found.
#[derive(Debug)]
pub enum Claim {
    /// The key is ours: run the mutation, then [`complete`] it.
    Fresh(Uuid),
    /// The mutation already ran: its stored status and body.
    Replay {
        /// The HTTP status it got.
        status: u16,
        /// The response body it got.
        body: Value,
    },
}

/// Claim `key` for an operation with `hash`, or find what it already produced.
pub async fn claim(db: &Db, viewer: &Viewer, key: &str, hash: &str) -> Result<Claim> {
    let started = std::time::Instant::now();
    loop {
        let now = crate::db::now();
        let inserted = keys::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(viewer.workspace_id),
            token_id: Set(viewer.token_id),
            key: Set(key.to_owned()),
            request_hash: Set(hash.to_owned()),
            status: Set("running".into()),
            http_status: Set(None),
            response: Set(None),
            created_at: Set(now),
            completed_at: Set(None),
        }
        .insert(&db.conn)
        .await
        .map_err(StoreError::from);
        match inserted {
            Ok(row) => {
                forget_old(db).await?;
                return Ok(Claim::Fresh(row.id));
            }
            Err(err) if err.is_unique_violation() => {}
            Err(err) => return Err(err),
        }
        let Some(row) = keys::Entity::find()
            .filter(keys::Column::TokenId.eq(viewer.token_id))
            .filter(keys::Column::Key.eq(key))
            .one(&db.conn)
            .await?
        else {
            continue;
        };
        let age = Utc::now().signed_duration_since(row.created_at);
        let abandoned = row.status == "running" && age > ABANDONED;
        if age > RETENTION || abandoned {
            keys::Entity::delete_by_id(row.id).exec(&db.conn).await?;
            continue;
        }
        if row.request_hash != hash {
            return Err(StoreError::Conflict(
                "this Idempotency-Key was already used for a different request".into(),
            ));
        }
        if let (Some(status), Some(body)) = (row.http_status, row.response) {
            return Ok(Claim::Replay {
                status: u16::try_from(status).unwrap_or(200),
                body,
            });
        }
        if started.elapsed() > WAIT {
            return Err(StoreError::Conflict(
                "a request with this Idempotency-Key is still running; try again shortly".into(),
            ));
        }
        tokio::time::sleep(POLL).await;
    }
}

/// Store the response of a claimed key.
pub async fn complete(db: &Db, claim: Uuid, status: u16, body: &Value) -> Result<()> {
    keys::ActiveModel {
        id: Set(claim),
        status: Set("done".into()),
        http_status: Set(Some(i32::from(status))),
        response: Set(Some(body.clone())),
        completed_at: Set(Some(crate::db::now())),
        ..Default::default()
    }
    .update(&db.conn)
    .await?;
    Ok(())
}

/// Give a claim back (the request failed before producing a response worth keeping).
pub async fn release(db: &Db, claim: Uuid) -> Result<()> {
    keys::Entity::delete_by_id(claim).exec(&db.conn).await?;
    Ok(())
}

async fn forget_old(db: &Db) -> Result<()> {
    let cutoff: sea_orm::prelude::DateTimeWithTimeZone = (Utc::now() - RETENTION).into();
    keys::Entity::delete_many()
        .filter(keys::Column::CreatedAt.lt(cutoff))
        .exec(&db.conn)
        .await?;
    Ok(())
}
