//! The webhook types: endpoints, deliveries, attempts.

use std::collections::HashMap;

use async_graphql::{Context, Enum, ID, Object};
use profilegraph_store::webhooks::{DeliveryStatus, deliveries as store, endpoints};
use uuid::Uuid;

use crate::error::Result;
use crate::events::loaders::EventId;
use crate::events::{ProfileEvent, ProfileEventKind};
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::pagination::{BoxFuture, Count, KeyKind, PageRequest};
use crate::scalars::{DateTime, Seq};

/// Where a delivery stands.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "profilegraph_store::webhooks::DeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Not delivered yet: waiting for its next attempt (`nextAttemptAt`).
    Pending,
    /// The endpoint answered with a 2xx.
    Delivered,
    /// Given up: the endpoint answered with a 4xx other than 429 (or a redirect, which is
    /// not followed), or gave no 2xx within 24 hours of retries.
    Failed,
}

/// An endpoint a workspace registered: a URL that gets the workspace's profile events.
#[derive(Clone)]
pub struct WebhookEndpoint(pub entity::webhook_endpoints::Model);

/// An HTTPS URL of a partner that gets the workspace's profile events, each signed to the
/// Standard Webhooks 1.0 spec and delivered at least once.
#[Object]
impl WebhookEndpoint {
    /// The endpoint's global id.
    async fn id(&self) -> ID {
        ids::encode(NodeKind::WebhookEndpoint, self.0.id)
    }

    /// Where the events are sent (`POST`).
    async fn url(&self) -> &str {
        &self.0.url
    }

    /// What the endpoint is for.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The kinds of event it gets; empty: every kind.
    async fn kinds(&self) -> Vec<ProfileEventKind> {
        endpoints::kinds_of(&self.0)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// Whether it gets events. One that is off gets nothing, also not later what
    /// happened while it was off (the `events` feed has that).
    async fn enabled(&self) -> bool {
        self.0.enabled
    }

    /// Why it is off: turned off through the API, or by the server after five days in
    /// which every attempt failed. Null while it is on.
    async fn disabled_reason(&self) -> Option<&str> {
        if self.0.enabled {
            None
        } else {
            self.0.disabled_reason.as_deref()
        }
    }

    /// Since when every attempt to it has failed; null after a success.
    async fn failing_since(&self) -> Option<DateTime> {
        self.0.failing_since.map(Into::into)
    }

    /// Until when the secret replaced by the last rotation still signs (a second
    /// signature in `webhook-signature`); null when there is none.
    async fn previous_secret_expires_at(&self) -> Option<DateTime> {
        self.0.previous_secret_until.map(Into::into)
    }

    /// The last `seq` of the workspace's log it has deliveries for.
    async fn last_seq(&self) -> Seq {
        Seq(self.0.cursor_seq)
    }

    /// When it was registered.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When it was last changed.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }

    /// Its deliveries, newest first, each with its attempts.
    #[graphql(complexity = "crate::pagination::cost(first, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "How many to return, 1 to 100 (default 20).")] first: Option<i32>,
        #[graphql(desc = "Return the ones after this cursor (an `endCursor`).")] after: Option<
            String,
        >,
        #[graphql(desc = "Only deliveries of this status.")] status: Option<WebhookDeliveryStatus>,
    ) -> Result<WebhookDeliveryConnection> {
        let page = PageRequest::new(first, after.as_deref(), None, None, KeyKind::Instant)?;
        let db = crate::context::db(ctx)?;
        let filter = store::DeliveryFilter {
            status: status.map(Into::into),
        };
        let rows = store::list(db, self.0.workspace_id, self.0.id, filter, &page).await?;
        let ids: Vec<Uuid> = rows.items.iter().map(|(_, d)| d.id).collect();
        let attempts = store::attempts_of(db, self.0.workspace_id, ids).await?;
        Ok(WebhookDeliveryConnection::new(
            rows.map(|delivery| WebhookDelivery {
                attempts: attempts.get(&delivery.id).cloned().unwrap_or_default(),
                row: delivery,
            }),
            CountDeliveries {
                workspace_id: self.0.workspace_id,
                endpoint_id: self.0.id,
                filter,
            },
        ))
    }
}

struct CountDeliveries {
    workspace_id: Uuid,
    endpoint_id: Uuid,
    filter: store::DeliveryFilter,
}

impl Count for CountDeliveries {
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        Box::pin(async move {
            Ok(store::count(
                crate::context::db(ctx)?,
                self.workspace_id,
                self.endpoint_id,
                self.filter,
            )
            .await?)
        })
    }
}

/// One event on its way to one endpoint.
#[derive(Clone)]
pub struct WebhookDelivery {
    /// The delivery.
    pub row: entity::webhook_deliveries::Model,
    /// Its attempts, oldest first.
    pub attempts: Vec<entity::webhook_attempts::Model>,
}

impl WebhookDelivery {
    /// A delivery with its attempts looked up from `attempts`.
    pub fn with(
        row: entity::webhook_deliveries::Model,
        attempts: &mut HashMap<Uuid, Vec<entity::webhook_attempts::Model>>,
    ) -> Self {
        WebhookDelivery {
            attempts: attempts.remove(&row.id).unwrap_or_default(),
            row,
        }
    }
}

/// One profile event on its way to one endpoint: its status, attempts and next attempt.
/// Its `webhook-id` is the event's id, the same on every attempt.
#[Object]
impl WebhookDelivery {
    /// The delivery's global id (pass it to `redeliverWebhook`).
    async fn id(&self) -> ID {
        ids::encode(NodeKind::WebhookDelivery, self.row.id)
    }

    /// The `webhook-id` header it is sent with: the event's global id, the same on every
    /// attempt, so a receiver can drop a repeat.
    async fn webhook_id(&self) -> ID {
        ids::encode(NodeKind::ProfileEvent, self.row.event_id)
    }

    /// The event it carries.
    async fn event(&self, ctx: &Context<'_>) -> Result<Option<ProfileEvent>> {
        Ok(loaders::one(ctx, EventId(self.row.event_id))
            .await?
            .map(ProfileEvent))
    }

    /// The event's `seq`.
    async fn event_seq(&self) -> Seq {
        Seq(self.row.event_seq)
    }

    /// Where it stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        DeliveryStatus::from_db(&self.row.status).into()
    }

    /// How many attempts were made.
    async fn attempt_count(&self) -> i32 {
        self.row.attempts
    }

    /// Its attempts, oldest first.
    async fn attempts(&self) -> Vec<WebhookAttempt> {
        self.attempts.iter().cloned().map(WebhookAttempt).collect()
    }

    /// When it is tried next; null once it is delivered or failed.
    async fn next_attempt_at(&self) -> Option<DateTime> {
        self.row.next_attempt_at.map(Into::into)
    }

    /// When it was made (right after its event committed).
    async fn created_at(&self) -> DateTime {
        self.row.created_at.into()
    }

    /// When it was delivered or given up; null while pending.
    async fn finished_at(&self) -> Option<DateTime> {
        self.row.finished_at.map(Into::into)
    }
}

/// One attempt to deliver.
#[derive(Clone)]
pub struct WebhookAttempt(pub entity::webhook_attempts::Model);

/// One HTTP request of a delivery, and what came back.
#[Object]
impl WebhookAttempt {
    /// When it was sent.
    async fn attempted_at(&self) -> DateTime {
        self.0.attempted_at.into()
    }

    /// How long it took, in milliseconds, until the answer (or the error).
    async fn duration_ms(&self) -> i32 {
        self.0.duration_ms
    }

    /// The HTTP status the endpoint answered with; null when it did not answer.
    async fn http_status(&self) -> Option<i32> {
        self.0.http_status
    }

    /// What went wrong when there was no answer (a timeout after 10 s, a refused
    /// connection, an address that is not allowed).
    async fn error(&self) -> Option<&str> {
        self.0.error.as_deref()
    }

    /// The first 1 KiB of the response body.
    async fn response_body(&self) -> Option<&str> {
        self.0.response_body.as_deref()
    }
}

crate::connection!(
    WebhookEndpointConnection,
    WebhookEndpointEdge,
    WebhookEndpoint,
    "A page of webhook endpoints.",
    "One webhook endpoint in a page, with its cursor."
);

crate::connection!(
    WebhookDeliveryConnection,
    WebhookDeliveryEdge,
    WebhookDelivery,
    "A page of webhook deliveries.",
    "One webhook delivery in a page, with its cursor."
);
