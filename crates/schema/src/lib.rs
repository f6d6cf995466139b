//! The profilegraph GraphQL schema.
//!
//! Modules are organised by capability (profiles, contacts, notes, fields, moments, …).
//! Each capability keeps its database rules (workspace scoping, validation, transactions)
//! in a `store` module that its resolvers call, so resolvers stay thin.

pub mod auth;
pub mod db;
pub mod error;
pub mod ids;
pub mod scalars;
pub mod workspace;

use async_graphql::{EmptyMutation, EmptySubscription, MergedObject, Request, Schema, SchemaBuilder};

pub use db::Db;
pub use error::{Error, ErrorCode, Result};

/// Every query field, merged from the capabilities.
#[derive(MergedObject, Default)]
pub struct QueryRoot(workspace::WorkspaceQuery);

/// The schema type the server executes.
pub type AppSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

/// A schema builder with the database attached; the server adds its limits and builds it.
pub fn builder(db: Db) -> SchemaBuilder<QueryRoot, EmptyMutation, EmptySubscription> {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription).data(db)
}

/// The SDL of the public schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(QueryRoot::default(), EmptyMutation, EmptySubscription)
        .finish()
        .sdl()
}

/// Attach what one request runs with: its viewer.
pub fn for_viewer(request: Request, viewer: auth::Viewer) -> Request {
    request.data(viewer)
}
