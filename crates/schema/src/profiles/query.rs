//! Profile queries.

use async_graphql::{Context, Enum, ID, InputObject, Object};
use sea_orm::sea_query::Order;
use uuid::Uuid;

use super::loaders::ProfileId;
use super::{Profile, ProfileConnection};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::pagination::{BoxFuture, Count, Known, PageRequest};
use profilegraph_store::profiles::{self as store, Sort, SortKey};
use profilegraph_store::text::{ExternalId, SearchTerm};

/// What profiles can be sorted by.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileOrderField {
    /// The name.
    #[default]
    Name,
    /// When the profile was created.
    CreatedAt,
    /// When the profile last changed.
    UpdatedAt,
}

/// A sort direction.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum OrderDirection {
    /// Smallest (or oldest, or A) first.
    #[default]
    Asc,
    /// Largest (or newest, or Z) first.
    Desc,
}

/// How to sort profiles.
#[derive(InputObject, Clone, Copy)]
pub struct ProfileOrder {
    /// What to sort by.
    #[graphql(default)]
    pub field: ProfileOrderField,
    /// Which way.
    #[graphql(default)]
    pub direction: OrderDirection,
}

/// Profile queries.
#[derive(Default)]
pub struct ProfileQuery;

#[Object]
impl ProfileQuery {
    /// One profile by id; null when there is none in this workspace (including after it
    /// was deleted).
    async fn profile(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile's global id.")] id: ID,
    ) -> Result<Option<Profile>> {
        auth::viewer_with(ctx, Scope::Read)?;
        let Ok(id) = ids::decode_as(NodeKind::Profile, &id, "id") else {
            return Ok(None);
        };
        Ok(loaders::one(ctx, ProfileId(id)).await?.map(Profile::from))
    }

    /// One profile by your own key (its `externalId`); null when no profile of this
    /// workspace has it.
    async fn profile_by_external_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The external id, exactly as it was set (surrounding spaces aside).")]
        external_id: String,
    ) -> Result<Option<Profile>> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let Ok(external_id) = ExternalId::parse(&external_id, "externalId") else {
            return Ok(None);
        };
        let db = crate::context::db(ctx)?;
        Ok(
            store::by_external_id(&db.conn, viewer.workspace_id, &external_id)
                .await?
                .map(Profile::from),
        )
    }

    /// All profiles of the workspace ("All profiles"), with look-up. Sorted by name
    /// unless `orderBy` says otherwise.
    #[graphql(complexity = "crate::pagination::cost(first.or(last), child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn profiles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return from the start, 1 to 100 (default 20).")]
        first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "How many to return from the end, 1 to 100.")] last: Option<i32>,
        #[graphql(desc = "Return the ones before this cursor (a `startCursor`).")] before: Option<
            String,
        >,
        #[graphql(
            desc = "Only profiles whose name, or any of whose contacts' identifier or display name, contains this text, ignoring case."
        )]
        search: Option<String>,
        #[graphql(desc = "The sort; by name, ascending, when omitted.")] order_by: Option<
            ProfileOrder,
        >,
    ) -> Result<ProfileConnection> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let search = SearchTerm::parse_optional(search.as_deref(), "search")?;
        let order_by = order_by.unwrap_or(ProfileOrder {
            field: ProfileOrderField::Name,
            direction: OrderDirection::Asc,
        });
        let sort = Sort {
            key: match order_by.field {
                ProfileOrderField::Name => SortKey::Name,
                ProfileOrderField::CreatedAt => SortKey::CreatedAt,
                ProfileOrderField::UpdatedAt => SortKey::UpdatedAt,
            },
            order: match order_by.direction {
                OrderDirection::Asc => Order::Asc,
                OrderDirection::Desc => Order::Desc,
            },
        };
        let page = PageRequest::new(
            first,
            after.as_deref(),
            last,
            before.as_deref(),
            sort.key.kind(),
        )?;
        let db = crate::context::db(ctx)?;
        // A first page that shows its total counts in the page's own statement.
        let (rows, total) = if ctx.look_ahead().field("totalCount").exists() {
            store::list_counted(db, viewer.workspace_id, search.as_ref(), sort, &page).await?
        } else {
            let rows = store::list(db, viewer.workspace_id, search.as_ref(), sort, &page).await?;
            (rows, None)
        };
        let rows = rows.map(Profile::from);
        Ok(match total {
            Some(total) => ProfileConnection::new(rows, Known(total)),
            None => ProfileConnection::new(
                rows,
                CountProfiles {
                    workspace_id: viewer.workspace_id,
                    search,
                },
            ),
        })
    }
}

struct CountProfiles {
    workspace_id: Uuid,
    search: Option<SearchTerm>,
}

impl Count for CountProfiles {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(store::count(
                crate::context::db(ctx)?,
                self.workspace_id,
                self.search.as_ref(),
            )
            .await?)
        })
    }
}
