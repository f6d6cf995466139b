//! Idempotency keys: a mutation sent again with the same `Idempotency-Key` returns the
//! stored result instead of running twice.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_tenancy::{ApiTokens, Workspaces};
use crate::util::{asc, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum IdempotencyKeys {
    Table,
    Id,
    WorkspaceId,
    TokenId,
    Key,
    RequestHash,
    Status,
    HttpStatus,
    Response,
    CreatedAt,
    CompletedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(pk_uuid(IdempotencyKeys::Id))
                    .col(uuid(IdempotencyKeys::WorkspaceId))
                    .col(uuid(IdempotencyKeys::TokenId))
                    .col(string_len(IdempotencyKeys::Key, 200))
                    // SHA-256 of the operation, so a key reused for another request is
                    // caught without storing the request itself.
                    .col(string_len(IdempotencyKeys::RequestHash, 64))
                    .col(string_len(IdempotencyKeys::Status, 16))
                    .col(integer_null(IdempotencyKeys::HttpStatus))
                    .col(json_binary_null(IdempotencyKeys::Response))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(IdempotencyKeys::CompletedAt))
                    .foreign_key(&mut fk(
                        IdempotencyKeys::Table,
                        IdempotencyKeys::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        IdempotencyKeys::Table,
                        IdempotencyKeys::TokenId,
                        ApiTokens::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // A key belongs to the token that sent it: two integrations can't collide.
        manager
            .create_index(index(
                "ux_idempotency_keys_token_key",
                IdempotencyKeys::Table,
                vec![asc(IdempotencyKeys::TokenId), asc(IdempotencyKeys::Key)],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_idempotency_keys_created",
                IdempotencyKeys::Table,
                vec![asc(IdempotencyKeys::CreatedAt)],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await
    }
}
