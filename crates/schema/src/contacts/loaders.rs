//! Batched loads of contacts: by id, and every contact of a profile with its channel.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use profilegraph_store::channels::WithChannel;
use uuid::Uuid;

use entity::contacts;

use crate::loaders::{AppLoader, LoadError, by_parent};

crate::by_id!(
    /// A contact by id.
    ContactId => contacts, contacts
);

/// All contacts of a profile, each with its channel, sorted by channel (type, then
/// name), then oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactsOfProfile(pub Uuid);

impl Loader<ContactsOfProfile> for AppLoader {
    type Value = Vec<WithChannel<contacts::Model>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ContactsOfProfile],
    ) -> Result<HashMap<ContactsOfProfile, Self::Value>, Self::Error> {
        crate::metrics::loader_batch("ContactsOfProfile", keys.len());
        let ids = keys.iter().map(|k| k.0).collect();
        let found =
            profilegraph_store::contacts::of_profiles(&self.db, self.workspace_id, ids).await?;
        Ok(by_parent(keys.iter().copied(), |k| k.0, &found))
    }
}
