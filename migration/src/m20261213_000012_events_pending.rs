//! On PostgreSQL, events wait for their number in a table of their own,
//! `profile_events_pending`, and go into `profile_events` once, numbered.
//!
//! Until this migration a change stored its events in `profile_events` with a
//! provisional, negative `seq`, and the numbering rewrote each of them with its final
//! one. An update that changes an indexed column writes a new version of the whole row
//! and a new entry in every index of the table, and leaves the old ones for vacuum to
//! clear out of a table that only grows: every event was stored twice, with eight index
//! entries, and vacuumed once. Now a change stores its events where nothing reads them
//! but the numbering (one index, no foreign key), and the numbering moves them, in the
//! order they were written, into the log with their final `seq`s: each event is written
//! to the log once. The pending table stays small (it is emptied every few
//! milliseconds), so clearing it is cheap.
//!
//! What the feed relies on is unchanged (see the migration
//! `m20261211_000010_event_numbering`): numberings of a workspace run one at a time, each
//! sees every numbering before it, and whoever sees `seq` N sees every event up to N. The
//! log holds only numbered events now. SQLite is unchanged: there a change numbers its
//! own events.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261122_000005_row_security::wall;
use crate::m20261211_000010_event_numbering::{LOCK_CLASS, NUMBER, number_function};

/// The table of committed events that wait for their number.
pub const PENDING: &str = "profile_events_pending";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        // `written` is a value of the sequence `profile_events_provisional`: the order the
        // events were written in, here and across transactions. The columns are the
        // log's, without `seq`.
        db.execute_unprepared(&format!(
            "CREATE TABLE {PENDING} ( \
               workspace_id uuid NOT NULL, \
               written bigint NOT NULL, \
               id uuid NOT NULL, \
               kind varchar(40) NOT NULL, \
               profile_id uuid NOT NULL, \
               actor_agent_id uuid, \
               actor_token_id uuid, \
               request_id varchar(100), \
               occurred_at timestamptz NOT NULL, \
               changes jsonb NOT NULL); \
             CREATE INDEX ix_{PENDING}_written ON {PENDING} (workspace_id, written); \
             INSERT INTO {PENDING} (workspace_id, written, id, kind, profile_id, \
               actor_agent_id, actor_token_id, request_id, occurred_at, changes) \
             SELECT workspace_id, -seq, id, kind, profile_id, actor_agent_id, actor_token_id, \
               request_id, occurred_at, changes \
             FROM profile_events WHERE seq < 0; \
             DELETE FROM profile_events WHERE seq < 0; \
             DROP FUNCTION {NUMBER}(uuid, integer)"
        ))
        .await?;
        wall(db, PENDING).await?;
        // The access paths are fixed, whatever the statistics say (see
        // `number_function`): the earliest pending events of the workspace through the
        // index, each deleted by its row address, and stored in the log.
        db.execute_unprepared(&format!(
            r#"CREATE FUNCTION {NUMBER}(ws uuid, batch integer) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
    numbered bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(ws::text));
    WITH taken AS (
        DELETE FROM {PENDING} AS p
        USING (
            SELECT ctid AS at FROM {PENDING}
            WHERE workspace_id = ws
            ORDER BY written
            LIMIT batch
        ) AS earliest
        WHERE p.ctid = earliest.at
        RETURNING p.*
    ), ordered AS (
        SELECT taken.*, row_number() OVER (ORDER BY written) AS ord FROM taken
    ), total AS (
        SELECT count(*) AS n FROM taken
    ), raised AS (
        INSERT INTO profile_event_seqs (workspace_id, last_seq)
        SELECT ws, n FROM total WHERE n > 0
        ON CONFLICT (workspace_id) DO UPDATE
            SET last_seq = profile_event_seqs.last_seq + EXCLUDED.last_seq
        RETURNING last_seq
    ), stored AS (
        INSERT INTO profile_events (id, workspace_id, seq, kind, profile_id,
            actor_agent_id, actor_token_id, request_id, occurred_at, changes)
        SELECT o.id, ws, raised.last_seq - total.n + o.ord, o.kind, o.profile_id,
            o.actor_agent_id, o.actor_token_id, o.request_id, o.occurred_at, o.changes
        FROM ordered AS o, raised, total
        RETURNING 1
    )
    SELECT count(*) INTO numbered FROM stored;
    IF numbered > 0 THEN
        PERFORM pg_notify('profile_events', ws::text);
    END IF;
    RETURN numbered;
END
$$"#
        ))
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        db.execute_unprepared(&format!(
            "DROP FUNCTION {NUMBER}(uuid, integer); \
             INSERT INTO profile_events (id, workspace_id, seq, kind, profile_id, \
               actor_agent_id, actor_token_id, request_id, occurred_at, changes) \
             SELECT id, workspace_id, -written, kind, profile_id, actor_agent_id, \
               actor_token_id, request_id, occurred_at, changes \
             FROM {PENDING}; \
             DROP TABLE {PENDING}"
        ))
        .await?;
        db.execute_unprepared(&number_function()).await?;
        Ok(())
    }
}
