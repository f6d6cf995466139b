//! Contact moments: the conversations (tickets) of contacts, and the timeline of a profile.

pub mod loaders;
mod mutation;
mod query;
mod types;

use async_graphql::{Context, ID};
use uuid::Uuid;

pub use mutation::MomentMutation;
pub use query::MomentQuery;
pub use types::{ContactMoment, ContactMomentConnection, ContactMomentStatus};

use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::pagination::{BoxFuture, Count, Cursor, Page, PageRequest};
use profilegraph_store::moments::Joined;
use profilegraph_store::moments::MomentFilter;

/// A page of a timeline; the moments' channels go to the request's channel loader.
async fn timeline_page(
    ctx: &Context<'_>,
    page: &PageRequest,
    rows: Vec<Joined>,
) -> Result<Page<ContactMoment>> {
    crate::channels::joined::feed(ctx, &rows).await?;
    Ok(
        Page::from_rows(page, rows, |m| Cursor::at(&m.row.last_message_at, m.row.id))
            .map(|m| ContactMoment(m.row)),
    )
}

/// The timeline filter from the arguments.
fn filter(status: Option<Vec<ContactMomentStatus>>, channel_id: Option<Uuid>) -> MomentFilter {
    MomentFilter::new(
        status.map(|statuses| statuses.into_iter().map(Into::into).collect()),
        channel_id,
    )
}

/// A contact's moments, newest first, batched across contacts.
pub async fn of_contact(
    ctx: &Context<'_>,
    contact_id: Uuid,
    first: Option<i32>,
    after: Option<&str>,
) -> Result<ContactMomentConnection> {
    let page = PageRequest::forward(first, after)?;
    let rows = crate::context::loaders(ctx)?
        .load_one(loaders::MomentsOfContact {
            contact_id,
            page: page.clone(),
        })
        .await?
        .unwrap_or_default();
    Ok(ContactMomentConnection::new(
        timeline_page(ctx, &page, rows).await?,
        CountOfContact(contact_id),
    ))
}

/// A profile's timeline, newest first, batched across profiles.
pub async fn of_profile(
    ctx: &Context<'_>,
    profile_id: Uuid,
    first: Option<i32>,
    after: Option<&str>,
    status: Option<Vec<ContactMomentStatus>>,
    channel_id: Option<ID>,
) -> Result<ContactMomentConnection> {
    let page = PageRequest::forward(first, after)?;
    let channel_id = channel_id
        .map(|id| ids::decode_as(NodeKind::Channel, &id, "channelId"))
        .transpose()?;
    let filter = filter(status, channel_id);
    let handle = crate::context::loaders(ctx)?;
    let rows = handle
        .load_one(loaders::MomentsOfProfile {
            profile_id,
            page: page.clone(),
            filter: filter.clone(),
        })
        .await?
        .unwrap_or_default();
    // The contacts and the total came with the page: resolving `contact` and
    // `totalCount` needs no statement. (After a cursor the statement can't count the
    // moments before it, so the total is left to its own loader.)
    handle
        .feed_many(rows.iter().map(|r| {
            (
                crate::contacts::loaders::ContactId(r.contact.id),
                r.contact.clone(),
            )
        }))
        .await;
    let count = loaders::MomentCountOfProfile { profile_id, filter };
    if page.cursor.is_none() {
        let total = rows.first().map_or(0, |r| r.total);
        handle.feed_one(count.clone(), total).await;
    }
    let rows = rows.into_iter().map(|r| r.moment).collect();
    Ok(ContactMomentConnection::new(
        timeline_page(ctx, &page, rows).await?,
        CountOfProfile(count),
    ))
}

struct CountOfContact(Uuid);

impl Count for CountOfContact {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(crate::context::loaders(ctx)?
                .load_one(loaders::MomentCountOfContact(self.0))
                .await?
                .unwrap_or(0))
        })
    }
}

struct CountOfProfile(loaders::MomentCountOfProfile);

impl Count for CountOfProfile {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(crate::context::loaders(ctx)?
                .load_one(self.0.clone())
                .await?
                .unwrap_or(0))
        })
    }
}
