//! Merging profiles and suggesting them.
//!
//! - `profile_redirects`: the id of a profile merged into another keeps answering with
//!   the survivor. A row per merged id; it goes when the survivor is deleted (the foreign
//!   key cascades), so a deleted profile leaves no way back to it.
//! - `profile_name_keys`: the folded forms of each profile's name that a look-alike name
//!   is found by (see `profilegraph_store::suggestions`): the name's words folded (case,
//!   accents, punctuation) and sorted, and every form of it with one letter left out, so
//!   one exact index look-up per key finds names one small typo away. The application
//!   writes them with every name it writes.
//! - `contacts.match_key`: a contact's identifier as an e-mail address (`email:…`) or an
//!   E.164 phone number (`phone:…`), whatever its channel, so the same address or number
//!   on another channel is one index look-up away.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_tenancy::Workspaces;
use crate::m20261121_000002_profiles::{Contacts, Profiles};
use crate::m20261122_000005_row_security::wall;
use crate::util::{asc, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum ProfileRedirects {
    Table,
    MergedId,
    WorkspaceId,
    SurvivorId,
    MergedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ProfileNameKeys {
    Table,
    ProfileId,
    Key,
    WorkspaceId,
}

#[derive(DeriveIden, Clone, Copy)]
enum Match {
    MatchKey,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProfileRedirects::Table)
                    .col(pk_uuid(ProfileRedirects::MergedId))
                    .col(uuid(ProfileRedirects::WorkspaceId))
                    .col(uuid(ProfileRedirects::SurvivorId))
                    .col(timestamp_with_time_zone(ProfileRedirects::MergedAt))
                    .foreign_key(&mut fk(
                        ProfileRedirects::Table,
                        ProfileRedirects::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ProfileRedirects::Table,
                        ProfileRedirects::SurvivorId,
                        Profiles::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // `Profile.mergedIds`, and re-pointing redirects when a survivor is merged on.
        manager
            .create_index(index(
                "ix_profile_redirects_survivor",
                ProfileRedirects::Table,
                vec![
                    asc(ProfileRedirects::WorkspaceId),
                    asc(ProfileRedirects::SurvivorId),
                ],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProfileNameKeys::Table)
                    .col(uuid(ProfileNameKeys::ProfileId))
                    .col(string_len(ProfileNameKeys::Key, 220))
                    .col(uuid(ProfileNameKeys::WorkspaceId))
                    .primary_key(
                        Index::create()
                            .col(ProfileNameKeys::ProfileId)
                            .col(ProfileNameKeys::Key),
                    )
                    .foreign_key(&mut fk(
                        ProfileNameKeys::Table,
                        ProfileNameKeys::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ProfileNameKeys::Table,
                        ProfileNameKeys::ProfileId,
                        Profiles::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_profile_name_keys_key",
                ProfileNameKeys::Table,
                vec![asc(ProfileNameKeys::WorkspaceId), asc(ProfileNameKeys::Key)],
                false,
            ))
            .await?;

        manager
            .alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .add_column(string_len_null(Match::MatchKey, 330))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Contacts written before this migration: e-mail and phone channels already store
        // the normalised address or number; elsewhere an identifier that looks like an
        // e-mail address counts as one. The application writes the column from then on.
        db.execute_unprepared(
            "UPDATE contacts SET match_key = (SELECT CASE \
               WHEN c.channel_type = 'EMAIL' THEN 'email:' || contacts.identifier \
               WHEN c.channel_type IN ('WHATSAPP', 'SMS', 'VOICE') THEN 'phone:' || contacts.identifier \
               WHEN contacts.identifier LIKE '%_@_%._%' AND contacts.identifier NOT LIKE '% %' \
                 THEN 'email:' || LOWER(contacts.identifier) \
               END FROM channels c WHERE c.id = contacts.channel_id)",
        )
        .await?;
        manager
            .create_index(index(
                "ix_contacts_match_key",
                Contacts::Table,
                vec![asc(Contacts::WorkspaceId), asc(Match::MatchKey)],
                false,
            ))
            .await?;

        if db.get_database_backend() == DbBackend::Postgres {
            for table in ["profile_redirects", "profile_name_keys"] {
                wall(db, table).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_contacts_match_key")
                    .table(Contacts::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .drop_column(Match::MatchKey)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ProfileNameKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(ProfileRedirects::Table).to_owned())
            .await
    }
}
