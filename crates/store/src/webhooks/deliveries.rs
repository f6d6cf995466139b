//! Deliveries: one per (endpoint, event), derived from the event log, claimed by a
//! worker with a lease, and finished by what the receiver answered.
//!
//! **Derived from the log.** Each endpoint keeps a cursor, the last `seq` of its
//! workspace it has made deliveries for. [`derive`] reads the events past it, makes a
//! delivery for each event of a kind the endpoint wants, and moves the cursor, in one
//! transaction. `seq` numbers a workspace's events in commit order (see
//! [`crate::events`]), so the cursor never passes an event that commits later, and a
//! committed event always gets its deliveries, whenever the server stops. No write path
//! pays for webhooks: the change's transaction only writes its event, as before.
//!
//! **Claimed with a lease.** [`claim`] takes due deliveries that no other worker holds
//! (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so several instances never wait on each
//! other nor take the same one) and writes `lease_until`; a worker that dies mid-attempt
//! leaves the delivery to whoever claims it after the lease. SQLite has one process and
//! one writer at a time, so there the statement is the same without the locking clause.

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::ActiveValue::Set;
use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use entity::{
    profile_event_seqs as seqs, profile_events as events, webhook_attempts as attempts,
    webhook_deliveries as deliveries, webhook_endpoints as endpoints,
};

use super::schedule::{self, Clock, after};
use crate::Db;
use crate::error::{Result, StoreError};
use crate::page::{Cursor, Page, PageRequest};

/// Where a delivery stands. Stored as its upper-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not delivered yet: waiting for its next attempt.
    Pending,
    /// A receiver answered 2xx.
    Delivered,
    /// Given up: a 4xx other than 429, or no 2xx within the retry window.
    Failed,
}

impl DeliveryStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "PENDING",
            DeliveryStatus::Delivered => "DELIVERED",
            DeliveryStatus::Failed => "FAILED",
        }
    }

    /// Read the stored form (an unknown one reads as PENDING: it is not finished).
    pub fn from_db(value: &str) -> Self {
        match value {
            "DELIVERED" => DeliveryStatus::Delivered,
            "FAILED" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

/// Endpoints whose cursor a round of [`derive`] moves, at most.
const DERIVE_ENDPOINTS: u64 = 20;
/// Events one endpoint's cursor moves over in one round, at most.
const DERIVE_EVENTS: u64 = 500;

/// Make the deliveries of every event past the cursors of enabled endpoints (of every
/// workspace), oldest first, and move the cursors. Returns how many events were read; call
/// again while it is not 0. Runs as the server itself, across workspaces.
pub async fn derive(db: &Db, clock: &Clock) -> Result<u64> {
    let mut behind = Query::select()
        .column((endpoints::Entity, Asterisk))
        .from(endpoints::Entity)
        .inner_join(
            seqs::Entity,
            Expr::col((seqs::Entity, seqs::Column::WorkspaceId))
                .equals((endpoints::Entity, endpoints::Column::WorkspaceId)),
        )
        .and_where(Expr::col((endpoints::Entity, endpoints::Column::Enabled)).eq(true))
        .and_where(
            Expr::col((endpoints::Entity, endpoints::Column::CursorSeq))
                .lt(Expr::col((seqs::Entity, seqs::Column::LastSeq))),
        )
        .limit(DERIVE_ENDPOINTS)
        .to_owned();
    // Nothing behind (the usual case when the worker polls): no write transaction, which
    // on SQLite would take the database's one write lock.
    let statement = db.conn.get_database_backend().build(&behind);
    if db.conn.query_one_raw(statement).await?.is_none() {
        return Ok(0);
    }
    let txn = db.begin_write().await?;
    // Another instance deriving for an endpoint holds its row: skip it, don't wait.
    behind.lock_with_tables_behavior(
        LockType::Update,
        [endpoints::Entity],
        LockBehavior::SkipLocked,
    );
    let statement = txn.get_database_backend().build(&behind);
    let behind = endpoints::Model::find_by_statement(statement)
        .all(&txn)
        .await?;
    let now = clock.now();
    let mut read = 0;
    for endpoint in behind {
        let batch = events::Entity::find()
            .filter(events::Column::WorkspaceId.eq(endpoint.workspace_id))
            .filter(events::Column::Seq.gt(endpoint.cursor_seq))
            .order_by_asc(events::Column::Seq)
            .limit(DERIVE_EVENTS)
            .all(&txn)
            .await?;
        let Some(last) = batch.last().map(|e| e.seq) else {
            continue;
        };
        read += batch.len() as u64;
        let rows: Vec<deliveries::ActiveModel> = batch
            .iter()
            .filter(|event| super::endpoints::wants(&endpoint, &event.kind))
            .map(|event| deliveries::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(endpoint.workspace_id),
                endpoint_id: Set(endpoint.id),
                event_id: Set(event.id),
                event_seq: Set(event.seq),
                status: Set(DeliveryStatus::Pending.as_str().to_owned()),
                attempts: Set(0),
                next_attempt_at: Set(Some(now)),
                lease_until: Set(None),
                retry_since: Set(now),
                created_at: Set(now),
                finished_at: Set(None),
            })
            .collect();
        if !rows.is_empty() {
            deliveries::Entity::insert_many(rows)
                .on_conflict_do_nothing_on([
                    deliveries::Column::EndpointId,
                    deliveries::Column::EventId,
                ])
                .exec_without_returning(&txn)
                .await?;
        }
        endpoints::Entity::update_many()
            .col_expr(endpoints::Column::CursorSeq, Expr::value(last))
            .filter(endpoints::Column::Id.eq(endpoint.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(read)
}

/// A delivery claimed for one attempt, with what the attempt needs.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery, as claimed.
    pub delivery: deliveries::Model,
    /// Its endpoint.
    pub endpoint: endpoints::Model,
    /// The event it carries.
    pub event: events::Model,
    /// The lease this claim wrote: the attempt's result is kept only while it holds.
    pub lease_until: DateTimeWithTimeZone,
}

/// How [`claim`] chooses.
#[derive(Debug, Clone)]
pub struct ClaimLimits {
    /// Deliveries to claim at most.
    pub total: usize,
    /// Deliveries of one endpoint this worker may have in flight.
    pub per_endpoint: usize,
    /// How long the claim holds.
    pub lease: Duration,
}

/// Claim due deliveries of enabled endpoints, at most `limits.total`, and at most
/// `limits.per_endpoint` minus what is already `in_flight` here for any one endpoint (so
/// a slow endpoint can't take every slot). Endpoints already at their limit are left out
/// of the statement.
pub async fn claim(
    db: &Db,
    clock: &Clock,
    limits: &ClaimLimits,
    in_flight: &HashMap<Uuid, usize>,
) -> Result<Vec<Claimed>> {
    if limits.total == 0 {
        return Ok(Vec::new());
    }
    let now = clock.now();
    // Nothing due: no write transaction (see `derive`).
    if next_due(db).await?.is_none_or(|due| due > now) {
        return Ok(Vec::new());
    }
    let lease_until = after(now, limits.lease);
    let full: Vec<Uuid> = in_flight
        .iter()
        .filter(|(_, n)| **n >= limits.per_endpoint)
        .map(|(id, _)| *id)
        .collect();
    let txn = db.begin_write().await?;
    let d = deliveries::Entity;
    let mut due = Query::select()
        .column((d, deliveries::Column::Id))
        .column((d, deliveries::Column::EndpointId))
        .from(d)
        .inner_join(
            endpoints::Entity,
            Expr::col((endpoints::Entity, endpoints::Column::Id))
                .equals((d, deliveries::Column::EndpointId)),
        )
        .and_where(Expr::col((d, deliveries::Column::Status)).eq(DeliveryStatus::Pending.as_str()))
        .and_where(Expr::col((d, deliveries::Column::NextAttemptAt)).lte(now))
        .and_where(
            Expr::col((d, deliveries::Column::LeaseUntil))
                .is_null()
                .or(Expr::col((d, deliveries::Column::LeaseUntil)).lte(now)),
        )
        .and_where(Expr::col((endpoints::Entity, endpoints::Column::Enabled)).eq(true))
        .order_by((d, deliveries::Column::NextAttemptAt), Order::Asc)
        // Read a few more than it takes, so one busy endpoint at the front of the queue
        // doesn't leave the other slots empty.
        .limit((limits.total * 4) as u64)
        .to_owned();
    if !full.is_empty() {
        due.and_where(Expr::col((d, deliveries::Column::EndpointId)).is_not_in(full));
    }
    due.lock_with_tables_behavior(LockType::Update, [d], LockBehavior::SkipLocked);
    let statement = txn.get_database_backend().build(&due);
    let rows = txn.query_all_raw(statement).await?;
    let mut taken: HashMap<Uuid, usize> = HashMap::new();
    let mut chosen = Vec::new();
    for row in rows {
        let id: Uuid = row.try_get("", "id")?;
        let endpoint_id: Uuid = row.try_get("", "endpoint_id")?;
        let here = in_flight.get(&endpoint_id).copied().unwrap_or(0);
        let n = taken.entry(endpoint_id).or_default();
        if here + *n < limits.per_endpoint && chosen.len() < limits.total {
            *n += 1;
            chosen.push(id);
        }
    }
    if chosen.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    deliveries::Entity::update_many()
        .col_expr(deliveries::Column::LeaseUntil, Expr::value(lease_until))
        .filter(deliveries::Column::Id.is_in(chosen.clone()))
        .exec(&txn)
        .await?;
    txn.commit().await?;

    let claimed = deliveries::Entity::find()
        .filter(deliveries::Column::Id.is_in(chosen))
        .all(&db.conn)
        .await?;
    let endpoint_ids: Vec<Uuid> = claimed.iter().map(|c| c.endpoint_id).collect();
    let event_ids: Vec<Uuid> = claimed.iter().map(|c| c.event_id).collect();
    let endpoints: HashMap<Uuid, endpoints::Model> = endpoints::Entity::find()
        .filter(endpoints::Column::Id.is_in(endpoint_ids))
        .all(&db.conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let events: HashMap<Uuid, events::Model> = events::Entity::find()
        .filter(events::Column::Id.is_in(event_ids))
        .all(&db.conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(claimed
        .into_iter()
        .filter_map(|delivery| {
            Some(Claimed {
                endpoint: endpoints.get(&delivery.endpoint_id)?.clone(),
                event: events.get(&delivery.event_id)?.clone(),
                delivery,
                lease_until,
            })
        })
        .collect())
}

/// What a receiver's answer means for the delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx: delivered.
    Delivered,
    /// A timeout, a connection error, a 5xx or a 429: try again later, not before
    /// `retry_after` if the receiver said so.
    Retry {
        /// The receiver's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// Any other answer (a 4xx, a redirect, which is not followed): given up at once.
    Failed,
}

impl Verdict {
    /// The verdict on an HTTP status (`None`: no answer at all).
    pub fn of(status: Option<u16>, retry_after: Option<Duration>) -> Self {
        match status {
            Some(200..=299) => Verdict::Delivered,
            None | Some(429) | Some(500..=599) => Verdict::Retry { retry_after },
            Some(_) => Verdict::Failed,
        }
    }
}

/// One attempt as it went.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// When it started.
    pub attempted_at: DateTimeWithTimeZone,
    /// How long it took.
    pub duration: Duration,
    /// The receiver's status, if it answered.
    pub http_status: Option<u16>,
    /// What went wrong without an answer (timeout, refused, an address not allowed).
    pub error: Option<String>,
    /// The start of the response body.
    pub response_body: Option<String>,
    /// What the answer means.
    pub verdict: Verdict,
}

/// The longest error text kept.
const MAX_ERROR: usize = 500;

/// Keep attempts and move their deliveries on: DELIVERED, FAILED, or PENDING with the
/// next attempt scheduled; all of them in one transaction, so a worker sending many
/// deliveries at once pays one commit for a batch of results rather than one each. Also
/// keeps each endpoint's failing streak, and disables an endpoint that has failed without
/// one success for five days. If a claim's lease was lost meanwhile (another worker took
/// the delivery after it ran out), only its attempt is kept.
pub async fn finish_all(db: &Db, clock: &Clock, done: &[(Claimed, Attempt)]) -> Result<()> {
    if done.is_empty() {
        return Ok(());
    }
    let now = clock.now();
    let txn = db.begin_write().await?;
    attempts::Entity::insert_many(done.iter().map(|(claimed, attempt)| {
        attempts::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(claimed.delivery.workspace_id),
            delivery_id: Set(claimed.delivery.id),
            attempted_at: Set(attempt.attempted_at),
            duration_ms: Set(i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX)),
            http_status: Set(attempt.http_status.map(i32::from)),
            error: Set(attempt
                .error
                .as_ref()
                .map(|e| e.chars().take(MAX_ERROR).collect::<String>())),
            response_body: Set(attempt.response_body.clone()),
        }
    }))
    .exec_without_returning(&txn)
    .await?;

    // Finished deliveries of one claim share their lease and their new state, so each such
    // group is one statement; a retry has its own next time.
    let mut finished: HashMap<(DeliveryStatus, DateTimeWithTimeZone), Vec<Uuid>> = HashMap::new();
    // Per endpoint, in the order the attempts came: whether each one succeeded.
    let mut verdicts: HashMap<Uuid, Vec<bool>> = HashMap::new();
    for (claimed, attempt) in done {
        let delivery = &claimed.delivery;
        verdicts
            .entry(claimed.endpoint.id)
            .or_default()
            .push(attempt.verdict == Verdict::Delivered);
        let failures = u32::try_from(delivery.attempts).unwrap_or(0) + 1;
        let status = match attempt.verdict {
            Verdict::Delivered => DeliveryStatus::Delivered,
            Verdict::Failed => DeliveryStatus::Failed,
            Verdict::Retry { retry_after } => {
                let next = after(now, schedule::next_wait(failures, retry_after));
                if next <= after(delivery.retry_since, schedule::RETRY_WINDOW) {
                    deliveries::Entity::update_many()
                        .col_expr(
                            deliveries::Column::Attempts,
                            Expr::col(deliveries::Column::Attempts).add(1),
                        )
                        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(Some(next)))
                        .col_expr(
                            deliveries::Column::LeaseUntil,
                            Expr::value(Option::<DateTimeWithTimeZone>::None),
                        )
                        .filter(deliveries::Column::Id.eq(delivery.id))
                        .filter(deliveries::Column::LeaseUntil.eq(claimed.lease_until))
                        .exec(&txn)
                        .await?;
                    continue;
                }
                DeliveryStatus::Failed
            }
        };
        finished
            .entry((status, claimed.lease_until))
            .or_default()
            .push(delivery.id);
    }
    for ((status, lease_until), ids) in finished {
        deliveries::Entity::update_many()
            .col_expr(deliveries::Column::Status, Expr::value(status.as_str()))
            .col_expr(
                deliveries::Column::Attempts,
                Expr::col(deliveries::Column::Attempts).add(1),
            )
            .col_expr(
                deliveries::Column::NextAttemptAt,
                Expr::value(Option::<DateTimeWithTimeZone>::None),
            )
            .col_expr(
                deliveries::Column::LeaseUntil,
                Expr::value(Option::<DateTimeWithTimeZone>::None),
            )
            .col_expr(deliveries::Column::FinishedAt, Expr::value(Some(now)))
            .filter(deliveries::Column::Id.is_in(ids))
            .filter(deliveries::Column::LeaseUntil.eq(lease_until))
            .exec(&txn)
            .await?;
    }

    // The failing streak: a success ends it; a failure starts it unless one runs already
    // (and a failure after a success in this same batch starts a new one).
    let mut succeeded = Vec::new();
    for (endpoint_id, outcomes) in verdicts {
        match (outcomes.last(), outcomes.contains(&true)) {
            (Some(true), _) => succeeded.push(endpoint_id),
            (Some(false), true) => {
                endpoints::Entity::update_many()
                    .col_expr(endpoints::Column::FailingSince, Expr::value(Some(now)))
                    .filter(endpoints::Column::Id.eq(endpoint_id))
                    .exec(&txn)
                    .await?;
            }
            (Some(false), false) => failed(&txn, endpoint_id, now).await?,
            (None, _) => {}
        }
    }
    if !succeeded.is_empty() {
        endpoints::Entity::update_many()
            .col_expr(
                endpoints::Column::FailingSince,
                Expr::value(Option::<DateTimeWithTimeZone>::None),
            )
            .filter(endpoints::Column::Id.is_in(succeeded))
            .filter(endpoints::Column::FailingSince.is_not_null())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// An attempt to `endpoint_id` failed: start its failing streak, or disable it when the
/// streak has lasted five days.
async fn failed(txn: &crate::WriteTxn, endpoint_id: Uuid, now: DateTimeWithTimeZone) -> Result<()> {
    // Read it fresh, as other attempts of the endpoint may have finished meanwhile.
    let since: Option<DateTimeWithTimeZone> = endpoints::Entity::find_by_id(endpoint_id)
        .select_only()
        .column(endpoints::Column::FailingSince)
        .into_tuple()
        .one(txn)
        .await?
        .flatten();
    match since {
        None => {
            endpoints::Entity::update_many()
                .col_expr(endpoints::Column::FailingSince, Expr::value(Some(now)))
                .filter(endpoints::Column::Id.eq(endpoint_id))
                .exec(txn)
                .await?;
        }
        Some(since) if after(since, schedule::DISABLE_AFTER) <= now => {
            let reason = format!(
                "disabled by the server: every attempt failed for 5 days, since {}",
                since.to_rfc3339()
            );
            endpoints::Entity::update_many()
                .col_expr(endpoints::Column::Enabled, Expr::value(false))
                .col_expr(endpoints::Column::DisabledReason, Expr::value(reason))
                .filter(endpoints::Column::Id.eq(endpoint_id))
                .exec(txn)
                .await?;
        }
        Some(_) => {}
    }
    Ok(())
}

/// Which deliveries a reader wants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DeliveryFilter {
    /// Only those of this status.
    pub status: Option<DeliveryStatus>,
}

/// A page of an endpoint's deliveries, newest first.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    endpoint_id: Uuid,
    filter: DeliveryFilter,
    page: &PageRequest,
) -> Result<Page<deliveries::Model>> {
    let d = deliveries::Entity;
    let mut select = Query::select()
        .column((d, Asterisk))
        .from(d)
        .and_where(Expr::col((d, deliveries::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((d, deliveries::Column::EndpointId)).eq(endpoint_id))
        .to_owned();
    if let Some(status) = filter.status {
        select.and_where(Expr::col((d, deliveries::Column::Status)).eq(status.as_str()));
    }
    crate::sql::keyset_page(
        &mut select,
        Expr::col((d, deliveries::Column::CreatedAt)),
        Expr::col((d, deliveries::Column::Id)),
        Order::Desc,
        page,
    );
    let statement = db.conn.get_database_backend().build(&select);
    let rows = deliveries::Model::find_by_statement(statement)
        .all(&db.conn)
        .await?;
    Ok(Page::from_rows(page, rows, |r| {
        Cursor::at(&r.created_at, r.id)
    }))
}

/// How many of an endpoint's deliveries match `filter`.
pub async fn count(
    db: &Db,
    workspace_id: Uuid,
    endpoint_id: Uuid,
    filter: DeliveryFilter,
) -> Result<u64> {
    let d = deliveries::Entity;
    let mut select = Query::select()
        .from(d)
        .and_where(Expr::col((d, deliveries::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((d, deliveries::Column::EndpointId)).eq(endpoint_id))
        .to_owned();
    if let Some(status) = filter.status {
        select.and_where(Expr::col((d, deliveries::Column::Status)).eq(status.as_str()));
    }
    Ok(crate::sql::count_rows(&db.conn, select).await?)
}

/// The attempts of each of `delivery_ids`, oldest first, in one statement.
pub async fn attempts_of(
    db: &Db,
    workspace_id: Uuid,
    delivery_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<attempts::Model>>> {
    let mut out: HashMap<Uuid, Vec<attempts::Model>> = HashMap::new();
    if delivery_ids.is_empty() {
        return Ok(out);
    }
    for attempt in attempts::Entity::find()
        .filter(attempts::Column::WorkspaceId.eq(workspace_id))
        .filter(attempts::Column::DeliveryId.is_in(delivery_ids))
        .order_by_asc(attempts::Column::AttemptedAt)
        .order_by_asc(attempts::Column::Id)
        .all(&db.conn)
        .await?
    {
        out.entry(attempt.delivery_id).or_default().push(attempt);
    }
    Ok(out)
}

/// The workspace's delivery `id`.
pub async fn get(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<deliveries::Model> {
    deliveries::Entity::find_by_id(id)
        .filter(deliveries::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(StoreError::NotFound("WebhookDelivery"))
}

/// Send a delivery again, whatever its status: it is PENDING and due now, with a new
/// retry window.
pub async fn redeliver(
    db: &Db,
    clock: &Clock,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<deliveries::Model> {
    let now = clock.now();
    let updated = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::Status,
            Expr::value(DeliveryStatus::Pending.as_str()),
        )
        .col_expr(deliveries::Column::NextAttemptAt, Expr::value(Some(now)))
        .col_expr(deliveries::Column::RetrySince, Expr::value(now))
        .col_expr(
            deliveries::Column::FinishedAt,
            Expr::value(Option::<DateTimeWithTimeZone>::None),
        )
        .filter(deliveries::Column::WorkspaceId.eq(workspace_id))
        .filter(deliveries::Column::Id.eq(id))
        .exec(&db.conn)
        .await?;
    if updated.rows_affected == 0 {
        return Err(StoreError::NotFound("WebhookDelivery"));
    }
    get(db, workspace_id, id).await
}

/// The earliest time a pending delivery is due, if any: how long the worker may sleep.
pub async fn next_due(db: &Db) -> Result<Option<DateTimeWithTimeZone>> {
    Ok(deliveries::Entity::find()
        .filter(deliveries::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .filter(deliveries::Column::NextAttemptAt.is_not_null())
        .order_by_asc(deliveries::Column::NextAttemptAt)
        .one(&db.conn)
        .await?
        .and_then(|d| d.next_attempt_at))
}
