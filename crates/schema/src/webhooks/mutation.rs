//! Webhook mutations (admin scope).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::webhooks::{address, deliveries, endpoints as store};

use super::types::{WebhookDelivery, WebhookEndpoint};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::events::ProfileEventKind;
use crate::ids::{self, NodeKind};

/// A new webhook endpoint.
#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// Where to send: an `https` URL whose host is, and resolves to, a public address.
    pub url: String,
    /// The kinds of event to send; empty or left out: every kind.
    pub kinds: Option<Vec<ProfileEventKind>>,
    /// What the endpoint is for, up to 500 characters.
    pub description: Option<String>,
}

/// Changes to a webhook endpoint; a field left out stays as it is.
#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    /// The endpoint to change.
    pub id: ID,
    /// A new URL (the same rules as when registering).
    pub url: Option<String>,
    /// New kinds; empty: every kind.
    pub kinds: Option<Vec<ProfileEventKind>>,
    /// A new description.
    pub description: Option<String>,
    /// Turn it on or off. Turned back on, it gets what happens from then on.
    pub enabled: Option<bool>,
}

/// The endpoint to delete.
#[derive(InputObject)]
pub struct DeleteWebhookEndpointInput {
    /// The endpoint to delete, with its deliveries.
    pub id: ID,
}

/// The endpoint whose secret to replace.
#[derive(InputObject)]
pub struct RotateWebhookSecretInput {
    /// The endpoint.
    pub id: ID,
}

/// The delivery to send again.
#[derive(InputObject)]
pub struct RedeliverWebhookInput {
    /// The delivery (`WebhookDelivery.id`).
    pub delivery_id: ID,
}

/// The result of a mutation on a webhook endpoint.
#[derive(SimpleObject)]
pub struct WebhookEndpointPayload {
    /// The endpoint as it is now.
    pub endpoint: WebhookEndpoint,
    /// The signing secret (`whsec_…`), only from `createWebhookEndpoint` and
    /// `rotateWebhookSecret`: it is shown this once, store it now. Null otherwise.
    pub secret: Option<String>,
}

/// The result of `deleteWebhookEndpoint`.
#[derive(SimpleObject)]
pub struct DeleteWebhookEndpointPayload {
    /// The global id of the deleted endpoint.
    pub deleted_id: ID,
}

/// The result of `redeliverWebhook`.
#[derive(SimpleObject)]
pub struct RedeliverWebhookPayload {
    /// The delivery, pending again and due now.
    pub delivery: WebhookDelivery,
}

fn kinds(kinds: Vec<ProfileEventKind>) -> Vec<profilegraph_store::events::EventKind> {
    kinds.into_iter().map(Into::into).collect()
}

/// Webhook mutations.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Register an endpoint for the workspace's profile events. The answer holds its
    /// signing secret, shown only this once. It gets the events that commit from now on.
    /// Needs the `admin` scope.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to register.")] input: CreateWebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let settings = super::settings(ctx)?;
        let key = super::key(settings)?;
        let description = store::Description::parse(
            input.description.as_deref().unwrap_or(""),
            "input.description",
        )?;
        let url = address::check(&input.url, settings.allow_private, "input.url").await?;
        let db = crate::context::db(ctx)?;
        let (row, secret) = store::create(
            db,
            key,
            &settings.clock,
            viewer.workspace_id,
            store::NewEndpoint {
                url,
                kinds: kinds(input.kinds.unwrap_or_default()),
                description,
            },
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(WebhookEndpointPayload {
            endpoint: WebhookEndpoint(row),
            secret: Some(secret.reveal()),
        })
    }

    /// Change an endpoint: its URL, kinds, description, or whether it is on.
    /// Needs the `admin` scope.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint and what to change.")] input: UpdateWebhookEndpointInput,
    ) -> Result<WebhookEndpointPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let settings = super::settings(ctx)?;
        let id = ids::decode_as(NodeKind::WebhookEndpoint, &input.id, "input.id")?;
        let description = input
            .description
            .as_deref()
            .map(|d| store::Description::parse(d, "input.description"))
            .transpose()?;
        let url = match input.url.as_deref() {
            Some(raw) => Some(address::check(raw, settings.allow_private, "input.url").await?),
            None => None,
        };
        let db = crate::context::db(ctx)?;
        let row = store::update(
            db,
            &settings.clock,
            viewer.workspace_id,
            id,
            store::EndpointChange {
                url,
                kinds: input.kinds.map(kinds),
                description,
                enabled: input.enabled,
            },
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(WebhookEndpointPayload {
            endpoint: WebhookEndpoint(row),
            secret: None,
        })
    }

    /// Delete an endpoint with its deliveries; nothing more is sent to it.
    /// Needs the `admin` scope.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint to delete.")] input: DeleteWebhookEndpointInput,
    ) -> Result<DeleteWebhookEndpointPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let id = ids::decode_as(NodeKind::WebhookEndpoint, &input.id, "input.id")?;
        store::delete(crate::context::db(ctx)?, viewer.workspace_id, id).await?;
        crate::context::wrote(ctx)?;
        Ok(DeleteWebhookEndpointPayload {
            deleted_id: input.id,
        })
    }

    /// Give an endpoint a new signing secret, shown only in this answer. For 24 hours the
    /// old secret signs too (two signatures in `webhook-signature`), so the receiver can
    /// switch without losing a webhook. Needs the `admin` scope.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The endpoint.")] input: RotateWebhookSecretInput,
    ) -> Result<WebhookEndpointPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let settings = super::settings(ctx)?;
        let key = super::key(settings)?;
        let id = ids::decode_as(NodeKind::WebhookEndpoint, &input.id, "input.id")?;
        let (row, secret) = store::rotate(
            crate::context::db(ctx)?,
            key,
            &settings.clock,
            viewer.workspace_id,
            id,
        )
        .await?;
        crate::context::wrote(ctx)?;
        Ok(WebhookEndpointPayload {
            endpoint: WebhookEndpoint(row),
            secret: Some(secret.reveal()),
        })
    }

    /// Send a delivery again, whatever its status: it is pending and due now, with a new
    /// day of retries. Needs the `admin` scope.
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The delivery to send again.")] input: RedeliverWebhookInput,
    ) -> Result<RedeliverWebhookPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let settings = super::settings(ctx)?;
        let id = ids::decode_as(
            NodeKind::WebhookDelivery,
            &input.delivery_id,
            "input.deliveryId",
        )?;
        let db = crate::context::db(ctx)?;
        let row = deliveries::redeliver(db, &settings.clock, viewer.workspace_id, id).await?;
        let mut attempts = deliveries::attempts_of(db, viewer.workspace_id, vec![row.id]).await?;
        crate::context::wrote(ctx)?;
        Ok(RedeliverWebhookPayload {
            delivery: WebhookDelivery::with(row, &mut attempts),
        })
    }
}
