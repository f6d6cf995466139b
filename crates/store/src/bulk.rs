//! Loading many rows at once: multi-row INSERTs of a batch in one transaction, for data
//! made elsewhere with its own ids and times (the seed). Columns derived from others are
//! filled here as everywhere else (search text by [`crate::search`]); a contact's profile
//! is [`crate::membership::load_contacts`]'s business.

use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, EntityTrait};
use uuid::Uuid;

use entity::profiles;

use crate::Db;
use crate::error::Result;
use crate::search;

/// A profile to load: its id, name and times; it starts at version 1.
#[derive(Debug, Clone)]
pub struct ProfileRow {
    /// The id.
    pub id: Uuid,
    /// The name.
    pub name: String,
    /// When it was created.
    pub created_at: DateTimeWithTimeZone,
    /// When it last changed.
    pub updated_at: DateTimeWithTimeZone,
}

/// Load profiles of `workspace_id` in one transaction, with the name keys suggestions
/// find them by.
pub async fn load_profiles(db: &Db, workspace_id: Uuid, rows: Vec<ProfileRow>) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let keys: Vec<_> = rows
        .iter()
        .flat_map(|row| crate::suggestions::key_rows(workspace_id, row.id, &row.name))
        .collect();
    let rows: Vec<profiles::ActiveModel> = rows
        .into_iter()
        .map(|row| profiles::ActiveModel {
            id: Set(row.id),
            workspace_id: Set(workspace_id),
            search_name: Set(search::profile_name(&row.name)),
            name: Set(row.name),
            external_id: Set(None),
            version: Set(1),
            created_at: Set(row.created_at),
            updated_at: Set(row.updated_at),
        })
        .collect();
    let txn = db.begin_write().await?;
    insert_rows(&txn, rows).await?;
    insert_rows(&txn, keys).await?;
    txn.commit().await?;
    Ok(())
}

/// Load rows that have no derived columns and no rule beyond their foreign keys
/// (agents, channels, custom fields, contact moments, notes, field values) in one
/// transaction.
pub async fn load_rows<A>(db: &Db, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
{
    if rows.is_empty() {
        return Ok(());
    }
    let txn = db.begin_write().await?;
    insert_rows(&txn, rows).await?;
    txn.commit().await?;
    Ok(())
}

/// Bind parameters per statement, at most: under SQLite's limit (32,766) and
/// PostgreSQL's (65,535).
pub(crate) const PARAMETERS: usize = 30_000;

/// [`load_rows`] inside the caller's transaction: one statement, or as few as the bind
/// parameter limits allow.
pub async fn insert_rows<A, C>(txn: &C, rows: Vec<A>) -> Result<()>
where
    A: ActiveModelTrait + Send,
    C: ConnectionTrait,
{
    if rows.is_empty() {
        return Ok(());
    }
    let columns = <<A::Entity as EntityTrait>::Column as sea_orm::Iterable>::iter().count();
    let per_statement = (PARAMETERS / columns.max(1)).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_statement).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// The tables an import looks rows up in by workspace (profiles by external id, contacts
/// by identifier) while it fills them. The others it only writes, or reads by profile.
const LOOKED_UP: [&str; 2] = ["profiles", "contacts"];

/// Bring PostgreSQL's statistics of the profiles and contacts up to date after many rows
/// went in (one `ANALYZE` per table, each sampling a bounded number of rows: 50 to 150 ms
/// each at M size). Why: the planner judges a workspace by the statistics it last
/// gathered, so while an empty workspace fills with thousands of contacts it still
/// believes there are none, and takes any index that starts with the workspace, reading
/// all its contacts for one identifier (20 ms instead of 0.1). Autovacuum would get there
/// within minutes; an import can't wait. A role that doesn't own a table gets a warning
/// from PostgreSQL, not an error, and the table is skipped. Nothing to do on SQLite,
/// whose planner doesn't judge by the rows.
pub async fn refresh_statistics(db: &Db) -> Result<()> {
    let backend = db.conn.get_database_backend();
    if backend != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    for table in LOOKED_UP {
        db.conn
            .execute_raw(sea_orm::Statement::from_string(
                backend,
                format!("ANALYZE {table}"),
            ))
            .await?;
    }
    Ok(())
}
