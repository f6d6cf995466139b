//! Channel queries.

use async_graphql::{Context, ID, Object};

use profilegraph_store::channels as store;

use super::Channel;
use super::loaders::ChannelId;
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::loaders;

/// Channel queries.
#[derive(Default)]
pub struct ChannelQuery;

#[Object]
impl ChannelQuery {
    /// Every channel of the workspace, sorted by type, then name.
    async fn channels(&self, ctx: &Context<'_>) -> Result<Vec<Channel>> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let db = crate::context::db(ctx)?;
        Ok(store::list(db, viewer.workspace_id)
            .await?
            .into_iter()
            .map(Channel)
            .collect())
    }

    /// One channel by id; null when there is none in this workspace.
    async fn channel(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The channel's global id.")] id: ID,
    ) -> Result<Option<Channel>> {
        auth::viewer_with(ctx, Scope::Read)?;
        let id = ids::decode_as(NodeKind::Channel, &id, "id");
        let Ok(id) = id else { return Ok(None) };
        Ok(loaders::one(ctx, ChannelId(id)).await?.map(Channel))
    }
}
