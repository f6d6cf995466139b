//! Batched loads of the workspace's fields and of profiles' field values.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use uuid::Uuid;

use entity::{custom_fields, profile_field_values};
use profilegraph_store::fields;

use crate::loaders::{AppLoader, LoadError, by_parent};

crate::by_id!(
    /// A custom field by id.
    FieldId => fields, custom_fields
);

/// The workspace's fields that are not archived, in position order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActiveFields;

impl Loader<ActiveFields> for AppLoader {
    type Value = Vec<custom_fields::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ActiveFields],
    ) -> Result<HashMap<ActiveFields, Self::Value>, Self::Error> {
        crate::metrics::loader_batch("ActiveFields", keys.len());
        let rows = fields::list(&self.db, self.workspace_id, false).await?;
        Ok(HashMap::from([(ActiveFields, rows)]))
    }
}

/// A profile's field values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValuesOfProfile(pub Uuid);

impl Loader<ValuesOfProfile> for AppLoader {
    type Value = Vec<profile_field_values::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ValuesOfProfile],
    ) -> Result<HashMap<ValuesOfProfile, Self::Value>, Self::Error> {
        crate::metrics::loader_batch("ValuesOfProfile", keys.len());
        let ids = keys.iter().map(|k| k.0).collect();
        let found = fields::values_of_profiles(&self.db, self.workspace_id, ids).await?;
        Ok(by_parent(keys.iter().copied(), |k| k.0, &found))
    }
}
