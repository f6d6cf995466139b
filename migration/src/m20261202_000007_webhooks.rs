//! Webhooks: the endpoints a workspace registers, one delivery per (endpoint, event), and
//! each delivery's attempts.
//!
//! Deliveries are derived from the event log: each endpoint keeps `cursor_seq`, the last
//! `seq` of its workspace it has made deliveries for. Because `seq` numbers a workspace's
//! events in commit order, a cursor never passes an event that commits later, so a
//! committed event always gets its deliveries, even when the server dies right after the
//! commit. The unique (endpoint, event) pair makes deriving twice harmless.
//!
//! A delivery's `lease_until` is the claim of the instance that is sending it: another
//! instance takes it only after the lease has run out.

use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_tenancy::Workspaces;
use crate::m20261122_000005_row_security::wall;
use crate::m20261202_000006_profile_events::ProfileEvents;
use crate::util::{asc, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
pub enum WebhookEndpoints {
    Table,
    Id,
    WorkspaceId,
    Url,
    Description,
    Kinds,
    Enabled,
    DisabledReason,
    Secret,
    PreviousSecret,
    PreviousSecretUntil,
    CursorSeq,
    FailingSince,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum WebhookDeliveries {
    Table,
    Id,
    WorkspaceId,
    EndpointId,
    EventId,
    EventSeq,
    Status,
    Attempts,
    NextAttemptAt,
    LeaseUntil,
    RetrySince,
    CreatedAt,
    FinishedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum WebhookAttempts {
    Table,
    Id,
    WorkspaceId,
    DeliveryId,
    AttemptedAt,
    DurationMs,
    HttpStatus,
    Error,
    ResponseBody,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(pk_uuid(WebhookEndpoints::Id))
                    .col(uuid(WebhookEndpoints::WorkspaceId))
                    .col(string_len(WebhookEndpoints::Url, 2000))
                    .col(string_len(WebhookEndpoints::Description, 500))
                    .col(json_binary(WebhookEndpoints::Kinds))
                    .col(boolean(WebhookEndpoints::Enabled))
                    .col(string_len_null(WebhookEndpoints::DisabledReason, 500))
                    // nonce + AES-256-GCM ciphertext + tag: only the server can sign.
                    .col(blob(WebhookEndpoints::Secret))
                    .col(blob_null(WebhookEndpoints::PreviousSecret))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::PreviousSecretUntil,
                    ))
                    .col(big_integer(WebhookEndpoints::CursorSeq))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoints::FailingSince,
                    ))
                    .col(timestamp_with_time_zone(WebhookEndpoints::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoints::UpdatedAt))
                    .foreign_key(&mut fk(
                        WebhookEndpoints::Table,
                        WebhookEndpoints::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_webhook_endpoints_workspace",
                WebhookEndpoints::Table,
                vec![
                    asc(WebhookEndpoints::WorkspaceId),
                    asc(WebhookEndpoints::Id),
                ],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(pk_uuid(WebhookDeliveries::Id))
                    .col(uuid(WebhookDeliveries::WorkspaceId))
                    .col(uuid(WebhookDeliveries::EndpointId))
                    .col(uuid(WebhookDeliveries::EventId))
                    .col(big_integer(WebhookDeliveries::EventSeq))
                    .col(string_len(WebhookDeliveries::Status, 20))
                    .col(integer(WebhookDeliveries::Attempts))
                    .col(timestamp_with_time_zone_null(
                        WebhookDeliveries::NextAttemptAt,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::LeaseUntil))
                    // Retries stop 24 hours after this: the first attempt, or a redelivery.
                    .col(timestamp_with_time_zone(WebhookDeliveries::RetrySince))
                    .col(timestamp_with_time_zone(WebhookDeliveries::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookDeliveries::FinishedAt))
                    .foreign_key(&mut fk(
                        WebhookDeliveries::Table,
                        WebhookDeliveries::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        WebhookDeliveries::Table,
                        WebhookDeliveries::EndpointId,
                        WebhookEndpoints::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    // A pruned event takes its deliveries with it.
                    .foreign_key(&mut fk(
                        WebhookDeliveries::Table,
                        WebhookDeliveries::EventId,
                        ProfileEvents::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        // One delivery per endpoint and event, however often deriving runs.
        manager
            .create_index(index(
                "ux_webhook_deliveries_endpoint_event",
                WebhookDeliveries::Table,
                vec![
                    asc(WebhookDeliveries::EndpointId),
                    asc(WebhookDeliveries::EventId),
                ],
                true,
            ))
            .await?;
        // The worker's claim: due pending deliveries, oldest first.
        manager
            .create_index(index(
                "ix_webhook_deliveries_due",
                WebhookDeliveries::Table,
                vec![
                    asc(WebhookDeliveries::Status),
                    asc(WebhookDeliveries::NextAttemptAt),
                ],
                false,
            ))
            .await?;
        // An endpoint's delivery log, newest first (ids are UUIDv7, so in creation order).
        manager
            .create_index(index(
                "ix_webhook_deliveries_endpoint",
                WebhookDeliveries::Table,
                vec![
                    asc(WebhookDeliveries::EndpointId),
                    asc(WebhookDeliveries::Id),
                ],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_webhook_deliveries_event",
                WebhookDeliveries::Table,
                vec![asc(WebhookDeliveries::EventId)],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(pk_uuid(WebhookAttempts::Id))
                    .col(uuid(WebhookAttempts::WorkspaceId))
                    .col(uuid(WebhookAttempts::DeliveryId))
                    .col(timestamp_with_time_zone(WebhookAttempts::AttemptedAt))
                    .col(integer(WebhookAttempts::DurationMs))
                    .col(integer_null(WebhookAttempts::HttpStatus))
                    .col(string_len_null(WebhookAttempts::Error, 500))
                    .col(text_null(WebhookAttempts::ResponseBody))
                    .foreign_key(&mut fk(
                        WebhookAttempts::Table,
                        WebhookAttempts::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        WebhookAttempts::Table,
                        WebhookAttempts::DeliveryId,
                        WebhookDeliveries::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_webhook_attempts_delivery",
                WebhookAttempts::Table,
                vec![
                    asc(WebhookAttempts::DeliveryId),
                    asc(WebhookAttempts::AttemptedAt),
                ],
                false,
            ))
            .await?;

        let db = manager.get_connection();
        if db.get_database_backend() == DbBackend::Postgres {
            for table in [
                "webhook_endpoints",
                "webhook_deliveries",
                "webhook_attempts",
            ] {
                wall(db, table).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
