//! Membership: which profile a contact belongs to. The only code that writes
//! `contacts.profile_id` (attach, detach, move, a new profile's first contacts, and a
//! merge's move of all of them), and the one place that raises profile versions for it:
//! a contact that joins raises its new profile's version, one that leaves raises its old
//! one's, a move does both. Each records its events here too: a move is a
//! `CONTACT_DETACHED` on the old profile, then a `CONTACT_ATTACHED` on the new one. (A
//! merge is one change of its own, recorded by [`crate::merge`] as `PROFILES_MERGED`.)

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use entity::{contacts as contact_rows, profiles as profile_rows};

use crate::Db;
use crate::contacts;
use crate::error::{Result, StoreError};
use crate::events::{self, EventKind, NewEvent};
use crate::fields::{self, FieldChange};
use crate::profiles;
use crate::text::{ExternalId, Name};

/// What `createProfile` asks for.
pub struct NewProfile {
    /// The name.
    pub name: Name,
    /// The partner's key for it, unique within the workspace.
    pub external_id: Option<ExternalId>,
    /// Contacts to attach in the same step.
    pub contact_ids: Vec<Uuid>,
    /// Move those contacts even if they belong to another profile.
    pub move_contacts: bool,
    /// Field values to set.
    pub fields: Vec<FieldChange>,
}

/// Create a profile with its contacts and field values, all or nothing. It starts at
/// version 1; the profiles its contacts come from go up.
pub async fn create_profile(
    db: &Db,
    workspace_id: Uuid,
    new: NewProfile,
) -> Result<profile_rows::Model> {
    let txn = db.begin_write().await?;
    let profile = profiles::insert(
        &txn,
        workspace_id,
        new.name,
        new.external_id,
        crate::db::now(),
    )
    .await?;
    let mut log = vec![created(&profile)];
    for contact_id in new.contact_ids {
        let outcome = join(
            &txn,
            workspace_id,
            profile.id,
            contact_id,
            new.move_contacts,
        )
        .await?;
        log.extend(outcome.events(profile.id));
    }
    let changed = fields::apply(&txn, workspace_id, profile.id, &new.fields).await?;
    if !changed.is_empty() {
        log.push(NewEvent::new(
            EventKind::FieldsChanged,
            profile.id,
            json!({ "fields": changed }),
        ));
    }
    events::record(&txn, db, workspace_id, log).await?;
    txn.commit().await?;
    Ok(profile)
}

/// The `PROFILE_CREATED` event of `profile`: its name, and its external id if it has one.
pub(crate) fn created(profile: &profile_rows::Model) -> NewEvent {
    let mut changes = json!({ "name": profile.name });
    if let Some(external_id) = &profile.external_id {
        changes["externalId"] = json!(external_id);
    }
    NewEvent::new(EventKind::ProfileCreated, profile.id, changes)
}

/// Put an existing contact into `profile_id` inside the caller's transaction, as
/// [`attach`] does but leaving the joined profile's version to the caller: the events it
/// makes (none when the contact was already there). In another profile: CONFLICT unless
/// `move_contact`.
pub(crate) async fn join_in<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
    move_contact: bool,
) -> Result<Vec<NewEvent>> {
    let outcome = join(txn, workspace_id, profile_id, contact_id, move_contact).await?;
    Ok(outcome.events(profile_id))
}

/// A contact that doesn't exist yet, to be made in a profile: its channel, normalised
/// identifier and display name.
#[derive(Debug, Clone)]
pub(crate) struct NewContact {
    pub channel_id: Uuid,
    pub identifier: String,
    pub display_name: String,
}

/// Insert new contacts straight into `profile_id` in one statement, inside the caller's
/// transaction (the profile's version is the caller's): their `CONTACT_ATTACHED` events.
pub(crate) async fn insert_into_profile<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    new: Vec<NewContact>,
) -> Result<Vec<NewEvent>> {
    insert_into_profiles(
        txn,
        workspace_id,
        new.into_iter().map(|c| (profile_id, c)).collect(),
    )
    .await
}

/// [`insert_into_profile`] for contacts of several profiles, each with its profile, in one
/// statement (or as few as the bind-parameter limits allow): their `CONTACT_ATTACHED`
/// events, in the same order.
pub(crate) async fn insert_into_profiles<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    new: Vec<(Uuid, NewContact)>,
) -> Result<Vec<NewEvent>> {
    use sea_orm::ActiveValue::Set;
    let now = crate::db::now();
    let mut log = Vec::with_capacity(new.len());
    let rows: Vec<contact_rows::ActiveModel> = new
        .into_iter()
        .map(|(profile_id, contact)| {
            let id = Uuid::now_v7();
            log.push(NewEvent::new(
                EventKind::ContactAttached,
                profile_id,
                json!({
                    "contactId": id,
                    "identifier": contact.identifier,
                    "fromProfileId": null,
                }),
            ));
            contact_rows::ActiveModel {
                id: Set(id),
                workspace_id: Set(workspace_id),
                channel_id: Set(contact.channel_id),
                search_text: Set(crate::search::contact_text(
                    &contact.identifier,
                    &contact.display_name,
                )),
                match_key: Set(crate::suggestions::match_key(&contact.identifier)),
                identifier: Set(contact.identifier),
                display_name: Set(contact.display_name),
                profile_id: Set(Some(profile_id)),
                created_at: Set(now),
                updated_at: Set(now),
            }
        })
        .collect();
    crate::bulk::insert_rows(txn, rows).await?;
    Ok(log)
}

/// A contact to load (see [`load_contacts`]), with the profile it belongs to, if any.
#[derive(Debug, Clone)]
pub struct ContactRow {
    /// The id.
    pub id: Uuid,
    /// Its channel.
    pub channel_id: Uuid,
    /// The identifier, already in its stored form.
    pub identifier: String,
    /// The display name.
    pub display_name: String,
    /// Its profile.
    pub profile_id: Option<Uuid>,
    /// When it was first seen.
    pub at: sea_orm::prelude::DateTimeWithTimeZone,
}

/// Load contacts of `workspace_id` in one transaction, each in its profile from the
/// start: bulk data whose profiles were loaded at version 1 with their contacts, like
/// [`create_profile`]'s, so no version changes.
pub async fn load_contacts(db: &Db, workspace_id: Uuid, rows: Vec<ContactRow>) -> Result<()> {
    use sea_orm::ActiveValue::Set;
    let rows: Vec<contact_rows::ActiveModel> = rows
        .into_iter()
        .map(|row| contact_rows::ActiveModel {
            id: Set(row.id),
            workspace_id: Set(workspace_id),
            channel_id: Set(row.channel_id),
            search_text: Set(crate::search::contact_text(
                &row.identifier,
                &row.display_name,
            )),
            match_key: Set(crate::suggestions::match_key(&row.identifier)),
            identifier: Set(row.identifier),
            display_name: Set(row.display_name),
            profile_id: Set(row.profile_id),
            created_at: Set(row.at),
            updated_at: Set(row.at),
        })
        .collect();
    crate::bulk::load_rows(db, rows).await
}

/// Put a contact without a profile into a profile made in the same transaction, as
/// [`create_profile`] does (the demo's way in): the new profile stays at version 1.
pub async fn join_new_profile<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
) -> Result<()> {
    join(txn, workspace_id, profile_id, contact_id, false).await?;
    Ok(())
}

/// What [`join`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The contact was already in the profile; nothing changed.
    AlreadyThere(contact_rows::Model),
    /// The contact joined the profile, coming from `from` (a profile it was moved out of).
    Joined {
        /// The contact as it is now.
        contact: contact_rows::Model,
        /// The profile the contact left, if it had one.
        from: Option<Uuid>,
    },
}

impl Attached {
    /// The events of this outcome for the profile the contact joined: on a move, its
    /// `CONTACT_DETACHED` on the old profile, then its `CONTACT_ATTACHED`; nothing when it
    /// was already there.
    fn events(&self, profile_id: Uuid) -> Vec<NewEvent> {
        let Attached::Joined { contact, from } = self else {
            return Vec::new();
        };
        let mut log = Vec::new();
        if let Some(from) = from {
            log.push(detached(contact, *from, Some(profile_id)));
        }
        log.push(NewEvent::new(
            EventKind::ContactAttached,
            profile_id,
            json!({
                "contactId": contact.id,
                "identifier": contact.identifier,
                "fromProfileId": from,
            }),
        ));
        log
    }
}

/// `CONTACT_DETACHED` of `contact` from `profile_id`, going to `to` (a move) or nowhere.
fn detached(contact: &contact_rows::Model, profile_id: Uuid, to: Option<Uuid>) -> NewEvent {
    NewEvent::new(
        EventKind::ContactDetached,
        profile_id,
        json!({
            "contactId": contact.id,
            "identifier": contact.identifier,
            "toProfileId": to,
        }),
    )
}

/// Put `contact_id` into `profile_id`, inside the caller's transaction. A profile the
/// contact leaves has its version raised here; the joined profile's version is the
/// caller's (a new profile starts at 1 with its contacts, an existing one goes up once).
///
/// Already there: nothing changes. In another profile: CONFLICT unless `move_contact`.
async fn join<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
    move_contact: bool,
) -> Result<Attached> {
    let contact = contacts::find(txn, workspace_id, contact_id).await?;
    let previous = contact.profile_id;
    match previous {
        Some(current) if current == profile_id => return Ok(Attached::AlreadyThere(contact)),
        Some(_) if !move_contact => {
            return Err(StoreError::Conflict(
                "this contact belongs to another profile; pass `move: true` to move it here".into(),
            ));
        }
        _ => {}
    }
    // Only move the contact from where we saw it: if another request moved it in the
    // meantime, refuse rather than silently overwrite that change.
    let from = match previous {
        Some(current) => contact_rows::Column::ProfileId.eq(current),
        None => contact_rows::Column::ProfileId.is_null(),
    };
    // RETURNING hands back the contact as written: no second read.
    let updated = contact_rows::Entity::update_many()
        .col_expr(contact_rows::Column::ProfileId, Expr::value(profile_id))
        .col_expr(
            contact_rows::Column::UpdatedAt,
            Expr::value(crate::db::now()),
        )
        .filter(contact_rows::Column::Id.eq(contact_id))
        .filter(contact_rows::Column::WorkspaceId.eq(workspace_id))
        .filter(from)
        .exec_with_returning(txn)
        .await?;
    let Some(contact) = updated.into_iter().next() else {
        return Err(StoreError::Conflict(
            "the contact changed while this request ran; try again".into(),
        ));
    };
    if let Some(from) = previous {
        profiles::bump_version(txn, workspace_id, from).await?;
    }
    Ok(Attached::Joined {
        contact,
        from: previous,
    })
}

/// Move every contact of `from` to `to`, inside a merge's transaction (which has locked
/// both profiles and deals with their versions and events). Returns the contacts as
/// written.
pub(crate) async fn move_all<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    from: Uuid,
    to: Uuid,
) -> Result<Vec<contact_rows::Model>> {
    let mut moved = contact_rows::Entity::update_many()
        .col_expr(contact_rows::Column::ProfileId, Expr::value(to))
        .col_expr(
            contact_rows::Column::UpdatedAt,
            Expr::value(crate::db::now()),
        )
        .filter(contact_rows::Column::WorkspaceId.eq(workspace_id))
        .filter(contact_rows::Column::ProfileId.eq(from))
        .exec_with_returning(txn)
        .await?;
    moved.sort_by_key(|c| (c.created_at, c.id));
    Ok(moved)
}

/// `attachContact`: attach in one transaction; the profile and contact as they are now.
/// Both profiles' versions go up when the contact moves; nothing changes when it was
/// already there.
///
/// The profile's row is locked first (on PostgreSQL; SQLite's writers take turns
/// anyway): a merge that is taking the profile away holds the same lock, so the attach
/// either lands before the merge (and its contact moves with the merge) or finds the
/// profile gone (NOT_FOUND). It never attaches to a profile that is being deleted. A move
/// locks the profile it takes the contact from as well, in the order a merge locks, so a
/// move out of a profile being merged away waits for the merge instead of deadlocking.
pub async fn attach(
    db: &Db,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
    move_contact: bool,
) -> Result<(profile_rows::Model, contact_rows::Model)> {
    let txn = db.begin_write().await?;
    let profile = if move_contact {
        profiles::find_locked_with_source(&txn, workspace_id, profile_id, contact_id).await?
    } else {
        profiles::find_locked(&txn, workspace_id, profile_id).await?
    };
    let outcome = join(&txn, workspace_id, profile_id, contact_id, move_contact).await?;
    events::record(&txn, db, workspace_id, outcome.events(profile_id)).await?;
    let answer = match outcome {
        Attached::AlreadyThere(contact) => (profile, contact),
        Attached::Joined { contact, .. } => {
            let profile = profiles::bump_version(&txn, workspace_id, profile_id)
                .await?
                .ok_or(StoreError::NotFound("Profile"))?;
            (profile, contact)
        }
    };
    txn.commit().await?;
    Ok(answer)
}

/// `detachContact`: take a contact out of its profile; it keeps its contact moments.
/// NOT_FOUND when the contact is not in that profile.
pub async fn detach(
    db: &Db,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
) -> Result<(profile_rows::Model, contact_rows::Model)> {
    let txn = db.begin_write().await?;
    profiles::find(&txn, workspace_id, profile_id).await?;
    let updated = contact_rows::Entity::update_many()
        .col_expr(
            contact_rows::Column::ProfileId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(
            contact_rows::Column::UpdatedAt,
            Expr::value(crate::db::now()),
        )
        .filter(contact_rows::Column::Id.eq(contact_id))
        .filter(contact_rows::Column::WorkspaceId.eq(workspace_id))
        .filter(contact_rows::Column::ProfileId.eq(profile_id))
        .exec_with_returning(&txn)
        .await?;
    let Some(contact) = updated.into_iter().next() else {
        return Err(StoreError::NotFound("Contact"));
    };
    let profile = profiles::bump_version(&txn, workspace_id, profile_id)
        .await?
        .ok_or(StoreError::NotFound("Profile"))?;
    events::record(
        &txn,
        db,
        workspace_id,
        vec![detached(&contact, profile_id, None)],
    )
    .await?;
    txn.commit().await?;
    Ok((profile, contact))
}
