//! The database schema of profilegraph, as sea-orm migrations.
//!
//! The same migrations run on SQLite (the embedded default) and PostgreSQL (production), so
//! they only use what both support: UUID ids (BLOB on SQLite, `uuid` on PostgreSQL),
//! `timestamptz`, JSON stored as `jsonb`/TEXT, and string columns for enums.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_tenancy;
mod m20261121_000002_profiles;
mod m20261122_000003_search;
mod m20261122_000004_idempotency;
pub mod m20261122_000005_row_security;
mod m20261202_000006_profile_events;
mod m20261202_000007_webhooks;
mod m20261210_000008_external_ids;
mod m20261210_000009_merge;
pub(crate) mod m20261211_000010_event_numbering;
mod m20261212_000011_events_numbered_by_their_change;
mod m20261213_000012_events_pending;
mod util;

/// Every migration, in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_tenancy::Migration),
            Box::new(m20261121_000002_profiles::Migration),
            Box::new(m20261122_000003_search::Migration),
            Box::new(m20261122_000004_idempotency::Migration),
            Box::new(m20261122_000005_row_security::Migration),
            Box::new(m20261202_000006_profile_events::Migration),
            Box::new(m20261202_000007_webhooks::Migration),
            Box::new(m20261210_000008_external_ids::Migration),
            Box::new(m20261210_000009_merge::Migration),
            Box::new(m20261211_000010_event_numbering::Migration),
            Box::new(m20261212_000011_events_numbered_by_their_change::Migration),
            Box::new(m20261213_000012_events_pending::Migration),
        ]
    }
}
