//! Profile events: an append-only log of every change to a profile, written in the same
//! transaction as the change.
//!
//! `seq` numbers a workspace's events in the order their changes committed. It comes from
//! the workspace's row in `profile_event_seqs`, which each change raises inside its own
//! transaction: the row stays locked until that transaction ends, so a second writer of
//! the workspace gets the next number only after the first has committed (or rolled
//! back, which frees its numbers). A reader that has seen `seq` N has therefore seen every
//! event up to N: the change feed can page by `seq` without ever skipping one that
//! commits late.
//!
//! `profile_id` has no foreign key: the `PROFILE_DELETED` event outlives its profile.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_tenancy::Workspaces;
use crate::m20261122_000005_row_security::wall;
use crate::util::{asc, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum ProfileEvents {
    Table,
    Id,
    WorkspaceId,
    Seq,
    Kind,
    ProfileId,
    ActorAgentId,
    ActorTokenId,
    RequestId,
    OccurredAt,
    Changes,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ProfileEventSeqs {
    Table,
    WorkspaceId,
    LastSeq,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProfileEvents::Table)
                    .col(pk_uuid(ProfileEvents::Id))
                    .col(uuid(ProfileEvents::WorkspaceId))
                    .col(big_integer(ProfileEvents::Seq))
                    .col(string_len(ProfileEvents::Kind, 40))
                    .col(uuid(ProfileEvents::ProfileId))
                    .col(uuid_null(ProfileEvents::ActorAgentId))
                    .col(uuid_null(ProfileEvents::ActorTokenId))
                    .col(string_len_null(ProfileEvents::RequestId, 100))
                    .col(timestamp_with_time_zone(ProfileEvents::OccurredAt))
                    .col(json_binary(ProfileEvents::Changes))
                    .foreign_key(&mut fk(
                        ProfileEvents::Table,
                        ProfileEvents::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // The change feed: a workspace's events in `seq` order.
        manager
            .create_index(index(
                "ux_profile_events_workspace_seq",
                ProfileEvents::Table,
                vec![asc(ProfileEvents::WorkspaceId), asc(ProfileEvents::Seq)],
                true,
            ))
            .await?;
        // A profile's history, newest first.
        manager
            .create_index(index(
                "ix_profile_events_profile_seq",
                ProfileEvents::Table,
                vec![
                    asc(ProfileEvents::WorkspaceId),
                    asc(ProfileEvents::ProfileId),
                    asc(ProfileEvents::Seq),
                ],
                false,
            ))
            .await?;
        // Pruning by age.
        manager
            .create_index(index(
                "ix_profile_events_occurred",
                ProfileEvents::Table,
                vec![asc(ProfileEvents::OccurredAt)],
                false,
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProfileEventSeqs::Table)
                    .col(pk_uuid(ProfileEventSeqs::WorkspaceId))
                    .col(big_integer(ProfileEventSeqs::LastSeq))
                    .foreign_key(&mut fk(
                        ProfileEventSeqs::Table,
                        ProfileEventSeqs::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            for table in ["profile_events", "profile_event_seqs"] {
                wall(db, table).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProfileEventSeqs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ProfileEvents::Table).to_owned())
            .await
    }
}
