//! Live profile events over WebSocket: `profileEvents` and `workspaceEvents`.
//!
//! The events come from the server's fan-out (an [`EventSource`] in the request's
//! context), which reads each committed event once from the log and hands it to every
//! subscriber of its workspace. Each subscription has a bounded buffer: one that falls
//! behind ends with an error naming the last `seq` it got, and the client catches up
//! through the `events` feed from there.

use std::sync::Arc;

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt, stream};
use tokio::sync::broadcast;
use uuid::Uuid;

use super::{ProfileEvent, ProfileEventKind};
use crate::auth::{self, Scope};
use crate::context::RequestCtx;
use crate::error::{Error, Result};
use crate::ids::{self, NodeKind};

/// Where live events come from: the server's fan-out of its workspace's committed events.
pub trait EventSource: Send + Sync {
    /// A receiver of every event of `workspace_id` committed from now on.
    fn subscribe(
        &self,
        workspace_id: Uuid,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = broadcast::Receiver<Arc<entity::profile_events::Model>>,
                > + Send
                + '_,
        >,
    >;
}

/// The request's event source, put into a subscription's context by the server.
#[derive(Clone)]
pub struct Live(pub Arc<dyn EventSource>);

/// Live profile events.
#[derive(Default)]
pub struct SubscriptionRoot;

/// Live profile events, over WebSocket at `/graphql` (the graphql-transport-ws protocol):
/// each event as its change commits, on any server instance.
#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// One profile's events as they commit: for an open profile page.
    async fn profile_events<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "The profile.")] profile_id: ID,
        #[graphql(desc = "Only events of these kinds.")] kinds: Option<Vec<ProfileEventKind>>,
    ) -> Result<impl Stream<Item = async_graphql::Result<ProfileEvent>> + 'ctx> {
        auth::viewer_with(ctx, Scope::Read)?;
        // An id of another workspace or another type is a profile with no events.
        let profile = ids::decode_as(NodeKind::Profile, &profile_id, "profileId").ok();
        let filter = super::filter(kinds, None);
        events(ctx, move |event| {
            Some(event.profile_id) == profile
                && (filter.kinds().is_empty()
                    || filter.kinds().iter().any(|k| k.as_str() == event.kind))
        })
        .await
    }

    /// Every profile event of the caller's workspace as it commits: for a live profile
    /// list.
    async fn workspace_events<'ctx>(
        &self,
        ctx: &Context<'ctx>,
        #[graphql(desc = "Only events of these kinds.")] kinds: Option<Vec<ProfileEventKind>>,
    ) -> Result<impl Stream<Item = async_graphql::Result<ProfileEvent>> + 'ctx> {
        auth::viewer_with(ctx, Scope::Read)?;
        let filter = super::filter(kinds, None);
        events(ctx, move |event| {
            filter.kinds().is_empty() || filter.kinds().iter().any(|k| k.as_str() == event.kind)
        })
        .await
    }
}

/// The viewer's workspace's events that pass `keep`, each resolved with fresh loaders.
async fn events<'ctx>(
    ctx: &Context<'ctx>,
    keep: impl Fn(&entity::profile_events::Model) -> bool + Send + Sync + 'ctx,
) -> Result<impl Stream<Item = async_graphql::Result<ProfileEvent>> + 'ctx> {
    let request = RequestCtx::get(ctx)?;
    let live = ctx.data_opt::<Live>().ok_or(Error::NoRequestContext)?;
    let receiver = live.0.subscribe(request.viewer.workspace_id).await;
    let events = stream::unfold((receiver, 0_i64), |(mut receiver, last)| async move {
        match receiver.recv().await {
            Ok(event) => {
                let seq = event.seq;
                Some((Ok(event), (receiver, seq)))
            }
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let err = Error::SlowSubscriber { last_seq: last };
                Some((Err(err), (receiver, i64::MAX)))
            }
            Err(broadcast::error::RecvError::Closed) => None,
        }
    });
    Ok(events
        // A subscriber that fell behind gets its error once, then the stream ends.
        .scan(false, |ended, item| {
            let out = if *ended { None } else { Some(item) };
            if matches!(out, Some(Err(_))) {
                *ended = true;
            }
            async move { out }
        })
        .filter(move |item| {
            let pass = match item {
                Ok(event) => keep(event),
                Err(_) => true,
            };
            async move { pass }
        })
        .map(move |item| {
            // Each event is resolved afresh: nothing cached for an earlier one is served.
            request.wrote();
            item.map(|event| ProfileEvent((*event).clone()))
                .map_err(async_graphql::Error::from)
        }))
}
