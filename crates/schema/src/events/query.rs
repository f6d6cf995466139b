//! The change feed: `events`.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use super::{ProfileEvent, ProfileEventConnection, ProfileEventKind};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::pagination::{BoxFuture, Count, KeyKind, PageRequest};
use profilegraph_store::events::{self as store, EventFilter};

/// Event queries.
#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// The workspace's change feed: every profile event, oldest first, in `seq` order.
    /// Keep the `endCursor` of the last page read and pass it as `after` to get exactly the
    /// events that came since: none skipped, none twice, however writers commit.
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only events of these kinds.")] kinds: Option<Vec<ProfileEventKind>>,
        #[graphql(desc = "Only events of this profile (also after it was deleted).")]
        profile_id: Option<ID>,
    ) -> Result<ProfileEventConnection> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let page = PageRequest::new(first, after.as_deref(), None, None, KeyKind::Number)?;
        let profile_id = profile_id
            .map(|id| ids::decode_as(NodeKind::Profile, &id, "profileId"))
            .transpose()?;
        let filter = super::filter(kinds, profile_id);
        let rows = store::feed(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            &filter,
            &page,
        )
        .await?;
        Ok(ProfileEventConnection::new(
            rows.map(ProfileEvent),
            CountEvents {
                workspace_id: viewer.workspace_id,
                filter,
            },
        ))
    }
}

struct CountEvents {
    workspace_id: Uuid,
    filter: EventFilter,
}

impl Count for CountEvents {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(store::count(crate::context::db(ctx)?, self.workspace_id, &self.filter).await?)
        })
    }
}
