//! Batched loads of notes: one page per profile, and counts, in one statement each.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dataloader::Loader;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{ColumnTrait, DbErr, FromQueryResult, QueryResult};
use uuid::Uuid;

use entity::{agents, notes};

use crate::loaders::{AppLoader, LoadError, Loaders, PagedKey, group_by_page};
use crate::pagination::PageRequest;
use crate::sql::{self, PARENT};

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
    fn from_query_result(res: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        Ok(WithAuthor {
            note: notes::Model::from_query_result(res, pre)?,
            author: sql::read_optional(res, AUTHOR)?,
        })
    }
}

/// One page of a profile's notes, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotesPage {
    /// The profile.
    pub profile_id: Uuid,
    /// The page (forward).
    pub page: PageRequest,
}

impl Loader<NotesPage> for AppLoader {
    type Value = Vec<WithAuthor>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[NotesPage],
    ) -> Result<HashMap<NotesPage, Self::Value>, Self::Error> {
        let mut out = HashMap::new();
        // Keys asking for the same page shape share one statement.
        for (page, profiles) in group_by_page(keys) {
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
                .and_where(notes::Column::WorkspaceId.eq(self.workspace_id))
                .and_where(notes::Column::ProfileId.is_in(profiles.clone()))
                .to_owned();
            sql::select_prefixed(&mut inner, agents::Entity, AUTHOR);
            if let Some(cursor) = &page.cursor {
                let at = cursor
                    .instant("after")
                    .map_err(|e| Arc::new(DbErr::Custom(e.to_string())))?;
                inner.and_where(sql::past_cursor(
                    Expr::col((notes::Entity, notes::Column::CreatedAt)),
                    Expr::col((notes::Entity, notes::Column::Id)),
                    at.into(),
                    cursor.id,
                    false,
                ));
            }
            let mut rows = sql::top_n_per_parent::<WithAuthor, _>(
                &self.db.conn,
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
            .await
            .map_err(Arc::new)?;
            for profile_id in profiles {
                let key = NotesPage {
                    profile_id,
                    page: page.clone(),
                };
                out.insert(key, rows.remove(&profile_id).unwrap_or_default());
            }
        }
        Ok(out)
    }
}

impl PagedKey for NotesPage {
    fn parent(&self) -> Uuid {
        self.profile_id
    }
    fn page(&self) -> &PageRequest {
        &self.page
    }
}

/// How many notes a profile has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NoteCount(pub Uuid);

impl Loader<NoteCount> for AppLoader {
    type Value = u64;
    type Error = LoadError;

    async fn load(&self, keys: &[NoteCount]) -> Result<HashMap<NoteCount, u64>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let counts = sql::children_per_parent(
            &self.db.conn,
            notes::Entity,
            (notes::Column::WorkspaceId, self.workspace_id),
            notes::Column::ProfileId,
            ids,
        )
        .await
        .map_err(Arc::new)?;
        Ok(keys
            .iter()
            .map(|k| (*k, counts.get(&k.0).copied().unwrap_or(0)))
            .collect())
    }
}

/// Forget cached notes.
pub fn invalidate(loaders: &Loaders) {
    loaders.clear::<NotesPage>();
    loaders.clear::<NoteCount>();
}
