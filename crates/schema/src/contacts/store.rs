//! The database rules for contacts: listing, creating, attaching and detaching.

use sea_orm::sea_query::{Expr, Order, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryTrait,
};
use uuid::Uuid;

use entity::{channels, contacts, profiles};

use super::identifier::Identifier;
use crate::Db;
use crate::channels::ChannelType;
use crate::error::{Error, Result};
use crate::input::Text;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::profiles::store as profile_store;
use crate::sql;

/// What the `contacts` list is narrowed by.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// Part of the identifier or display name, case-insensitive.
    pub search: Option<String>,
    /// Only this channel.
    pub channel_id: Option<Uuid>,
    /// Only contacts with (false) or without (true) a profile.
    pub without_profile: Option<bool>,
}

impl ContactFilter {
    fn condition(&self, workspace_id: Uuid) -> Condition {
        let mut cond = Condition::all().add(contacts::Column::WorkspaceId.eq(workspace_id));
        if let Some(search) = self
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let pattern = sql::contains_pattern(search);
            cond = cond.add(sql::like(
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

/// What `search` matches a contact against: its identifier and display name, folded,
/// one per line.
pub fn search_text(identifier: &str, display_name: &str) -> String {
    format!("{}\n{}", sql::fold(identifier), sql::fold(display_name))
}

/// A page of the workspace's contacts, newest first.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    filter: &ContactFilter,
    page: &PageRequest,
) -> Result<Page<contacts::Model>> {
    let key_value = page
        .cursor
        .as_ref()
        .map(|c| c.instant("after"))
        .transpose()?
        .map(sea_orm::Value::from);
    let mut select = contacts::Entity::find()
        .filter(filter.condition(workspace_id))
        .into_query();
    sql::keyset_page(
        &mut select,
        Expr::col((contacts::Entity, contacts::Column::CreatedAt)),
        Expr::col((contacts::Entity, contacts::Column::Id)),
        Order::Desc,
        page,
        key_value,
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
        .ok_or(Error::NotFound("Contact"))
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
        .ok_or(Error::NotFound("Channel"))?;
    let identifier = Identifier::parse(
        identifier,
        ChannelType::from_db(&channel.channel_type),
        "input.identifier",
    )?;
    let display_name = match display_name.map(str::trim).filter(|s| !s.is_empty()) {
        Some(name) => Text::parse(name, 200, "input.displayName")?.into_inner(),
        None => identifier.as_str().to_owned(),
    };
    if let Some(existing) = by_identity(&db.conn, workspace_id, channel_id, &identifier).await? {
        return Ok((existing, false));
    }
    let now = crate::db::now();
    // In a transaction of its own (a savepoint inside a request's transaction on
    // PostgreSQL): when the insert loses a race, only it is undone, and the look-up
    // below still runs.
    let txn = db.begin_write().await?;
    let inserted = contacts::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        channel_id: Set(channel_id),
        identifier: Set(identifier.as_str().to_owned()),
        search_text: Set(search_text(identifier.as_str(), &display_name)),
        display_name: Set(display_name),
        profile_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(Error::from);
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

/// What [`attach_in`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attached {
    /// The contact was already in the profile; nothing changed.
    AlreadyThere(contacts::Model),
    /// The contact joined the profile, coming from `from` (a profile it was moved out of).
    Joined {
        /// The contact as it is now.
        contact: contacts::Model,
        /// The profile the contact left, if it had one.
        from: Option<Uuid>,
    },
}

/// Put `contact_id` into `profile_id`, inside the caller's transaction. Versions are the
/// caller's business.
///
/// Already there: nothing changes. In another profile: CONFLICT unless `move_contact`.
pub async fn attach_in<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
    move_contact: bool,
) -> Result<Attached> {
    let contact = find(txn, workspace_id, contact_id).await?;
    let previous = contact.profile_id;
    match previous {
        Some(current) if current == profile_id => return Ok(Attached::AlreadyThere(contact)),
        Some(_) if !move_contact => {
            return Err(Error::Conflict(
                "this contact belongs to another profile; pass `move: true` to move it here".into(),
            ));
        }
        _ => {}
    }
    // Only move the contact from where we saw it: if another request moved it in the
    // meantime, refuse rather than silently overwrite that change.
    let from = match previous {
        Some(current) => contacts::Column::ProfileId.eq(current),
        None => contacts::Column::ProfileId.is_null(),
    };
    // RETURNING hands back the contact as written: no second read.
    let updated = contacts::Entity::update_many()
        .col_expr(contacts::Column::ProfileId, Expr::value(profile_id))
        .col_expr(contacts::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(contacts::Column::Id.eq(contact_id))
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .filter(from)
        .exec_with_returning(txn)
        .await?;
    let Some(contact) = updated.into_iter().next() else {
        return Err(Error::Conflict(
            "the contact changed while this request ran; try again".into(),
        ));
    };
    Ok(Attached::Joined {
        contact,
        from: previous,
    })
}

/// `attachContact`: attach in one transaction; the profile and contact as they are now.
/// Both profiles' versions go up when the contact moves; nothing changes when it was
/// already there.
pub async fn attach(
    db: &Db,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
    move_contact: bool,
) -> Result<(profiles::Model, contacts::Model)> {
    let txn = db.begin_write().await?;
    let profile = profile_store::find(&txn, workspace_id, profile_id).await?;
    let outcome = attach_in(&txn, workspace_id, profile_id, contact_id, move_contact).await?;
    let answer = match outcome {
        Attached::AlreadyThere(contact) => (profile, contact),
        Attached::Joined { contact, from } => {
            let profile = profile_store::bump_version(&txn, workspace_id, profile_id)
                .await?
                .ok_or(Error::NotFound("Profile"))?;
            if let Some(from) = from {
                profile_store::bump_version(&txn, workspace_id, from).await?;
            }
            (profile, contact)
        }
    };
    txn.commit().await?;
    Ok(answer)
}

/// `detachContact`: take a contact out of its profile; it keeps its contact moments.
/// NOT_FOUND when the contact is not in that profile.
pub async fn detach(
    db: &Db,
    workspace_id: Uuid,
    profile_id: Uuid,
    contact_id: Uuid,
) -> Result<(profiles::Model, contacts::Model)> {
    let txn = db.begin_write().await?;
    profile_store::find(&txn, workspace_id, profile_id).await?;
    let updated = contacts::Entity::update_many()
        .col_expr(
            contacts::Column::ProfileId,
            Expr::value(Option::<Uuid>::None),
        )
        .col_expr(contacts::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(contacts::Column::Id.eq(contact_id))
        .filter(contacts::Column::WorkspaceId.eq(workspace_id))
        .filter(contacts::Column::ProfileId.eq(profile_id))
        .exec_with_returning(&txn)
        .await?;
    let Some(contact) = updated.into_iter().next() else {
        return Err(Error::NotFound("Contact"));
    };
    let profile = profile_store::bump_version(&txn, workspace_id, profile_id)
        .await?
        .ok_or(Error::NotFound("Profile"))?;
    txn.commit().await?;
    Ok((profile, contact))
}
