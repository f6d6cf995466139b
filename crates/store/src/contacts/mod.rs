//! Contacts: the channel identities that write in. Listing, finding, and bringing one in
//! from a new conversation. Which profile a contact belongs to is [`crate::membership`]'s
//! business alone.

pub mod identifier;

use std::collections::HashMap;

use sea_orm::sea_query::{Asterisk, Expr, ExprTrait, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult, QueryFilter, QueryTrait,
};
use uuid::Uuid;

use entity::{channels, contacts};

use crate::Db;
use crate::channels::{ChannelType, WithChannel};
use crate::error::{Result, StoreError};
use crate::page::{Cursor, Page, PageRequest};
use crate::search;
use crate::sql;
use crate::text::{Name, SearchTerm};
use identifier::Identifier;

/// What the `contacts` list is narrowed by.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Part of the identifier or display name, case-insensitive.
    pub search: Option<SearchTerm>,
    /// Only this channel.
    pub channel_id: Option<Uuid>,
    /// Only contacts with (false) or without (true) a profile.
    pub without_profile: Option<bool>,
}

impl ContactFilter {
    fn condition(&self, workspace_id: Uuid) -> Condition {
        let mut cond = Condition::all().add(contacts::Column::WorkspaceId.eq(workspace_id));
        if let Some(search) = &self.search {
            let pattern = search::contains_pattern(search);
            cond = cond.add(search::like(
                contacts::Column::SearchText.into_expr(),
                &pattern,
            ));
        }
        if let Some(channel_id) = self.channel_id {
            cond = cond.add(contacts::Column::ChannelId.eq(channel_id));
        }
        match self.without_profile {
            Some(true) => cond = cond.add(contacts::Column::ProfileId.is_null()),
            Some(false) => cond = cond.add(contacts::Column::ProfileId.is_not_null()),
            None => {}
        }
        cond
    }
}

/// A page of the workspace's contacts, newest first.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    filter: &ContactFilter,
    page: &PageRequest,
) -> Result<Page<contacts::Model>> {
    let mut select = contacts::Entity::find()
        .filter(filter.condition(workspace_id))
        .into_query();
    sql::keyset_page(
        &mut select,
        Expr::col((contacts::Entity, contacts::Column::CreatedAt)),
        Expr::col((contacts::Entity, contacts::Column::Id)),
        Order::Desc,
        page,
    );
    let rows = contacts::Entity::find()
        .from_raw_sql(db.conn.get_database_backend().build(&select))
        .all(&db.conn)
        .await?;
    Ok(Page::from_rows(page, rows, |c| {
        Cursor::at(&c.created_at, c.id)
    }))
}

/// How many contacts match `filter`.
pub async fn count(db: &Db, workspace_id: Uuid, filter: &ContactFilter) -> Result<u64> {
    let select = Query::select()
        .from(contacts::Entity)
        .cond_where(filter.condition(workspace_id))
        .to_owned();
    Ok(sql::count_rows(&db.conn, select).await?)
}

/// A contact of the workspace, or NOT_FOUND.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<contacts::Model> {
    contacts::Entity::find_by_id(id)
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("Contact"))
}

/// Bring a contact in from a new conversation: the existing contact for this identity
/// (`false`), or a new one (`true`).
pub async fn create(
    db: &Db,
    workspace_id: Uuid,
    channel_id: Uuid,
    identifier: &str,
    display_name: Option<&str>,
) -> Result<(contacts::Model, bool)> {
    let channel = channels::Entity::find_by_id(channel_id)
        .filter(channels::Column::WorkspaceId.eq(workspace_id))
        .one(&db.conn)
        .await?
        .ok_or(StoreError::NotFound("Channel"))?;
    let identifier = Identifier::parse(
        identifier,
        ChannelType::from_db(&channel.channel_type),
        "input.identifier",
    )?;
    let display_name = match display_name.map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => Name::parse(name, "input.displayName")?.into_inner(),
        None => identifier.as_str().to_owned(),
    };
    if let Some(existing) = by_identity(&db.conn, workspace_id, channel_id, &identifier).await? {
        return Ok((existing, false));
    }
    // In a transaction of its own (a savepoint inside a request's transaction on
    // PostgreSQL): when the insert loses a race, only it is undone, and the look-up
    // below still runs.
    let txn = db.begin_write().await?;
    let inserted = insert(
        &txn,
        workspace_id,
        channel_id,
        &identifier,
        &display_name,
        crate::db::now(),
    )
    .await;
    match inserted {
        Ok(contact) => {
            txn.commit().await?;
            Ok((contact, true))
        }
        // Two conversations brought the same identity in at once; the unique index let
        // exactly one insert through. Return that one.
        Err(err) if err.is_unique_violation() => {
            txn.rollback().await?;
            by_identity(&db.conn, workspace_id, channel_id, &identifier)
                .await?
                .map(|c| (c, false))
                .ok_or(err)
        }
        Err(err) => Err(err),
    }
}

/// Insert a contact with no profile, first seen `at`, inside the caller's transaction
/// (which profile it joins is [`crate::membership`]'s business).
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    channel_id: Uuid,
    identifier: &Identifier,
    display_name: &str,
    at: sea_orm::prelude::DateTimeWithTimeZone,
) -> Result<contacts::Model> {
    Ok(contacts::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        channel_id: Set(channel_id),
        identifier: Set(identifier.as_str().to_owned()),
        search_text: Set(search::contact_text(identifier.as_str(), display_name)),
        match_key: Set(crate::suggestions::match_key(identifier.as_str())),
        display_name: Set(display_name.to_owned()),
        profile_id: Set(None),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(txn)
    .await?)
}

async fn by_identity<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    channel_id: Uuid,
    identifier: &Identifier,
) -> Result<Option<contacts::Model>> {
    Ok(contacts::Entity::find()
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .filter(contacts::Column::ChannelId.eq(channel_id))
        .filter(contacts::Column::Identifier.eq(identifier.as_str()))
        .one(db)
        .await?)
}

crate::sql::by_ids!(
    /// Contacts of the workspace by id (the missing ones left out).
    contacts
);

/// The contacts of each of `profile_ids`, each with its channel, in one statement: sorted
/// by channel (type, then name), then oldest first. Every profile asked for has an entry.
pub async fn of_profiles(
    db: &Db,
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<WithChannel<contacts::Model>>>> {
    of_profiles_on(&db.conn, workspace_id, profile_ids).await
}

/// [`of_profiles`] on a given connection (a transaction, to see its own changes).
pub async fn of_profiles_on<C: ConnectionTrait>(
    conn: &C,
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<WithChannel<contacts::Model>>>> {
    let mut select = Query::select()
        .column((contacts::Entity, Asterisk))
        .from(contacts::Entity)
        .inner_join(
            channels::Entity,
            Expr::col((channels::Entity, channels::Column::Id))
                .equals((contacts::Entity, contacts::Column::ChannelId)),
        )
        .and_where(Expr::col((contacts::Entity, contacts::Column::WorkspaceId)).eq(workspace_id))
        .and_where(
            Expr::col((contacts::Entity, contacts::Column::ProfileId)).is_in(profile_ids.clone()),
        )
        .order_by(
            (channels::Entity, channels::Column::ChannelType),
            Order::Asc,
        )
        .order_by((channels::Entity, channels::Column::Name), Order::Asc)
        .order_by((channels::Entity, channels::Column::Id), Order::Asc)
        .order_by((contacts::Entity, contacts::Column::CreatedAt), Order::Asc)
        .order_by((contacts::Entity, contacts::Column::Id), Order::Asc)
        .to_owned();
    crate::channels::select_channel_columns(&mut select);
    let statement = conn.get_database_backend().build(&select);
    let rows = WithChannel::<contacts::Model>::find_by_statement(statement)
        .all(conn)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<_>> =
        profile_ids.into_iter().map(|id| (id, Vec::new())).collect();
    for row in rows {
        if let Some(profile_id) = row.row.profile_id {
            grouped.entry(profile_id).or_default().push(row);
        }
    }
    Ok(grouped)
}
