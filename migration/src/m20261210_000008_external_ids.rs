//! External ids: a partner's own key for a profile (a CRM id, a shop's customer number),
//! unique within the workspace, so that it can create-or-update by that key.
//!
//! The column is optional: most profiles are made in the inbox and have none. A unique
//! index on `(workspace_id, external_id)` keeps one profile per key in a workspace (both
//! backends treat NULLs as distinct there, so any number of profiles have none), and is
//! also the index `profileByExternalId` and the import look a key up by.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000002_profiles::Profiles;
use crate::util::{asc, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ExternalIds {
    ExternalId,
}

const INDEX: &str = "ux_profiles_workspace_external_id";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Profiles::Table)
                    .add_column(string_len_null(ExternalIds::ExternalId, 255))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                INDEX,
                Profiles::Table,
                vec![asc(Profiles::WorkspaceId), asc(ExternalIds::ExternalId)],
                true,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name(INDEX).table(Profiles::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Profiles::Table)
                    .drop_column(ExternalIds::ExternalId)
                    .to_owned(),
            )
            .await
    }
}
