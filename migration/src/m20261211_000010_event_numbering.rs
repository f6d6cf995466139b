//! Profile events numbered by the database: after their commit on PostgreSQL, as they are
//! stored on SQLite.
//!
//! Until this migration a change raised its workspace's row of `profile_event_seqs`
//! inside its own transaction, so that row stayed locked until the change committed: the
//! next writer of the workspace waited for that commit's WAL flush, and commits of one
//! workspace could never be flushed as a group. Now a change stores its events with a
//! provisional, negative `seq` (minus a value of the global sequence
//! `profile_events_provisional`, so later writes have lower values) and takes no lock.
//! After the commit, [`NUMBER`] gives the workspace's committed, still provisional events
//! their final `seq`s, in the order they were written, under a transaction-scoped
//! advisory lock per workspace, and announces them with `NOTIFY`. One numbering covers
//! every change that committed since the last one, so under load one short transaction
//! numbers many changes.
//!
//! Why the feed can still page by `seq` without ever skipping an event: numberings of a
//! workspace run one at a time (the lock), each sees every numbering before it (the
//! function's statements take their snapshots after the lock is granted), and each makes
//! its numbers visible at once when it commits. So whoever sees `seq` N sees every event
//! up to N. Readers never see provisional events: every read asks for `seq > 0`.
//!
//! SQLite has one writer at a time, so there the events are numbered as they are stored,
//! inside the change's transaction, by the trigger `profile_events_numbered`: a change
//! stores them with provisional numbers and the trigger raises the workspace's counter and
//! numbers each row as it goes in. One statement from the application instead of two.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

use crate::m20261122_000005_row_security::APP_ROLE;

/// The function that numbers a workspace's committed provisional events: at most `batch`
/// of them, the earliest written first; returns how many it numbered.
pub const NUMBER: &str = "profile_events_number";

/// The first key of the advisory lock a numbering takes (the second is the workspace's
/// hash): a key space of its own.
pub(crate) const LOCK_CLASS: i32 = 0x5045_5651; // "PEVQ"

/// On SQLite, the trigger that numbered each event as it was stored (until the
/// migration `m20261212_000011_events_numbered_by_their_change`).
pub(crate) const SQLITE_TRIGGER: &str = "CREATE TRIGGER profile_events_numbered AFTER INSERT ON profile_events \
     WHEN NEW.seq < 0 \
     BEGIN \
       INSERT OR IGNORE INTO profile_event_seqs (workspace_id, last_seq) \
         VALUES (NEW.workspace_id, 0); \
       UPDATE profile_event_seqs SET last_seq = last_seq + 1 \
         WHERE workspace_id = NEW.workspace_id; \
       UPDATE profile_events SET seq = \
         (SELECT last_seq FROM profile_event_seqs WHERE workspace_id = NEW.workspace_id) \
         WHERE id = NEW.id; \
     END";

/// The numbering function as this migration made it: it numbers the provisional
/// (negative) events in place. (The migration `m20261213_000012_events_pending` replaced
/// it; its `down` brings this one back.)
///
/// Its access paths are known, whatever the table's statistics say (a new database's say
/// "empty" until autovacuum next analyses it, and a plan made then reads the whole log
/// each time): the pending events through the (workspace, seq) index, each by its
/// primary key. The index scan is a plain one, not a bitmap scan, so that it marks the
/// entries the last numbering left behind as dead, and the next scan steps over them
/// without reading the table.
pub(crate) fn number_function() -> String {
    format!(
        r#"CREATE FUNCTION {NUMBER}(ws uuid, batch integer) RETURNS bigint
LANGUAGE plpgsql
SET enable_seqscan = off
SET enable_bitmapscan = off
AS $$
DECLARE
    numbered bigint;
BEGIN
    PERFORM pg_advisory_xact_lock({LOCK_CLASS}, hashtext(ws::text));
    WITH pending AS (
        SELECT id, row_number() OVER (ORDER BY seq DESC) AS ord
        FROM (
            SELECT id, seq FROM profile_events
            WHERE workspace_id = ws AND seq < 0
            ORDER BY seq DESC
            LIMIT batch
        ) AS earliest
    ), total AS (
        SELECT count(*) AS n FROM pending
    ), raised AS (
        INSERT INTO profile_event_seqs (workspace_id, last_seq)
        SELECT ws, n FROM total WHERE n > 0
        ON CONFLICT (workspace_id) DO UPDATE
            SET last_seq = profile_event_seqs.last_seq + EXCLUDED.last_seq
        RETURNING last_seq
    ), stored AS (
        UPDATE profile_events AS e
        SET seq = raised.last_seq - total.n + pending.ord
        FROM pending, raised, total
        WHERE e.id = pending.id
        RETURNING 1
    )
    SELECT count(*) INTO numbered FROM stored;
    IF numbered > 0 THEN
        PERFORM pg_notify('profile_events', ws::text);
    END IF;
    RETURN numbered;
END
$$"#
    )
}

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            // Row by row, in the order of the statement's rows.
            db.execute_unprepared(SQLITE_TRIGGER).await?;
            return Ok(());
        }
        // CACHE 1: every session takes the next value, so values follow the order of
        // the writes that take them.
        db.execute_unprepared(&format!(
            "CREATE SEQUENCE profile_events_provisional CACHE 1; \
             GRANT USAGE ON SEQUENCE profile_events_provisional TO {APP_ROLE}"
        ))
        .await?;
        // The function's access paths are known, whatever the table's statistics say
        // (see [`number_function`]).
        db.execute_unprepared(&number_function()).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if db.get_database_backend() != DbBackend::Postgres {
            db.execute_unprepared("DROP TRIGGER IF EXISTS profile_events_numbered")
                .await?;
            return Ok(());
        }
        db.execute_unprepared(&format!(
            "DROP FUNCTION IF EXISTS {NUMBER}(uuid, integer); \
             DROP SEQUENCE IF EXISTS profile_events_provisional"
        ))
        .await?;
        Ok(())
    }
}
