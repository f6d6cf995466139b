//! Profile events: the log every change to a profile writes (see
//! `profilegraph_store::events`), read as a profile's `history` and as the workspace's
//! change feed, `events`.

pub mod loaders;
mod query;
pub mod subscription;
mod types;

pub use query::EventQuery;
pub use subscription::{EventSource, Live, SubscriptionRoot};
pub(crate) use types::global_ids;
pub use types::{ProfileEvent, ProfileEventConnection, ProfileEventKind};

use async_graphql::Context;
use profilegraph_store::events::EventFilter;
use uuid::Uuid;

use crate::error::Result;
use crate::pagination::{BoxFuture, Count, Cursor, Page, PageRequest};

/// The kinds filter from the arguments.
fn filter(kinds: Option<Vec<ProfileEventKind>>, profile_id: Option<Uuid>) -> EventFilter {
    EventFilter::new(
        kinds.map(|kinds| kinds.into_iter().map(Into::into).collect()),
        profile_id,
    )
}

/// A page of a profile's history, newest first, batched across profiles.
pub async fn history_of(
    ctx: &Context<'_>,
    profile_id: Uuid,
    first: Option<i32>,
    after: Option<&str>,
    kinds: Option<Vec<ProfileEventKind>>,
) -> Result<ProfileEventConnection> {
    let page = PageRequest::new(first, after, None, None, crate::pagination::KeyKind::Number)?;
    let filter = filter(kinds, None);
    let rows = crate::context::loaders(ctx)?
        .load_one(loaders::HistoryPage {
            profile_id,
            page: page.clone(),
            filter: filter.clone(),
        })
        .await?
        .unwrap_or_default();
    let page = Page::from_rows(&page, rows, |e| Cursor::number(e.seq, e.id)).map(ProfileEvent);
    Ok(ProfileEventConnection::new(
        page,
        CountHistory(profile_id, filter),
    ))
}

struct CountHistory(Uuid, EventFilter);

impl Count for CountHistory {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            let viewer = crate::auth::viewer(ctx)?;
            let filter = EventFilter::new(Some(self.1.kinds().to_vec()), Some(self.0));
            Ok(profilegraph_store::events::count(
                crate::context::db(ctx)?,
                viewer.workspace_id,
                &filter,
            )
            .await?)
        })
    }
}
