//! A short-lived cache of authenticated tokens.
//!
//! Looking a token up is one statement per request; for a busy partner that is a round
//! trip to the database on every call for an answer that almost never changes. A token
//! that authenticated is remembered for a few seconds (`--token-cache-seconds`), so the
//! price is that a token revoked in the database keeps working on a running server for at
//! most that long. Unknown, malformed and revoked tokens are never cached: every failed
//! attempt still goes to the database, and a token's own expiry is checked on every hit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::ConnectionTrait;

use super as tokens;
use crate::Viewer;
use crate::error::Result;

/// Tokens kept at most; past it the cache starts over (it refills in one TTL).
const CAPACITY: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    viewer: Viewer,
    expires_at: Option<DateTime<Utc>>,
    fetched: Instant,
}

/// Authenticates bearer tokens, remembering the good ones for `ttl`.
#[derive(Debug)]
pub struct TokenCache {
    ttl: Duration,
    // Keyed by the token's SHA-256, like the database: the plaintext is kept nowhere.
    entries: Mutex<HashMap<String, Entry>>,
}

impl TokenCache {
    /// A cache that remembers a token for `ttl`; zero turns it off.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The viewer for `token`, from the cache when it was checked less than `ttl` ago,
    /// else from the database (see [`tokens::authenticate`]).
    pub async fn authenticate<C: ConnectionTrait>(&self, db: &C, token: &str) -> Result<Viewer> {
        if self.ttl.is_zero() {
            return tokens::authenticate(db, token).await;
        }
        let key = tokens::hash(token);
        if let Some(viewer) = self.fresh(&key) {
            return Ok(viewer);
        }
        let (viewer, expires_at) = tokens::authenticate_until(db, token).await?;
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= CAPACITY {
                entries.clear();
            }
            entries.insert(
                key,
                Entry {
                    viewer: viewer.clone(),
                    expires_at,
                    fetched: Instant::now(),
                },
            );
        }
        Ok(viewer)
    }

    fn fresh(&self, key: &str) -> Option<Viewer> {
        let entries = self.entries.lock().ok()?;
        let entry = entries.get(key)?;
        let live =
            entry.fetched.elapsed() < self.ttl && entry.expires_at.is_none_or(|at| at > Utc::now());
        live.then(|| entry.viewer.clone())
    }
}
