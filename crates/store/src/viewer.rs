//! The caller of one request: who every read and write of it acts as.

use uuid::Uuid;

use crate::error::{Result, StoreError};
use crate::tokens::{Scope, Scopes};

/// The caller of one request: the workspace its token belongs to, and what it may do.
///
/// Every read and write is scoped to `workspace_id`; there is no way to reach another
/// workspace's rows through a `Viewer`.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The token's workspace: the tenant of everything this request touches.
    pub workspace_id: Uuid,
    /// The agent the token was issued for, if any; authors the notes it writes.
    pub agent_id: Option<Uuid>,
    /// The token's id, for logs.
    pub token_id: Uuid,
    /// What the token may do.
    pub scopes: Scopes,
}

impl Viewer {
    /// Refuse unless the token carries `scope` (or one that includes it).
    pub fn require(&self, scope: Scope) -> Result<()> {
        if self.scopes.allows(scope) {
            Ok(())
        } else {
            Err(StoreError::Forbidden(scope))
        }
    }
}
