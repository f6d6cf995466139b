//! Merging two profiles of the same person into one, the survivor, and the redirects that
//! keep the merged profile's id answering with it.
//!
//! One transaction does it all: both profiles are locked, their versions checked, the
//! merged profile's contacts and notes move to the survivor (notes keep their authors and
//! times), its field values fill the survivor's gaps (a value both have follows the
//! caller's choice, the survivor's by default), its history (its events) becomes the
//! survivor's, and its id becomes a redirect to the survivor. Then it is deleted, the
//! survivor's version goes up by one and one `PROFILES_MERGED` event records what moved.
//!
//! A dry run runs exactly the same statements and then rolls them back, so the preview
//! is what the merge would do, not an estimate of it; it records no event.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde_json::{Value, json};
use uuid::Uuid;

use entity::{
    contacts, custom_fields, notes, profile_field_values as values, profile_redirects as redirects,
    profiles,
};

use crate::Db;
use crate::channels::WithChannel;
use crate::error::{Result, StoreError};
use crate::events::{self, EventKind, NewEvent};

/// Which value a merge keeps for a field both profiles have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Keep {
    /// The survivor's (the default).
    #[default]
    Survivor,
    /// The merged profile's.
    Merged,
}

/// What `mergeProfiles` asks for.
#[derive(Debug, Clone, Default)]
pub struct MergeRequest {
    /// The profile that stays.
    pub survivor_id: Uuid,
    /// The profile that goes into it.
    pub merged_id: Uuid,
    /// Only show what would happen.
    pub dry_run: bool,
    /// For fields both have: which value stays. Fields not named keep the survivor's.
    pub field_choices: Vec<(Uuid, Keep)>,
    /// The survivor's version the caller last read; stale: CONFLICT.
    pub expected_survivor: Option<i32>,
    /// The merged profile's version the caller last read; stale: CONFLICT.
    pub expected_merged: Option<i32>,
}

/// A field both profiles had a different value for, and which one stayed.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldConflict {
    /// The field.
    pub field: custom_fields::Model,
    /// The survivor's value.
    pub survivor_value: Value,
    /// The merged profile's value.
    pub merged_value: Value,
    /// Which stayed.
    pub kept: Keep,
}

/// The survivor as a dry run leaves it, read inside the merge's transaction before it
/// rolls back.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Its contacts with their channels, as `Profile.contacts` sorts them.
    pub contacts: Vec<WithChannel<contacts::Model>>,
    /// Its field values.
    pub values: Vec<values::Model>,
    /// The ids that would answer with it.
    pub merged_ids: Vec<Uuid>,
}

/// What a merge did (or, in a dry run, would do).
#[derive(Debug, Clone)]
pub struct Merged {
    /// The survivor as it is now (or would be).
    pub profile: profiles::Model,
    /// Whether this was only a preview.
    pub dry_run: bool,
    /// The contacts that moved to the survivor, oldest first.
    pub moved_contacts: Vec<contacts::Model>,
    /// How many notes moved.
    pub moved_note_count: u64,
    /// Every field both had a different value for.
    pub field_conflicts: Vec<FieldConflict>,
    /// The survivor's state, for a dry run only.
    pub preview: Option<Preview>,
}

/// The stale-version refusal.
fn stale(which: &str, current: i32, expected: i32) -> StoreError {
    StoreError::Conflict(format!(
        "the {which} profile changed meanwhile: it is at version {current}, not {expected}; \
         reload it and try again"
    ))
}

/// Merge `request.merged_id` into `request.survivor_id` (see the module's description).
pub async fn merge(db: &Db, workspace_id: Uuid, request: MergeRequest) -> Result<Merged> {
    let (survivor_id, merged_id) = (request.survivor_id, request.merged_id);
    if survivor_id == merged_id {
        return Err(StoreError::bad_input(
            "input.mergedId",
            "a profile can't be merged into itself; choose two different profiles",
        ));
    }
    let txn = db.begin_write().await?;
    // Both rows locked, in id order so that two merges of the same pair can't deadlock.
    let both = Condition::all().add(profiles::Column::Id.is_in([survivor_id, merged_id]));
    let locked = crate::profiles::lock_in_id_order(
        &txn,
        workspace_id,
        both,
        sea_orm::sea_query::LockType::Update,
    )
    .await?;
    let find = |id: Uuid| {
        locked
            .iter()
            .find(|p| p.id == id)
            .cloned()
            .ok_or(StoreError::NotFound("Profile"))
    };
    let survivor = find(survivor_id)?;
    let merged = find(merged_id)?;
    if let Some(expected) = request.expected_survivor
        && expected != survivor.version
    {
        return Err(stale("surviving", survivor.version, expected));
    }
    if let Some(expected) = request.expected_merged
        && expected != merged.version
    {
        return Err(stale("merged", merged.version, expected));
    }

    let (field_conflicts, field_changes) =
        merge_values(&txn, workspace_id, survivor_id, merged_id, &request).await?;
    let moved_contacts =
        crate::membership::move_all(&txn, workspace_id, merged_id, survivor_id).await?;
    // The notes keep their authors and times: only the profile they belong to changes.
    let moved_notes: Vec<Uuid> = notes::Entity::update_many()
        .col_expr(notes::Column::ProfileId, Expr::value(survivor_id))
        .filter(notes::Column::WorkspaceId.eq(workspace_id))
        .filter(notes::Column::ProfileId.eq(merged_id))
        .exec_with_returning(&txn)
        .await?
        .into_iter()
        .map(|n| n.id)
        .collect();
    // The merged profile's history is the survivor's from now on.
    crate::events::move_history(&txn, workspace_id, merged_id, survivor_id).await?;
    // Ids merged into the merged profile earlier now answer with the survivor too; then
    // the merged id itself.
    redirects::Entity::update_many()
        .col_expr(redirects::Column::SurvivorId, Expr::value(survivor_id))
        .filter(redirects::Column::WorkspaceId.eq(workspace_id))
        .filter(redirects::Column::SurvivorId.eq(merged_id))
        .exec(&txn)
        .await?;
    let now = crate::db::now();
    redirects::Entity::insert(redirects::ActiveModel {
        merged_id: Set(merged_id),
        workspace_id: Set(workspace_id),
        survivor_id: Set(survivor_id),
        merged_at: Set(now),
    })
    .exec_without_returning(&txn)
    .await?;
    // Its field values the survivor didn't take and its name keys go with it.
    profiles::Entity::delete_many()
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .filter(profiles::Column::Id.eq(merged_id))
        .exec(&txn)
        .await?;
    // A survivor without an external id takes the merged profile's, so an integration
    // that keyed the merged profile finds the survivor (the key is free: its profile is
    // gone). A survivor with one keeps its own.
    let taken_external_id = match (&survivor.external_id, &merged.external_id) {
        (None, Some(external_id)) => {
            profiles::Entity::update_many()
                .col_expr(
                    profiles::Column::ExternalId,
                    Expr::value(external_id.clone()),
                )
                .filter(profiles::Column::WorkspaceId.eq(workspace_id))
                .filter(profiles::Column::Id.eq(survivor_id))
                .exec(&txn)
                .await?;
            Some(external_id.clone())
        }
        _ => None,
    };
    let profile = crate::profiles::bump_version(&txn, workspace_id, survivor_id)
        .await?
        .ok_or(StoreError::NotFound("Profile"))?;

    let moved_note_count = moved_notes.len() as u64;
    if request.dry_run {
        let preview = preview(&txn, workspace_id, survivor_id).await?;
        txn.rollback().await?;
        return Ok(Merged {
            profile,
            dry_run: true,
            moved_contacts,
            moved_note_count,
            field_conflicts,
            preview: Some(preview),
        });
    }
    let event = NewEvent::new(
        EventKind::ProfilesMerged,
        survivor_id,
        json!({
            "mergedProfileId": merged_id,
            "mergedName": merged.name,
            "contactIds": moved_contacts.iter().map(|c| c.id).collect::<Vec<_>>(),
            "noteIds": moved_notes,
            "fields": field_changes,
            "externalId": taken_external_id,
        }),
    );
    events::record(&txn, db, workspace_id, vec![event]).await?;
    txn.commit().await?;
    Ok(Merged {
        profile,
        dry_run: false,
        moved_contacts,
        moved_note_count,
        field_conflicts,
        preview: None,
    })
}

/// Give the survivor the merged profile's field values it lacks, and those the caller
/// chose over its own. Returns every conflict, and the survivor's changed values for the
/// event (`{ key, old, new }`).
async fn merge_values<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    survivor_id: Uuid,
    merged_id: Uuid,
    request: &MergeRequest,
) -> Result<(Vec<FieldConflict>, Vec<Value>)> {
    // Every field a choice names must be the workspace's, like any id the caller sends.
    let chosen: HashMap<Uuid, Keep> = request.field_choices.iter().copied().collect();
    let rows = values::Entity::find()
        .filter(values::Column::WorkspaceId.eq(workspace_id))
        .filter(values::Column::ProfileId.is_in([survivor_id, merged_id]))
        .all(txn)
        .await?;
    let mut field_ids: Vec<Uuid> = rows.iter().map(|v| v.field_id).collect();
    field_ids.extend(chosen.keys().copied());
    field_ids.sort();
    field_ids.dedup();
    let fields: HashMap<Uuid, custom_fields::Model> = custom_fields::Entity::find()
        .filter(custom_fields::Column::WorkspaceId.eq(workspace_id))
        .filter(custom_fields::Column::Id.is_in(field_ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect();
    if chosen.keys().any(|id| !fields.contains_key(id)) {
        return Err(StoreError::NotFound("CustomField"));
    }
    let survivor: HashMap<Uuid, &values::Model> = rows
        .iter()
        .filter(|v| v.profile_id == survivor_id)
        .map(|v| (v.field_id, v))
        .collect();
    let mut merged: Vec<&values::Model> =
        rows.iter().filter(|v| v.profile_id == merged_id).collect();
    // Conflicts in the fields' display order.
    merged.sort_by_key(|v| {
        fields
            .get(&v.field_id)
            .map(|f| (f.position, f.created_at, f.id))
    });

    let mut conflicts = Vec::new();
    let mut changes = Vec::new();
    let mut take = Vec::new();
    let mut replace = Vec::new();
    for value in merged {
        let Some(field) = fields.get(&value.field_id) else {
            continue;
        };
        match survivor.get(&value.field_id) {
            None => {
                take.push(value.id);
                changes.push(json!({ "key": field.key, "old": null, "new": value.value }));
            }
            Some(own) if own.value == value.value => {}
            Some(own) => {
                let kept = chosen.get(&value.field_id).copied().unwrap_or_default();
                if kept == Keep::Merged {
                    take.push(value.id);
                    replace.push(own.id);
                    changes.push(json!({ "key": field.key, "old": own.value, "new": value.value }));
                }
                conflicts.push(FieldConflict {
                    field: field.clone(),
                    survivor_value: own.value.clone(),
                    merged_value: value.value.clone(),
                    kept,
                });
            }
        }
    }
    if !replace.is_empty() {
        values::Entity::delete_many()
            .filter(values::Column::WorkspaceId.eq(workspace_id))
            .filter(values::Column::Id.is_in(replace))
            .exec(txn)
            .await?;
    }
    if !take.is_empty() {
        values::Entity::update_many()
            .col_expr(values::Column::ProfileId, Expr::value(survivor_id))
            .col_expr(values::Column::UpdatedAt, Expr::value(crate::db::now()))
            .filter(values::Column::WorkspaceId.eq(workspace_id))
            .filter(values::Column::Id.is_in(take))
            .exec(txn)
            .await?;
    }
    Ok((conflicts, changes))
}

/// The survivor as the merge's transaction sees it.
async fn preview<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    survivor_id: Uuid,
) -> Result<Preview> {
    let contacts = crate::contacts::of_profiles_on(txn, workspace_id, vec![survivor_id])
        .await?
        .remove(&survivor_id)
        .unwrap_or_default();
    let values = values::Entity::find()
        .filter(values::Column::WorkspaceId.eq(workspace_id))
        .filter(values::Column::ProfileId.eq(survivor_id))
        .all(txn)
        .await?;
    let merged_ids = redirects_to(txn, workspace_id, vec![survivor_id])
        .await?
        .remove(&survivor_id)
        .unwrap_or_default();
    Ok(Preview {
        contacts,
        values,
        merged_ids,
    })
}

/// The ids merged into each of `survivor_ids`, oldest merge first.
pub async fn redirects_to<C: ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    survivor_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<Uuid>>> {
    let rows = redirects::Entity::find()
        .filter(redirects::Column::WorkspaceId.eq(workspace_id))
        .filter(redirects::Column::SurvivorId.is_in(survivor_ids))
        .order_by_asc(redirects::Column::MergedAt)
        .order_by_asc(redirects::Column::MergedId)
        .all(conn)
        .await?;
    let mut out: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for row in rows {
        out.entry(row.survivor_id).or_default().push(row.merged_id);
    }
    Ok(out)
}

/// Profiles of the workspace by id, following merges: an id merged into another profile
/// answers with that profile. Keyed by the id asked for. A second statement runs only
/// when some id is not a profile.
pub async fn by_ids_following_merges(
    db: &Db,
    workspace_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, profiles::Model>> {
    let mut found: HashMap<Uuid, profiles::Model> =
        crate::profiles::by_ids(db, workspace_id, ids.clone())
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
    let missing: Vec<Uuid> = ids
        .into_iter()
        .filter(|id| !found.contains_key(id))
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    let pairs: Vec<(Uuid, profiles::Model)> = redirects::Entity::find()
        .find_also_related(profiles::Entity)
        .filter(redirects::Column::WorkspaceId.eq(workspace_id))
        .filter(redirects::Column::MergedId.is_in(missing))
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .all(&db.conn)
        .await?
        .into_iter()
        .filter_map(|(r, p)| Some((r.merged_id, p?)))
        .collect();
    found.extend(pairs);
    Ok(found)
}
