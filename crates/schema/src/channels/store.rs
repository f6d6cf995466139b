//! The database rules for channels.

use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use entity::channels;

use super::ChannelType;
use crate::Db;
use crate::error::{Error, Result};
use crate::input::Text;

/// Every channel of the workspace, by type then name.
pub async fn list(db: &Db, workspace_id: Uuid) -> Result<Vec<channels::Model>> {
    Ok(channels::Entity::find()
        .filter(channels::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(channels::Column::ChannelType)
        .order_by_asc(channels::Column::Name)
        .order_by_asc(channels::Column::Id)
        .all(&db.conn)
        .await?)
}

/// Add a channel.
pub async fn create(
    db: &Db,
    workspace_id: Uuid,
    channel_type: ChannelType,
    name: Text,
) -> Result<channels::Model> {
    let now = crate::db::now();
    Ok(channels::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        channel_type: Set(channel_type.as_str().to_owned()),
        name: Set(name.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.conn)
    .await?)
}

/// Rename a channel.
pub async fn rename(db: &Db, workspace_id: Uuid, id: Uuid, name: Text) -> Result<channels::Model> {
    let channel = channels::Entity::find_by_id(id)
        .filter(channels::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(Error::NotFound("Channel"))?;
    let mut active: channels::ActiveModel = channel.into();
    active.name = Set(name.into_inner());
    active.updated_at = Set(crate::db::now());
    Ok(active.update(&db.conn).await?)
}
