//! The database rules for notes.

use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use entity::notes;

use crate::Db;
use crate::auth::Viewer;
use crate::error::{Error, Result};
use crate::input::Text;
use crate::profiles::store as profile_store;

/// The longest note.
pub const MAX_BODY: usize = 10_000;

/// A note body: 1 to 10,000 characters, line breaks allowed.
pub fn parse_body(raw: &str, field: &str) -> Result<Text> {
    Text::parse_multiline(raw, MAX_BODY, field)
}

/// Add a note to a profile, written by the viewer's agent.
pub async fn create(
    db: &Db,
    viewer: &Viewer,
    profile_id: Uuid,
    body: Text,
) -> Result<notes::Model> {
    profile_store::find(&db.conn, viewer.workspace_id, profile_id).await?;
    let now = crate::db::now();
    Ok(notes::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(viewer.workspace_id),
        profile_id: Set(profile_id),
        author_id: Set(viewer.agent_id),
        body: Set(body.into_inner()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.conn)
    .await?)
}

async fn find(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<notes::Model> {
    notes::Entity::find_by_id(id)
        .filter(notes::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(Error::NotFound("Note"))
}

/// Replace a note's text; it keeps its author, and `updatedAt` moves.
pub async fn update(db: &Db, workspace_id: Uuid, id: Uuid, body: Text) -> Result<notes::Model> {
    let note = find(db, workspace_id, id).await?;
    let mut active: notes::ActiveModel = note.into();
    active.body = Set(body.into_inner());
    active.updated_at = Set(crate::db::now());
    Ok(active.update(&db.conn).await?)
}

/// Delete a note.
pub async fn delete(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<()> {
    let deleted = notes::Entity::delete_many()
        .filter(notes::Column::Id.eq(id))
        .filter(notes::Column::WorkspaceId.eq(workspace_id))
        .exec(&db.conn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("Note"));
    }
    Ok(())
}
