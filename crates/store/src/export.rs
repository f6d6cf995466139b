//! Reading a whole workspace's profiles out, a page at a time: each page is a keyset page
//! of profiles (oldest first, by creation time then id) and, in one statement each, their
//! contacts with channels, field values and notes with authors. Four statements per page
//! whatever its size, and nothing kept between pages but the cursor, so an export's
//! memory stays that of one page however large the workspace is.

use std::collections::HashMap;

use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use entity::{contacts, profile_field_values, profiles};

use crate::Db;
use crate::channels::WithChannel;
use crate::error::Result;
use crate::notes::WithAuthor;

/// Where the next page starts: after this profile (its creation time and id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct After {
    /// The last profile's creation time.
    pub created_at: DateTimeWithTimeZone,
    /// The last profile's id.
    pub id: Uuid,
}

/// One profile with everything an export writes of it.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The profile.
    pub profile: profiles::Model,
    /// Its contacts with their channels, by channel (type, then name), then oldest first.
    pub contacts: Vec<WithChannel<contacts::Model>>,
    /// Its field values.
    pub values: Vec<profile_field_values::Model>,
    /// Its notes with their authors, oldest first.
    pub notes: Vec<WithAuthor>,
}

/// A page of at most `limit` profiles of the workspace after `after`, oldest first;
/// with `updated_since`, only profiles changed at or after it. An empty page is the end.
pub async fn page(
    db: &Db,
    workspace_id: Uuid,
    updated_since: Option<DateTimeWithTimeZone>,
    after: Option<After>,
    limit: u64,
) -> Result<Vec<Exported>> {
    let mut select =
        profiles::Entity::find().filter(profiles::Column::WorkspaceId.eq(workspace_id));
    if let Some(since) = updated_since {
        select = select.filter(profiles::Column::UpdatedAt.gte(since));
    }
    if let Some(after) = after {
        select = select.filter(
            Condition::any()
                .add(profiles::Column::CreatedAt.gt(after.created_at))
                .add(
                    Condition::all()
                        .add(profiles::Column::CreatedAt.eq(after.created_at))
                        .add(profiles::Column::Id.gt(after.id)),
                ),
        );
    }
    let rows = select
        .order_by_asc(profiles::Column::CreatedAt)
        .order_by_asc(profiles::Column::Id)
        .limit(limit)
        .all(&db.conn)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|p| p.id).collect();
    let mut contacts = crate::contacts::of_profiles(db, workspace_id, ids.clone()).await?;
    let mut values = crate::fields::values_of_profiles(db, workspace_id, ids.clone()).await?;
    let mut notes: HashMap<Uuid, Vec<WithAuthor>> =
        crate::notes::all_of_profiles(db, workspace_id, ids).await?;
    Ok(rows
        .into_iter()
        .map(|profile| Exported {
            contacts: contacts.remove(&profile.id).unwrap_or_default(),
            values: values.remove(&profile.id).unwrap_or_default(),
            notes: notes.remove(&profile.id).unwrap_or_default(),
            profile,
        })
        .collect())
}
