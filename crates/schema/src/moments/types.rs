//! The `ContactMoment` type.

use async_graphql::{Context, Enum, ID, Object};

use crate::channels::Channel;
use crate::channels::loaders::ChannelId;
use crate::contacts::Contact;
use crate::contacts::loaders::ContactId;
use crate::error::{Error, Result};
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::scalars::DateTime;

/// Where a conversation stands.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[graphql(remote = "profilegraph_store::moments::ContactMomentStatus")]
pub enum ContactMomentStatus {
    /// Waiting for an agent.
    Open,
    /// An agent is on it.
    Assigned,
    /// Done.
    Closed,
}

/// One conversation (ticket) with one contact on one channel.
#[derive(Clone)]
pub struct ContactMoment(pub entity::contact_moments::Model);

/// One conversation (ticket) with one contact on one channel. Its id opens the ticket.
#[Object]
impl ContactMoment {
    /// The contact moment's global id; also the ticket to open.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::ContactMoment, self.0.id)
    }

    /// What the conversation is about.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// Where it stands.
    async fn status(&self) -> ContactMomentStatus {
        profilegraph_store::moments::ContactMomentStatus::from_db(&self.0.status).into()
    }

    /// The channel it runs on.
    async fn channel(&self, ctx: &Context<'_>) -> Result<Channel> {
        loaders::one(ctx, ChannelId(self.0.channel_id))
            .await?
            .map(Channel)
            .ok_or(Error::not_found("Channel"))
    }

    /// The contact it is with.
    async fn contact(&self, ctx: &Context<'_>) -> Result<Contact> {
        loaders::one(ctx, ContactId(self.0.contact_id))
            .await?
            .map(Contact)
            .ok_or(Error::not_found("Contact"))
    }

    /// When it was opened.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When it was closed; null while it is not.
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(Into::into)
    }

    /// When the last message came or went; timelines are sorted by it.
    async fn last_message_at(&self) -> DateTime {
        self.0.last_message_at.into()
    }
}

crate::connection!(
    ContactMomentConnection,
    ContactMomentEdge,
    ContactMoment,
    "A page of contact moments.",
    "One contact moment in a page, with its cursor."
);
