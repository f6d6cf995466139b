//! Note mutations.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::notes as store;
use profilegraph_store::text::Body;

use super::Note;
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};

/// A new note.
#[derive(InputObject)]
pub struct CreateNoteInput {
    /// The profile to add it to.
    pub profile_id: ID,
    /// The text, 1 to 10,000 characters.
    pub body: String,
}

/// A note's new text.
#[derive(InputObject)]
pub struct UpdateNoteInput {
    /// The note.
    pub id: ID,
    /// The new text, 1 to 10,000 characters.
    pub body: String,
}

/// The note to delete.
#[derive(InputObject)]
pub struct DeleteNoteInput {
    /// The note.
    pub id: ID,
}

/// The result of `createNote` and `updateNote`.
#[derive(SimpleObject)]
pub struct NotePayload {
    /// The note as it is now.
    pub note: Note,
}

/// The result of `deleteNote`.
#[derive(SimpleObject)]
pub struct DeleteNotePayload {
    /// The id of the note that no longer exists.
    pub deleted_note_id: ID,
}

/// Note mutations.
#[derive(Default)]
pub struct NoteMutation;

#[Object]
impl NoteMutation {
    /// Add a note to a profile. The token's agent is its author.
    async fn create_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The profile and the text.")] input: CreateNoteInput,
    ) -> Result<NotePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let profile_id = ids::decode_as(NodeKind::Profile, &input.profile_id, "input.profileId")?;
        let body = Body::parse(&input.body, "input.body")?;
        let note = store::create(crate::context::db(ctx)?, viewer, profile_id, body).await?;
        crate::context::wrote(ctx)?;
        Ok(NotePayload { note: Note(note) })
    }

    /// Edit a note's text. It keeps its author; `updatedAt` moves.
    async fn update_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The note and its new text.")] input: UpdateNoteInput,
    ) -> Result<NotePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::Note, &input.id, "input.id")?;
        let body = Body::parse(&input.body, "input.body")?;
        let note = store::update(crate::context::db(ctx)?, viewer.workspace_id, id, body).await?;
        crate::context::wrote(ctx)?;
        Ok(NotePayload { note: Note(note) })
    }

    /// Delete a note.
    async fn delete_note(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The note to delete.")] input: DeleteNoteInput,
    ) -> Result<DeleteNotePayload> {
        let viewer = auth::viewer_with(ctx, Scope::Write)?;
        let id = ids::decode_as(NodeKind::Note, &input.id, "input.id")?;
        store::delete(crate::context::db(ctx)?, viewer.workspace_id, id).await?;
        crate::context::wrote(ctx)?;
        Ok(DeleteNotePayload {
            deleted_note_id: ids::encode(NodeKind::Note, id),
        })
    }
}
