//! The `Profile` type.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};

use crate::channels::Channel;
use crate::channels::joined;
use crate::contacts::Contact;
use crate::contacts::loaders::ContactsOfProfile;
use crate::error::Result;
use crate::events::{self, ProfileEventConnection, ProfileEventKind};
use crate::fields::{self, ProfileFieldValue};
use crate::ids::{self, NodeKind};
use crate::moments::{self, ContactMomentConnection, ContactMomentStatus};
use crate::notes::{self, NoteConnection};
use crate::scalars::DateTime;
use crate::suggestions::ProfileSuggestion;
use profilegraph_store::channels::WithChannel;

/// A customer: a person behind one or more contacts. A merge's dry run carries the
/// survivor's state as the merge would leave it (see `MergeProfilesPayload.profile`).
#[derive(Clone)]
pub struct Profile(
    pub entity::profiles::Model,
    pub Option<Arc<profilegraph_store::merge::Preview>>,
);

impl From<entity::profiles::Model> for Profile {
    fn from(model: entity::profiles::Model) -> Self {
        Profile(model, None)
    }
}

/// The contacts of a profile on one channel.
#[derive(SimpleObject)]
pub struct ChannelContacts {
    /// The channel.
    pub channel: Channel,
    /// The profile's contacts on it, oldest first.
    pub contacts: Vec<Contact>,
}

impl Profile {
    /// The profile's contacts with their channels; the channels also go to the request's
    /// channel loader, so `contact.channel` costs nothing more.
    async fn load_contacts(
        &self,
        ctx: &Context<'_>,
    ) -> Result<Vec<WithChannel<entity::contacts::Model>>> {
        let contacts = match &self.1 {
            Some(preview) => preview.contacts.clone(),
            None => crate::context::loaders(ctx)?
                .load_one(ContactsOfProfile(self.0.id))
                .await?
                .unwrap_or_default(),
        };
        joined::feed(ctx, &contacts).await?;
        Ok(contacts)
    }
}

/// A customer: the person behind one or more contacts (channel identities), with custom
/// field values, notes, and the contact moments of all their contacts.
#[Object]
impl Profile {
    /// The profile's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Profile, self.0.id)
    }

    /// The customer's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Your own key for this profile (a CRM id, a customer number), unique within the
    /// workspace; null when it has none. Find a profile by it with `profileByExternalId`.
    async fn external_id(&self) -> Option<&str> {
        self.0.external_id.as_deref()
    }

    /// Goes up by one on every change to the profile (name, field values, contacts). Pass
    /// it as `expectedVersion` to `updateProfile` to refuse overwriting someone else's
    /// change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the profile was created.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the profile last changed.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// The profile's contacts, sorted by channel (type, then name), then oldest first.
    async fn contacts(&self, ctx: &Context<'_>) -> Result<Vec<Contact>> {
        let contacts = self.load_contacts(ctx).await?;
        Ok(contacts.into_iter().map(|c| Contact(c.row)).collect())
    }

    /// The profile's contacts grouped by the channel they reached out through, channels
    /// sorted by type, then name.
    async fn contacts_by_channel(&self, ctx: &Context<'_>) -> Result<Vec<ChannelContacts>> {
        let contacts = self.load_contacts(ctx).await?;
        // Contacts arrive sorted by channel, so each channel's contacts are adjacent.
        let mut groups: Vec<ChannelContacts> = Vec::new();
        for WithChannel { row, channel } in contacts {
            match groups.last_mut() {
                Some(group) if group.channel.0.id == channel.id => {
                    group.contacts.push(Contact(row))
                }
                _ => groups.push(ChannelContacts {
                    channel: Channel(channel),
                    contacts: vec![Contact(row)],
                }),
            }
        }
        Ok(groups)
    }

    /// Every custom profile field of the workspace that is not archived, in position
    /// order, with this profile's value (null where unset).
    async fn fields(&self, ctx: &Context<'_>) -> Result<Vec<ProfileFieldValue>> {
        match &self.1 {
            Some(preview) => fields::values_from(ctx, &preview.values).await,
            None => fields::values_of(ctx, self.0.id).await,
        }
    }

    /// The global ids of the profiles merged into this one, oldest merge first. Each of
    /// them still answers `profile(id:)` and `node(id:)` with this profile, until this
    /// profile is deleted.
    async fn merged_ids(&self, ctx: &Context<'_>) -> Result<Vec<ID>> {
        let ids = match &self.1 {
            Some(preview) => preview.merged_ids.clone(),
            None => crate::context::loaders(ctx)?
                .load_one(super::loaders::MergedIntoProfile(self.0.id))
                .await?
                .unwrap_or_default(),
        };
        Ok(ids
            .into_iter()
            .map(|id| ids::encode(NodeKind::Profile, id))
            .collect())
    }

    /// Other profiles that are likely the same person, best first, for a merge: a
    /// contact with the same e-mail address or phone number, or a name that is alike
    /// (case, accents, word order and small typos aside).
    async fn duplicate_suggestions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 20.", default = 5)] first: i32,
    ) -> Result<Vec<ProfileSuggestion>> {
        crate::suggestions::duplicates_of(ctx, &self.0, first).await
    }

    /// Notes agents keep on this profile, newest first.
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn notes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
    ) -> Result<NoteConnection> {
        notes::of_profile(ctx, self.0.id, first, after.as_deref()).await
    }

    /// What happened to this profile, newest first: every change, by whom and when (the
    /// same events as the `events` feed).
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn history(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only events of these kinds.")] kinds: Option<Vec<ProfileEventKind>>,
    ) -> Result<ProfileEventConnection> {
        events::history_of(ctx, self.0.id, first, after.as_deref(), kinds).await
    }

    /// The timeline: every conversation of every contact of this profile, newest first by
    /// last message.
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn contact_moments(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only contact moments with one of these statuses.")] status: Option<
            Vec<ContactMomentStatus>,
        >,
        #[graphql(desc = "Only contact moments on this channel.")] channel_id: Option<ID>,
    ) -> Result<ContactMomentConnection> {
        moments::of_profile(ctx, self.0.id, first, after.as_deref(), status, channel_id).await
    }
}

crate::connection!(
    ProfileConnection,
    ProfileEdge,
    Profile,
    "A page of profiles.",
    "One profile in a page, with its cursor."
);
