//! The `ProfileEvent` type and its kinds.

use async_graphql::{Context, Enum, ID, Json, Object};
use serde_json::Value;

use crate::error::Result;
use crate::ids::{self, NodeKind};
use crate::loaders;
use crate::profiles::Profile;
use crate::profiles::loaders::ProfileId;
use crate::scalars::{DateTime, Seq};
use crate::workspace::{Agent, AgentId};

/// What happened to a profile. Kinds are only ever added; a client should ignore one it
/// doesn't know.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "profilegraph_store::events::EventKind")]
pub enum ProfileEventKind {
    /// The profile was created. `changes`: `name`, and `externalId` when it was given one.
    ProfileCreated,
    /// Its name changed. `changes`: `name { old new }`.
    ProfileRenamed,
    /// It was deleted for good. Its earlier events keep their kind, actor and time, but
    /// lose their `changes`.
    ProfileDeleted,
    /// Custom field values were set or cleared. `changes`: `fields [{ key old new }]`.
    FieldsChanged,
    /// A contact joined it. `changes`: `contactId`, `identifier`, `fromProfileId` (the
    /// profile it moved from, or null).
    ContactAttached,
    /// A contact left it. `changes`: `contactId`, `identifier`, `toProfileId` (the profile
    /// it moved to, or null). A move is this event on the old profile, then
    /// CONTACT_ATTACHED on the new one.
    ContactDetached,
    /// A note was written. `changes`: `noteId`, `body`.
    NoteCreated,
    /// A note was edited. `changes`: `noteId`, `body { old new }`.
    NoteUpdated,
    /// A note was deleted. `changes`: `noteId`.
    NoteDeleted,
    /// A conversation started with one of its contacts. `changes`: `contactMomentId`,
    /// `contactId`, `subject`, `status`.
    ContactMomentStarted,
    /// A conversation of one of its contacts changed. `changes`: `contactMomentId`, and
    /// `status { old new }` and/or `subject { old new }`.
    ContactMomentUpdated,
    /// Its external id was set, changed or cleared. `changes`: `externalId { old new }`
    /// (null for none).
    ExternalIdChanged,
    /// Another profile was merged into it. `changes`: `mergedProfileId`, `mergedName`,
    /// `contactIds` and `noteIds` (what moved here), `fields [{ key old new }]` (the values
    /// it took over). The merged profile's earlier events now belong to this profile.
    ProfilesMerged,
}

/// One change to a profile, from the event log.
#[derive(Clone)]
pub struct ProfileEvent(pub entity::profile_events::Model);

/// One change to a profile: what happened, who did it, when, and what changed.
#[Object]
impl ProfileEvent {
    /// The event's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::ProfileEvent, self.0.id)
    }

    /// The event's place in its workspace's log: it only grows, in the order the changes
    /// committed. A client that has seen `seq` N has seen every event up to N.
    async fn seq(&self) -> Seq {
        Seq(self.0.seq)
    }

    /// What happened. A kind this server doesn't know (from a newer one sharing its
    /// database) reads as null.
    async fn kind(&self) -> Option<ProfileEventKind> {
        profilegraph_store::events::EventKind::from_db(&self.0.kind).map(Into::into)
    }

    /// The global id of the profile it happened to; it stays readable after the profile
    /// is deleted.
    async fn profile_id(&self) -> ID {
        ids::encode(NodeKind::Profile, self.0.profile_id)
    }

    /// The profile it happened to; null once the profile is deleted.
    async fn profile(&self, ctx: &Context<'_>) -> Result<Option<Profile>> {
        Ok(loaders::one(ctx, ProfileId(self.0.profile_id))
            .await?
            .map(Profile::from))
    }

    /// The agent who made the change; null for a token without an agent (an
    /// integration), or a change the server made itself.
    async fn actor(&self, ctx: &Context<'_>) -> Result<Option<Agent>> {
        match self.0.actor_agent_id {
            Some(id) => Ok(loaders::one(ctx, AgentId(id)).await?.map(Agent)),
            None => Ok(None),
        }
    }

    /// The API token the change was made with (its id, as `apiTokens` lists it in the
    /// CLI); null for a change the server made itself.
    async fn actor_token_id(&self) -> Option<ID> {
        self.0.actor_token_id.map(|id| ID(id.to_string()))
    }

    /// The request id of the change (`x-request-id`), to find it in the logs.
    async fn request_id(&self) -> Option<&str> {
        self.0.request_id.as_deref()
    }

    /// When the change committed.
    async fn occurred_at(&self) -> DateTime {
        self.0.occurred_at.into()
    }

    /// What changed, by kind (see `ProfileEventKind`); ids in it are global ids. Empty
    /// once the profile is deleted.
    async fn changes(&self) -> Json<Value> {
        Json(global_ids(self.0.changes.clone()))
    }
}

/// The stored changes with their row ids turned into the global ids clients use.
pub(crate) fn global_ids(mut changes: Value) -> Value {
    if let Some(object) = changes.as_object_mut() {
        for (key, kind) in [
            ("contactId", NodeKind::Contact),
            ("noteId", NodeKind::Note),
            ("contactMomentId", NodeKind::ContactMoment),
            ("fromProfileId", NodeKind::Profile),
            ("toProfileId", NodeKind::Profile),
            ("mergedProfileId", NodeKind::Profile),
        ] {
            if let Some(value) = object.get_mut(key)
                && let Some(uuid) = value.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok())
            {
                *value = Value::String(ids::encode(kind, uuid).0);
            }
        }
        for (key, kind) in [
            ("contactIds", NodeKind::Contact),
            ("noteIds", NodeKind::Note),
        ] {
            if let Some(Value::Array(items)) = object.get_mut(key) {
                for value in items {
                    if let Some(uuid) = value.as_str().and_then(|s| uuid::Uuid::parse_str(s).ok()) {
                        *value = Value::String(ids::encode(kind, uuid).0);
                    }
                }
            }
        }
    }
    changes
}

crate::connection!(
    ProfileEventConnection,
    ProfileEventEdge,
    ProfileEvent,
    "A page of profile events.",
    "One profile event in a page, with its cursor."
);
