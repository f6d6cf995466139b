//! The `Contact` type.

use async_graphql::{Context, ID, Object};

use crate::channels::Channel;
use crate::channels::loaders::ChannelId;
use crate::error::{Error, Result};
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::moments::{self, ContactMomentConnection};
use crate::profiles::Profile;
use crate::profiles::loaders::ProfileId;
use crate::scalars::DateTime;

/// One customer identity on one channel.
#[derive(Clone)]
pub struct Contact(pub entity::contacts::Model);

/// One customer identity on one channel: an e-mail address, a phone number or a platform
/// id. Created when a customer reaches out; belongs to at most one profile.
#[Object]
impl Contact {
    /// The contact's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Contact, self.0.id)
    }

    /// The identity on its channel, normalised: a lower-case e-mail address, an E.164 phone
    /// number, or the platform's id.
    async fn identifier(&self) -> &str {
        &self.0.identifier
    }

    /// The name the customer goes by on this channel.
    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    /// The channel the customer reached out through.
    async fn channel(&self, ctx: &Context<'_>) -> Result<Channel> {
        loaders::one(ctx, ChannelId(self.0.channel_id))
            .await?
            .map(Channel)
            .ok_or(Error::not_found("Channel"))
    }

    /// The profile this contact belongs to; null when it has none yet.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Option<Profile>> {
        match self.0.profile_id {
            Some(id) => Ok(loaders::one(ctx, ProfileId(id)).await?.map(Profile::from)),
            None => Ok(None),
        }
    }

    /// The profiles this contact most likely belongs to, best first, for the ticket
    /// sidebar's "Add profile": a profile with a contact of the same e-mail address or
    /// phone number on another channel, or a name like this contact's display name. Its
    /// own profile is never suggested.
    async fn profile_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 20.", default = 5)] first: i32,
    ) -> Result<Vec<crate::suggestions::ProfileSuggestion>> {
        crate::suggestions::for_contact(ctx, &self.0, first).await
    }

    /// This contact's conversations, newest first (by last message).
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn contact_moments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
    ) -> Result<ContactMomentConnection> {
        moments::of_contact(ctx, self.0.id, first, after.as_deref()).await
    }

    /// When the customer first reached out through this identity.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the contact last changed (e.g. joined or left a profile).
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

crate::connection!(
    ContactConnection,
    ContactEdge,
    Contact,
    "A page of contacts.",
    "One contact in a page, with its cursor."
);
