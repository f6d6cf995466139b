//! The tenant and who may call the API: workspaces, agents, API tokens and channels.

use sea_orm_migration::{prelude::*, schema::*};

use crate::util::{asc, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workspaces::Table)
                    .col(pk_uuid(Workspaces::Id))
                    .col(string_len_uniq(Workspaces::Slug, 64))
                    .col(string_len(Workspaces::Name, 200))
                    .col(timestamp_with_time_zone(Workspaces::CreatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .col(pk_uuid(Agents::Id))
                    .col(uuid(Agents::WorkspaceId))
                    .col(string_len(Agents::Name, 200))
                    .col(string_len(Agents::Email, 320))
                    .col(timestamp_with_time_zone(Agents::CreatedAt))
                    .foreign_key(&mut fk(
                        Agents::Table,
                        Agents::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_agents_workspace_email",
                Agents::Table,
                vec![asc(Agents::WorkspaceId), asc(Agents::Email)],
                true,
            ))
            .await?;

        // Only the SHA-256 of a token's secret is stored, never the token itself: a leaked
        // database (or backup) must not hand out working credentials.
        manager
            .create_table(
                Table::create()
                    .table(ApiTokens::Table)
                    .col(pk_uuid(ApiTokens::Id))
                    .col(uuid(ApiTokens::WorkspaceId))
                    .col(uuid_null(ApiTokens::AgentId))
                    .col(string_len(ApiTokens::Name, 200))
                    .col(string_len(ApiTokens::Scopes, 100))
                    .col(string_len_uniq(ApiTokens::TokenHash, 64))
                    .col(string_len(ApiTokens::DisplayPrefix, 16))
                    .col(timestamp_with_time_zone(ApiTokens::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(ApiTokens::RevokedAt))
                    .foreign_key(&mut fk(
                        ApiTokens::Table,
                        ApiTokens::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ApiTokens::Table,
                        ApiTokens::AgentId,
                        Agents::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_api_tokens_workspace",
                ApiTokens::Table,
                vec![asc(ApiTokens::WorkspaceId)],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Channels::Table)
                    .col(pk_uuid(Channels::Id))
                    .col(uuid(Channels::WorkspaceId))
                    .col(string_len(Channels::ChannelType, 32))
                    .col(string_len(Channels::Name, 200))
                    .col(timestamp_with_time_zone(Channels::CreatedAt))
                    .col(timestamp_with_time_zone(Channels::UpdatedAt))
                    .foreign_key(&mut fk(
                        Channels::Table,
                        Channels::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_channels_workspace_type_name",
                Channels::Table,
                vec![
                    asc(Channels::WorkspaceId),
                    asc(Channels::ChannelType),
                    asc(Channels::Name),
                ],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Channels::Table.into_iden(),
            ApiTokens::Table.into_iden(),
            Agents::Table.into_iden(),
            Workspaces::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Workspaces {
    Table,
    Id,
    Slug,
    Name,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Agents {
    Table,
    Id,
    WorkspaceId,
    Name,
    Email,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ApiTokens {
    Table,
    Id,
    WorkspaceId,
    AgentId,
    Name,
    Scopes,
    TokenHash,
    DisplayPrefix,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Channels {
    Table,
    Id,
    WorkspaceId,
    ChannelType,
    Name,
    CreatedAt,
    UpdatedAt,
}
