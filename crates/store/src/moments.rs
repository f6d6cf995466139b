//! Contact moments: the conversations (tickets) of contacts, and the timeline of a
//! profile (the moments of all its contacts).

use std::collections::HashMap;

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryResult, QueryTrait,
};
use serde_json::json;
use uuid::Uuid;

use entity::{channels, contact_moments as moments, contacts};

use crate::Db;
use crate::channels::WithChannel;
use crate::contacts as contact_store;
use crate::error::{Result, StoreError};
use crate::events::{self, EventKind, NewEvent};
use crate::page::{Cursor, Page, PageRequest};
use crate::sql::{self, PARENT};
use crate::text::Subject;

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ContactMomentStatus {
    /// Waiting for an agent.
    Open,
    /// An agent has it.
    Assigned,
    /// Done.
    Closed,
}

impl ContactMomentStatus {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactMomentStatus::Open => "OPEN",
            ContactMomentStatus::Assigned => "ASSIGNED",
            ContactMomentStatus::Closed => "CLOSED",
        }
    }

    /// Read the stored form (OPEN for anything unknown, which is never written).
    pub fn from_db(value: &str) -> Self {
        match value {
            "ASSIGNED" => ContactMomentStatus::Assigned,
            "CLOSED" => ContactMomentStatus::Closed,
            _ => ContactMomentStatus::Open,
        }
    }
}

/// Narrowing a timeline by status and channel. Normalised (sorted, deduplicated) so equal
/// filters batch together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MomentFilter {
    statuses: Vec<ContactMomentStatus>,
    channel_id: Option<Uuid>,
}

impl MomentFilter {
    /// A filter for these statuses (any when empty or absent) and channel.
    pub fn new(statuses: Option<Vec<ContactMomentStatus>>, channel_id: Option<Uuid>) -> Self {
        let mut statuses = statuses.unwrap_or_default();
        statuses.sort();
        statuses.dedup();
        MomentFilter {
            statuses,
            channel_id,
        }
    }

    /// Add the filter's conditions to a select over `contact_moments`.
    pub fn apply(&self, select: &mut SelectStatement) {
        if !self.statuses.is_empty() {
            let statuses: Vec<&str> = self.statuses.iter().map(|s| s.as_str()).collect();
            select.and_where(Expr::col((moments::Entity, moments::Column::Status)).is_in(statuses));
        }
        if let Some(channel_id) = self.channel_id {
            select
                .and_where(Expr::col((moments::Entity, moments::Column::ChannelId)).eq(channel_id));
        }
    }
}

/// A page of the workspace's contact moments, newest first.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    filter: &MomentFilter,
    page: &PageRequest,
) -> Result<Page<moments::Model>> {
    let mut select = moments::Entity::find()
        .filter(moments::Column::WorkspaceId.eq(workspace_id))
        .into_query();
    filter.apply(&mut select);
    sql::keyset_page(
        &mut select,
        Expr::col((moments::Entity, moments::Column::LastMessageAt)),
        Expr::col((moments::Entity, moments::Column::Id)),
        Order::Desc,
        page,
    );
    let rows = moments::Entity::find()
        .from_raw_sql(db.conn.get_database_backend().build(&select))
        .all(&db.conn)
        .await?;
    Ok(Page::from_rows(page, rows, |m| {
        Cursor::at(&m.last_message_at, m.id)
    }))
}

/// How many of the workspace's moments match `filter`.
pub async fn count(db: &Db, workspace_id: Uuid, filter: &MomentFilter) -> Result<u64> {
    let mut select = sea_orm::sea_query::Query::select()
        .from(moments::Entity)
        .and_where(moments::Column::WorkspaceId.eq(workspace_id))
        .to_owned();
    filter.apply(&mut select);
    Ok(sql::count_rows(&db.conn, select).await?)
}

/// Open a new ticket with a contact, on the contact's channel.
pub async fn start(
    db: &Db,
    workspace_id: Uuid,
    contact_id: Uuid,
    subject: Subject,
) -> Result<moments::Model> {
    let txn = db.begin_write().await?;
    let contact = contact_store::find(&txn, workspace_id, contact_id).await?;
    let now = crate::db::now();
    let moment = moments::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        contact_id: Set(contact.id),
        channel_id: Set(contact.channel_id),
        subject: Set(subject.into_inner()),
        status: Set(ContactMomentStatus::Open.as_str().to_owned()),
        created_at: Set(now),
        closed_at: Set(None),
        last_message_at: Set(now),
    }
    .insert(&txn)
    .await?;
    // A profile event when the contact has a profile: the moment is on its timeline.
    if let Some(profile_id) = contact.profile_id {
        let event = NewEvent::new(
            EventKind::ContactMomentStarted,
            profile_id,
            json!({
                "contactMomentId": moment.id,
                "contactId": contact.id,
                "subject": moment.subject,
                "status": moment.status,
            }),
        );
        events::record(&txn, db, workspace_id, vec![event]).await?;
    }
    txn.commit().await?;
    Ok(moment)
}

/// Change a ticket's status and/or subject. Closing stamps `closedAt`; reopening clears it.
pub async fn update(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    status: Option<ContactMomentStatus>,
    subject: Option<Subject>,
) -> Result<moments::Model> {
    let txn = db.begin_write().await?;
    let moment = moments::Entity::find_by_id(id)
        .filter(moments::Column::WorkspaceId.eq(workspace_id))
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("ContactMoment"))?;
    let before = moment.clone();
    let was = ContactMomentStatus::from_db(&moment.status);
    let mut active: moments::ActiveModel = moment.into();
    if let Some(status) = status {
        active.status = Set(status.as_str().to_owned());
        match (was, status) {
            (ContactMomentStatus::Closed, ContactMomentStatus::Closed) => {}
            (_, ContactMomentStatus::Closed) => active.closed_at = Set(Some(crate::db::now())),
            _ => active.closed_at = Set(None),
        }
    }
    if let Some(subject) = subject {
        active.subject = Set(subject.into_inner());
    }
    let moment = active.update(&txn).await?;
    let contact = contact_store::find(&txn, workspace_id, moment.contact_id).await?;
    if let Some(profile_id) = contact.profile_id {
        let mut changes = serde_json::Map::new();
        changes.insert("contactMomentId".into(), json!(moment.id));
        if before.status != moment.status {
            changes.insert(
                "status".into(),
                events::old_new(before.status, moment.status.clone()),
            );
        }
        if before.subject != moment.subject {
            changes.insert(
                "subject".into(),
                events::old_new(before.subject, moment.subject.clone()),
            );
        }
        let event = NewEvent::new(EventKind::ContactMomentUpdated, profile_id, changes.into());
        events::record(&txn, db, workspace_id, vec![event]).await?;
    }
    txn.commit().await?;
    Ok(moment)
}

/// Newest first: the order of every timeline.
fn timeline_order() -> Vec<(SimpleExpr, Order)> {
    vec![
        (
            Expr::col((moments::Entity, moments::Column::LastMessageAt)),
            Order::Desc,
        ),
        (
            Expr::col((moments::Entity, moments::Column::Id)),
            Order::Desc,
        ),
    ]
}

/// A moment with its channel.
pub type Joined = WithChannel<moments::Model>;

/// Join each moment's channel and select its columns.
fn with_channel(select: &mut SelectStatement) {
    select.inner_join(
        channels::Entity,
        Expr::col((channels::Entity, channels::Column::Id))
            .equals((moments::Entity, moments::Column::ChannelId)),
    );
    crate::channels::select_channel_columns(select);
}

/// Narrow `select` to the rows after the page's cursor.
fn after_cursor(select: &mut SelectStatement, page: &PageRequest) {
    sql::after_cursor_desc(
        select,
        Expr::col((moments::Entity, moments::Column::LastMessageAt)),
        Expr::col((moments::Entity, moments::Column::Id)),
        page,
    );
}

crate::sql::by_ids!(
    /// Contact moments of the workspace by id (the missing ones left out).
    contact_moments
);

/// The same page (newest first) of each of `contact_ids`' moments, with their channels,
/// in one statement.
pub async fn pages_of_contacts(
    db: &Db,
    workspace_id: Uuid,
    page: &PageRequest,
    contact_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<Joined>>> {
    let mut inner = Query::select()
        .column((moments::Entity, Asterisk))
        .expr_as(
            Expr::col((moments::Entity, moments::Column::ContactId)),
            PARENT,
        )
        .from(moments::Entity)
        .and_where(moments::Column::WorkspaceId.eq(workspace_id))
        .and_where(moments::Column::ContactId.is_in(contact_ids))
        .to_owned();
    with_channel(&mut inner);
    after_cursor(&mut inner, page);
    Ok(sql::top_n_per_parent::<Joined, _>(
        &db.conn,
        inner,
        (moments::Entity, moments::Column::ContactId),
        timeline_order(),
        page.fetch(),
    )
    .await?)
}

/// How many moments each of `contact_ids` has, in one statement.
pub async fn counts_of_contacts(
    db: &Db,
    workspace_id: Uuid,
    contact_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, u64>> {
    Ok(sql::children_per_parent(
        &db.conn,
        moments::Entity,
        (moments::Column::WorkspaceId, workspace_id),
        moments::Column::ContactId,
        contact_ids,
    )
    .await?)
}

/// The prefix of the contact's columns in a timeline row.
const CONTACT: &str = "ct_";

/// A row of a profile's timeline: the moment with its channel and its contact, read in
/// the same statement, and how many moments the profile has in all (under the same
/// filter). The profile page shows every moment with its contact and the total, so it
/// needs no further round for either.
#[derive(Debug, Clone)]
pub struct TimelineRow {
    /// The moment and its channel.
    pub moment: Joined,
    /// The contact it is with.
    pub contact: contacts::Model,
    /// The profile's number of moments matching the filter (on a page after a cursor:
    /// from the cursor on).
    pub total: u64,
}

impl FromQueryResult for TimelineRow {
    fn from_query_result(res: &QueryResult, pre: &str) -> std::result::Result<Self, DbErr> {
        let total: i64 = res.try_get("", sql::TOTAL)?;
        Ok(TimelineRow {
            moment: Joined::from_query_result(res, pre)?,
            contact: contacts::Model::from_query_result(res, CONTACT)?,
            total: u64::try_from(total).unwrap_or(0),
        })
    }
}

/// The moments of the contacts of some profiles.
fn of_profiles(
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
    filter: &MomentFilter,
) -> SelectStatement {
    let mut select = Query::select()
        .from(moments::Entity)
        .inner_join(
            contacts::Entity,
            Expr::col((contacts::Entity, contacts::Column::Id))
                .equals((moments::Entity, moments::Column::ContactId)),
        )
        .and_where(Expr::col((moments::Entity, moments::Column::WorkspaceId)).eq(workspace_id))
        .and_where(Expr::col((contacts::Entity, contacts::Column::ProfileId)).is_in(profile_ids))
        .to_owned();
    filter.apply(&mut select);
    select
}

/// The same page of each of `profile_ids`' timelines under `filter`, each moment with
/// its channel and contact and the profile's total, in one statement.
pub async fn pages_of_profiles(
    db: &Db,
    workspace_id: Uuid,
    page: &PageRequest,
    filter: &MomentFilter,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<TimelineRow>>> {
    let mut inner = of_profiles(workspace_id, profile_ids, filter);
    inner.column((moments::Entity, Asterisk)).expr_as(
        Expr::col((contacts::Entity, contacts::Column::ProfileId)),
        PARENT,
    );
    with_channel(&mut inner);
    sql::select_prefixed(&mut inner, contacts::Entity, CONTACT);
    // The total of a first page; after a cursor it counts only what is left, and the
    // timeline counts separately then.
    sql::count_per_parent_as_total(&mut inner, (contacts::Entity, contacts::Column::ProfileId));
    after_cursor(&mut inner, page);
    Ok(sql::top_n_per_parent::<TimelineRow, _>(
        &db.conn,
        inner,
        (contacts::Entity, contacts::Column::ProfileId),
        timeline_order(),
        page.fetch(),
    )
    .await?)
}

/// How many moments under `filter` each of `profile_ids`' contacts have, in one
/// statement.
pub async fn counts_of_profiles(
    db: &Db,
    workspace_id: Uuid,
    filter: &MomentFilter,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, u64>> {
    let (count, n) = sql::count_star();
    let mut select = of_profiles(workspace_id, profile_ids, filter);
    select
        .expr_as(
            Expr::col((contacts::Entity, contacts::Column::ProfileId)),
            PARENT,
        )
        .expr_as(count, n)
        .group_by_col((contacts::Entity, contacts::Column::ProfileId));
    Ok(sql::counts_per_parent(&db.conn, &select).await?)
}
