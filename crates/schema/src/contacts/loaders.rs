//! Batched loads of contacts by profile.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};
use uuid::Uuid;

use entity::{channels, contacts};

use crate::loaders::{AppLoader, LoadError, Loaders};

/// The contacts of a profile, sorted by channel (type, then name), then oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactsOfProfile(pub Uuid);

impl Loader<ContactsOfProfile> for AppLoader {
    type Value = Vec<contacts::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ContactsOfProfile],
    ) -> Result<HashMap<ContactsOfProfile, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = contacts::Entity::find()
            .join(JoinType::InnerJoin, contacts::Relation::Channels.def())
            .filter(contacts::Column::WorkspaceId.eq(self.workspace_id))
            .filter(contacts::Column::ProfileId.is_in(ids))
            .order_by_asc(Expr::col((channels::Entity, channels::Column::ChannelType)))
            .order_by_asc(Expr::col((channels::Entity, channels::Column::Name)))
            .order_by_asc(Expr::col((channels::Entity, channels::Column::Id)))
            .order_by_asc(contacts::Column::CreatedAt)
            .order_by_asc(contacts::Column::Id)
            .all(&self.db.conn)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<ContactsOfProfile, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(profile_id) = row.profile_id {
                grouped
                    .entry(ContactsOfProfile(profile_id))
                    .or_default()
                    .push(row);
            }
        }
        Ok(grouped)
    }
}

/// Forget cached contact lists.
pub fn invalidate(loaders: &Loaders) {
    loaders.clear::<ContactsOfProfile>();
}
