//! `webhookEndpoints` and `webhookEndpoint` (admin scope).

use async_graphql::{Context, ID, Object};
use uuid::Uuid;

use profilegraph_store::webhooks::endpoints as store;

use super::types::{WebhookEndpoint, WebhookEndpointConnection};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::pagination::{BoxFuture, Count, KeyKind, PageRequest};
use profilegraph_store::StoreError;

/// Webhook queries.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The workspace's webhook endpoints, oldest first. Needs the `admin` scope.
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
    ) -> Result<WebhookEndpointConnection> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let page = PageRequest::new(first, after.as_deref(), None, None, KeyKind::Instant)?;
        let rows = store::list(crate::context::db(ctx)?, viewer.workspace_id, &page).await?;
        Ok(WebhookEndpointConnection::new(
            rows.map(WebhookEndpoint),
            CountEndpoints(viewer.workspace_id),
        ))
    }

    /// One webhook endpoint of the workspace; null when there is none with that id. Needs
    /// the `admin` scope.
    async fn webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint's global id.")] id: ID,
    ) -> Result<Option<WebhookEndpoint>> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let Ok(id) = ids::decode_as(NodeKind::WebhookEndpoint, &id, "id") else {
            return Ok(None);
        };
        match store::get(crate::context::db(ctx)?, viewer.workspace_id, id).await {
            Ok(row) => Ok(Some(WebhookEndpoint(row))),
            Err(StoreError::NotFound(_)) => Ok(None),
            Err(err) => Err(err.into()),
        }
    }
}

struct CountEndpoints(Uuid);

impl Count for CountEndpoints {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move { Ok(store::count(crate::context::db(ctx)?, self.0).await?) })
    }
}
