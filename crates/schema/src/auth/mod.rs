//! Who is calling: the viewer every operation runs as, and the scope each one needs. The
//! tokens themselves (minting, hashing, scopes, the cache) are the store's
//! (`profilegraph_store::tokens`).

use async_graphql::Context;
pub use profilegraph_store::Viewer;
pub use profilegraph_store::tokens::{Scope, Scopes};

use crate::context::RequestCtx;
use crate::error::Result;

/// The viewer of the current request.
pub fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Viewer> {
    Ok(&RequestCtx::get(ctx)?.viewer)
}

/// The viewer of the current request, refused unless it may `scope`.
pub fn viewer_with<'a>(ctx: &Context<'a>, scope: Scope) -> Result<&'a Viewer> {
    let viewer = viewer(ctx)?;
    viewer.require(scope)?;
    Ok(viewer)
}
