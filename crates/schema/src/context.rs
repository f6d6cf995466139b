//! The one thing resolvers read from the GraphQL context: the request's [`RequestCtx`].
//!
//! It holds the viewer, the request's database handle (on PostgreSQL, its walled
//! transaction) and the request's loaders, and nothing else is put into the context. The
//! schema itself carries no database handle, so a resolver can't reach the shared pool:
//! executed without a `RequestCtx`, every field that needs data fails with an internal
//! error instead of reading around the wall.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::Context;
use profilegraph_store::{Db, Viewer};

use crate::error::{Error, Result};
use crate::loaders::{self, Loaders};

/// One request's execution context.
pub struct RequestCtx {
    /// Who is calling.
    pub viewer: Viewer,
    /// The request's database handle: on PostgreSQL its transaction behind row-level
    /// security, opened by its first statement.
    pub db: Db,
    /// The request's loaders. A write replaces them with fresh ones (see
    /// [`RequestCtx::wrote`]), so nothing read before a write is served after it.
    loaders: Mutex<Arc<Loaders>>,
}

impl RequestCtx {
    /// The context of a request by `viewer` on `db` (already walled for the viewer's
    /// workspace), with empty loaders.
    pub fn new(viewer: Viewer, db: Db) -> Self {
        let loaders = loaders::for_workspace(db.clone(), viewer.workspace_id);
        RequestCtx {
            viewer,
            db,
            loaders: Mutex::new(Arc::new(loaders)),
        }
    }

    /// The current request's context; an internal error when the schema runs without one.
    pub fn get<'a>(ctx: &Context<'a>) -> Result<&'a RequestCtx> {
        ctx.data_opt::<RequestCtx>().ok_or(Error::NoRequestContext)
    }

    /// The request's current loaders.
    pub fn loaders(&self) -> Arc<Loaders> {
        self.loaders
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forget everything this request has loaded, after a write: fields resolved later
    /// (the mutation's payload, the next mutation of the document) see the new state.
    /// Every loader key of every capability goes at once, because the loaders are new:
    /// there is no list of caches to keep up to date.
    pub fn wrote(&self) {
        let fresh = loaders::for_workspace(self.db.clone(), self.viewer.workspace_id);
        *self.loaders.lock().unwrap_or_else(PoisonError::into_inner) = Arc::new(fresh);
    }
}

/// The request's database handle.
pub fn db<'a>(ctx: &Context<'a>) -> Result<&'a Db> {
    Ok(&RequestCtx::get(ctx)?.db)
}

/// The request's loaders.
pub fn loaders(ctx: &Context<'_>) -> Result<Arc<Loaders>> {
    Ok(RequestCtx::get(ctx)?.loaders())
}

/// Reset the request's loaders after a write (see [`RequestCtx::wrote`]).
pub fn wrote(ctx: &Context<'_>) -> Result<()> {
    RequestCtx::get(ctx)?.wrote();
    Ok(())
}
