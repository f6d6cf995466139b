//! Per-request DataLoaders.
//!
//! One [`Loaders`] is made for each request (see [`crate::RequestCtx`]), bound to the
//! caller's workspace, with its own cache that dies with the request: nothing is shared
//! between requests or tenants. Each capability declares its own keys and their `Loader`
//! impls (e.g. `notes::loaders`); every batch is one call into the store, which runs one
//! statement for all the keys.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use profilegraph_store::page::PageRequest;
use profilegraph_store::{Db, StoreError};
use uuid::Uuid;

/// Loads rows of one workspace in batches.
pub struct AppLoader {
    /// The request's database handle.
    pub db: Db,
    /// The only workspace this loader reads.
    pub workspace_id: Uuid,
}

/// The request's loader handle.
pub type Loaders = DataLoader<AppLoader, HashMapCache>;

/// The error loaders return: shared, because one failed batch fails every waiting key.
pub type LoadError = Arc<StoreError>;

/// Keys in one batch. Large enough to batch a 100-item page with children, small enough to
/// stay far below SQLite's and PostgreSQL's bind-parameter limits.
const MAX_BATCH: usize = 500;

/// A loader handle for one request of `workspace_id`.
///
/// Its batches wait for no time window: pinned to one thread (see [`crate::exec`]), a
/// batch can't start before the request has registered every key of the current level.
pub fn for_workspace(db: Db, workspace_id: Uuid) -> Loaders {
    DataLoader::with_cache(
        AppLoader { db, workspace_id },
        crate::exec::spawn,
        HashMapCache::default(),
    )
    .max_batch_size(MAX_BATCH)
    .delay(Duration::ZERO)
}

/// Load one row by id through `K`, `None` when it doesn't exist in the workspace.
pub async fn one<K, V>(ctx: &Context<'_>, key: K) -> crate::Result<Option<V>>
where
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    AppLoader: Loader<K, Value = V, Error = LoadError>,
    V: Send + Sync + Clone + 'static,
{
    Ok(crate::context::loaders(ctx)?.load_one(key).await?)
}

/// Declare an id key type and its batched, workspace-scoped loader, which reads through
/// `$module::by_ids` of the store.
#[macro_export]
macro_rules! by_id {
    ($(#[$doc:meta])* $key:ident => $module:ident, $entity:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $key(pub ::uuid::Uuid);

        impl ::async_graphql::dataloader::Loader<$key> for $crate::loaders::AppLoader {
            type Value = entity::$entity::Model;
            type Error = $crate::loaders::LoadError;

            async fn load(
                &self,
                keys: &[$key],
            ) -> Result<::std::collections::HashMap<$key, Self::Value>, Self::Error> {
                let ids = keys.iter().map(|k| k.0).collect();
                let rows = ::profilegraph_store::$module::by_ids(&self.db, self.workspace_id, ids)
                    .await
                    .map_err(::std::sync::Arc::new)?;
                Ok(rows.into_iter().map(|row| ($key(row.id), row)).collect())
            }
        }
    };
}

/// Group page keys by their page shape: keys asking for the same page share a statement.
pub fn group_by_page<'a, K: PagedKey + 'a>(
    keys: impl IntoIterator<Item = &'a K>,
) -> HashMap<PageRequest, Vec<Uuid>> {
    group_parents(keys, |key| key.page().clone(), PagedKey::parent)
}

/// Group keys by what their statement shares (`shape`: a page, a filter), listing each
/// group's parents: one statement per group.
pub fn group_parents<'a, K: 'a, G: std::hash::Hash + Eq>(
    keys: impl IntoIterator<Item = &'a K>,
    shape: impl Fn(&K) -> G,
    parent: impl Fn(&K) -> Uuid,
) -> HashMap<G, Vec<Uuid>> {
    let mut groups: HashMap<G, Vec<Uuid>> = HashMap::new();
    for key in keys {
        groups.entry(shape(key)).or_default().push(parent(key));
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

/// Answer every key of a batch from a map by parent, an empty answer for parents with
/// nothing.
pub fn by_parent<K, V: Default + Clone>(
    keys: impl IntoIterator<Item = K>,
    parent: impl Fn(&K) -> Uuid,
    found: &HashMap<Uuid, V>,
) -> HashMap<K, V>
where
    K: std::hash::Hash + Eq,
{
    keys.into_iter()
        .map(|key| {
            let value = found.get(&parent(&key)).cloned().unwrap_or_default();
            (key, value)
        })
        .collect()
}
