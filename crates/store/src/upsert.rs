//! Create-or-update by a partner's key: `upsertProfile`, and every row of an import.
//!
//! One call brings a profile to what the caller describes: its external id, name, field
//! values, contacts (found or made by channel and identifier) and, for an import, notes.
//! It is made when no profile matches, else changed where it differs; nothing is ever
//! taken away (contacts stay, notes stay, fields not named keep their values). Everything
//! goes through the store's own write paths ([`crate::profiles`], [`crate::fields`],
//! [`crate::membership`], [`crate::notes`]) inside the caller's transaction, with their
//! events, all or nothing.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use entity::{channels, contacts, profiles as profile_rows};

use crate::channels::ChannelType;
use crate::contacts::identifier::Identifier;
use crate::error::{Result, StoreError};
use crate::events::{self, NewEvent};
use crate::fields::{self, FieldChange};
use crate::membership::{self, NewContact};
use crate::notes::{self, NoteSpec};
use crate::profiles::{self, ProfileUpdate};
use crate::text::{ExternalId, Name};
use crate::{Db, WriteTxn};

/// One contact of the profile: the channel, the identifier in its stored form, and the
/// display name a new contact gets (its identifier when `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactSpec {
    /// The channel.
    pub channel_id: Uuid,
    /// The normalised identifier.
    pub identifier: Identifier,
    /// The display name for a contact that is made; an existing one keeps its own.
    pub display_name: Option<Name>,
}

/// What the profile should be.
#[derive(Debug, Clone, Default)]
pub struct Upsert {
    /// The partner's key: the profile with it is updated, or a new one made with it.
    pub external_id: Option<ExternalId>,
    /// The name; needed when the profile is made.
    pub name: Option<Name>,
    /// Field values to set (`None` clears).
    pub fields: Vec<FieldChange>,
    /// Contacts it should have.
    pub contacts: Vec<ContactSpec>,
    /// Move a contact here even if it belongs to another profile; without it that is a
    /// CONFLICT.
    pub move_contacts: bool,
    /// With no profile of that external id (or none given), take the profile the contacts
    /// belong to (the import's matching); `upsertProfile` matches by external id only.
    pub match_contacts: bool,
    /// Notes it should have; one with the same text and creation time is already there.
    pub notes: Vec<NoteSpec>,
    /// When the profile it makes (if it makes one) was created; now when not given. An
    /// import that brings rows in side by side gives each row its place in the file, so
    /// that the profiles it makes keep the file's order.
    pub created_at: Option<sea_orm::prelude::DateTimeWithTimeZone>,
}

/// What [`upsert_in`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The profile was made.
    Created,
    /// An existing profile changed.
    Updated,
    /// An existing profile was already as described; nothing was written.
    Unchanged,
}

/// The profile as it is now, and what happened to it.
#[derive(Debug, Clone)]
pub struct Upserted {
    /// The profile.
    pub profile: profile_rows::Model,
    /// Made, changed or left alone.
    pub outcome: Outcome,
}

/// A contact asked for: its channel and raw identifier, and a display name.
#[derive(Debug, Clone)]
pub struct RawContact {
    /// The channel's id.
    pub channel_id: Uuid,
    /// The identifier as sent.
    pub identifier: String,
    /// The display name as sent.
    pub display_name: Option<String>,
}

/// Check contacts sent by a client: each channel is the workspace's (NOT_FOUND otherwise)
/// and each identifier valid for its channel's type (`field` and the index name the bad
/// one). Reads the channels once.
pub async fn parse_contacts(
    db: &Db,
    workspace_id: Uuid,
    raw: &[RawContact],
    field: &str,
) -> Result<Vec<ContactSpec>> {
    if raw.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = raw.iter().map(|c| c.channel_id).collect();
    let types: HashMap<Uuid, ChannelType> = channels::Entity::find()
        .filter(channels::Column::WorkspaceId.eq(workspace_id))
        .filter(channels::Column::Id.is_in(ids))
        .all(&db.conn)
        .await?
        .into_iter()
        .map(|c| (c.id, ChannelType::from_db(&c.channel_type)))
        .collect();
    raw.iter()
        .enumerate()
        .map(|(i, contact)| {
            let channel_type = types
                .get(&contact.channel_id)
                .copied()
                .ok_or(StoreError::NotFound("Channel"))?;
            let identifier = Identifier::parse(
                &contact.identifier,
                channel_type,
                &format!("{field}[{i}].identifier"),
            )?;
            let display_name = contact
                .display_name
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| Name::parse(s, &format!("{field}[{i}].displayName")))
                .transpose()?;
            Ok(ContactSpec {
                channel_id: contact.channel_id,
                identifier,
                display_name,
            })
        })
        .collect()
}

/// `upsertProfile`: [`upsert_in`] in a transaction of its own.
pub async fn upsert(db: &Db, workspace_id: Uuid, input: Upsert) -> Result<Upserted> {
    let txn = db.begin_write().await?;
    let upserted = upsert_in(&txn, db, workspace_id, input).await?;
    txn.commit().await?;
    Ok(upserted)
}

/// Bring one profile to what `input` describes, inside the caller's transaction `txn`
/// (as made by the actor of `db`), with its events. A refusal leaves the transaction to
/// be rolled back by the caller: nothing of the profile is written.
pub async fn upsert_in(
    txn: &WriteTxn,
    db: &Db,
    workspace_id: Uuid,
    input: Upsert,
) -> Result<Upserted> {
    let mut wanted = Vec::with_capacity(input.contacts.len());
    let mut seen = HashSet::new();
    for contact in input.contacts {
        if seen.insert((contact.channel_id, contact.identifier.as_str().to_owned())) {
            wanted.push(contact);
        }
    }
    let existing = existing_contacts(txn, workspace_id, &wanted).await?;
    let target = match &input.external_id {
        Some(external_id) => profiles::by_external_id(txn, workspace_id, external_id).await?,
        None => None,
    };
    let target = match target {
        Some(profile) => Some(profile),
        None if input.match_contacts && wanted.is_empty() && input.external_id.is_none() => {
            match &input.name {
                Some(name) => bare_by_name(txn, workspace_id, name).await?,
                None => None,
            }
        }
        None if input.match_contacts => {
            by_contacts(txn, workspace_id, &existing, input.external_id.as_ref()).await?
        }
        None => None,
    };

    let mut log: Vec<NewEvent> = Vec::new();
    let mut new_contacts = Vec::new();
    let mut joining = Vec::new();
    for contact in wanted {
        let key = (contact.channel_id, contact.identifier.as_str().to_owned());
        match existing.get(&key) {
            Some(found)
                if target
                    .as_ref()
                    .is_some_and(|p| found.profile_id == Some(p.id)) => {}
            Some(found) => joining.push((found.id, found.identifier.clone())),
            None => new_contacts.push(NewContact {
                channel_id: contact.channel_id,
                display_name: contact
                    .display_name
                    .map_or_else(|| contact.identifier.as_str().to_owned(), Name::into_inner),
                identifier: contact.identifier.into_inner(),
            }),
        }
    }

    let (profile, outcome) = match target {
        None => {
            let name = input
                .name
                .ok_or_else(|| StoreError::bad_input("name", "a new profile needs a name"))?;
            let profile = profiles::insert(
                txn,
                workspace_id,
                name,
                input.external_id,
                input.created_at.unwrap_or_else(crate::db::now),
            )
            .await?;
            log.push(membership::created(&profile));
            for contact in joining {
                log.extend(
                    join(txn, workspace_id, profile.id, contact, input.move_contacts).await?,
                );
            }
            log.extend(
                membership::insert_into_profile(txn, workspace_id, profile.id, new_contacts)
                    .await?,
            );
            let changed =
                fields::apply_to_new(txn, workspace_id, profile.id, &input.fields).await?;
            if !changed.is_empty() {
                log.push(fields_changed(profile.id, changed));
            }
            log.extend(notes::insert_in(txn, workspace_id, profile.id, input.notes).await?);
            (profile, Outcome::Created)
        }
        Some(profile) => {
            let id = profile.id;
            let update = ProfileUpdate {
                name: input.name,
                external_id: input.external_id.map(Some),
            };
            let (mut profile, renamed) =
                profiles::update_in(txn, workspace_id, profile, update, None).await?;
            let bumped = !renamed.is_empty();
            let mut others = Vec::new();
            for contact in joining {
                others.extend(join(txn, workspace_id, id, contact, input.move_contacts).await?);
            }
            others.extend(
                membership::insert_into_profile(txn, workspace_id, id, new_contacts).await?,
            );
            let fields = fields::effective(txn, workspace_id, id, &input.fields).await?;
            if !fields.is_empty() {
                let changed = fields::apply(txn, workspace_id, id, &fields).await?;
                if !changed.is_empty() {
                    others.push(fields_changed(id, changed));
                }
            }
            if !input.notes.is_empty() {
                let present: HashSet<(String, i64)> = notes::of_profile_in(txn, workspace_id, id)
                    .await?
                    .into_iter()
                    .map(|n| (n.body, n.created_at.timestamp_micros()))
                    .collect();
                let missing: Vec<NoteSpec> = input
                    .notes
                    .into_iter()
                    .filter(|n| {
                        !present.contains(&(
                            n.body.as_str().to_owned(),
                            n.created_at.timestamp_micros(),
                        ))
                    })
                    .collect();
                others.extend(notes::insert_in(txn, workspace_id, id, missing).await?);
            }
            // Notes don't raise a profile's version (as `createNote` doesn't); contacts and
            // fields do, once.
            let raises = others
                .iter()
                .any(|e| !matches!(e.kind, events::EventKind::NoteCreated));
            if raises && !bumped {
                profile = profiles::bump_version(txn, workspace_id, id)
                    .await?
                    .ok_or(StoreError::NotFound("Profile"))?;
            }
            let changed = bumped || !others.is_empty();
            log.extend(renamed);
            log.extend(others);
            (
                profile,
                if changed {
                    Outcome::Updated
                } else {
                    Outcome::Unchanged
                },
            )
        }
    };
    events::record(txn, db, workspace_id, log).await?;
    Ok(Upserted { profile, outcome })
}

/// [`upsert_in`] for many profiles, inside the caller's transaction: the import's way,
/// a batch of rows at a time. Each ends as [`upsert_in`] would leave it, and the results
/// come in the order of `inputs`; the first refusal refuses them all (the caller rolls
/// back and may bring the rows in one by one to learn which).
///
/// Why: one row through [`upsert_in`] is about ten statements, each a round trip, so an
/// import of ten thousand new profiles spends its time waiting. Here the rows are looked
/// up together (their external ids and contacts, two statements), and those that are new
/// and share nothing with another row of the batch (no profile has the external id, no
/// contact exists, no other row names them) are made together: profiles, name keys,
/// contacts, field values, notes and events in one statement each. The others go through
/// [`upsert_in`] one by one, after; they share nothing with the new ones, so the order
/// changes nothing.
pub async fn upsert_many_in(
    txn: &WriteTxn,
    db: &Db,
    workspace_id: Uuid,
    inputs: Vec<Upsert>,
) -> Result<Vec<Upserted>> {
    let fresh = fresh(txn, workspace_id, &inputs).await?;
    let mut done: Vec<Option<Upserted>> = vec![None; inputs.len()];
    let (new, old): (Vec<_>, Vec<_>) = inputs
        .into_iter()
        .enumerate()
        .partition(|(i, _)| fresh.contains(i));
    for (i, profile) in create_many(txn, db, workspace_id, new).await? {
        done[i] = Some(Upserted {
            profile,
            outcome: Outcome::Created,
        });
    }
    for (i, input) in old {
        done[i] = Some(upsert_in(txn, db, workspace_id, input).await?);
    }
    Ok(done.into_iter().flatten().collect())
}

/// The positions of `inputs` that make a profile without looking further: a name, an
/// external id no profile has (or contacts to match by), no contact that exists, and no
/// external id or contact that another input names too.
async fn fresh<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    inputs: &[Upsert],
) -> Result<HashSet<usize>> {
    let mut named: HashMap<(Uuid, &str), usize> = HashMap::new();
    let mut external: HashMap<&str, usize> = HashMap::new();
    for input in inputs {
        for contact in &input.contacts {
            *named
                .entry((contact.channel_id, contact.identifier.as_str()))
                .or_default() += 1;
        }
        if let Some(external_id) = &input.external_id {
            *external.entry(external_id.as_str()).or_default() += 1;
        }
    }
    let candidates: Vec<usize> = inputs
        .iter()
        .enumerate()
        .filter(|(_, input)| {
            input.name.is_some()
                && (input.external_id.is_some() || !input.contacts.is_empty())
                && input
                    .external_id
                    .as_ref()
                    .is_none_or(|e| external.get(e.as_str()) == Some(&1))
                && input.contacts.iter().all(|c| {
                    // A row that names one contact twice is left to `upsert_in`.
                    named.get(&(c.channel_id, c.identifier.as_str())) == Some(&1)
                })
        })
        .map(|(i, _)| i)
        .collect();
    if candidates.is_empty() {
        return Ok(HashSet::new());
    }
    let wanted: Vec<ContactSpec> = candidates
        .iter()
        .flat_map(|&i| inputs[i].contacts.iter().cloned())
        .collect();
    let existing = existing_contacts(txn, workspace_id, &wanted).await?;
    let external_ids: Vec<&str> = candidates
        .iter()
        .filter_map(|&i| inputs[i].external_id.as_ref().map(ExternalId::as_str))
        .collect();
    let taken: HashSet<String> = if external_ids.is_empty() {
        HashSet::new()
    } else {
        use sea_orm::QuerySelect;
        profile_rows::Entity::find()
            .select_only()
            .column(profile_rows::Column::ExternalId)
            .filter(profile_rows::Column::WorkspaceId.eq(workspace_id))
            .filter(profile_rows::Column::ExternalId.is_in(external_ids))
            .into_tuple::<Option<String>>()
            .all(txn)
            .await?
            .into_iter()
            .flatten()
            .collect()
    };
    Ok(candidates
        .into_iter()
        .filter(|&i| {
            let input = &inputs[i];
            input
                .external_id
                .as_ref()
                .is_none_or(|e| !taken.contains(e.as_str()))
                && input.contacts.iter().all(|c| {
                    !existing.contains_key(&(c.channel_id, c.identifier.as_str().to_owned()))
                })
        })
        .collect())
}

/// Make the profiles of `new` (positions and inputs that [`fresh`] chose), each as
/// [`upsert_in`] makes one, with the same events in the same order, in one statement per
/// table.
async fn create_many(
    txn: &WriteTxn,
    db: &Db,
    workspace_id: Uuid,
    new: Vec<(usize, Upsert)>,
) -> Result<Vec<(usize, profile_rows::Model)>> {
    if new.is_empty() {
        return Ok(Vec::new());
    }
    let mut rest = Vec::with_capacity(new.len());
    let mut specs = Vec::with_capacity(new.len());
    for (i, input) in new {
        let name = input
            .name
            .ok_or_else(|| StoreError::bad_input("name", "a new profile needs a name"))?;
        specs.push(profiles::NewProfile {
            name,
            external_id: input.external_id,
            at: input.created_at.unwrap_or_else(crate::db::now),
        });
        rest.push((i, input.contacts, input.fields, input.notes));
    }
    let made = profiles::insert_many(txn, workspace_id, specs).await?;
    let mut contacts = Vec::new();
    let mut notes = Vec::new();
    for (profile, (_, wanted, _, specs)) in made.iter().zip(&mut rest) {
        contacts.extend(std::mem::take(wanted).into_iter().map(|contact| {
            (
                profile.id,
                NewContact {
                    channel_id: contact.channel_id,
                    display_name: contact
                        .display_name
                        .map_or_else(|| contact.identifier.as_str().to_owned(), Name::into_inner),
                    identifier: contact.identifier.into_inner(),
                },
            )
        }));
        notes.extend(std::mem::take(specs).into_iter().map(|n| (profile.id, n)));
    }
    let changes: Vec<(Uuid, &[FieldChange])> = made
        .iter()
        .zip(&rest)
        .map(|(profile, (_, _, fields, _))| (profile.id, fields.as_slice()))
        .collect();
    let changed = fields::apply_to_new_many(txn, workspace_id, &changes).await?;
    let mut by_profile: HashMap<Uuid, Vec<NewEvent>> = HashMap::new();
    for event in membership::insert_into_profiles(txn, workspace_id, contacts).await? {
        by_profile.entry(event.profile_id).or_default().push(event);
    }
    let mut noted: HashMap<Uuid, Vec<NewEvent>> = HashMap::new();
    for event in notes::insert_on_profiles(txn, workspace_id, notes).await? {
        noted.entry(event.profile_id).or_default().push(event);
    }
    // Each profile's events together, as `upsert_in` writes them: made, its contacts, its
    // fields, its notes.
    let mut log = Vec::new();
    for (profile, changed) in made.iter().zip(changed) {
        log.push(membership::created(profile));
        log.extend(by_profile.remove(&profile.id).unwrap_or_default());
        if !changed.is_empty() {
            log.push(fields_changed(profile.id, changed));
        }
        log.extend(noted.remove(&profile.id).unwrap_or_default());
    }
    events::record(txn, db, workspace_id, log).await?;
    Ok(rest.into_iter().map(|(i, ..)| i).zip(made).collect())
}

/// Put an existing contact into the profile, naming it when it is in another one.
async fn join<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    (contact_id, identifier): (Uuid, String),
    move_contact: bool,
) -> Result<Vec<NewEvent>> {
    membership::join_in(txn, workspace_id, profile_id, contact_id, move_contact)
        .await
        .map_err(|err| match err {
            StoreError::Conflict(_) if !move_contact => StoreError::Conflict(format!(
                "the contact `{identifier}` belongs to another profile; move it explicitly to bring it here"
            )),
            other => other,
        })
}

fn fields_changed(profile_id: Uuid, changed: Vec<serde_json::Value>) -> NewEvent {
    NewEvent::new(
        events::EventKind::FieldsChanged,
        profile_id,
        serde_json::json!({ "fields": changed }),
    )
}

/// The contacts among `wanted` that exist, by (channel, identifier), in one statement.
async fn existing_contacts<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    wanted: &[ContactSpec],
) -> Result<HashMap<(Uuid, String), contacts::Model>> {
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    // By identifier (the `(workspace, identifier)` index), then by channel here: one
    // index look-up per identifier, where an OR of pairs may scan the workspace.
    let identifiers: Vec<&str> = wanted.iter().map(|c| c.identifier.as_str()).collect();
    let channels: HashSet<Uuid> = wanted.iter().map(|c| c.channel_id).collect();
    Ok(contacts::Entity::find()
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .filter(contacts::Column::Identifier.is_in(identifiers))
        .all(txn)
        .await?
        .into_iter()
        .filter(|c| channels.contains(&c.channel_id))
        .map(|c| ((c.channel_id, c.identifier.clone()), c))
        .collect())
}

/// For a row with neither an external id nor contacts: the profile that has neither
/// either and this exact name, if there is one. Several are a CONFLICT.
async fn bare_by_name<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    name: &Name,
) -> Result<Option<profile_rows::Model>> {
    use sea_orm::QuerySelect;
    use sea_orm::sea_query::{Expr, ExprTrait, Query};
    let its_contacts = Query::select()
        .expr(Expr::val(1))
        .from(contacts::Entity)
        .and_where(
            Expr::col((contacts::Entity, contacts::Column::ProfileId))
                .equals((profile_rows::Entity, profile_rows::Column::Id)),
        )
        .to_owned();
    let found = profile_rows::Entity::find()
        .filter(profile_rows::Column::WorkspaceId.eq(workspace_id))
        .filter(profile_rows::Column::Name.eq(name.as_str()))
        .filter(profile_rows::Column::ExternalId.is_null())
        .filter(Expr::exists(its_contacts).not())
        .limit(2)
        .all(txn)
        .await?;
    match found.len() {
        0 | 1 => Ok(found.into_iter().next()),
        _ => Err(StoreError::Conflict(format!(
            "several profiles are named `{}` and have neither an external id nor contacts; give this one an external id",
            name.as_str()
        ))),
    }
}

/// The one profile the existing contacts belong to, if any. Contacts of several profiles,
/// or a profile that has another external id than the one asked for, are a CONFLICT.
async fn by_contacts<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    existing: &HashMap<(Uuid, String), contacts::Model>,
    external_id: Option<&ExternalId>,
) -> Result<Option<profile_rows::Model>> {
    let mut owners: Vec<Uuid> = existing.values().filter_map(|c| c.profile_id).collect();
    owners.sort();
    owners.dedup();
    match owners.as_slice() {
        [] => Ok(None),
        [one] => {
            let profile = profiles::find(txn, workspace_id, *one).await?;
            if let (Some(wanted), Some(has)) = (external_id, profile.external_id.as_deref())
                && wanted.as_str() != has
            {
                return Err(StoreError::Conflict(format!(
                    "its contacts belong to the profile with external id `{has}`, not `{}`",
                    wanted.as_str()
                )));
            }
            Ok(Some(profile))
        }
        several => Err(StoreError::Conflict(format!(
            "its contacts belong to {} different profiles; give it an external id or fewer contacts",
            several.len()
        ))),
    }
}
