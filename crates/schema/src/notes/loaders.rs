//! Batched loads of notes: by id, one page per profile (with authors), and counts, in
//! one statement each.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use profilegraph_store::notes::{self, WithAuthor};
use profilegraph_store::page::PageRequest;
use uuid::Uuid;

use crate::loaders::{AppLoader, LoadError, PagedKey, by_parent, group_by_page};

crate::by_id!(
    /// A note by id.
    NoteId => notes, notes
);

/// One page of a profile's notes, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotesPage {
    /// The profile.
    pub profile_id: Uuid,
    /// The page (forward).
    pub page: PageRequest,
}

impl PagedKey for NotesPage {
    fn parent(&self) -> Uuid {
        self.profile_id
    }
    fn page(&self) -> &PageRequest {
        &self.page
    }
}

impl Loader<NotesPage> for AppLoader {
    type Value = Vec<WithAuthor>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[NotesPage],
    ) -> Result<HashMap<NotesPage, Self::Value>, Self::Error> {
        crate::metrics::loader_batch("NotesPage", keys.len());
        let mut out = HashMap::new();
        for (page, profile_ids) in group_by_page(keys) {
            let found =
                notes::pages_of_profiles(&self.db, self.workspace_id, &page, profile_ids.clone())
                    .await?;
            let keys = profile_ids.into_iter().map(|profile_id| NotesPage {
                profile_id,
                page: page.clone(),
            });
            out.extend(by_parent(keys, |k| k.profile_id, &found));
        }
        Ok(out)
    }
}

/// How many notes a profile has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoteCount(pub Uuid);

impl Loader<NoteCount> for AppLoader {
    type Value = u64;
    type Error = LoadError;

    async fn load(&self, keys: &[NoteCount]) -> Result<HashMap<NoteCount, u64>, Self::Error> {
        crate::metrics::loader_batch("NoteCount", keys.len());
        let ids = keys.iter().map(|k| k.0).collect();
        let counts = notes::counts_of_profiles(&self.db, self.workspace_id, ids).await?;
        Ok(by_parent(keys.iter().copied(), |k| k.0, &counts))
    }
}
