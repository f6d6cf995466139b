//! The profile event log: one append-only row for every change to a profile, written by
//! the store's write paths in the same transaction as the change, so a change that rolls
//! back leaves no event and one that commits always has its event.
//!
//! `seq` numbers a workspace's events in the order they committed, and whoever has read up
//! to `seq` N has read every event up to N. On SQLite (one writer at a time) a change
//! numbers its own events as it stores them, inside its transaction. On PostgreSQL a
//! change stores them where they wait for their number ([`PENDING`]) and takes no lock,
//! and just after the commit the numbering moves them into the log with their `seq`s (see
//! [`numbering`]): the commits of one workspace then flush together instead of queueing
//! behind each other's, and each event is written to the log once. Readers only ever see
//! numbered events.
//!
//! Deleting a profile empties the `changes` of its earlier events (names, field values,
//! note text, identifiers) and keeps only their kind, ids, actor and time: deleted for
//! good stays true in the log too.

use std::collections::HashMap;

use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};
use uuid::Uuid;

use entity::{profile_event_seqs as seqs, profile_events as events};

use crate::Db;
use crate::db::WriteTxn;
use crate::error::Result;
use crate::page::{Page, PageRequest};
use crate::sql::{self, PARENT};

pub mod numbering;

/// What happened to a profile. Stored as its upper-case name; kinds are only ever added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    /// The profile was created.
    ProfileCreated,
    /// Its name changed.
    ProfileRenamed,
    /// It was deleted for good.
    ProfileDeleted,
    /// Field values were set or cleared.
    FieldsChanged,
    /// A contact joined it.
    ContactAttached,
    /// A contact left it.
    ContactDetached,
    /// A note was written on it.
    NoteCreated,
    /// One of its notes was edited.
    NoteUpdated,
    /// One of its notes was deleted.
    NoteDeleted,
    /// A conversation started with one of its contacts.
    ContactMomentStarted,
    /// A conversation of one of its contacts changed (status or subject).
    ContactMomentUpdated,
    /// Its external id was set, changed or cleared.
    ExternalIdChanged,
    /// Another profile was merged into it.
    ProfilesMerged,
}

impl EventKind {
    /// Every kind.
    pub const ALL: [EventKind; 13] = [
        EventKind::ProfileCreated,
        EventKind::ProfileRenamed,
        EventKind::ProfileDeleted,
        EventKind::FieldsChanged,
        EventKind::ContactAttached,
        EventKind::ContactDetached,
        EventKind::NoteCreated,
        EventKind::NoteUpdated,
        EventKind::NoteDeleted,
        EventKind::ContactMomentStarted,
        EventKind::ContactMomentUpdated,
        EventKind::ExternalIdChanged,
        EventKind::ProfilesMerged,
    ];

    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::ProfileCreated => "PROFILE_CREATED",
            EventKind::ProfileRenamed => "PROFILE_RENAMED",
            EventKind::ProfileDeleted => "PROFILE_DELETED",
            EventKind::FieldsChanged => "FIELDS_CHANGED",
            EventKind::ContactAttached => "CONTACT_ATTACHED",
            EventKind::ContactDetached => "CONTACT_DETACHED",
            EventKind::NoteCreated => "NOTE_CREATED",
            EventKind::NoteUpdated => "NOTE_UPDATED",
            EventKind::NoteDeleted => "NOTE_DELETED",
            EventKind::ContactMomentStarted => "CONTACT_MOMENT_STARTED",
            EventKind::ContactMomentUpdated => "CONTACT_MOMENT_UPDATED",
            EventKind::ExternalIdChanged => "EXTERNAL_ID_CHANGED",
            EventKind::ProfilesMerged => "PROFILES_MERGED",
        }
    }

    /// Read the stored form; `None` for a kind this build doesn't know.
    pub fn from_db(value: &str) -> Option<Self> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == value)
    }
}

/// An event to record: what happened to which profile, and what changed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// What happened.
    pub kind: EventKind,
    /// The profile it happened to.
    pub profile_id: Uuid,
    /// What changed, as JSON (see the README's event model).
    pub changes: Value,
}

impl NewEvent {
    /// An event of `kind` on `profile_id` with `changes`.
    pub fn new(kind: EventKind, profile_id: Uuid, changes: Value) -> Self {
        NewEvent {
            kind,
            profile_id,
            changes,
        }
    }
}

/// `{ "old": old, "new": new }`, the shape of one changed value.
pub fn old_new(old: impl Into<Value>, new: impl Into<Value>) -> Value {
    json!({ "old": old.into(), "new": new.into() })
}

/// Record `new` (in this order) inside the change's transaction `txn`, as made by the
/// actor of `db`.
///
/// On SQLite the change numbers them as it stores them (one writer at a time: that is
/// commit order), with its next statement or its `COMMIT`. On PostgreSQL it takes no lock; the events are numbered after the
/// commit, by the server's numbering when `db` is a request's handle (see
/// [`Db::finish`]), else by whoever calls [`numbering::number`].
pub async fn record(txn: &WriteTxn, db: &Db, workspace_id: Uuid, new: Vec<NewEvent>) -> Result<()> {
    if new.is_empty() {
        return Ok(());
    }
    let actor = db.actor();
    let now = crate::db::now();
    // Numbered after the commit on PostgreSQL (see the migration
    // `m20261213_000012_events_pending`), by the change itself on SQLite.
    let rows: Vec<events::Model> = new
        .into_iter()
        .map(|event| events::Model {
            id: Uuid::now_v7(),
            workspace_id,
            seq: 0,
            kind: event.kind.as_str().to_owned(),
            profile_id: event.profile_id,
            actor_agent_id: actor.agent_id,
            actor_token_id: actor.token_id,
            request_id: actor.request_id.clone(),
            occurred_at: now,
            changes: event.changes,
        })
        .collect();
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        store_pending(txn, &rows).await?;
        db.recorded_events();
    } else {
        number_and_store(txn, workspace_id, &rows).await?;
    }
    Ok(())
}

/// On SQLite (one writer at a time: that is commit order), raise the workspace's counter
/// by the events' number and store them with the numbers up to it, in order. No one
/// reads the answer, so both statements go to SQLite with the change's next statement or
/// its `COMMIT` ([`WriteTxn::defer`]).
async fn number_and_store(
    txn: &WriteTxn,
    workspace_id: Uuid,
    rows: &[events::Model],
) -> Result<()> {
    const COLUMNS: usize = 11;
    let backend = sea_orm::DbBackend::Sqlite;
    for chunk in rows.chunks((crate::bulk::PARAMETERS / COLUMNS).max(1)) {
        let n = i64::try_from(chunk.len()).unwrap_or(i64::MAX);
        txn.defer(sea_orm::Statement::from_sql_and_values(
            backend,
            "INSERT INTO profile_event_seqs (workspace_id, last_seq) VALUES (?, ?) \
             ON CONFLICT (workspace_id) DO UPDATE SET last_seq = last_seq + excluded.last_seq",
            [workspace_id.into(), n.into()],
        ))
        .await?;
        let mut values: Vec<sea_orm::Value> = Vec::with_capacity(chunk.len() * COLUMNS);
        let mut tuples = Vec::with_capacity(chunk.len());
        for (row, below) in chunk.iter().zip((0..n).rev()) {
            // The k-th of n events: the new last seq minus (n - k).
            tuples.push(
                "(?, ?, (SELECT last_seq FROM profile_event_seqs WHERE workspace_id = ?) - ?, \
                 ?, ?, ?, ?, ?, ?, ?)",
            );
            values.extend([
                row.id.into(),
                workspace_id.into(),
                workspace_id.into(),
                below.into(),
                row.kind.clone().into(),
                row.profile_id.into(),
                row.actor_agent_id.into(),
                row.actor_token_id.into(),
                row.request_id.clone().into(),
                row.occurred_at.into(),
                row.changes.clone().into(),
            ]);
        }
        let sql = format!(
            "INSERT INTO profile_events \
               (id, workspace_id, seq, kind, profile_id, actor_agent_id, actor_token_id, \
                request_id, occurred_at, changes) VALUES {}",
            tuples.join(", ")
        );
        txn.defer(sea_orm::Statement::from_sql_and_values(
            backend, sql, values,
        ))
        .await?;
    }
    Ok(())
}

/// On PostgreSQL, store the events in one statement in [`PENDING`], where they wait for
/// the numbering, each with the next value of a global sequence, in order: the numbering
/// (which takes the lowest values first) keeps the order they were written in, here and
/// across transactions.
async fn store_pending<C: ConnectionTrait>(txn: &C, rows: &[events::Model]) -> Result<()> {
    let first = &rows[0];
    let mut values: Vec<sea_orm::Value> = vec![
        first.workspace_id.into(),
        first.actor_agent_id.into(),
        first.actor_token_id.into(),
        first.request_id.clone().into(),
        first.occurred_at.into(),
    ];
    let mut tuples = Vec::with_capacity(rows.len());
    for (ord, row) in (1_i64..).zip(rows) {
        let at = values.len();
        tuples.push(format!(
            "(${}::uuid, ${}::bigint, ${}::varchar, ${}::uuid, ${}::jsonb)",
            at + 1,
            at + 2,
            at + 3,
            at + 4,
            at + 5
        ));
        values.extend([
            row.id.into(),
            ord.into(),
            row.kind.clone().into(),
            row.profile_id.into(),
            row.changes.clone().into(),
        ]);
    }
    let sql = format!(
        "INSERT INTO {PENDING} \
           (id, workspace_id, written, kind, profile_id, actor_agent_id, actor_token_id, \
            request_id, occurred_at, changes) \
         SELECT e.id, $1::uuid, nextval('profile_events_provisional'), e.kind, e.profile_id, \
           $2::uuid, $3::uuid, $4::varchar, $5::timestamptz, e.changes \
         FROM (SELECT * FROM (VALUES {}) AS v (id, ord, kind, profile_id, changes) \
               ORDER BY v.ord) AS e",
        tuples.join(", ")
    );
    let statement =
        sea_orm::Statement::from_sql_and_values(sea_orm::DbBackend::Postgres, sql, values);
    txn.execute_raw(statement).await?;
    Ok(())
}

/// On PostgreSQL, the table where committed events wait for their number (made by the
/// migration `m20261213_000012_events_pending`): readers never see them there.
pub const PENDING: &str = "profile_events_pending";

/// The PostgreSQL channel events are announced on.
pub const CHANNEL: &str = "profile_events";

/// The workspace's last `seq` so far (0 before its first event).
pub async fn last_seq(db: &Db, workspace_id: Uuid) -> Result<i64> {
    Ok(seqs::Entity::find_by_id(workspace_id)
        .one(&db.conn)
        .await?
        .map_or(0, |row| row.last_seq))
}

/// Empty the `changes` of every event of a profile that is being deleted, inside the
/// deletion's transaction: those in the log, and on PostgreSQL those still waiting for
/// their number.
pub async fn erase_profile<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
) -> Result<()> {
    events::Entity::update_many()
        .col_expr(events::Column::Changes, Expr::value(json!({})))
        .filter(events::Column::WorkspaceId.eq(workspace_id))
        .filter(events::Column::ProfileId.eq(profile_id))
        .exec(txn)
        .await?;
    update_waiting(
        txn,
        "changes = '{}'::jsonb",
        workspace_id,
        profile_id,
        Vec::new(),
    )
    .await
}

/// Give the events of `merged_id` to `survivor_id`, inside the merge's transaction: its
/// history is the survivor's from now on (on PostgreSQL, with the events still waiting
/// for their number).
pub async fn move_history<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    merged_id: Uuid,
    survivor_id: Uuid,
) -> Result<()> {
    events::Entity::update_many()
        .col_expr(events::Column::ProfileId, Expr::value(survivor_id))
        .filter(events::Column::WorkspaceId.eq(workspace_id))
        .filter(events::Column::ProfileId.eq(merged_id))
        .exec(txn)
        .await?;
    update_waiting(
        txn,
        "profile_id = $3",
        workspace_id,
        merged_id,
        vec![survivor_id.into()],
    )
    .await
}

/// On PostgreSQL, `SET set` on the events of `profile_id` still waiting for their number
/// (`$1` is the workspace, `$2` the profile, `$3`… `values`); nothing on SQLite, where
/// none wait.
async fn update_waiting<C: ConnectionTrait>(
    txn: &C,
    set: &str,
    workspace_id: Uuid,
    profile_id: Uuid,
    values: Vec<sea_orm::Value>,
) -> Result<()> {
    if txn.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Ok(());
    }
    let mut all: Vec<sea_orm::Value> = vec![workspace_id.into(), profile_id.into()];
    all.extend(values);
    txn.execute_raw(sea_orm::Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        format!("UPDATE {PENDING} SET {set} WHERE workspace_id = $1 AND profile_id = $2"),
        all,
    ))
    .await?;
    Ok(())
}

/// Which events a reader wants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct EventFilter {
    kinds: Vec<EventKind>,
    profile_id: Option<Uuid>,
}

impl EventFilter {
    /// Only these kinds (all when `None` or empty), only this profile's.
    pub fn new(kinds: Option<Vec<EventKind>>, profile_id: Option<Uuid>) -> Self {
        let mut kinds = kinds.unwrap_or_default();
        kinds.sort();
        kinds.dedup();
        EventFilter { kinds, profile_id }
    }

    /// The kinds asked for (none: all).
    pub fn kinds(&self) -> &[EventKind] {
        &self.kinds
    }

    /// Narrow `select` to the events this filter wants.
    fn apply(&self, select: &mut sea_orm::sea_query::SelectStatement) {
        if !self.kinds.is_empty() {
            let kinds: Vec<&str> = self.kinds.iter().map(|k| k.as_str()).collect();
            select.and_where(Expr::col((events::Entity, events::Column::Kind)).is_in(kinds));
        }
        if let Some(profile_id) = self.profile_id {
            select.and_where(Expr::col((events::Entity, events::Column::ProfileId)).eq(profile_id));
        }
    }
}

crate::sql::by_ids!(
    /// Events of the workspace by id (the missing ones left out).
    profile_events
);

/// Wait until this process's own committed events of the workspace are numbered, so that
/// a reader sees its own writes (see [`numbering::Numbering::settled`]).
async fn settled(db: &Db, workspace_id: Uuid) {
    if let Some(numbering) = db.numbering() {
        numbering.settled(workspace_id).await;
    }
}

/// How many of the workspace's events match `filter`.
pub async fn count(db: &Db, workspace_id: Uuid, filter: &EventFilter) -> Result<u64> {
    settled(db, workspace_id).await;
    let mut select = Query::select()
        .from(events::Entity)
        .and_where(Expr::col((events::Entity, events::Column::WorkspaceId)).eq(workspace_id))
        .to_owned();
    filter.apply(&mut select);
    Ok(sql::count_rows(&db.conn, select).await?)
}

/// The change feed: a page of the workspace's events in `seq` order, oldest first, after
/// the cursor's `seq` (forward pages only).
pub async fn feed(
    db: &Db,
    workspace_id: Uuid,
    filter: &EventFilter,
    page: &PageRequest,
) -> Result<Page<events::Model>> {
    settled(db, workspace_id).await;
    let mut select = Query::select()
        .column((events::Entity, Asterisk))
        .from(events::Entity)
        .and_where(Expr::col((events::Entity, events::Column::WorkspaceId)).eq(workspace_id))
        .to_owned();
    filter.apply(&mut select);
    sql::keyset_page(
        &mut select,
        Expr::col((events::Entity, events::Column::Seq)),
        Expr::col((events::Entity, events::Column::Id)),
        Order::Asc,
        page,
    );
    let statement = db.conn.get_database_backend().build(&select);
    let rows = events::Model::find_by_statement(statement)
        .all(&db.conn)
        .await?;
    Ok(Page::from_rows(page, rows, |e| {
        crate::page::Cursor::number(e.seq, e.id)
    }))
}

/// The same page of each of `profile_ids`' histories (newest first) under `kinds`, in one
/// statement.
pub async fn histories(
    db: &Db,
    workspace_id: Uuid,
    page: &PageRequest,
    filter: &EventFilter,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<events::Model>>> {
    settled(db, workspace_id).await;
    let mut inner = Query::select()
        .column((events::Entity, Asterisk))
        .expr_as(
            Expr::col((events::Entity, events::Column::ProfileId)),
            PARENT,
        )
        .from(events::Entity)
        .and_where(Expr::col((events::Entity, events::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((events::Entity, events::Column::ProfileId)).is_in(profile_ids))
        .to_owned();
    filter.apply(&mut inner);
    sql::after_cursor_desc(
        &mut inner,
        Expr::col((events::Entity, events::Column::Seq)),
        Expr::col((events::Entity, events::Column::Id)),
        page,
    );
    Ok(sql::top_n_per_parent::<events::Model, _>(
        &db.conn,
        inner,
        (events::Entity, events::Column::ProfileId),
        vec![
            (
                Expr::col((events::Entity, events::Column::Seq)),
                Order::Desc,
            ),
            (Expr::col((events::Entity, events::Column::Id)), Order::Desc),
        ],
        page.fetch(),
    )
    .await?)
}

/// The workspace's events after `seq`, oldest first, at most `limit`: what a live
/// subscriber has not seen yet.
pub async fn since(
    db: &Db,
    workspace_id: Uuid,
    seq: i64,
    limit: u64,
) -> Result<Vec<events::Model>> {
    Ok(events::Entity::find()
        .filter(events::Column::WorkspaceId.eq(workspace_id))
        .filter(events::Column::Seq.gt(seq))
        .order_by_asc(events::Column::Seq)
        .limit(limit)
        .all(&db.conn)
        .await?)
}

/// Delete events older than `before`, at most `batch` of them, oldest first; returns how
/// many went. The server calls it in a loop of small batches, never one long statement.
pub async fn prune(
    db: &Db,
    before: sea_orm::prelude::DateTimeWithTimeZone,
    batch: u64,
) -> Result<u64> {
    let ids: Vec<Uuid> = events::Entity::find()
        .select_only()
        .column(events::Column::Id)
        .filter(events::Column::OccurredAt.lt(before))
        .order_by_asc(events::Column::OccurredAt)
        .limit(batch)
        .into_tuple()
        .all(&db.conn)
        .await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let deleted = events::Entity::delete_many()
        .filter(events::Column::Id.is_in(ids))
        .exec(&db.conn)
        .await?;
    Ok(deleted.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_back() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::from_db(kind.as_str()), Some(kind));
        }
        assert_eq!(EventKind::from_db("SOMETHING_NEW"), None);
    }
}
