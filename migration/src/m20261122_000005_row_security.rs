//! Row-level security on PostgreSQL: a second wall behind the application's own
//! workspace filters.
//!
//! Every GraphQL request runs in one transaction that switches to the role
//! [`APP_ROLE`] with `SET LOCAL ROLE` and names its workspace in the setting
//! `app.workspace_id` (see `profilegraph_schema::db`). The policies below let that role
//! see and write only the rows of that workspace, so a query that forgot its
//! `workspace_id` filter returns nothing of another tenant instead of leaking it. Without
//! the setting the role sees no rows at all: the wall fails closed.
//!
//! The role is not a superuser, has no `BYPASSRLS` and owns no table, so PostgreSQL
//! always enforces the policies on it. The role that owns the tables (the one that runs
//! migrations) keeps full access: it is the one the server uses before a workspace is
//! known (looking up a token) and for maintenance (the CLI, seeding).
//!
//! SQLite has no row-level security; there the application's filters are the only wall.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

/// The role GraphQL requests run as.
pub const APP_ROLE: &str = "profilegraph_app";

/// Tables whose rows belong to one workspace through `workspace_id`.
const TENANT_TABLES: [&str; 10] = [
    "agents",
    "api_tokens",
    "channels",
    "profiles",
    "contacts",
    "custom_fields",
    "profile_field_values",
    "notes",
    "contact_moments",
    "idempotency_keys",
];

/// The workspace named by the transaction; NULL when unset. A custom setting reads as ''
/// (not NULL) once any earlier transaction of the session has set it, hence the NULLIF.
const CURRENT_WORKSPACE: &str = "NULLIF(current_setting('app.workspace_id', true), '')::uuid";

/// Put `table` (whose rows belong to a workspace through `workspace_id`) behind the wall:
/// the app role may read and write only the rows of the transaction's workspace. Later
/// migrations call it for the tenant tables they add.
pub async fn wall<C: ConnectionTrait>(db: &C, table: &str) -> Result<(), DbErr> {
    db.execute_unprepared(&format!(
        "GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {APP_ROLE}; \
         ALTER TABLE {table} ENABLE ROW LEVEL SECURITY; \
         CREATE POLICY workspace_isolation ON {table} TO {APP_ROLE} \
             USING (workspace_id = {CURRENT_WORKSPACE}) \
             WITH CHECK (workspace_id = {CURRENT_WORKSPACE})"
    ))
    .await?;
    Ok(())
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // Roles belong to the cluster, not the database: several databases (or several
        // test databases migrating at once) share one, so create it only if it is missing
        // and tolerate losing that race. Membership lets a non-superuser owner switch to it.
        db.execute_unprepared(&format!(
            r#"DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
        BEGIN
            CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
        END;
    END IF;
    IF NOT pg_has_role(current_user, '{APP_ROLE}', 'MEMBER') THEN
        EXECUTE format('GRANT {APP_ROLE} TO %I', current_user);
    END IF;
END
$$"#
        ))
        .await?;
        db.execute_unprepared(&format!(
            r#"DO $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO {APP_ROLE}', current_schema());
END
$$;
GRANT SELECT ON workspaces TO {APP_ROLE}"#
        ))
        .await?;
        db.execute_unprepared(&format!(
            "ALTER TABLE workspaces ENABLE ROW LEVEL SECURITY; \
             CREATE POLICY workspace_isolation ON workspaces TO {APP_ROLE} \
                 USING (id = {CURRENT_WORKSPACE})"
        ))
        .await?;
        for table in TENANT_TABLES {
            wall(db, table).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        for table in TENANT_TABLES.iter().chain(["workspaces"].iter()) {
            db.execute_unprepared(&format!(
                "DROP POLICY IF EXISTS workspace_isolation ON {table}; \
                 ALTER TABLE {table} DISABLE ROW LEVEL SECURITY; \
                 REVOKE ALL ON {table} FROM {APP_ROLE}"
            ))
            .await?;
        }
        // The role stays: other databases of the cluster may use it.
        Ok(())
    }
}
