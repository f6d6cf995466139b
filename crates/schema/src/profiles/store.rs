//! The database rules for profiles.

use sea_orm::sea_query::{Expr, ExprTrait, Order, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    QueryFilter, QueryTrait,
};
use uuid::Uuid;

use entity::{contacts, profiles};

use crate::Db;
use crate::contacts::store::{self as contact_store, Attached};
use crate::error::{Error, Result};
use crate::fields::store::{self as field_store, FieldChange};
use crate::input::Text;
use crate::pagination::{Cursor, Page, PageRequest};
use crate::sql;

/// The longest profile name.
pub const MAX_NAME: usize = 200;

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
        .ok_or(Error::NotFound("Profile"))
}

/// Record a change to a profile: version + 1, `updated_at` now. Returns the profile as
/// written (RETURNING, so a caller that answers with it needs no second read); `None`
/// when there is no such profile.
pub async fn bump_version<C: ConnectionTrait>(
    db: &C,
    workspace_id: Uuid,
    id: Uuid,
) -> Result<Option<profiles::Model>> {
    let updated = profiles::Entity::update_many()
        .col_expr(
            profiles::Column::Version,
            Expr::col(profiles::Column::Version).add(1),
        )
        .col_expr(profiles::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(profiles::Column::Id.eq(id))
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .exec_with_returning(db)
        .await?;
    Ok(updated.into_iter().next())
}

/// Profiles whose name, or any of whose contacts' identifier or display name, contains
/// `search` (ignoring case).
fn condition(workspace_id: Uuid, search: Option<&str>) -> Condition {
    let mut cond = Condition::all().add(profiles::Column::WorkspaceId.eq(workspace_id));
    if let Some(search) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let pattern = sql::contains_pattern(search);
        let by_contact: SelectStatement = Query::select()
            .column(contacts::Column::ProfileId)
            .from(contacts::Entity)
            .and_where(contacts::Column::WorkspaceId.eq(workspace_id))
            .and_where(contacts::Column::ProfileId.is_not_null())
            .and_where(sql::like(Expr::col(contacts::Column::SearchText), &pattern))
            .to_owned();
        cond = cond.add(
            Condition::any()
                .add(sql::like(
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
    search: Option<&str>,
    sort: Sort,
    page: &PageRequest,
) -> Result<Page<profiles::Model>> {
    let field = match page.direction {
        crate::pagination::Direction::Forward => "after",
        crate::pagination::Direction::Backward => "before",
    };
    let key_value = match (&page.cursor, sort.key) {
        (None, _) => None,
        (Some(c), SortKey::Name) => Some(sea_orm::Value::from(c.key.clone())),
        (Some(c), _) => Some(sea_orm::Value::from(c.instant(field)?)),
    };
    let key_column = match sort.key {
        SortKey::Name => profiles::Column::Name,
        SortKey::CreatedAt => profiles::Column::CreatedAt,
        SortKey::UpdatedAt => profiles::Column::UpdatedAt,
    };
    let mut select = profiles::Entity::find()
        .filter(condition(workspace_id, search))
        .into_query();
    sql::keyset_page(
        &mut select,
        Expr::col((profiles::Entity, key_column)),
        Expr::col((profiles::Entity, profiles::Column::Id)),
        sort.order,
        page,
        key_value,
    );
    let rows = profiles::Entity::find()
        .from_raw_sql(db.conn.get_database_backend().build(&select))
        .all(&db.conn)
        .await?;
    Ok(Page::from_rows(page, rows, |p| match sort.key {
        SortKey::Name => Cursor {
            key: p.name.clone(),
            id: p.id,
        },
        SortKey::CreatedAt => Cursor::at(&p.created_at, p.id),
        SortKey::UpdatedAt => Cursor::at(&p.updated_at, p.id),
    }))
}

/// How many profiles match `search`.
pub async fn count(db: &Db, workspace_id: Uuid, search: Option<&str>) -> Result<u64> {
    let select = Query::select()
        .from(profiles::Entity)
        .cond_where(condition(workspace_id, search))
        .to_owned();
    Ok(sql::count_rows(&db.conn, select).await?)
}

/// What `createProfile` asks for.
pub struct NewProfile {
    /// The name.
    pub name: Text,
    /// Contacts to attach in the same step.
    pub contact_ids: Vec<Uuid>,
    /// Move those contacts even if they belong to another profile.
    pub move_contacts: bool,
    /// Field values to set.
    pub fields: Vec<FieldChange>,
}

/// Create a profile with its contacts and field values, all or nothing.
pub async fn create(db: &Db, workspace_id: Uuid, new: NewProfile) -> Result<profiles::Model> {
    let txn = db.begin_write().await?;
    let now = crate::db::now();
    let profile = profiles::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        search_name: Set(sql::fold(new.name.as_str())),
        name: Set(new.name.into_inner()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    for contact_id in new.contact_ids {
        let outcome = contact_store::attach_in(
            &txn,
            workspace_id,
            profile.id,
            contact_id,
            new.move_contacts,
        )
        .await?;
        if let Attached::Joined {
            from: Some(from), ..
        } = outcome
        {
            bump_version(&txn, workspace_id, from).await?;
        }
    }
    field_store::apply(&txn, workspace_id, profile.id, &new.fields).await?;
    let profile = find(&txn, workspace_id, profile.id).await?;
    txn.commit().await?;
    Ok(profile)
}

/// Rename a profile. With `expected_version`, refuse with CONFLICT if the profile changed
/// since the caller read it.
pub async fn rename(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    name: Text,
    expected_version: Option<i32>,
) -> Result<profiles::Model> {
    let txn = db.begin_write().await?;
    // One conditional UPDATE: the version check and the write can't be split by another
    // writer, so of two updates with the same expected version exactly one wins.
    let mut update = profiles::Entity::update_many()
        .col_expr(
            profiles::Column::SearchName,
            Expr::value(sql::fold(name.as_str())),
        )
        .col_expr(profiles::Column::Name, Expr::value(name.into_inner()))
        .col_expr(
            profiles::Column::Version,
            Expr::col(profiles::Column::Version).add(1),
        )
        .col_expr(profiles::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(profiles::Column::Id.eq(id))
        .filter(profiles::Column::WorkspaceId.eq(workspace_id));
    if let Some(version) = expected_version {
        update = update.filter(profiles::Column::Version.eq(version));
    }
    let updated = update.exec(&txn).await?;
    if updated.rows_affected == 0 {
        let current = find(&txn, workspace_id, id).await?;
        return Err(Error::Conflict(format!(
            "the profile changed meanwhile: it is at version {}, not {}; reload it and try again",
            current.version,
            expected_version.unwrap_or(current.version)
        )));
    }
    let profile = find(&txn, workspace_id, id).await?;
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
    field_store::apply(&txn, workspace_id, id, changes).await?;
    let profile = bump_version(&txn, workspace_id, id)
        .await?
        .ok_or(Error::NotFound("Profile"))?;
    txn.commit().await?;
    Ok(profile)
}

/// Delete a profile for good. Its notes and field values go with it (the foreign keys
/// cascade); its contacts stay, detached (`ON DELETE SET NULL`), with their moments.
pub async fn delete(db: &Db, workspace_id: Uuid, id: Uuid) -> Result<()> {
    let deleted = profiles::Entity::delete_many()
        .filter(profiles::Column::Id.eq(id))
        .filter(profiles::Column::WorkspaceId.eq(workspace_id))
        .exec(&db.conn)
        .await?;
    if deleted.rows_affected == 0 {
        return Err(Error::NotFound("Profile"));
    }
    Ok(())
}
