//! Contact queries.

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use super::loaders::ContactId;
use super::{Contact, ContactConnection};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::pagination::{BoxFuture, Count, PageRequest};
use profilegraph_store::contacts::{self as store, ContactFilter};
use profilegraph_store::text::SearchTerm;

/// Contact queries.
#[derive(Default)]
pub struct ContactQuery;

#[Object]
impl ContactQuery {
    /// One contact by id; null when there is none in this workspace.
    async fn contact(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The contact's global id.")] id: ID,
    ) -> Result<Option<Contact>> {
        auth::viewer_with(ctx, Scope::Read)?;
        let Ok(id) = ids::decode_as(NodeKind::Contact, &id, "id") else {
            return Ok(None);
        };
        Ok(loaders::one(ctx, ContactId(id)).await?.map(Contact))
    }

    /// The workspace's contacts, newest first.
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn contacts(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(
            desc = "Only contacts whose identifier or display name contains this text, ignoring case."
        )]
        search: Option<String>,
        #[graphql(desc = "Only contacts of this channel.")] channel_id: Option<ID>,
        #[graphql(desc = "true: only contacts without a profile; false: only those with one.")]
        without_profile: Option<bool>,
    ) -> Result<ContactConnection> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let page = PageRequest::forward(first, after.as_deref())?;
        let channel_id = channel_id
            .map(|id| ids::decode_as(NodeKind::Channel, &id, "channelId"))
            .transpose()?;
        let filter = ContactFilter {
            search: SearchTerm::parse_optional(search.as_deref(), "search")?,
            channel_id,
            without_profile,
        };
        let db = crate::context::db(ctx)?;
        let rows = store::list(db, viewer.workspace_id, &filter, &page).await?;
        Ok(ContactConnection::new(
            rows.map(Contact),
            CountContacts {
                workspace_id: viewer.workspace_id,
                filter,
            },
        ))
    }
}

struct CountContacts {
    workspace_id: Uuid,
    filter: ContactFilter,
}

impl Count for CountContacts {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(store::count(crate::context::db(ctx)?, self.workspace_id, &self.filter).await?)
        })
    }
}
