//! The caller's own workspace and token: the `viewer` query.

use async_graphql::{Context, ID, Object};
use profilegraph_store::workspaces as store;

use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};

crate::by_id!(
    /// An agent by id.
    AgentId => agents, agents
);

/// A workspace: one company using the inbox. Everything belongs to exactly one.
#[derive(Clone)]
pub struct Workspace(pub entity::workspaces::Model);

/// A workspace: one company using the inbox. Everything in the API belongs to exactly one.
#[Object]
impl Workspace {
    /// The workspace's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Workspace, self.0.id)
    }

    /// The company's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// A short, unique, URL-safe handle for the workspace.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
}

/// A person of the company who works tickets.
#[derive(Clone)]
pub struct Agent(pub entity::agents::Model);

/// An agent: a person of the company who works tickets and writes notes.
#[Object]
impl Agent {
    /// The agent's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Agent, self.0.id)
    }

    /// The agent's name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The agent's e-mail address.
    async fn email(&self) -> &str {
        &self.0.email
    }
}

/// Who is calling: the token's workspace, agent and scopes.
pub struct ViewerInfo {
    workspace: entity::workspaces::Model,
    agent: Option<entity::agents::Model>,
    scopes: Vec<String>,
}

/// Who is calling: the token's workspace, the agent it was issued for, and its scopes.
#[Object(name = "Viewer")]
impl ViewerInfo {
    /// The workspace every query and mutation of this token is scoped to.
    async fn workspace(&self) -> Workspace {
        Workspace(self.workspace.clone())
    }

    /// The agent the token was issued for; null for integration tokens without one.
    async fn agent(&self) -> Option<Agent> {
        self.agent.clone().map(Agent)
    }

    /// The token's scopes: `read`, `write`, `admin`.
    async fn scopes(&self) -> &[String] {
        &self.scopes
    }
}

/// Queries about the caller.
#[derive(Default)]
pub struct WorkspaceQuery;

#[Object]
impl WorkspaceQuery {
    /// Who is calling: the token's workspace, agent and scopes.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<ViewerInfo> {
        let viewer = auth::viewer_with(ctx, Scope::Read)?;
        let db = crate::context::db(ctx)?;
        let (workspace, agent) = store::viewer(db, viewer).await?;
        Ok(ViewerInfo {
            workspace,
            agent,
            scopes: viewer.scopes.iter().map(|s| s.to_string()).collect(),
        })
    }
}
