//! Batched loads of profiles by id (following merges), and of the ids merged into them.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use crate::loaders::{AppLoader, LoadError, by_parent};

/// A profile by id. An id that was merged into another profile loads that profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProfileId(pub Uuid);

impl Loader<ProfileId> for AppLoader {
    type Value = entity::profiles::Model;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ProfileId],
    ) -> Result<HashMap<ProfileId, Self::Value>, Self::Error> {
        let ids = keys.iter().map(|k| k.0).collect();
        let found =
            profilegraph_store::merge::by_ids_following_merges(&self.db, self.workspace_id, ids)
                .await?;
        Ok(found
            .into_iter()
            .map(|(id, p)| (ProfileId(id), p))
            .collect())
    }
}

/// The ids merged into a profile, oldest merge first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MergedIntoProfile(pub Uuid);

impl Loader<MergedIntoProfile> for AppLoader {
    type Value = Vec<Uuid>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MergedIntoProfile],
    ) -> Result<HashMap<MergedIntoProfile, Self::Value>, Self::Error> {
        let ids = keys.iter().map(|k| k.0).collect();
        let found =
            profilegraph_store::merge::redirects_to(&self.db.conn, self.workspace_id, ids).await?;
        Ok(by_parent(keys.iter().copied(), |k| k.0, &found))
    }
}
