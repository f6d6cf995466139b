//! Batched loads of contacts by profile, each with its channel.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::ConnectionTrait;
use sea_orm::FromQueryResult;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query};
use uuid::Uuid;

use entity::{channels, contacts};

use crate::channels::joined::{self, WithChannel};
use crate::loaders::{AppLoader, LoadError, Loaders};

/// The contacts of a profile, sorted by channel (type, then name), then oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ContactsOfProfile(pub Uuid);

impl Loader<ContactsOfProfile> for AppLoader {
    type Value = Vec<WithChannel<contacts::Model>>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ContactsOfProfile],
    ) -> Result<HashMap<ContactsOfProfile, Self::Value>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let mut select = Query::select()
            .column((contacts::Entity, Asterisk))
            .from(contacts::Entity)
            .inner_join(
                channels::Entity,
                Expr::col((channels::Entity, channels::Column::Id))
                    .equals((contacts::Entity, contacts::Column::ChannelId)),
            )
            .and_where(
                Expr::col((contacts::Entity, contacts::Column::WorkspaceId)).eq(self.workspace_id),
            )
            .and_where(Expr::col((contacts::Entity, contacts::Column::ProfileId)).is_in(ids))
            .order_by(
                (channels::Entity, channels::Column::ChannelType),
                Order::Asc,
            )
            .order_by((channels::Entity, channels::Column::Name), Order::Asc)
            .order_by((channels::Entity, channels::Column::Id), Order::Asc)
            .order_by((contacts::Entity, contacts::Column::CreatedAt), Order::Asc)
            .order_by((contacts::Entity, contacts::Column::Id), Order::Asc)
            .to_owned();
        joined::select_channel_columns(&mut select);
        let statement = self.db.conn.get_database_backend().build(&select);
        let rows = WithChannel::<contacts::Model>::find_by_statement(statement)
            .all(&self.db.conn)
            .await
            .map_err(Arc::new)?;
        let mut grouped: HashMap<ContactsOfProfile, Self::Value> =
            keys.iter().map(|k| (*k, Vec::new())).collect();
        for row in rows {
            if let Some(profile_id) = row.row.profile_id {
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
