//! The profilegraph GraphQL schema: types, queries, mutations and loaders.
//!
//! Modules are organised by capability (profiles, contacts, notes, fields, moments, …).
//! The rules and their SQL live in `profilegraph_store`; resolvers stay thin: check the
//! scope, parse the arguments into the store's types, call the store, and after a write
//! reset the request's loaders. Everything a resolver reads from the context is the
//! request's [`RequestCtx`].

pub mod auth;
pub mod channels;
pub mod contacts;
pub mod context;
pub mod error;
pub mod events;
pub mod exec;
pub mod fields;
pub mod ids;
pub mod loaders;
pub mod merge;
pub mod metrics;
pub mod moments;
pub mod node;
pub mod notes;
pub mod pagination;
pub mod profiles;
pub mod scalars;
pub mod suggestions;
pub mod webhooks;
pub mod workspace;

use async_graphql::{MergedObject, Request, Response, Schema, SchemaBuilder};
use profilegraph_store::{Actor, Db, Viewer};

pub use context::RequestCtx;
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
    events::EventQuery,
    webhooks::WebhookQuery,
);

/// Every mutation, merged from the capabilities. Each takes one `input` and returns a
/// payload object.
#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    profiles::ProfileMutation,
    merge::MergeMutation,
    contacts::ContactMutation,
    notes::NoteMutation,
    moments::MomentMutation,
    channels::ChannelMutation,
    fields::FieldMutation,
    webhooks::WebhookMutation,
);

/// The schema type the server executes.
pub type AppSchema = Schema<QueryRoot, MutationRoot, events::SubscriptionRoot>;

/// A schema builder; the server adds its limits and builds it. It carries no data: each
/// request brings its own [`RequestCtx`] (see [`execute_pinned`]).
pub fn builder() -> SchemaBuilder<QueryRoot, MutationRoot, events::SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        events::SubscriptionRoot,
    )
}

/// The SDL of the public schema, as checked in at `schema.graphql`.
pub fn sdl() -> String {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        events::SubscriptionRoot,
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
/// The changes it makes are recorded in the event log as made by the viewer's agent and
/// token, in the request `request_id`.
///
/// Must run inside a `LocalSet` (a worker of the server's pinned pool): the loaders spawn
/// their batches onto the current thread and wait for no time window (see [`exec`]).
pub async fn execute_pinned(
    schema: &AppSchema,
    db: &Db,
    viewer: Viewer,
    request_id: Option<String>,
    request: Request,
) -> (Response, u64) {
    exec::counted_pinned(async {
        let actor = Actor {
            agent_id: viewer.agent_id,
            token_id: Some(viewer.token_id),
            request_id,
        };
        let db = db.walled(viewer.workspace_id).acting_as(actor);
        let response = schema
            .execute(request.data(RequestCtx::new(viewer, db.clone())))
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
fn error_response(err: profilegraph_store::StoreError) -> Response {
    let mut err =
        async_graphql::Error::from(Error::from(err)).into_server_error(Default::default());
    // It is about the request as a whole, not a place in the document.
    err.locations.clear();
    Response::from_errors(vec![err])
}
