//! End-to-end tests: the real router on a fresh SQLite file or PostgreSQL database, driven
//! over HTTP like a client. One binary, so it links once.
//!
//! `cargo test --test api` runs them on SQLite; with
//! `TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test` they run on PostgreSQL too.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod helpers;
mod http;
mod http_audit;
mod idempotency;
mod limits;
mod live;
mod metrics;
mod proxy;
mod support;

mod auth;
mod batching;
mod browser;
mod changes;
mod cors;
mod docs;
mod events;
mod export;
mod faults;
mod fields;
mod foundation;
mod fuzz_findings;
mod graphiql;
mod isolation;
mod merge;
mod notes;
mod panics;
mod persisted;
mod row_security;
mod schema_sdl;
mod suggestions;
mod webhooks;

// The GraphQL operations the workflow tests below share.
mod ops;

mod conflicts;
mod contacts;
mod deletion;
mod moments;
mod peter_b;
mod profiles;
mod upsert;
