//! Agents: the people of a workspace who answer conversations and write notes.

crate::sql::by_ids!(
    /// Agents of the workspace by id (the missing ones left out).
    agents
);

/// Every agent of the workspace (the import looks note authors up by e-mail).
pub async fn list(
    db: &crate::Db,
    workspace_id: uuid::Uuid,
) -> crate::Result<Vec<entity::agents::Model>> {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    Ok(entity::agents::Entity::find()
        .filter(entity::agents::Column::WorkspaceId.eq(workspace_id))
        .order_by_asc(entity::agents::Column::Email)
        .all(&db.conn)
        .await?)
}
