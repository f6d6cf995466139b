//! The profilegraph GraphQL schema.
//!
//! Modules are organised by capability (profiles, contacts, notes, fields, moments, …).
//! Each capability keeps its database rules (workspace scoping, validation, transactions)
//! in a `store` module that its resolvers call, so resolvers stay thin: check the scope,
//! parse the input, call the store, invalidate the loaders.

pub mod auth;
pub mod channels;
pub mod contacts;
pub mod db;
pub mod error;
pub mod exec;
pub mod fields;
pub mod idempotency;
pub mod ids;
pub mod input;
pub mod loaders;
pub mod moments;
pub mod node;
pub mod notes;
pub mod pagination;
pub mod profiles;
pub mod scalars;
pub mod sql;
pub mod workspace;

use std::time::Duration;

use async_graphql::{EmptySubscription, MergedObject, Request, Response, Schema, SchemaBuilder};

pub use db::Db;
pub use error::{Error, ErrorCode, Result};

/// Every query field, merged from the capabilities.
#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    workspace::WorkspaceQuery,
    node::NodeQuery,
    profiles::ProfileQuery,
    contacts::ContactQuery,
    channels::ChannelQuery,
    moments::MomentQuery,
    fields::FieldQuery,
);

/// Every mutation, merged from the capabilities. Each takes one `input` and returns a
/// payload object.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    profiles::ProfileMutation,
    contacts::ContactMutation,
    notes::NoteMutation,
    moments::MomentMutation,
    channels::ChannelMutation,
    fields::FieldMutation,
);

/// The schema type the server executes.
pub type AppSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// A schema builder with the database attached; the server adds its limits and builds it.
pub fn builder(db: Db) -> SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .data(db)
}

/// The SDL of the public schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        EmptySubscription,
    )
    .finish()
    .sdl()
}

/// Execute `request` as `viewer` with a fresh set of loaders scoped to the viewer's
/// workspace; returns the response and the SQL statements it ran.
///
/// On PostgreSQL the whole request runs in one transaction behind row-level security
/// (see [`Db::walled`]): every resolver and loader sees only the viewer's workspace,
/// even a statement that forgot to filter by it.
///
/// Must run inside a `LocalSet` (a worker of the server's pinned pool): the loaders spawn
/// their batches onto the current thread and wait for no time window (see [`exec`]).
pub async fn execute_pinned(
    schema: &AppSchema,
    db: &Db,
    viewer: auth::Viewer,
    request: Request,
) -> (Response, u64) {
    exec::counted_pinned(async {
        let db = db.walled(viewer.workspace_id);
        let loaders = loaders::for_workspace(db.clone(), viewer.workspace_id, Duration::ZERO);
        let response = schema
            .execute(request.data(viewer).data(loaders).data(db.clone()))
            .await;
        match db.finish().await {
            Ok(()) => response,
            // Nothing the request wrote is kept: say so rather than answer with its data.
            Err(err) => error_response(err),
        }
    })
    .await
}

/// A response that is only `err`, with no data.
fn error_response(err: Error) -> Response {
    let mut err = async_graphql::Error::from(err).into_server_error(Default::default());
    // It is about the request as a whole, not a place in the document.
    err.locations.clear();
    Response::from_errors(vec![err])
}
