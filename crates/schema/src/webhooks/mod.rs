//! Webhooks: the endpoints a workspace registers for its profile events, their
//! deliveries and attempts (admin scope). The rules are the store's
//! (`profilegraph_store::webhooks`); the sending is the server's.

mod mutation;
pub mod payload;
mod query;
mod types;

pub use mutation::WebhookMutation;
pub use query::WebhookQuery;
pub use types::{WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint};

use async_graphql::Context;
use profilegraph_store::webhooks::{Clock, SecretKey};

use crate::error::{Error, Result};

/// What the webhook resolvers need from the server, put into the schema's data by it.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The key that encrypts signing secrets; `None`: webhooks are off on this server.
    pub key: Option<SecretKey>,
    /// The clock deliveries are scheduled by.
    pub clock: Clock,
    /// Whether endpoint URLs may be `http` and point at private addresses (development).
    pub allow_private: bool,
}

impl WebhookSettings {
    /// Webhooks off, on the real clock (what a schema built without the server has).
    pub fn off() -> Self {
        WebhookSettings {
            key: None,
            clock: Clock::real(),
            allow_private: false,
        }
    }
}

/// The server's webhook settings from the schema's data.
pub(crate) fn settings<'a>(ctx: &Context<'a>) -> Result<&'a WebhookSettings> {
    ctx.data_opt::<WebhookSettings>().ok_or(Error::WebhooksOff)
}

/// The key, or the error that says webhooks are off here.
pub(crate) fn key(settings: &WebhookSettings) -> Result<&SecretKey> {
    settings.key.as_ref().ok_or(Error::WebhooksOff)
}
