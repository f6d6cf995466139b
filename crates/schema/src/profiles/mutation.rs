//! Profile mutations: create, update, upsert by external id, set field values, delete.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object, SimpleObject};

use profilegraph_store::membership::{self, NewProfile};
use profilegraph_store::profiles::{self as store, ProfileUpdate};
use profilegraph_store::text::{ExternalId, Name, check_list_len};
use profilegraph_store::upsert::{self, Outcome, RawContact, Upsert};

use super::Profile;
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::fields::{self, FieldValueInput};
use crate::ids::{self, NodeKind};

/// A new profile, optionally with contacts and field values.
#[derive(InputObject)]
pub struct CreateProfileInput {
    /// The customer's name, 1 to 200 characters.
    pub name: String,
    /// Your own key for this profile (a CRM id, a customer number): 1 to 255 printable
    /// characters, unique within the workspace (one another profile has is refused with
    /// CONFLICT).
    pub external_id: Option<String>,
    /// Contacts to attach in the same step (e.g. the contact of the ticket this profile is
    /// created from). At most 250.
    #[graphql(default)]
    pub contact_ids: Vec<ID>,
    /// Move those contacts here even if they belong to another profile; without it such a
    /// contact is refused with CONFLICT and nothing is created.
    #[graphql(default = false)]
    pub move_contacts: bool,
    /// Custom field values to set. At most 250.
    #[graphql(default)]
    pub fields: Vec<FieldValueInput>,
}

/// A profile's new name and/or external id; what is left out stays as it is.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// The profile to change.
    pub id: ID,
    /// The new name, 1 to 200 characters; unchanged when omitted.
    pub name: Option<String>,
    /// The new external id (1 to 255 printable characters, unique within the workspace:
    /// one another profile has is refused with CONFLICT); null clears it, omitted leaves
    /// it.
    pub external_id: MaybeUndefined<String>,
    /// The `version` the caller last read. When given and the profile has changed since,
    /// the update is refused with CONFLICT.
    pub expected_version: Option<i32>,
}

/// Field values to set on a profile.
#[derive(InputObject)]
pub struct SetProfileFieldsInput {
    /// The profile.
    pub profile_id: ID,
    /// The values; a null value clears the field. At most 250.
    pub values: Vec<FieldValueInput>,
}

/// One contact the upserted profile should have, found by channel and identifier or made.
#[derive(InputObject)]
pub struct UpsertContactInput {
    /// The channel.
    pub channel_id: ID,
    /// The identity on it: an e-mail address (EMAIL), a phone number in international
    /// form (WHATSAPP, SMS, VOICE), or the platform's id; normalised before it is looked up.
    pub identifier: String,
    /// The name a new contact goes by (the identifier when omitted); an existing contact
    /// keeps its own.
    pub display_name: Option<String>,
}

/// A profile described by your own key: made when the workspace has no profile with that
/// external id, else updated to match.
#[derive(InputObject)]
pub struct UpsertProfileInput {
    /// Your key for the profile: 1 to 255 printable characters, unique within the
    /// workspace.
    pub external_id: String,
    /// The customer's name, 1 to 200 characters: needed to make the profile; renames an
    /// existing one; left as it is when omitted.
    pub name: Option<String>,
    /// Custom field values to set, checked as in `setProfileFields` (null clears a field);
    /// fields not listed keep their values. At most 250.
    #[graphql(default)]
    pub fields: Vec<FieldValueInput>,
    /// Contacts the profile should have: each is found by channel and identifier, or made,
    /// and attached. Contacts it has and that are not listed stay. At most 250.
    #[graphql(default)]
    pub contacts: Vec<UpsertContactInput>,
    /// Move a listed contact here even if it belongs to another profile; without it such
    /// a contact is refused with CONFLICT and nothing is written.
    #[graphql(default = false)]
    pub move_contacts: bool,
}

/// The result of `upsertProfile`.
#[derive(SimpleObject)]
pub struct UpsertProfilePayload {
    /// The profile as it is now.
    pub profile: Profile,
    /// True when the profile was made; false when one with that external id existed.
    pub created: bool,
}

/// The profile to delete.
#[derive(InputObject)]
pub struct DeleteProfileInput {
    /// The profile's id.
    pub id: ID,
}

/// The result of a profile mutation.
#[derive(SimpleObject)]
pub struct ProfilePayload {
    /// The profile as it is now.
    pub profile: Profile,
}

/// The result of `deleteProfile`.
#[derive(SimpleObject)]
pub struct DeleteProfilePayload {
    /// The id of the profile that no longer exists.
    pub deleted_profile_id: ID,
}

/// Profile mutations.
#[derive(Default)]
pub struct ProfileMutation;

#[Object]
impl ProfileMutation {
    /// Create a profile: "Create profile" in the profile list, or "Add profile → new
    /// profile" from a ticket, which attaches the ticket's contact in the same step. All
    /// or nothing.
    async fn create_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile's name, contacts and field values.")]
        input: CreateProfileInput,
    ) -> Result<ProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let name = Name::parse(&input.name, "input.name")?;
        check_list_len(&input.contact_ids, "input.contactIds")?;
        let contact_ids = input
            .contact_ids
            .iter()
            .map(|id| ids::decode_as(NodeKind::Contact, id, "input.contactIds"))
            .collect::<Result<Vec<_>>>()?;
        let external_id = input
            .external_id
            .as_deref()
            .map(|e| ExternalId::parse(e, "input.externalId"))
            .transpose()?;
        let fields = fields::parse_inputs(&input.fields, "input.fields")?;
        let profile = membership::create_profile(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            NewProfile {
                name,
                external_id,
                contact_ids,
                move_contacts: input.move_contacts,
                fields,
            },
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ProfilePayload {
            profile: Profile::from(profile),
        })
    }

    /// Rename a profile and/or set or clear its external id. Its version goes up by one
    /// when something changes.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The profile, its new name and/or external id, and the version last read."
        )]
        input: UpdateProfileInput,
    ) -> Result<ProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::Profile, &input.id, "input.id")?;
        let name = input
            .name
            .as_deref()
            .map(|n| Name::parse(n, "input.name"))
            .transpose()?;
        let external_id = match &input.external_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(e) => Some(Some(ExternalId::parse(e, "input.externalId")?)),
        };
        if name.is_none() && external_id.is_none() {
            return Err(crate::error::Error::bad_input(
                "input",
                "give a `name` or an `externalId` to change",
            ));
        }
        let profile = store::update(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            id,
            ProfileUpdate { name, external_id },
            input.expected_version,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ProfilePayload {
            profile: Profile::from(profile),
        })
    }

    /// Create or update a profile by your own key: made (with `created: true`) when the
    /// workspace has no profile with this external id, else renamed, given the field
    /// values and the contacts listed. Contacts are found by channel and identifier or
    /// made; one that belongs to another profile is refused with CONFLICT unless
    /// `moveContacts`. All or nothing; safe to repeat (a repeat changes nothing).
    async fn upsert_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The external id, and what the profile should have.")]
        input: UpsertProfileInput,
    ) -> Result<UpsertProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let external_id = ExternalId::parse(&input.external_id, "input.externalId")?;
        let name = input
            .name
            .as_deref()
            .map(|n| Name::parse(n, "input.name"))
            .transpose()?;
        let fields = fields::parse_inputs(&input.fields, "input.fields")?;
        check_list_len(&input.contacts, "input.contacts")?;
        let raw = input
            .contacts
            .iter()
            .enumerate()
            .map(|(i, c)| {
                Ok(RawContact {
                    channel_id: ids::decode_as(
                        NodeKind::Channel,
                        &c.channel_id,
                        &format!("input.contacts[{i}].channelId"),
                    )?,
                    identifier: c.identifier.clone(),
                    display_name: c.display_name.clone(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let db = crate::context::db(ctx)?;
        let contacts =
            upsert::parse_contacts(db, viewer.workspace_id, &raw, "input.contacts").await?;
        let upserted = upsert::upsert(
            db,
            viewer.workspace_id,
            Upsert {
                external_id: Some(external_id),
                name,
                fields,
                contacts,
                move_contacts: input.move_contacts,
                match_contacts: false,
                notes: Vec::new(),
                created_at: None,
            },
        )
        .await
        .map_err(|err| match err {
            // The store names the missing name by its own word.
            profilegraph_store::StoreError::BadInput { field, message } if field == "name" => {
                profilegraph_store::StoreError::BadInput {
                    field: "input.name".into(),
                    message,
                }
            }
            other => other,
        })?;
        crate::context::wrote(ctx)?;
        Ok(UpsertProfilePayload {
            profile: Profile::from(upserted.profile),
            created: upserted.outcome == Outcome::Created,
        })
    }

    /// Set or clear custom field values of a profile. Every value is checked against its
    /// field's type and rules; one bad value refuses the whole request (BAD_USER_INPUT
    /// naming the field's key in `extensions.field`) and nothing is written.
    async fn set_profile_fields(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile and the values to set.")] input: SetProfileFieldsInput,
    ) -> Result<ProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::Profile, &input.profile_id, "input.profileId")?;
        let changes = fields::parse_inputs(&input.values, "input.values")?;
        let profile =
            store::set_fields(crate::context::db(ctx)?, viewer.workspace_id, id, &changes).await?;
        crate::context::wrote(ctx)?;
        Ok(ProfilePayload {
            profile: Profile::from(profile),
        })
    }

    /// Delete a profile for good; it cannot be retrieved afterwards. Its notes and field
    /// values go with it; its contacts stay, detached, and keep their contact moments.
    async fn delete_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile to delete.")] input: DeleteProfileInput,
    ) -> Result<DeleteProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::Profile, &input.id, "input.id")?;
        store::delete(crate::context::db(ctx)?, viewer.workspace_id, id).await?;
        crate::context::wrote(ctx)?;
        Ok(DeleteProfilePayload {
            deleted_profile_id: ids::encode(NodeKind::Profile, id),
        })
    }
}
