//! Webhook endpoints: the URLs a workspace registers, which kinds of event each wants, and
//! its signing secrets.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, IntoActiveModel,
    PaginatorTrait, QueryFilter,
};
use serde_json::Value;
use url::Url;
use uuid::Uuid;

use entity::webhook_endpoints as endpoints;

use super::schedule::{Clock, after};
use super::secrets::{Secret, SecretKey};
use crate::Db;
use crate::error::{Result, StoreError};
use crate::events::{self, EventKind};
use crate::page::{Cursor, Page, PageRequest};

/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);
/// The longest description.
pub const MAX_DESCRIPTION: usize = 500;
/// The most endpoints one workspace may register.
pub const MAX_ENDPOINTS: u64 = 50;

/// What an endpoint is described as: at most [`MAX_DESCRIPTION`] characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Description(String);

impl Description {
    /// Check a description for `field`.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let text = raw.trim();
        if text.chars().count() > MAX_DESCRIPTION {
            return Err(StoreError::bad_input(
                field,
                format!("the description is longer than {MAX_DESCRIPTION} characters"),
            ));
        }
        Ok(Description(text.to_owned()))
    }
}

/// An endpoint to register (its URL already checked, see [`super::address::check`]).
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    /// Where to send.
    pub url: Url,
    /// The kinds it wants; empty: all.
    pub kinds: Vec<EventKind>,
    /// What it is for.
    pub description: Description,
}

/// What an update changes; `None` leaves a value as it is.
#[derive(Debug, Clone, Default)]
pub struct EndpointChange {
    /// A new URL (already checked).
    pub url: Option<Url>,
    /// New kinds; empty: all.
    pub kinds: Option<Vec<EventKind>>,
    /// A new description.
    pub description: Option<Description>,
    /// On or off. Turning an endpoint back on sends what happens from then on, not what
    /// happened while it was off (the `events` feed has that).
    pub enabled: Option<bool>,
}

fn kinds_json(kinds: &[EventKind]) -> Value {
    let mut kinds = kinds.to_vec();
    kinds.sort();
    kinds.dedup();
    Value::Array(kinds.iter().map(|k| Value::from(k.as_str())).collect())
}

/// The kinds an endpoint wants (empty: all).
pub fn kinds_of(endpoint: &endpoints::Model) -> Vec<EventKind> {
    endpoint
        .kinds
        .as_array()
        .map(|kinds| {
            kinds
                .iter()
                .filter_map(|k| k.as_str().and_then(EventKind::from_db))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether `endpoint` wants events of `kind`.
pub fn wants(endpoint: &endpoints::Model, kind: &str) -> bool {
    match endpoint.kinds.as_array() {
        Some(kinds) if !kinds.is_empty() => kinds.iter().any(|k| k.as_str() == Some(kind)),
        _ => true,
    }
}

/// The secrets that sign an attempt made at `now`: the current one, and the one a
/// rotation replaced while its day lasts.
pub fn signing_secrets(
    key: &SecretKey,
    endpoint: &endpoints::Model,
    now: sea_orm::prelude::DateTimeWithTimeZone,
) -> Result<Vec<Secret>> {
    let mut secrets = vec![key.open(endpoint.id, &endpoint.secret)?];
    if let (Some(previous), Some(until)) =
        (&endpoint.previous_secret, endpoint.previous_secret_until)
        && until > now
    {
        secrets.push(key.open(endpoint.id, previous)?);
    }
    Ok(secrets)
}

/// Register an endpoint. Returns it and its secret, which is not shown again. It gets the
/// events that commit from now on.
pub async fn create(
    db: &Db,
    key: &SecretKey,
    clock: &Clock,
    workspace_id: Uuid,
    new: NewEndpoint,
) -> Result<(endpoints::Model, Secret)> {
    let count = endpoints::Entity::find()
        .filter(endpoints::Column::WorkspaceId.eq(workspace_id))
        .count(&db.conn)
        .await?;
    if count >= MAX_ENDPOINTS {
        return Err(StoreError::bad_input(
            "input.url",
            format!("a workspace may register at most {MAX_ENDPOINTS} webhook endpoints"),
        ));
    }
    let id = Uuid::now_v7();
    let secret = Secret::generate();
    let now = clock.now();
    let cursor = events::last_seq(db, workspace_id).await?;
    let row = endpoints::ActiveModel {
        id: Set(id),
        workspace_id: Set(workspace_id),
        url: Set(new.url.to_string()),
        description: Set(new.description.0),
        kinds: Set(kinds_json(&new.kinds)),
        enabled: Set(true),
        disabled_reason: Set(None),
        secret: Set(key.seal(id, &secret)?),
        previous_secret: Set(None),
        previous_secret_until: Set(None),
        cursor_seq: Set(cursor),
        failing_since: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.conn)
    .await?;
    Ok((row, secret))
}

/// The workspace's endpoint `id`.
pub async fn get(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<endpoints::Model> {
    endpoints::Entity::find_by_id(id)
        .filter(endpoints::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(StoreError::NotFound("WebhookEndpoint"))
}

/// Change an endpoint.
pub async fn update(
    db: &Db,
    clock: &Clock,
    workspace_id: Uuid,
    id: Uuid,
    change: EndpointChange,
) -> Result<endpoints::Model> {
    let current = get(db, workspace_id, id).await?;
    let was_enabled = current.enabled;
    let mut row = current.into_active_model();
    if let Some(url) = change.url {
        row.url = Set(url.to_string());
    }
    if let Some(kinds) = change.kinds {
        row.kinds = Set(kinds_json(&kinds));
    }
    if let Some(description) = change.description {
        row.description = Set(description.0);
    }
    match change.enabled {
        Some(true) if !was_enabled => {
            row.enabled = Set(true);
            row.disabled_reason = Set(None);
            row.failing_since = Set(None);
            row.cursor_seq = Set(events::last_seq(db, workspace_id).await?);
        }
        Some(false) if was_enabled => {
            row.enabled = Set(false);
            row.disabled_reason = Set(Some("disabled through the API".to_owned()));
        }
        _ => {}
    }
    row.updated_at = Set(clock.now());
    Ok(row.update(&db.conn).await?)
}

/// Delete an endpoint with its deliveries and their attempts.
pub async fn delete(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<()> {
    let deleted = endpoints::Entity::delete_many()
        .filter(endpoints::Column::WorkspaceId.eq(workspace_id))
        .filter(endpoints::Column::Id.eq(id))
        .exec(&db.conn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::NotFound("WebhookEndpoint"));
    }
    Ok(())
}

/// Give an endpoint a new secret; the old one keeps signing beside it for
/// [`ROTATION_OVERLAP`], so the partner can switch without losing a webhook. Returns the
/// endpoint and the new secret, which is not shown again.
pub async fn rotate(
    db: &Db,
    key: &SecretKey,
    clock: &Clock,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<(endpoints::Model, Secret)> {
    let current = get(db, workspace_id, id).await?;
    let secret = Secret::generate();
    let now = clock.now();
    let old = current.secret.clone();
    let mut row = current.into_active_model();
    row.previous_secret = Set(Some(old));
    row.previous_secret_until = Set(Some(after(now, ROTATION_OVERLAP)));
    row.secret = Set(key.seal(id, &secret)?);
    row.updated_at = Set(now);
    Ok((row.update(&db.conn).await?, secret))
}

/// A page of the workspace's endpoints, oldest first.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    page: &PageRequest,
) -> Result<Page<endpoints::Model>> {
    let mut select = Query::select()
        .column(sea_orm::sea_query::Asterisk)
        .from(endpoints::Entity)
        .and_where(Expr::col(endpoints::Column::WorkspaceId).eq(workspace_id))
        .to_owned();
    crate::sql::keyset_page(
        &mut select,
        Expr::col(endpoints::Column::CreatedAt),
        Expr::col(endpoints::Column::Id),
        Order::Asc,
        page,
    );
    let statement = db.conn.get_database_backend().build(&select);
    let rows = endpoints::Model::find_by_statement(statement)
        .all(&db.conn)
        .await?;
    Ok(Page::from_rows(page, rows, |e| {
        Cursor::at(&e.created_at, e.id)
    }))
}

/// How many endpoints the workspace has.
pub async fn count(db: &Db, workspace_id: Uuid) -> Result<u64> {
    Ok(endpoints::Entity::find()
        .filter(endpoints::Column::WorkspaceId.eq(workspace_id))
        .count(&db.conn)
        .await?)
}
