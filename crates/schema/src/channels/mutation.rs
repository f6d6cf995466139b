//! Channel mutations (admin scope).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::channels as store;
use profilegraph_store::text::Name;

use super::{Channel, ChannelType};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};

/// A new channel.
#[derive(InputObject)]
pub struct CreateChannelInput {
    /// What kind of line it is.
    #[graphql(name = "type")]
    pub channel_type: ChannelType,
    /// The name agents know it by, 1 to 200 characters.
    pub name: String,
}

/// A channel's new name.
#[derive(InputObject)]
pub struct UpdateChannelInput {
    /// The channel to rename.
    pub id: ID,
    /// The new name, 1 to 200 characters.
    pub name: String,
}

/// The result of a channel mutation.
#[derive(SimpleObject)]
pub struct ChannelPayload {
    /// The channel as it is now.
    pub channel: Channel,
}

/// Channel mutations.
#[derive(Default)]
pub struct ChannelMutation;

#[Object]
impl ChannelMutation {
    /// Add a channel to the workspace. Needs the `admin` scope.
    async fn create_channel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The channel to add.")] input: CreateChannelInput,
    ) -> Result<ChannelPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let name = Name::parse(&input.name, "input.name")?;
        let db = crate::context::db(ctx)?;
        let channel =
            store::create(db, viewer.workspace_id, input.channel_type.into(), name).await?;
        crate::context::wrote(ctx)?;
        Ok(ChannelPayload {
            channel: Channel(channel),
        })
    }

    /// Rename a channel. Its type can't be changed. Needs the `admin` scope.
    async fn update_channel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The channel and its new name.")] input: UpdateChannelInput,
    ) -> Result<ChannelPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let id = ids::decode_as(NodeKind::Channel, &input.id, "input.id")?;
        let name = Name::parse(&input.name, "input.name")?;
        let db = crate::context::db(ctx)?;
        let channel = store::rename(db, viewer.workspace_id, id, name).await?;
        crate::context::wrote(ctx)?;
        Ok(ChannelPayload {
            channel: Channel(channel),
        })
    }
}
