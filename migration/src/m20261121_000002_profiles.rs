//! The customer side: contacts, profiles, custom fields and their values, notes and contact
//! moments (tickets).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000001_tenancy::{Agents, Channels, Workspaces};
use crate::util::{asc, desc, fk, index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Profiles::Table)
                    .col(pk_uuid(Profiles::Id))
                    .col(uuid(Profiles::WorkspaceId))
                    .col(string_len(Profiles::Name, 200))
                    // Optimistic concurrency: every change bumps it, and `updateProfile`
                    // refuses a stale `expectedVersion` instead of silently overwriting.
                    .col(integer(Profiles::Version).default(1))
                    .col(timestamp_with_time_zone(Profiles::CreatedAt))
                    .col(timestamp_with_time_zone(Profiles::UpdatedAt))
                    .foreign_key(&mut fk(
                        Profiles::Table,
                        Profiles::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("ix_profiles_workspace_name", Profiles::Name),
            ("ix_profiles_workspace_created", Profiles::CreatedAt),
            ("ix_profiles_workspace_updated", Profiles::UpdatedAt),
        ] {
            manager
                .create_index(index(
                    name,
                    Profiles::Table,
                    vec![asc(Profiles::WorkspaceId), asc(column), asc(Profiles::Id)],
                    false,
                ))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(Contacts::Table)
                    .col(pk_uuid(Contacts::Id))
                    .col(uuid(Contacts::WorkspaceId))
                    .col(uuid(Contacts::ChannelId))
                    .col(string_len(Contacts::Identifier, 320))
                    .col(string_len(Contacts::DisplayName, 200))
                    .col(uuid_null(Contacts::ProfileId))
                    .col(timestamp_with_time_zone(Contacts::CreatedAt))
                    .col(timestamp_with_time_zone(Contacts::UpdatedAt))
                    .foreign_key(&mut fk(
                        Contacts::Table,
                        Contacts::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        Contacts::Table,
                        Contacts::ChannelId,
                        Channels::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    // A contact outlives its profile: deleting a profile detaches its
                    // contacts, which keep their contact moments.
                    .foreign_key(&mut fk(
                        Contacts::Table,
                        Contacts::ProfileId,
                        Profiles::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        // One contact per identity: the database refuses a duplicate even when two
        // conversations bring the same identity in at the same moment.
        manager
            .create_index(index(
                "ux_contacts_workspace_channel_identifier",
                Contacts::Table,
                vec![
                    asc(Contacts::WorkspaceId),
                    asc(Contacts::ChannelId),
                    asc(Contacts::Identifier),
                ],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_contacts_profile",
                Contacts::Table,
                vec![asc(Contacts::ProfileId)],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_contacts_workspace_identifier",
                Contacts::Table,
                vec![asc(Contacts::WorkspaceId), asc(Contacts::Identifier)],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_contacts_workspace_created",
                Contacts::Table,
                vec![
                    asc(Contacts::WorkspaceId),
                    asc(Contacts::CreatedAt),
                    asc(Contacts::Id),
                ],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CustomFields::Table)
                    .col(pk_uuid(CustomFields::Id))
                    .col(uuid(CustomFields::WorkspaceId))
                    .col(string_len(CustomFields::Key, 64))
                    .col(string_len(CustomFields::Label, 200))
                    .col(string_len(CustomFields::FieldType, 32))
                    .col(json_binary(CustomFields::Options))
                    .col(json_binary_null(CustomFields::Validation))
                    .col(boolean(CustomFields::Required).default(false))
                    .col(integer(CustomFields::Position).default(0))
                    .col(boolean(CustomFields::Archived).default(false))
                    .col(timestamp_with_time_zone(CustomFields::CreatedAt))
                    .col(timestamp_with_time_zone(CustomFields::UpdatedAt))
                    .foreign_key(&mut fk(
                        CustomFields::Table,
                        CustomFields::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_custom_fields_workspace_key",
                CustomFields::Table,
                vec![asc(CustomFields::WorkspaceId), asc(CustomFields::Key)],
                true,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ProfileFieldValues::Table)
                    .col(pk_uuid(ProfileFieldValues::Id))
                    .col(uuid(ProfileFieldValues::WorkspaceId))
                    .col(uuid(ProfileFieldValues::ProfileId))
                    .col(uuid(ProfileFieldValues::FieldId))
                    .col(json_binary(ProfileFieldValues::Value))
                    .col(timestamp_with_time_zone(ProfileFieldValues::UpdatedAt))
                    .foreign_key(&mut fk(
                        ProfileFieldValues::Table,
                        ProfileFieldValues::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ProfileFieldValues::Table,
                        ProfileFieldValues::ProfileId,
                        Profiles::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ProfileFieldValues::Table,
                        ProfileFieldValues::FieldId,
                        CustomFields::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ux_profile_field_values_profile_field",
                ProfileFieldValues::Table,
                vec![
                    asc(ProfileFieldValues::ProfileId),
                    asc(ProfileFieldValues::FieldId),
                ],
                true,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_profile_field_values_field",
                ProfileFieldValues::Table,
                vec![asc(ProfileFieldValues::FieldId)],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Notes::Table)
                    .col(pk_uuid(Notes::Id))
                    .col(uuid(Notes::WorkspaceId))
                    .col(uuid(Notes::ProfileId))
                    .col(uuid_null(Notes::AuthorId))
                    .col(text(Notes::Body))
                    .col(timestamp_with_time_zone(Notes::CreatedAt))
                    .col(timestamp_with_time_zone(Notes::UpdatedAt))
                    .foreign_key(&mut fk(
                        Notes::Table,
                        Notes::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        Notes::Table,
                        Notes::ProfileId,
                        Profiles::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    // A note keeps its text when its author leaves the company.
                    .foreign_key(&mut fk(
                        Notes::Table,
                        Notes::AuthorId,
                        Agents::Table,
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_notes_profile_created",
                Notes::Table,
                vec![
                    asc(Notes::ProfileId),
                    desc(Notes::CreatedAt),
                    desc(Notes::Id),
                ],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_notes_author",
                Notes::Table,
                vec![asc(Notes::AuthorId)],
                false,
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContactMoments::Table)
                    .col(pk_uuid(ContactMoments::Id))
                    .col(uuid(ContactMoments::WorkspaceId))
                    .col(uuid(ContactMoments::ContactId))
                    .col(uuid(ContactMoments::ChannelId))
                    .col(string_len(ContactMoments::Subject, 500))
                    .col(string_len(ContactMoments::Status, 16))
                    .col(timestamp_with_time_zone(ContactMoments::CreatedAt))
                    .col(timestamp_with_time_zone_null(ContactMoments::ClosedAt))
                    .col(timestamp_with_time_zone(ContactMoments::LastMessageAt))
                    .foreign_key(&mut fk(
                        ContactMoments::Table,
                        ContactMoments::WorkspaceId,
                        Workspaces::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ContactMoments::Table,
                        ContactMoments::ContactId,
                        Contacts::Table,
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        ContactMoments::Table,
                        ContactMoments::ChannelId,
                        Channels::Table,
                        ForeignKeyAction::Restrict,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_contact_moments_contact_last_message",
                ContactMoments::Table,
                vec![
                    asc(ContactMoments::ContactId),
                    desc(ContactMoments::LastMessageAt),
                    desc(ContactMoments::Id),
                ],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_contact_moments_workspace_last_message",
                ContactMoments::Table,
                vec![
                    asc(ContactMoments::WorkspaceId),
                    desc(ContactMoments::LastMessageAt),
                    desc(ContactMoments::Id),
                ],
                false,
            ))
            .await?;
        manager
            .create_index(index(
                "ix_contact_moments_channel",
                ContactMoments::Table,
                vec![asc(ContactMoments::ChannelId)],
                false,
            ))
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ContactMoments::Table.into_iden(),
            Notes::Table.into_iden(),
            ProfileFieldValues::Table.into_iden(),
            CustomFields::Table.into_iden(),
            Contacts::Table.into_iden(),
            Profiles::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Profiles {
    Table,
    Id,
    WorkspaceId,
    Name,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Contacts {
    Table,
    Id,
    WorkspaceId,
    ChannelId,
    Identifier,
    DisplayName,
    ProfileId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum CustomFields {
    Table,
    Id,
    WorkspaceId,
    Key,
    Label,
    FieldType,
    Options,
    Validation,
    Required,
    Position,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ProfileFieldValues {
    Table,
    Id,
    WorkspaceId,
    ProfileId,
    FieldId,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum Notes {
    Table,
    Id,
    WorkspaceId,
    ProfileId,
    AuthorId,
    Body,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
pub enum ContactMoments {
    Table,
    Id,
    WorkspaceId,
    ContactId,
    ChannelId,
    Subject,
    Status,
    CreatedAt,
    ClosedAt,
    LastMessageAt,
}
