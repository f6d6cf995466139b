//! On SQLite, a change numbers its own events (`store::events::record`): it raises its
//! workspace's counter in `profile_event_seqs` by their number and stores each with its
//! final `seq`, in the statements that go to SQLite with the change's next one. SQLite
//! has one writer at a time, so that is commit order.
//!
//! Until this migration the trigger `profile_events_numbered` did it, row by row: raise
//! the counter, then rewrite the row just stored with its number (its `seq` index
//! entries written twice). Those three statements per event, in the write lock, were a
//! fifth to a quarter of what storing an event cost. The trigger goes; PostgreSQL is
//! unchanged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261211_000010_event_numbering::SQLITE_TRIGGER;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared("DROP TRIGGER IF EXISTS profile_events_numbered")
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Sqlite {
            db.execute_unprepared(SQLITE_TRIGGER).await?;
        }
        Ok(())
    }
}
