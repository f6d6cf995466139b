//! The `Note` type.

use async_graphql::{Context, ID, Object};

use crate::error::{Error, Result};
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::profiles::Profile;
use crate::profiles::loaders::ProfileId;
use crate::scalars::DateTime;
use crate::workspace::Agent;
use crate::workspace::AgentId;

/// Free text an agent keeps on a profile.
#[derive(Clone)]
pub struct Note(pub entity::notes::Model);

/// Free text an agent keeps on a profile, with its author and times.
#[Object]
impl Note {
    /// The note's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::Note, self.0.id)
    }

    /// The text.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// The agent who wrote it; null when written with a token that has no agent, or when
    /// the agent is gone.
    async fn author(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.author_id {
            Some(id) => Ok(loaders::one(ctx, AgentId(id)).await?.map(Agent)),
            None => Ok(None),
        }
    }

    /// The profile the note is on.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Profile> {
        loaders::one(ctx, ProfileId(self.0.profile_id))
            .await?
            .map(Profile::from)
            .ok_or(Error::not_found("Profile"))
    }

    /// When the note was written.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }

    /// When the note was last edited.
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

crate::connection!(
    NoteConnection,
    NoteEdge,
    Note,
    "A page of notes.",
    "One note in a page, with its cursor."
);
