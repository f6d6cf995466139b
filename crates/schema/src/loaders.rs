//! Per-request DataLoaders.
//!
//! One [`AppLoader`] is made for each request, bound to the caller's workspace, with its
//! own cache that dies with the request: nothing is shared between requests or tenants,
//! and every statement it runs filters by the workspace. The key types and their
//! `Loader` impls live beside the capability they load (e.g. `notes::loaders`).

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::Db;
use crate::pagination::PageRequest;

/// Loads rows of one workspace in batches.
pub struct AppLoader {
    /// The pool.
    pub db: Db,
    /// The only workspace this loader reads.
    pub workspace_id: Uuid,
}

/// The request's loader handle.
pub type Loaders = DataLoader<AppLoader, HashMapCache>;

/// The error loaders return: shared, because one failed batch fails every waiting key.
pub type LoadError = Arc<DbErr>;

/// Keys in one batch. Large enough to batch a 100-item page with children, small enough to
/// stay far below SQLite's and PostgreSQL's bind-parameter limits.
const MAX_BATCH: usize = 500;

/// A loader handle for one request of `workspace_id`.
///
/// `delay` is how long a batch waits for keys to gather. Pinned to one thread (see
/// [`crate::exec`]) it can be zero: a batch can't start before the request has registered
/// every key of the current level.
pub fn for_workspace(db: Db, workspace_id: Uuid, delay: std::time::Duration) -> Loaders {
    DataLoader::with_cache(
        AppLoader { db, workspace_id },
        crate::exec::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH)
    .delay(delay)
}

/// The current request's loaders.
pub fn get<'a>(ctx: &Context<'a>) -> &'a Loaders {
    ctx.data_unchecked::<Loaders>()
}

/// Load one row by id through `K`, `None` when it doesn't exist in the workspace.
pub async fn one<K, V>(ctx: &Context<'_>, key: K) -> crate::Result<Option<V>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    AppLoader: Loader<K, Value = V, Error = LoadError>,
    V: Send + Sync + Clone + 'static,
{
    Ok(get(ctx).load_one(key).await?)
}

/// Declare an id key type and its batched, workspace-scoped loader for `entity`.
macro_rules! by_id {
    ($(#[$doc:meta])* $key:ident => $entity:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub Uuid);

        impl Loader<$key> for AppLoader {
            type Value = entity::$entity::Model;
            type Error = LoadError;

            async fn load(
                &self,
                keys: &[$key],
            ) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
                let rows = entity::$entity::Entity::find()
                    .filter(entity::$entity::Column::WorkspaceId.eq(self.workspace_id))
                    .filter(entity::$entity::Column::Id.is_in(ids))
                    .all(&self.db.conn)
                    .await
                    .map_err(Arc::new)?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

by_id!(
    /// A channel by id.
    ChannelId => channels
);
by_id!(
    /// A contact by id.
    ContactId => contacts
);
by_id!(
    /// A profile by id.
    ProfileId => profiles
);
by_id!(
    /// An agent by id.
    AgentId => agents
);
by_id!(
    /// A custom field by id.
    FieldId => custom_fields
);
by_id!(
    /// A note by id.
    NoteId => notes
);
by_id!(
    /// A contact moment by id.
    MomentId => contact_moments
);

/// Forget everything this request has loaded. Mutations call it after writing, so fields
/// resolved after a mutation (its payload, or the next mutation in the same document)
/// see the new state rather than what was cached before.
pub fn invalidate(ctx: &Context<'_>) {
    let loaders = get(ctx);
    loaders.clear::<ChannelId>();
    loaders.clear::<ContactId>();
    loaders.clear::<ProfileId>();
    loaders.clear::<AgentId>();
    loaders.clear::<FieldId>();
    loaders.clear::<NoteId>();
    loaders.clear::<MomentId>();
    crate::contacts::loaders::invalidate(loaders);
    crate::fields::loaders::invalidate(loaders);
    crate::notes::loaders::invalidate(loaders);
    crate::moments::loaders::invalidate(loaders);
}

/// Group page keys by their page shape.
pub fn group_by_page<'a, K: PagedKey + 'a>(
    keys: impl IntoIterator<Item = &'a K>,
) -> HashMap<PageRequest, Vec<Uuid>> {
    let mut groups: HashMap<PageRequest, Vec<Uuid>> = HashMap::new();
    for key in keys {
        groups
            .entry(key.page().clone())
            .or_default()
            .push(key.parent());
    }
    groups
}

/// A loader key that asks for one page of a parent's children.
pub trait PagedKey {
    /// The parent.
    fn parent(&self) -> Uuid;
    /// The page.
    fn page(&self) -> &PageRequest;
}
