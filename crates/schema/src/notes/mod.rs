//! Notes: free text agents keep on a profile, with author and times.

pub mod loaders;
mod mutation;
mod types;

use async_graphql::Context;
use uuid::Uuid;

pub use mutation::NoteMutation;
pub use types::{Note, NoteConnection};

use crate::error::Result;
use crate::pagination::{BoxFuture, Count, Cursor, Page, PageRequest};

/// A profile's notes, newest first: one page, batched with every other profile's on the
/// same response.
pub async fn of_profile(
    ctx: &Context<'_>,
    profile_id: Uuid,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<NoteConnection> {
    let page = PageRequest::forward(first, after)?;
    let rows = crate::context::loaders(ctx)?
        .load_one(loaders::NotesPage {
            profile_id,
            page: page.clone(),
        })
        .await?
        .unwrap_or_default();
    // The authors came with the notes: resolving `author` needs no statement.
    crate::context::loaders(ctx)?
        .feed_many(
            rows.iter()
                .filter_map(|r| r.author.clone())
                .map(|a| (crate::workspace::AgentId(a.id), a)),
        )
        .await;
    let page = Page::from_rows(&page, rows, |n| Cursor::at(&n.note.created_at, n.note.id));
    Ok(NoteConnection::new(
        page.map(|n| Note(n.note)),
        CountNotes(profile_id),
    ))
}

struct CountNotes(Uuid);

impl Count for CountNotes {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(crate::context::loaders(ctx)?
                .load_one(loaders::NoteCount(self.0))
                .await?
                .unwrap_or(0))
        })
    }
}
