//! The `Channel` type and `ChannelType` enum.

use async_graphql::{Enum, ID, Object};

use crate::ids::{self, NodeKind};
use crate::scalars::DateTime;

/// The kind of line a channel is.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "profilegraph_store::channels::ChannelType")]
pub enum ChannelType {
    /// E-mail.
    Email,
    /// WhatsApp.
    Whatsapp,
    /// Facebook Messenger.
    FacebookMessenger,
    /// Instagram direct messages.
    Instagram,
    /// Text messages.
    Sms,
    /// Phone calls.
    Voice,
    /// The website chat widget.
    LiveChat,
    /// Telegram.
    Telegram,
    /// Any other integration.
    Custom,
}

/// One inbound line of the workspace, such as "Support WhatsApp".
#[derive(Clone)]
pub struct Channel(pub entity::channels::Model);

/// One inbound line of the workspace, such as "Support WhatsApp". Every contact and contact
/// moment belongs to one.
#[Object]
impl Channel {
    /// The channel's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Channel, self.0.id)
    }

    /// What kind of line it is.
    #[graphql(name = "type")]
    async fn channel_type(&self) -> ChannelType {
        profilegraph_store::channels::ChannelType::from_db(&self.0.channel_type).into()
    }

    /// The name agents know it by.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// When the channel was added.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}
