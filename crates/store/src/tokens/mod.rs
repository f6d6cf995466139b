//! API tokens: `pgr_` + 32 random base62 characters (190 bits) + a 6-character checksum.
//!
//! The checksum lets us refuse typos and random guesses without touching the database, and
//! lets secret scanners recognise a leaked token. Only the SHA-256 of the whole token and a
//! short display prefix are stored.
//!
//! A token carries [`Scopes`]; the [`TokenCache`] spares the look-up for a few seconds.

mod cache;
mod scopes;

pub use cache::TokenCache;
pub use scopes::{Scope, Scopes};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use entity::api_tokens;

use crate::Viewer;
use crate::error::{Result, StoreError};

const PREFIX: &str = "pgr_";
const SECRET_LEN: usize = 32;
const CHECKSUM_LEN: usize = 6;
const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// How stale `last_used_at` may get before a request refreshes it: one write a minute per
/// token instead of one per request.
const LAST_USED_GRANULARITY: Duration = Duration::seconds(60);

/// A freshly minted token: the plaintext (shown once) and what gets stored.
pub struct NewToken {
    /// The token itself. Print it once; it cannot be recovered.
    pub plaintext: String,
    /// The stored row.
    pub row: api_tokens::Model,
}

fn base62(mut n: u64, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn checksum(secret: &str) -> String {
    base62(u64::from(crc32fast::hash(secret.as_bytes())), CHECKSUM_LEN)
}

/// The SHA-256 of a token, hex-encoded: the only form in which a token is stored.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `token` has the shape of one of ours and a correct checksum.
pub fn is_well_formed(token: &str) -> bool {
    let Some(body) = token.strip_prefix(PREFIX) else {
        return false;
    };
    if body.len() != SECRET_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (secret, sum) = body.split_at(SECRET_LEN);
    checksum(secret) == sum
}

/// Make a new random token (not stored).
pub fn generate() -> String {
    let mut rng = rand::rng();
    let secret: String = (0..SECRET_LEN)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    format!("{PREFIX}{secret}{}", checksum(&secret))
}

/// Mint and store a token for `workspace_id`. Returns the plaintext once.
pub async fn create<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    agent_id: Option<Uuid>,
    name: &str,
    scopes: &Scopes,
    expires_at: Option<DateTime<Utc>>,
) -> Result<NewToken> {
    let plaintext = generate();
    let row = api_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        agent_id: Set(agent_id),
        name: Set(name.to_owned()),
        scopes: Set(scopes.to_string()),
        token_hash: Set(hash(&plaintext)),
        display_prefix: Set(plaintext.chars().take(PREFIX.len() + 8).collect()),
        created_at: Set(Utc::now().into()),
        last_used_at: Set(None),
        expires_at: Set(expires_at.map(Into::into)),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(NewToken { plaintext, row })
}

/// The viewer for a bearer token, or UNAUTHENTICATED if it is malformed, unknown, revoked
/// or expired. All four answer the same, so a caller learns nothing about which it was.
pub async fn authenticate<C: ConnectionTrait>(db: &C, token: &str) -> Result<Viewer> {
    Ok(authenticate_until(db, token).await?.0)
}

/// [`authenticate`], and when the token expires, if it does.
pub(crate) async fn authenticate_until<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<(Viewer, Option<DateTime<Utc>>)> {
    if !is_well_formed(token) {
        return Err(StoreError::Unauthenticated);
    }
    let row = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(hash(token)))
        .one(db)
        .await?
        .ok_or(StoreError::Unauthenticated)?;
    let now = Utc::now();
    if row.revoked_at.is_some() || row.expires_at.is_some_and(|at| at <= now) {
        return Err(StoreError::Unauthenticated);
    }
    let scopes = row
        .scopes
        .parse::<Scopes>()
        .map_err(|_| StoreError::Unauthenticated)?;
    if row
        .last_used_at
        .is_none_or(|at| now.signed_duration_since(at) > LAST_USED_GRANULARITY)
    {
        api_tokens::Entity::update_many()
            .col_expr(
                api_tokens::Column::LastUsedAt,
                sea_orm::sea_query::Expr::value(sea_orm::Value::ChronoDateTimeWithTimeZone(Some(
                    now.into(),
                ))),
            )
            .filter(api_tokens::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    let viewer = Viewer {
        workspace_id: row.workspace_id,
        agent_id: row.agent_id,
        token_id: row.id,
        scopes,
    };
    Ok((viewer, row.expires_at.map(|at| at.to_utc())))
}

/// Every token of a workspace, oldest first (never the secret: it isn't stored).
pub async fn list<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
) -> Result<Vec<api_tokens::Model>> {
    use sea_orm::QueryOrder;
    Ok(api_tokens::Entity::find()
        .filter(api_tokens::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(api_tokens::Column::CreatedAt)
        .order_by_asc(api_tokens::Column::Id)
        .all(db)
        .await?)
}

/// Revoke the workspace's token whose display prefix is `prefix`. NOT_FOUND when none
/// matches; CONFLICT when several do (ask for a longer prefix rather than guess).
pub async fn revoke<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    prefix: &str,
) -> Result<api_tokens::Model> {
    let matching: Vec<api_tokens::Model> = list(db, workspace_id)
        .await?
        .into_iter()
        .filter(|t| t.display_prefix.starts_with(prefix) && !prefix.is_empty())
        .collect();
    let token = match matching.as_slice() {
        [] => return Err(StoreError::NotFound("ApiToken")),
        [one] => one.clone(),
        _ => {
            return Err(StoreError::Conflict(format!(
                "{} tokens start with `{prefix}`",
                matching.len()
            )));
        }
    };
    if token.revoked_at.is_some() {
        return Ok(token);
    }
    let mut active: api_tokens::ActiveModel = token.into();
    active.revoked_at = Set(Some(crate::db::now()));
    Ok(active.update(db).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_well_formed_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(a.starts_with("pgr_"));
        assert_eq!(a.len(), 4 + 32 + 6);
        assert!(is_well_formed(&a));
        assert_ne!(a, b);
    }

    #[test]
    fn a_changed_character_breaks_the_checksum() {
        let token = generate();
        let mut bytes = token.into_bytes();
        bytes[10] = if bytes[10] == b'a' { b'b' } else { b'a' };
        let broken = String::from_utf8(bytes).unwrap();
        assert!(!is_well_formed(&broken));
        assert!(!is_well_formed("pgr_short"));
        assert!(!is_well_formed("Bearer nonsense"));
    }

    #[test]
    fn hash_is_hex_sha256() {
        assert_eq!(
            hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
