//! Notes: free text agents keep on a profile, with author and times.

use std::collections::HashMap;

use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait,
    FromQueryResult, QueryFilter, QueryResult,
};
use serde_json::json;
use uuid::Uuid;

use entity::{agents, notes, profiles};

use crate::Db;
use crate::Viewer;
use crate::error::{Result, StoreError};
use crate::events::{self, EventKind, NewEvent};
use crate::page::PageRequest;
use crate::sql::{self, PARENT};
use crate::text::Body;

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
    body: Body,
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
        .map_err(|e| StoreError::Database(sea_orm::DbErr::Custom(e.to_string())))?
        .returning_all()
        .to_owned();
    let txn = db.begin_write().await?;
    let statement = db.conn.get_database_backend().build(&insert);
    // A profile deleted (or merged away) while this ran: its row was there when the
    // insert read it, but the foreign key no longer finds it.
    let note = notes::Model::find_by_statement(statement)
        .one(&txn)
        .await
        .map_err(|err| match err.sql_err() {
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => {
                StoreError::NotFound("Profile")
            }
            _ => StoreError::from(err),
        })?
        .ok_or(StoreError::NotFound("Profile"))?;
    let event = NewEvent::new(
        EventKind::NoteCreated,
        note.profile_id,
        json!({ "noteId": note.id, "body": note.body }),
    );
    events::record(&txn, db, viewer.workspace_id, vec![event]).await?;
    txn.commit().await?;
    Ok(note)
}

async fn find<C: ConnectionTrait>(db: &C, workspace_id: Uuid, id: Uuid) -> Result<notes::Model> {
    notes::Entity::find_by_id(id)
        .filter(notes::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("Note"))
}

/// Replace a note's text; it keeps its author, and `updatedAt` moves.
pub async fn update(db: &Db, workspace_id: Uuid, id: Uuid, body: Body) -> Result<notes::Model> {
    let txn = db.begin_write().await?;
    let note = find(&txn, workspace_id, id).await?;
    let old = note.body.clone();
    let mut active: notes::ActiveModel = note.into();
    active.body = Set(body.into_inner());
    active.updated_at = Set(crate::db::now());
    let note = active.update(&txn).await?;
    let event = NewEvent::new(
        EventKind::NoteUpdated,
        note.profile_id,
        json!({ "noteId": note.id, "body": events::old_new(old, note.body.clone()) }),
    );
    events::record(&txn, db, workspace_id, vec![event]).await?;
    txn.commit().await?;
    Ok(note)
}

/// Delete a note.
pub async fn delete(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<()> {
    let txn = db.begin_write().await?;
    let note = find(&txn, workspace_id, id).await?;
    notes::Entity::delete_many()
        .filter(notes::Column::Id.eq(id))
        .filter(notes::Column::WorkspaceId.eq(workspace_id))
        .exec(&txn)
        .await?;
    let event = NewEvent::new(
        EventKind::NoteDeleted,
        note.profile_id,
        json!({ "noteId": note.id }),
    );
    events::record(&txn, db, workspace_id, vec![event]).await?;
    txn.commit().await?;
    Ok(())
}

crate::sql::by_ids!(
    /// Notes of the workspace by id (the missing ones left out).
    notes
);

/// The prefix of the author's columns in a note's row.
const AUTHOR: &str = "au_";

/// A note and its author, read in the same statement: a page of notes shown with their
/// authors (the profile page, the export) needs no second round for the agents.
#[derive(Debug, Clone)]
pub struct WithAuthor {
    /// The note.
    pub note: notes::Model,
    /// Its author; `None` when written with a token that has no agent.
    pub author: Option<agents::Model>,
}

impl FromQueryResult for WithAuthor {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        Ok(WithAuthor {
            note: notes::Model::from_query_result(res, pre)?,
            author: sql::read_optional(res, AUTHOR)?,
        })
    }
}

/// The same page (newest first) of each of `profile_ids`' notes, with their authors, in
/// one statement.
pub async fn pages_of_profiles(
    db: &Db,
    workspace_id: Uuid,
    page: &PageRequest,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<WithAuthor>>> {
    let mut inner = Query::select()
        .column((notes::Entity, Asterisk))
        .expr_as(Expr::col((notes::Entity, notes::Column::ProfileId)), PARENT)
        .from(notes::Entity)
        .left_join(
            agents::Entity,
            Expr::col((agents::Entity, agents::Column::Id))
                .equals((notes::Entity, notes::Column::AuthorId))
                .and(
                    Expr::col((agents::Entity, agents::Column::WorkspaceId))
                        .equals((notes::Entity, notes::Column::WorkspaceId)),
                ),
        )
        .and_where(notes::Column::WorkspaceId.eq(workspace_id))
        .and_where(notes::Column::ProfileId.is_in(profile_ids))
        .to_owned();
    sql::select_prefixed(&mut inner, agents::Entity, AUTHOR);
    sql::after_cursor_desc(
        &mut inner,
        Expr::col((notes::Entity, notes::Column::CreatedAt)),
        Expr::col((notes::Entity, notes::Column::Id)),
        page,
    );
    Ok(sql::top_n_per_parent::<WithAuthor, _>(
        &db.conn,
        inner,
        (notes::Entity, notes::Column::ProfileId),
        vec![
            (
                Expr::col((notes::Entity, notes::Column::CreatedAt)),
                Order::Desc,
            ),
            (Expr::col((notes::Entity, notes::Column::Id)), Order::Desc),
        ],
        page.fetch(),
    )
    .await?)
}

/// How many notes each of `profile_ids` has, in one statement.
pub async fn counts_of_profiles(
    db: &Db,
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, u64>> {
    Ok(sql::children_per_parent(
        &db.conn,
        notes::Entity,
        (notes::Column::WorkspaceId, workspace_id),
        notes::Column::ProfileId,
        profile_ids,
    )
    .await?)
}

/// A note brought in from elsewhere (an import), with its own author and times.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSpec {
    /// The agent who wrote it, if the workspace knows them.
    pub author_id: Option<Uuid>,
    /// The text.
    pub body: Body,
    /// When it was written.
    pub created_at: sea_orm::prelude::DateTimeWithTimeZone,
    /// When it was last edited.
    pub updated_at: sea_orm::prelude::DateTimeWithTimeZone,
}

/// Write `specs` on `profile_id` in one statement, inside the caller's transaction (whose
/// profile is in `workspace_id`): their `NOTE_CREATED` events.
pub(crate) async fn insert_in<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    specs: Vec<NoteSpec>,
) -> Result<Vec<NewEvent>> {
    insert_on_profiles(
        txn,
        workspace_id,
        specs.into_iter().map(|spec| (profile_id, spec)).collect(),
    )
    .await
}

/// [`insert_in`] for notes of several profiles, each with its profile, in one statement
/// (or as few as the bind-parameter limits allow): their events, in the same order.
pub(crate) async fn insert_on_profiles<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    specs: Vec<(Uuid, NoteSpec)>,
) -> Result<Vec<NewEvent>> {
    let mut log = Vec::with_capacity(specs.len());
    let rows: Vec<notes::ActiveModel> = specs
        .into_iter()
        .map(|(profile_id, spec)| {
            let id = Uuid::now_v7();
            log.push(NewEvent::new(
                EventKind::NoteCreated,
                profile_id,
                json!({ "noteId": id, "body": spec.body.as_str() }),
            ));
            notes::ActiveModel {
                id: Set(id),
                workspace_id: Set(workspace_id),
                profile_id: Set(profile_id),
                author_id: Set(spec.author_id),
                body: Set(spec.body.into_inner()),
                created_at: Set(spec.created_at),
                updated_at: Set(spec.updated_at),
            }
        })
        .collect();
    crate::bulk::insert_rows(txn, rows).await?;
    Ok(log)
}

/// Every note of `profile_id`, inside the caller's transaction.
pub(crate) async fn of_profile_in<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
) -> Result<Vec<notes::Model>> {
    Ok(notes::Entity::find()
        .filter(notes::Column::WorkspaceId.eq(workspace_id))
        .filter(notes::Column::ProfileId.eq(profile_id))
        .all(txn)
        .await?)
}

/// Every note of each of `profile_ids`, oldest first, with their authors, in one
/// statement (the export's; a page of profiles at a time). Every profile asked for has an
/// entry.
pub async fn all_of_profiles(
    db: &Db,
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<WithAuthor>>> {
    let mut select = Query::select()
        .column((notes::Entity, Asterisk))
        .from(notes::Entity)
        .left_join(
            agents::Entity,
            Expr::col((agents::Entity, agents::Column::Id))
                .equals((notes::Entity, notes::Column::AuthorId))
                .and(
                    Expr::col((agents::Entity, agents::Column::WorkspaceId))
                        .equals((notes::Entity, notes::Column::WorkspaceId)),
                ),
        )
        .and_where(Expr::col((notes::Entity, notes::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((notes::Entity, notes::Column::ProfileId)).is_in(profile_ids.clone()))
        .order_by((notes::Entity, notes::Column::CreatedAt), Order::Asc)
        .order_by((notes::Entity, notes::Column::Id), Order::Asc)
        .to_owned();
    sql::select_prefixed(&mut select, agents::Entity, AUTHOR);
    let statement = db.conn.get_database_backend().build(&select);
    let rows = WithAuthor::find_by_statement(statement)
        .all(&db.conn)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<WithAuthor>> =
        profile_ids.into_iter().map(|id| (id, Vec::new())).collect();
    for row in rows {
        grouped.entry(row.note.profile_id).or_default().push(row);
    }
    Ok(grouped)
}
