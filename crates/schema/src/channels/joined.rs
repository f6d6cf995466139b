//! Rows loaded together with their channel, in the same statement (see
//! `profilegraph_store::channels::WithChannel`): their channels go to the request's
//! channel loader, so `channel` on them costs nothing more.

use async_graphql::Context;
use profilegraph_store::channels::WithChannel;

use super::loaders::ChannelId;
use crate::error::Result;

/// Give the request's channel loader the channels that came with `rows`.
pub async fn feed<M>(ctx: &Context<'_>, rows: &[WithChannel<M>]) -> Result<()> {
    crate::context::loaders(ctx)?
        .feed_many(
            rows.iter()
                .map(|r| (ChannelId(r.channel.id), r.channel.clone())),
        )
        .await;
    Ok(())
}
