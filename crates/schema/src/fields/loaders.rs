//! Batched loads of the workspace's fields and of profiles' field values.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use entity::{custom_fields, profile_field_values};

use crate::loaders::{AppLoader, LoadError, Loaders};

/// Every non-archived field of the workspace, in position order. There is one such list
/// per workspace, so the key carries nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ActiveFields;

impl Loader<ActiveFields> for AppLoader {
    type Value = Vec<custom_fields::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        _keys: &[ActiveFields],
    ) -> Result<HashMap<ActiveFields, Self::Value>, Self::Error> {
        let rows = custom_fields::Entity::find()
            .filter(custom_fields::Column::WorkspaceId.eq(self.workspace_id))
            .filter(custom_fields::Column::Archived.eq(false))
            .order_by_asc(custom_fields::Column::Position)
            .order_by_asc(custom_fields::Column::CreatedAt)
            .order_by_asc(custom_fields::Column::Id)
            .all(&self.db.conn)
            .await
            .map_err(Arc::new)?;
        Ok(HashMap::from([(ActiveFields, rows)]))
    }
}

/// The field values of a profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ValuesOfProfile(pub Uuid);

impl Loader<ValuesOfProfile> for AppLoader {
    type Value = Vec<profile_field_values::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ValuesOfProfile],
    ) -> Result<HashMap<ValuesOfProfile, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = profile_field_values::Entity::find()
            .filter(profile_field_values::Column::WorkspaceId.eq(self.workspace_id))
            .filter(profile_field_values::Column::ProfileId.is_in(ids))
            .all(&self.db.conn)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<ValuesOfProfile, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            grouped
                .entry(ValuesOfProfile(row.profile_id))
                .or_default()
                .push(row);
        }
        Ok(grouped)
    }
}

/// Forget cached fields and values.
pub fn invalidate(loaders: &Loaders) {
    loaders.clear::<ActiveFields>();
    loaders.clear::<ValuesOfProfile>();
}
