//! Contact mutations: bring a contact in, attach it to a profile, detach it.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::contacts as store;
use profilegraph_store::membership;

use super::Contact;
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::profiles::Profile;

/// A customer identity that reached out.
#[derive(InputObject)]
pub struct CreateContactInput {
    /// The channel the customer wrote in through.
    pub channel_id: ID,
    /// The identity: an e-mail address (EMAIL), a phone number in international form
    /// (WHATSAPP, SMS, VOICE), or the platform's id. It is normalised before it is stored.
    pub identifier: String,
    /// The name the customer goes by; the identifier when omitted.
    pub display_name: Option<String>,
}

/// The result of `createContact`.
#[derive(SimpleObject)]
pub struct CreateContactPayload {
    /// The contact for this identity.
    pub contact: Contact,
    /// True when the contact was new; false when this identity already existed and the
    /// existing contact is returned.
    pub created: bool,
}

/// Which contact joins which profile.
#[derive(InputObject)]
pub struct AttachContactInput {
    /// The profile to add the contact to.
    pub profile_id: ID,
    /// The contact to add.
    pub contact_id: ID,
    /// Move the contact here even if it belongs to another profile. Without it, such a
    /// contact is refused with CONFLICT.
    #[graphql(default = false)]
    pub r#move: bool,
}

/// Which contact leaves which profile.
#[derive(InputObject)]
pub struct DetachContactInput {
    /// The profile the contact is in.
    pub profile_id: ID,
    /// The contact to take out of it.
    pub contact_id: ID,
}

/// The profile and contact after an attach or detach.
#[derive(SimpleObject)]
pub struct ContactProfilePayload {
    /// The profile as it is now.
    pub profile: Profile,
    /// The contact as it is now.
    pub contact: Contact,
}

/// Contact mutations.
#[derive(Default)]
pub struct ContactMutation;

#[Object]
impl ContactMutation {
    /// Bring in the contact of a new conversation. An identity that already exists is
    /// returned as it is (`created: false`), never duplicated.
    async fn create_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The channel and identity.")] input: CreateContactInput,
    ) -> Result<CreateContactPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let channel_id = ids::decode_as(NodeKind::Channel, &input.channel_id, "input.channelId")?;
        let (contact, created) = store::create(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            channel_id,
            &input.identifier,
            input.display_name.as_deref(),
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(CreateContactPayload {
            contact: Contact(contact),
            created,
        })
    }

    /// Add a contact to a profile ("Add profile" in a ticket). Attaching a contact that is
    /// already in the profile changes nothing; one that belongs to another profile is
    /// refused with CONFLICT unless `move` is true.
    async fn attach_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile, the contact, and whether to move it.")]
        input: AttachContactInput,
    ) -> Result<ContactProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let profile_id = ids::decode_as(NodeKind::Profile, &input.profile_id, "input.profileId")?;
        let contact_id = ids::decode_as(NodeKind::Contact, &input.contact_id, "input.contactId")?;
        let (profile, contact) = membership::attach(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            profile_id,
            contact_id,
            input.r#move,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ContactProfilePayload {
            profile: Profile::from(profile),
            contact: Contact(contact),
        })
    }

    /// Take a contact out of its profile (the "×" beside it). The contact and its contact
    /// moments stay. NOT_FOUND when the contact is not in that profile.
    async fn detach_contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile and the contact to take out of it.")]
        input: DetachContactInput,
    ) -> Result<ContactProfilePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let profile_id = ids::decode_as(NodeKind::Profile, &input.profile_id, "input.profileId")?;
        let contact_id = ids::decode_as(NodeKind::Contact, &input.contact_id, "input.contactId")?;
        let (profile, contact) = membership::detach(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            profile_id,
            contact_id,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(ContactProfilePayload {
            profile: Profile::from(profile),
            contact: Contact(contact),
        })
    }
}
