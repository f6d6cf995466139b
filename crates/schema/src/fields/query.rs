//! Custom field queries.

use async_graphql::{Context, Object};

use profilegraph_store::fields as store;

use super::CustomField;
use crate::auth::{self, Scope};
use crate::error::Result;

/// Custom field queries.
#[derive(Default)]
pub struct FieldQuery;

#[Object]
impl FieldQuery {
    /// The workspace's custom profile fields, in position order.
    async fn custom_fields(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Include archived fields.", default = false)] include_archived: bool,
    ) -> Result<Vec<CustomField>> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        Ok(store::list(
            crate::context::db(ctx)?,
            viewer.workspace_id,
            include_archived,
        )
        .await?
        .into_iter()
        .map(CustomField)
        .collect())
    }
}
