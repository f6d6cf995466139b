//! The Relay `Node` interface and the `node`/`nodes` queries.

use async_graphql::{Context, ID, Interface, Object};

use crate::auth::{self, Scope};
use crate::channels::Channel;
use crate::channels::loaders::ChannelId;
use crate::contacts::Contact;
use crate::contacts::loaders::ContactId;
use crate::error::{Error, Result};
use crate::events::ProfileEvent;
use crate::events::loaders::EventId;
use crate::fields::CustomField;
use crate::fields::loaders::FieldId;
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::moments::ContactMoment;
use crate::moments::loaders::MomentId;
use crate::notes::Note;
use crate::notes::loaders::NoteId;
use crate::profiles::Profile;
use crate::profiles::loaders::ProfileId;
use crate::workspace::{Agent, AgentId, Workspace};

/// Anything with a global id, fetchable with `node(id:)`.
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's opaque global id."))]
pub enum Node {
    /// A profile.
    Profile(Profile),
    /// A contact.
    Contact(Contact),
    /// A channel.
    Channel(Channel),
    /// A note.
    Note(Note),
    /// A contact moment.
    ContactMoment(ContactMoment),
    /// A custom field.
    CustomField(CustomField),
    /// An agent.
    Agent(Agent),
    /// The caller's workspace.
    Workspace(Workspace),
    /// A profile event.
    ProfileEvent(ProfileEvent),
}

/// The most ids `nodes` takes at once.
const MAX_NODES: usize = 100;

/// Resolve one global id in the viewer's workspace; `None` for ids that don't exist there
/// (or aren't ours).
async fn resolve(ctx: &Context<'_>, id: &ID) -> Result<Option<Node>> {
    let viewer = auth::viewer(ctx)?;
    let Some((kind, uuid)) = ids::decode(id) else {
        return Ok(None);
    };
    Ok(match kind {
        NodeKind::Profile => loaders::one(ctx, ProfileId(uuid))
            .await?
            .map(|m| Node::Profile(Profile::from(m))),
        NodeKind::Contact => loaders::one(ctx, ContactId(uuid))
            .await?
            .map(|m| Node::Contact(Contact(m))),
        NodeKind::Channel => loaders::one(ctx, ChannelId(uuid))
            .await?
            .map(|m| Node::Channel(Channel(m))),
        NodeKind::Note => loaders::one(ctx, NoteId(uuid))
            .await?
            .map(|m| Node::Note(Note(m))),
        NodeKind::ContactMoment => loaders::one(ctx, MomentId(uuid))
            .await?
            .map(|m| Node::ContactMoment(ContactMoment(m))),
        NodeKind::CustomField => loaders::one(ctx, FieldId(uuid))
            .await?
            .map(|m| Node::CustomField(CustomField(m))),
        NodeKind::Agent => loaders::one(ctx, AgentId(uuid))
            .await?
            .map(|m| Node::Agent(Agent(m))),
        NodeKind::Workspace if uuid == viewer.workspace_id => {
            profilegraph_store::workspaces::find(crate::context::db(ctx)?, uuid)
                .await?
                .map(|m| Node::Workspace(Workspace(m)))
        }
        NodeKind::Workspace => None,
        NodeKind::ProfileEvent => loaders::one(ctx, EventId(uuid))
            .await?
            .map(|m| Node::ProfileEvent(ProfileEvent(m))),
        // Webhook endpoints and deliveries are the admin's, read through
        // `webhookEndpoint(id)`; `node` answers every scope, so it doesn't show them.
        NodeKind::WebhookEndpoint | NodeKind::WebhookDelivery => None,
    })
}

/// Relay's object fetching.
#[derive(Default)]
pub struct NodeQuery;

#[Object]
impl NodeQuery {
    /// Fetch any object by its global id; null when it doesn't exist in this workspace.
    async fn node(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The object's global id.")] id: ID,
    ) -> Result<Option<Node>> {
        auth::viewer_with(ctx, Scope::Read)?;
        resolve(ctx, &id).await
    }

    /// Fetch several objects by global id, in the order given; null for each that doesn't
    /// exist in this workspace. At most 100 ids.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The objects' global ids, at most 100.")] ids: Vec<ID>,
    ) -> Result<Vec<Option<Node>>> {
        auth::viewer_with(ctx, Scope::Read)?;
        if ids.len() > MAX_NODES {
            return Err(Error::bad_input("ids", format!("at most {MAX_NODES} ids")));
        }
        // Resolved side by side, so the loaders batch them per type.
        let lookups = ids.iter().map(|id| resolve(ctx, id));
        futures_util::future::try_join_all(lookups).await
    }
}
