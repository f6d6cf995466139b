//! Case-folded search columns, and trigram indexes for them on PostgreSQL.
//!
//! "All profiles" looks people up by any part of their name or of a contact's identifier
//! or display name, ignoring case. SQLite's `LOWER()` only folds A–Z, so "özdemir" would
//! not find "Özdemir"; the application therefore stores the Unicode-lower-cased text
//! itself and matches against that. On PostgreSQL a trigram GIN index makes
//! `LIKE '%…%'` on those columns an index scan instead of a full scan, so look-up stays
//! fast as the workspace grows. (`pg_trgm` is a trusted extension: any role that may
//! create objects in the database can enable it.)

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261121_000002_profiles::{Contacts, Profiles};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Search {
    SearchName,
    SearchText,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Profiles::Table)
                    .add_column(text(Search::SearchName).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .add_column(text(Search::SearchText).default(""))
                    .to_owned(),
            )
            .await?;
        // Rows written before this migration: the database's own folding is the best we
        // have here; the application rewrites the columns on every later change.
        let db = manager.get_connection();
        db.execute_unprepared("UPDATE profiles SET search_name = LOWER(name)")
            .await?;
        let postgres = manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres;
        // The identifier and the name, one per line (a search term holds no line break).
        let newline = if postgres { "CHR(10)" } else { "CHAR(10)" };
        db.execute_unprepared(&format!(
            "UPDATE contacts SET search_text = LOWER(identifier) || {newline} || LOWER(display_name)"
        ))
        .await?;
        if postgres {
            db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                .await?;
            db.execute_unprepared(
                "CREATE INDEX ix_profiles_search_name_trgm ON profiles USING gin (search_name gin_trgm_ops)",
            )
            .await?;
            db.execute_unprepared(
                "CREATE INDEX ix_contacts_search_text_trgm ON contacts USING gin (search_text gin_trgm_ops)",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let db = manager.get_connection();
            db.execute_unprepared("DROP INDEX IF EXISTS ix_contacts_search_text_trgm")
                .await?;
            db.execute_unprepared("DROP INDEX IF EXISTS ix_profiles_search_name_trgm")
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Contacts::Table)
                    .drop_column(Search::SearchText)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Profiles::Table)
                    .drop_column(Search::SearchName)
                    .to_owned(),
            )
            .await
    }
}
