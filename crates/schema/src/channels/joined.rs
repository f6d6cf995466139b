//! Rows loaded together with their channel, in the same statement.
//!
//! Contacts and contact moments almost always get shown with their channel. Joining the
//! channel into the statement that loads them, and feeding it to the request's channel
//! loader, means no query shape needs a separate round for channels, so the number of
//! statements a request runs doesn't depend on how the loaders' batches happen to line
//! up in time.

use async_graphql::Context;
use sea_orm::sea_query::SelectStatement;
use sea_orm::{DbErr, FromQueryResult, QueryResult};

use entity::channels;

use crate::loaders::{self, ChannelId};

/// The prefix of the channel's columns in a joined row.
const PREFIX: &str = "ch_";

/// A row and its channel.
#[derive(Debug, Clone)]
pub struct WithChannel<M> {
    /// The row.
    pub row: M,
    /// Its channel.
    pub channel: channels::Model,
}

impl<M: FromQueryResult> FromQueryResult for WithChannel<M> {
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(WithChannel {
            row: M::from_query_result(res, pre)?,
            channel: channels::Model::from_query_result(res, PREFIX)?,
        })
    }
}

/// Select every channel column under the prefix [`WithChannel`] reads. The caller joins
/// `channels`.
pub fn select_channel_columns(select: &mut SelectStatement) {
    crate::sql::select_prefixed(select, channels::Entity, PREFIX);
}

/// Give the request's channel loader the channels of `rows`, so resolving `channel` on
/// them needs no statement.
pub async fn feed<M>(ctx: &Context<'_>, rows: &[WithChannel<M>]) {
    loaders::get(ctx)
        .feed_many(
            rows.iter()
                .map(|r| (ChannelId(r.channel.id), r.channel.clone())),
        )
        .await;
}
