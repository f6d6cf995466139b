//! Profile mutations: create, rename, set field values, delete.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::membership::{self, NewProfile};
use profilegraph_store::profiles as store;
use profilegraph_store::text::{Name, check_list_len};

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

/// A profile's new name.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    /// The profile to rename.
    pub id: ID,
    /// The new name, 1 to 200 characters.
    pub name: String,
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
        let fields = fields::parse_inputs(&input.fields, "input.fields")?;
        let profile = membership::create_profile(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            NewProfile {
                name,
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

    /// Rename a profile. Its version goes up by one.
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile, its new name and the version last read.")]
        input: UpdateProfileInput,
    ) -> Result<ProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::Profile, &input.id, "input.id")?;
        let name = Name::parse(&input.name, "input.name")?;
        let profile = store::rename(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            id,
            name,
            input.expected_version,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ProfilePayload {
            profile: Profile::from(profile),
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
