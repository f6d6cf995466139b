//! Batched loads of profile events: by id, and one page of history per profile.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use profilegraph_store::events::{self, EventFilter};
use profilegraph_store::page::PageRequest;
use uuid::Uuid;

use entity::profile_events;

use crate::loaders::{AppLoader, LoadError, by_parent, group_parents};

crate::by_id!(
    /// A profile event by id.
    EventId => events, profile_events
);

/// One page of a profile's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HistoryPage {
    /// The profile.
    pub profile_id: Uuid,
    /// The page (forward).
    pub page: PageRequest,
    /// The kinds asked for.
    pub filter: EventFilter,
}

impl Loader<HistoryPage> for AppLoader {
    type Value = Vec<profile_events::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[HistoryPage],
    ) -> Result<HashMap<HistoryPage, Self::Value>, Self::Error> {
        crate::metrics::loader_batch("HistoryPage", keys.len());
        let groups = group_parents(
            keys,
            |k| (k.page.clone(), k.filter.clone()),
            |k| k.profile_id,
        );
        let mut out = HashMap::new();
        for ((page, filter), profile_ids) in groups {
            let found = events::histories(
                &self.db,
                self.workspace_id,
                &page,
                &filter,
                profile_ids.clone(),
            )
            .await?;
            let keys = profile_ids.into_iter().map(|profile_id| HistoryPage {
                profile_id,
                page: page.clone(),
                filter: filter.clone(),
            });
            out.extend(by_parent(keys, |k| k.profile_id, &found));
        }
        Ok(out)
    }
}
