//! Contact moment queries.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use super::loaders::MomentId;
use super::{ContactMoment, ContactMomentConnection, ContactMomentStatus};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::pagination::{BoxFuture, Count, PageRequest};
use profilegraph_store::moments::{self as store, MomentFilter};

/// Contact moment queries.
#[derive(Default)]
pub struct MomentQuery;

#[Object]
impl MomentQuery {
    /// One contact moment (ticket) by id; null when there is none in this workspace.
    async fn contact_moment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact moment's global id.")] id: ID,
    ) -> Result<Option<ContactMoment>> {
        auth::viewer_with(ctx, Scope::Read)?;
        let Ok(id) = ids::decode_as(NodeKind::ContactMoment, &id, "id") else {
            return Ok(None);
        };
        Ok(loaders::one(ctx, MomentId(id)).await?.map(ContactMoment))
    }

    /// Every contact moment of the workspace, newest first by last message.
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
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let page = PageRequest::forward(first, after.as_deref())?;
        let channel_id = channel_id
            .map(|id| ids::decode_as(NodeKind::Channel, &id, "channelId"))
            .transpose()?;
        let filter = super::filter(status, channel_id);
        let rows = store::list(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            &filter,
            &page,
        )
        .await?;
        Ok(ContactMomentConnection::new(
            rows.map(ContactMoment),
            CountMoments {
                workspace_id: viewer.workspace_id,
                filter,
            },
        ))
    }
}

struct CountMoments {
    workspace_id: Uuid,
    filter: MomentFilter,
}

impl Count for CountMoments {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(store::count(crate::context::db(ctx)?, self.workspace_id, &self.filter).await?)
        })
    }
}
