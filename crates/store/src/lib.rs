//! The profilegraph domain: every rule about profiles, contacts, channels, custom fields,
//! notes, contact moments, workspaces, tokens and webhooks, and the SQL behind it, on SeaORM.
//!
//! Each capability is one module, and each rule lives in exactly one place: every change
//! to the data goes through a function here (the GraphQL schema, the CLI, the demo and
//! the seed alike), so whatever has to happen on a change can hook in once. The one
//! code that moves a contact between profiles is [`membership`].
//!
//! This crate knows nothing of GraphQL or HTTP: it takes parsed input ([`text`],
//! [`page`]) and a [`Db`] handle, and returns rows or a [`StoreError`].

pub mod agents;
pub mod bulk;
pub mod channels;
pub mod contacts;
pub mod db;
pub mod error;
pub mod events;
pub mod export;
pub mod fields;
pub mod idempotency;
pub mod membership;
pub mod merge;
pub mod moments;
pub mod notes;
pub mod page;
pub mod profiles;
pub mod search;
pub mod sql;
pub mod stats;
pub mod suggestions;
pub mod text;
pub mod tokens;
pub mod upsert;
pub mod viewer;
pub mod webhooks;
pub mod workspaces;

pub use db::{Actor, Db, WriteTxn, now};
pub use error::{Result, StoreError};
pub use viewer::Viewer;
