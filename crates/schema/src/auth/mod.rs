//! Who is calling: API tokens, their scopes, and the viewer every operation runs as.

mod cache;
mod scopes;
pub mod tokens;

pub use cache::TokenCache;
pub use scopes::{Scope, Scopes};

use async_graphql::Context;
use uuid::Uuid;

use crate::error::{Error, Result};

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
            Err(Error::Forbidden(scope))
        }
    }
}

/// The viewer of the current request, or UNAUTHENTICATED.
pub fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer> {
    ctx.data_opt::<Viewer>().ok_or(Error::Unauthenticated)
}

/// The viewer of the current request, refused unless it may `scope`.
pub fn viewer_with<'a>(ctx: &Context<'a>, scope: Scope) -> Result<&'a Viewer> {
    let viewer = viewer(ctx)?;
    viewer.require(scope)?;
    Ok(viewer)
}
