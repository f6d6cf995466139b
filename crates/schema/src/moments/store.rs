//! The database rules for contact moments.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Expr, ExprTrait, Order, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryTrait,
};
use uuid::Uuid;

use entity::contact_moments as moments;

use super::ContactMomentStatus;
use crate::Db;
use crate::contacts::store as contact_store;
use crate::error::{Error, Result};
use crate::input::Text;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::sql;

/// The longest subject.
pub const MAX_SUBJECT: usize = 500;

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
    let key_value = page
        .cursor
        .as_ref()
        .map(|c| c.instant("after"))
        .transpose()?
        .map(sea_orm::Value::from);
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
        key_value,
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
    subject: Text,
) -> Result<moments::Model> {
    let contact = contact_store::find(&db.conn, workspace_id, contact_id).await?;
    let now = crate::db::now();
    Ok(moments::ActiveModel {
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
    .insert(&db.conn)
    .await?)
}

/// Change a ticket's status and/or subject. Closing stamps `closedAt`; reopening clears it.
pub async fn update(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    status: Option<ContactMomentStatus>,
    subject: Option<Text>,
) -> Result<moments::Model> {
    let moment = moments::Entity::find_by_id(id)
        .filter(moments::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(Error::NotFound("ContactMoment"))?;
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
    Ok(active.update(&db.conn).await?)
}
