//! Workspaces: the companies using the inbox; creating one, finding one, and the viewer's own.

use sea_orm::EntityTrait;

use entity::{agents, workspaces};

use crate::Db;
use crate::Viewer;
use crate::error::{Result, StoreError};

/// The viewer's workspace and agent rows.
pub async fn viewer(
    db: &Db,
    viewer: &Viewer,
) -> Result<(workspaces::Model, Option<agents::Model>)> {
    let workspace = workspaces::Entity::find_by_id(viewer.workspace_id)
        .one(&db.conn)
        .await?
        .ok_or(StoreError::Unauthenticated)?;
    let agent = match viewer.agent_id {
        Some(id) => agents::Entity::find_by_id(id)
            .one(&db.conn)
            .await?
            .filter(|a| a.workspace_id == viewer.workspace_id),
        None => None,
    };
    Ok((workspace, agent))
}

/// Turn a company name into a URL-safe slug: lower-case ASCII letters, digits and dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    let slug: String = slug.chars().take(48).collect();
    if slug.is_empty() {
        "workspace".to_owned()
    } else {
        slug
    }
}

/// Create a workspace named `name` with a unique slug derived from it (`acme`, `acme-2`, …).
pub async fn create_workspace<C: sea_orm::ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<workspaces::Model> {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter};

    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(StoreError::bad_input(
            "name",
            "a workspace name is 1 to 200 characters",
        ));
    }
    let base = slugify(name);
    let mut slug = base.clone();
    let mut n = 1;
    while workspaces::Entity::find()
        .filter(workspaces::Column::Slug.eq(&slug))
        .one(db)
        .await?
        .is_some()
    {
        n += 1;
        slug = format!("{base}-{n}");
    }
    let row = workspaces::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        slug: Set(slug),
        name: Set(name.to_owned()),
        created_at: Set(chrono::Utc::now().into()),
    }
    .insert(db)
    .await?;
    Ok(row)
}

/// The workspace with this slug, if any.
pub async fn find_by_slug<C: sea_orm::ConnectionTrait>(
    db: &C,
    slug: &str,
) -> Result<Option<workspaces::Model>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    Ok(workspaces::Entity::find()
        .filter(workspaces::Column::Slug.eq(slug))
        .one(db)
        .await?)
}

/// A workspace by id.
pub async fn find(db: &Db, id: uuid::Uuid) -> Result<Option<workspaces::Model>> {
    Ok(workspaces::Entity::find_by_id(id).one(&db.conn).await?)
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_are_url_safe() {
        assert_eq!(slugify("  Acme Shoes B.V. "), "acme-shoes-b-v");
        assert_eq!(slugify("Ünïcode ☃"), "n-code");
        assert_eq!(slugify("!!!"), "workspace");
    }
}
