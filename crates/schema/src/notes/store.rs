//! The database rules for notes.

use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult,
    QueryFilter,
};
use uuid::Uuid;

use entity::{notes, profiles};

use crate::Db;
use crate::auth::Viewer;
use crate::error::{Error, Result};
use crate::input::Text;

/// The longest note.
pub const MAX_BODY: usize = 10_000;

/// A note body: 1 to 10,000 characters, line breaks allowed.
pub fn parse_body(raw: &str, field: &str) -> Result<Text> {
    Text::parse_multiline(raw, MAX_BODY, field)
}

/// Add a note to a profile, written by the viewer's agent. NOT_FOUND when the workspace
/// has no such profile.
///
/// One statement, `INSERT … SELECT … FROM profiles WHERE id = ? AND workspace_id = ?
/// RETURNING *`: the note is only written if the profile is in the viewer's workspace
/// (the foreign key alone would accept another workspace's profile), without a separate
/// look-up first.
pub async fn create(
    db: &Db,
    viewer: &Viewer,
    profile_id: Uuid,
    body: Text,
) -> Result<notes::Model> {
    let now = crate::db::now();
    let from_profile = Query::select()
        .expr(Expr::val(Uuid::now_v7()))
        .expr(Expr::col((profiles::Entity, profiles::Column::WorkspaceId)))
        .expr(Expr::col((profiles::Entity, profiles::Column::Id)))
        .expr(Expr::val(viewer.agent_id))
        .expr(Expr::val(body.into_inner()))
        .expr(Expr::val(now))
        .expr(Expr::val(now))
        .from(profiles::Entity)
        .and_where(Expr::col((profiles::Entity, profiles::Column::Id)).eq(profile_id))
        .and_where(
            Expr::col((profiles::Entity, profiles::Column::WorkspaceId)).eq(viewer.workspace_id),
        )
        .to_owned();
    let insert = Query::insert()
        .into_table(notes::Entity)
        .columns([
            notes::Column::Id,
            notes::Column::WorkspaceId,
            notes::Column::ProfileId,
            notes::Column::AuthorId,
            notes::Column::Body,
            notes::Column::CreatedAt,
            notes::Column::UpdatedAt,
        ])
        .select_from(from_profile)
        .map_err(|e| Error::Database(sea_orm::DbErr::Custom(e.to_string())))?
        .returning_all()
        .to_owned();
    let statement = db.conn.get_database_backend().build(&insert);
    notes::Model::find_by_statement(statement)
        .one(&db.conn)
        .await?
        .ok_or(Error::NotFound("Profile"))
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
