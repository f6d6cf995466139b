//! Profiles: the people behind contacts. Their own rows: finding, listing and searching,
//! renaming, field values, deletion, and the version every change raises.

use sea_orm::prelude::DateTimeWithTimeZone;
use sea_orm::sea_query::{Expr, ExprTrait, LockType, Order, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    FromQueryResult, QueryFilter, QueryOrder, QuerySelect, QueryTrait, UpdateMany,
};
use serde_json::json;
use uuid::Uuid;

use entity::{contacts, profiles};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::events::{self, EventKind, NewEvent};
use crate::fields::{self, FieldChange};
use crate::page::{Cursor, KeyKind, Page, PageRequest};
use crate::search;
use crate::sql;
use crate::text::{ExternalId, Name, SearchTerm};

/// What the `profiles` list is sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// The name.
    Name,
    /// Creation time.
    CreatedAt,
    /// Last change.
    UpdatedAt,
}

impl SortKey {
    /// What this key's cursors hold.
    pub fn kind(self) -> KeyKind {
        match self {
            SortKey::Name => KeyKind::Text,
            SortKey::CreatedAt | SortKey::UpdatedAt => KeyKind::Instant,
        }
    }
}

/// The `profiles` list's sort.
#[derive(Debug, Clone)]
pub struct Sort {
    /// The key.
    pub key: SortKey,
    /// Ascending or descending.
    pub order: Order,
}

/// A profile of the workspace, or NOT_FOUND.
pub async fn find<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<profiles::Model> {
    profiles::Entity::find_by_id(id)
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("Profile"))
}

/// A profile of the workspace, its row locked until the transaction ends (`FOR UPDATE`
/// on PostgreSQL; SQLite's write transactions hold the whole database), or NOT_FOUND.
/// Another writer that locks it waits; once this one deletes it, that writer finds
/// nothing.
pub async fn find_locked<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<profiles::Model> {
    profiles::Entity::find_by_id(id)
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or(StoreError::NotFound("Profile"))
}

/// The profiles of the workspace that `which` selects, their rows locked until the
/// transaction ends, in id order: the one order every writer that locks two profiles
/// takes (a merge, a move), so that two such writers wait for each other instead of each
/// holding a row the other needs (a deadlock, which PostgreSQL ends by failing one).
///
/// `lock` is `FOR UPDATE` for a writer that may delete one of them (a merge), and
/// `FOR NO KEY UPDATE` for one that only changes them (a move): that one doesn't wait for
/// a note or ticket being written on the profile (whose foreign key check holds
/// `FOR KEY SHARE`), while the two kinds of writer still wait for each other.
pub async fn lock_in_id_order<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    which: Condition,
    lock: LockType,
) -> Result<Vec<profiles::Model>> {
    Ok(profiles::Entity::find()
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .filter(which)
        .order_by_asc(profiles::Column::Id)
        .lock(lock)
        .all(db)
        .await?)
}

/// [`find_locked`] for a contact about to move into profile `id`: the profile the contact
/// is in now is locked too, in the same statement ([`lock_in_id_order`]), so a move out of
/// a profile that a merge is taking away waits for the merge, or the merge for the move.
pub async fn find_locked_with_source<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
    contact_id: Uuid,
) -> Result<profiles::Model> {
    let source = Query::select()
        .column(contacts::Column::ProfileId)
        .from(contacts::Entity)
        .and_where(contacts::Column::Id.eq(contact_id))
        .and_where(contacts::Column::WorkspaceId.eq(workspace_id))
        .to_owned();
    // `id IN ($id, (SELECT …))`: one list, so PostgreSQL looks both up in the primary
    // key (`id = $id OR id IN (…)` made it filter every profile of the workspace).
    let source = Expr::SubQuery(None, Box::new(source.into()));
    let which = Condition::all()
        .add(Expr::col((profiles::Entity, profiles::Column::Id)).is_in([Expr::val(id), source]));
    lock_in_id_order(db, workspace_id, which, LockType::NoKeyUpdate)
        .await?
        .into_iter()
        .find(|profile| profile.id == id)
        .ok_or(StoreError::NotFound("Profile"))
}

/// The one way a profile records a change: an UPDATE of that profile (in its workspace)
/// that raises its version by one and sets `updated_at` to now. Callers add the columns
/// they change and conditions of their own.
fn change(workspace_id: Uuid, id: Uuid) -> UpdateMany<profiles::Entity> {
    profiles::Entity::update_many()
        .col_expr(
            profiles::Column::Version,
            Expr::col(profiles::Column::Version).add(1),
        )
        .col_expr(profiles::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(profiles::Column::Id.eq(id))
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
}

/// Record a change to a profile that touched other rows (its contacts, its field
/// values): version + 1, `updated_at` now. Returns the profile as written (RETURNING, so
/// a caller that answers with it needs no second read); `None` when there is no such
/// profile.
pub async fn bump_version<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<profiles::Model>> {
    let updated = change(workspace_id, id).exec_with_returning(db).await?;
    Ok(updated.into_iter().next())
}

/// Profiles whose name, or any of whose contacts' identifier or display name, contains
/// `search` (ignoring case).
fn condition(workspace_id: Uuid, search: Option<&SearchTerm>) -> Condition {
    let mut cond = Condition::all().add(profiles::Column::WorkspaceId.eq(workspace_id));
    if let Some(search) = search {
        let pattern = search::contains_pattern(search);
        let by_contact: SelectStatement = Query::select()
            .column(contacts::Column::ProfileId)
            .from(contacts::Entity)
            .and_where(contacts::Column::WorkspaceId.eq(workspace_id))
            .and_where(contacts::Column::ProfileId.is_not_null())
            .and_where(search::like(
                Expr::col(contacts::Column::SearchText),
                &pattern,
            ))
            .to_owned();
        cond = cond.add(
            Condition::any()
                .add(search::like(
                    Expr::col((profiles::Entity, profiles::Column::SearchName)),
                    &pattern,
                ))
                .add(profiles::Column::Id.in_subquery(by_contact)),
        );
    }
    cond
}

/// A page of the workspace's profiles.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    search: Option<&SearchTerm>,
    sort: Sort,
    page: &PageRequest,
) -> Result<Page<profiles::Model>> {
    Ok(read_page(db, workspace_id, search, sort, page, false)
        .await?
        .0)
}

/// [`list`], with the number of profiles that match `search` in the same statement
/// (`COUNT(*) OVER ()`, taken before the `LIMIT`) when the page has no cursor: then the
/// page's query sees every match, and a look-up that shows its total scans the
/// workspace once instead of twice. `None` for a page past a cursor, whose query sees
/// only the matches beyond it: count those with [`count`].
pub async fn list_counted(
    db: &Db,
    workspace_id: Uuid,
    search: Option<&SearchTerm>,
    sort: Sort,
    page: &PageRequest,
) -> Result<(Page<profiles::Model>, Option<u64>)> {
    let counted = page.cursor.is_none();
    read_page(db, workspace_id, search, sort, page, counted).await
}

async fn read_page(
    db: &Db,
    workspace_id: Uuid,
    search: Option<&SearchTerm>,
    sort: Sort,
    page: &PageRequest,
    counted: bool,
) -> Result<(Page<profiles::Model>, Option<u64>)> {
    let key_column = match sort.key {
        SortKey::Name => profiles::Column::Name,
        SortKey::CreatedAt => profiles::Column::CreatedAt,
        SortKey::UpdatedAt => profiles::Column::UpdatedAt,
    };
    let mut select = profiles::Entity::find()
        .filter(condition(workspace_id, search))
        .into_query();
    if counted {
        sql::count_all_as_total(&mut select);
    }
    sql::keyset_page(
        &mut select,
        Expr::col((profiles::Entity, key_column)),
        Expr::col((profiles::Entity, profiles::Column::Id)),
        sort.order,
        page,
    );
    let found = db.conn.query_all(&select).await?;
    let total = match (counted, found.first()) {
        (false, _) => None,
        // No cursor and no row: nothing matches.
        (true, None) => Some(0),
        (true, Some(row)) => Some(u64::try_from(row.try_get::<i64>("", sql::TOTAL)?).unwrap_or(0)),
    };
    let rows = found
        .iter()
        .map(|row| profiles::Model::from_query_result(row, ""))
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let page = Page::from_rows(page, rows, |p| match sort.key {
        SortKey::Name => Cursor::text(&p.name, p.id),
        SortKey::CreatedAt => Cursor::at(&p.created_at, p.id),
        SortKey::UpdatedAt => Cursor::at(&p.updated_at, p.id),
    });
    Ok((page, total))
}

/// How many profiles match `search`.
pub async fn count(db: &Db, workspace_id: Uuid, search: Option<&SearchTerm>) -> Result<u64> {
    let select = Query::select()
        .from(profiles::Entity)
        .cond_where(condition(workspace_id, search))
        .to_owned();
    Ok(sql::count_rows(&db.conn, select).await?)
}

/// Insert a profile row at version 1, created and last changed `at`, inside the caller's
/// transaction. A profile that starts with contacts is made by
/// [`crate::membership::create_profile`], which calls this. An external id another
/// profile of the workspace has is a CONFLICT.
pub async fn insert<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    name: Name,
    external_id: Option<ExternalId>,
    at: DateTimeWithTimeZone,
) -> Result<profiles::Model> {
    if let Some(external_id) = &external_id {
        refuse_taken(txn, workspace_id, None, external_id).await?;
    }
    let shown = external_id.clone();
    let profile = profiles::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        search_name: Set(search::profile_name(name.as_str())),
        name: Set(name.into_inner()),
        external_id: Set(external_id.map(ExternalId::into_inner)),
        version: Set(1),
        created_at: Set(at),
        updated_at: Set(at),
    }
    .insert(txn)
    .await
    .map_err(|err| taken_on_unique(err.into(), shown.as_ref()))?;
    crate::suggestions::index_name(txn, workspace_id, profile.id, &profile.name, false).await?;
    Ok(profile)
}

/// A profile to make with [`insert_many`].
#[derive(Debug, Clone)]
pub(crate) struct NewProfile {
    pub name: Name,
    pub external_id: Option<ExternalId>,
    pub at: DateTimeWithTimeZone,
}

/// [`insert`] for many profiles in a few statements (the profiles, then their name keys),
/// for a caller that has checked that none of the external ids is taken. Should one be
/// taken after all (a race), the unique index refuses the statement: CONFLICT, and the
/// caller's transaction is to be rolled back.
pub(crate) async fn insert_many<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    new: Vec<NewProfile>,
) -> Result<Vec<profiles::Model>> {
    let made: Vec<profiles::Model> = new
        .into_iter()
        .map(|p| profiles::Model {
            id: Uuid::now_v7(),
            workspace_id,
            search_name: search::profile_name(p.name.as_str()),
            name: p.name.into_inner(),
            external_id: p.external_id.map(ExternalId::into_inner),
            version: 1,
            created_at: p.at,
            updated_at: p.at,
        })
        .collect();
    let rows: Vec<profiles::ActiveModel> = made.iter().cloned().map(Into::into).collect();
    crate::bulk::insert_rows(txn, rows)
        .await
        .map_err(|err| match err.is_unique_violation() {
            true => StoreError::Conflict(
                "another profile of this workspace has one of these external ids; external ids are unique within a workspace".into(),
            ),
            false => err,
        })?;
    let keys: Vec<_> = made
        .iter()
        .flat_map(|p| crate::suggestions::key_rows(workspace_id, p.id, &p.name))
        .collect();
    crate::bulk::insert_rows(txn, keys).await?;
    Ok(made)
}

/// The CONFLICT of an external id that another profile of the workspace has.
fn taken(external_id: &ExternalId) -> StoreError {
    StoreError::Conflict(format!(
        "another profile of this workspace has the external id `{}`; external ids are unique within a workspace",
        external_id.as_str()
    ))
}

/// A unique violation of a profile write is its external id's (the only unique key of a
/// profile besides its id, which is new): say so.
fn taken_on_unique(err: StoreError, external_id: Option<&ExternalId>) -> StoreError {
    match external_id {
        Some(external_id) if err.is_unique_violation() => taken(external_id),
        _ => err,
    }
}

/// Refuse with CONFLICT when a profile other than `except` has `external_id`. Checked
/// before the write for a clear answer; the unique index decides a race.
async fn refuse_taken<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    except: Option<Uuid>,
    external_id: &ExternalId,
) -> Result<()> {
    match by_external_id(txn, workspace_id, external_id).await? {
        Some(other) if Some(other.id) != except => Err(taken(external_id)),
        _ => Ok(()),
    }
}

/// The profile of the workspace with this external id, if any.
pub async fn by_external_id<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    external_id: &ExternalId,
) -> Result<Option<profiles::Model>> {
    Ok(profiles::Entity::find()
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .filter(profiles::Column::ExternalId.eq(external_id.as_str()))
        .one(db)
        .await?)
}

/// What `updateProfile` changes; `None` leaves a part as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileUpdate {
    /// A new name.
    pub name: Option<Name>,
    /// A new external id (`Some(None)` clears it).
    pub external_id: Option<Option<ExternalId>>,
}

impl ProfileUpdate {
    /// What of this update differs from `profile`: the parts that would change it.
    pub fn against(self, profile: &profiles::Model) -> ProfileUpdate {
        ProfileUpdate {
            name: self.name.filter(|name| name.as_str() != profile.name),
            external_id: self
                .external_id
                .filter(|id| id.as_ref().map(ExternalId::as_str) != profile.external_id.as_deref()),
        }
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.name.is_none() && self.external_id.is_none()
    }
}

/// Change the name and external id of `profile` (as read inside `txn`) as `update` says,
/// inside the caller's transaction: version + 1 when anything changes. Returns the profile
/// as written and its events (`PROFILE_RENAMED`, `EXTERNAL_ID_CHANGED`) for the caller to
/// record; with `expected_version`, CONFLICT if the profile changed since the caller read
/// it. An update that changes nothing writes nothing (and is no conflict).
pub async fn update_in<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile: profiles::Model,
    update: ProfileUpdate,
    expected_version: Option<i32>,
) -> Result<(profiles::Model, Vec<NewEvent>)> {
    let id = profile.id;
    if let Some(version) = expected_version
        && version != profile.version
    {
        return Err(stale(profile.version, version));
    }
    let update = update.against(&profile);
    if update.is_empty() {
        return Ok((profile, Vec::new()));
    }
    let mut log = Vec::new();
    // One conditional UPDATE: the version check and the write can't be split by another
    // writer, so of two updates with the same expected version exactly one wins.
    let mut change = change(workspace_id, id);
    if let Some(name) = &update.name {
        change = change
            .col_expr(
                profiles::Column::SearchName,
                Expr::value(search::profile_name(name.as_str())),
            )
            .col_expr(
                profiles::Column::Name,
                Expr::value(name.as_str().to_owned()),
            );
        log.push(NewEvent::new(
            EventKind::ProfileRenamed,
            id,
            json!({ "name": events::old_new(profile.name.clone(), name.as_str()) }),
        ));
    }
    if let Some(external_id) = &update.external_id {
        if let Some(external_id) = external_id {
            refuse_taken(txn, workspace_id, Some(id), external_id).await?;
        }
        let new = external_id.as_ref().map(|e| e.as_str().to_owned());
        change = change.col_expr(profiles::Column::ExternalId, Expr::value(new.clone()));
        log.push(NewEvent::new(
            EventKind::ExternalIdChanged,
            id,
            json!({ "externalId": events::old_new(profile.external_id.clone(), new) }),
        ));
    }
    if let Some(version) = expected_version {
        change = change.filter(profiles::Column::Version.eq(version));
    }
    let written = change.exec_with_returning(txn).await.map_err(|err| {
        taken_on_unique(err.into(), update.external_id.clone().flatten().as_ref())
    })?;
    let Some(profile) = written.into_iter().next() else {
        let current = find(txn, workspace_id, id).await?;
        return Err(stale(
            current.version,
            expected_version.unwrap_or(current.version),
        ));
    };
    if update.name.is_some() {
        crate::suggestions::index_name(txn, workspace_id, id, &profile.name, true).await?;
    }
    Ok((profile, log))
}

fn stale(current: i32, expected: i32) -> StoreError {
    StoreError::Conflict(format!(
        "the profile changed meanwhile: it is at version {current}, not {expected}; reload it and try again"
    ))
}

/// `updateProfile`: rename a profile and/or set or clear its external id. With
/// `expected_version`, refuse with CONFLICT if the profile changed since the caller read
/// it.
pub async fn update(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    update: ProfileUpdate,
    expected_version: Option<i32>,
) -> Result<profiles::Model> {
    let txn = db.begin_write().await?;
    let profile = find(&txn, workspace_id, id).await?;
    let (profile, log) = update_in(&txn, workspace_id, profile, update, expected_version).await?;
    events::record(&txn, db, workspace_id, log).await?;
    txn.commit().await?;
    Ok(profile)
}

/// Set or clear field values of a profile, all or nothing; the version goes up.
pub async fn set_fields(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    changes: &[FieldChange],
) -> Result<profiles::Model> {
    let txn = db.begin_write().await?;
    find(&txn, workspace_id, id).await?;
    let changed = fields::apply(&txn, workspace_id, id, changes).await?;
    let profile = bump_version(&txn, workspace_id, id)
        .await?
        .ok_or(StoreError::NotFound("Profile"))?;
    if !changed.is_empty() {
        let event = NewEvent::new(EventKind::FieldsChanged, id, json!({ "fields": changed }));
        events::record(&txn, db, workspace_id, vec![event]).await?;
    }
    txn.commit().await?;
    Ok(profile)
}

/// Delete a profile for good. Its notes and field values go with it (the foreign keys
/// cascade); its contacts stay, detached (`ON DELETE SET NULL`), with their moments.
///
/// Its earlier events lose their `changes` (names, values, note text, identifiers): the
/// log keeps that something happened, by whom and when, and one `PROFILE_DELETED`.
pub async fn delete(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<()> {
    let txn = db.begin_write().await?;
    let deleted = profiles::Entity::delete_many()
        .filter(profiles::Column::Id.eq(id))
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .exec(&txn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(StoreError::NotFound("Profile"));
    }
    events::erase_profile(&txn, workspace_id, id).await?;
    let event = NewEvent::new(EventKind::ProfileDeleted, id, json!({}));
    events::record(&txn, db, workspace_id, vec![event]).await?;
    txn.commit().await?;
    Ok(())
}

crate::sql::by_ids!(
    /// Profiles of the workspace by id (the missing ones left out).
    profiles
);
