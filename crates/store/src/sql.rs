//! SQL building blocks shared by the capabilities: keyset pages, top-N-per-parent, counts
//! per parent, and rows of joined tables.
//!
//! Both run unchanged on SQLite and PostgreSQL: window functions (`ROW_NUMBER() OVER
//! (PARTITION BY …)`) exist in both, and keyset conditions are spelled out as
//! `k > x OR (k = x AND id > y)` rather than row values.

use std::collections::HashMap;

use sea_orm::sea_query::{
    Alias, Asterisk, Expr, ExprTrait, IntoColumnRef, Order, Query, SelectStatement, SimpleExpr,
    WindowStatement,
};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, QueryResult,
};
use uuid::Uuid;

use crate::page::{Direction, PageRequest};

/// The column alias that names a row's parent in a top-N query.
pub const PARENT: &str = "parent";
const ROW_NUMBER: &str = "rn";

/// Narrow a newest-first list (by `key`, then `id`, both descending) to the rows after
/// the page's cursor, for the nested lists a loader pages per parent.
pub fn after_cursor_desc(
    select: &mut SelectStatement,
    key: SimpleExpr,
    id: SimpleExpr,
    page: &PageRequest,
) {
    if let Some(cursor) = &page.cursor {
        select.and_where(past_cursor(
            key,
            id,
            cursor.key.to_value(),
            cursor.id,
            false,
        ));
    }
}

/// `(key op value OR (key = value AND id op cursor_id)) AND key op= value`: rows strictly
/// past a cursor in the order `key, id`, both ascending (`after_asc = true`) or both
/// descending.
///
/// The last bound is implied by the rest, but neither database starts an index scan at
/// an `OR`: without it every page walks the index from the first row of the workspace to
/// the cursor and throws those rows away, so deep pages get slower as the data grows.
pub fn past_cursor(
    key: SimpleExpr,
    id: SimpleExpr,
    key_value: sea_orm::Value,
    cursor_id: Uuid,
    after_asc: bool,
) -> SimpleExpr {
    let (k, i, bound) = if after_asc {
        (
            key.clone().gt(key_value.clone()),
            id.gt(cursor_id),
            key.clone().gte(key_value.clone()),
        )
    } else {
        (
            key.clone().lt(key_value.clone()),
            id.lt(cursor_id),
            key.clone().lte(key_value.clone()),
        )
    };
    k.or(key.eq(key_value).and(i)).and(bound)
}

/// Apply a keyset page to `select`, ordered by `key` then `id` in `order` (the list's
/// natural order).
pub fn keyset_page(
    select: &mut SelectStatement,
    key: SimpleExpr,
    id: SimpleExpr,
    order: Order,
    page: &PageRequest,
) {
    let ascending = matches!(order, Order::Asc);
    // Reading backwards walks the order in reverse, then the page is flipped back.
    let walk_asc = match page.direction {
        Direction::Forward => ascending,
        Direction::Backward => !ascending,
    };
    if let Some(cursor) = &page.cursor {
        select.and_where(past_cursor(
            key.clone(),
            id.clone(),
            cursor.key.to_value(),
            cursor.id,
            walk_asc,
        ));
    }
    let walk = if walk_asc { Order::Asc } else { Order::Desc };
    select
        .order_by_expr(key, walk.clone())
        .order_by_expr(id, walk)
        .limit(page.fetch());
}

/// Select every column of `entity` as `{prefix}{column}`, so a row of another table
/// joined into the statement can be read back with `Model::from_query_result(row,
/// prefix)`. The caller joins the table.
pub fn select_prefixed<E: EntityTrait>(select: &mut SelectStatement, entity: E, prefix: &str) {
    for column in E::Column::iter() {
        select.expr_as(
            Expr::col((entity, column)),
            Alias::new(format!("{prefix}{}", column.as_str())),
        );
    }
}

/// Read a row of a LEFT JOINed table selected by [`select_prefixed`]: `None` when the
/// join found nothing (its `{prefix}id` is null).
pub fn read_optional<M: FromQueryResult>(
    row: &QueryResult,
    prefix: &str,
) -> Result<Option<M>, DbErr> {
    match row.try_get::<Option<Uuid>>("", &format!("{prefix}id"))? {
        Some(_) => M::from_query_result(row, prefix).map(Some),
        None => Ok(None),
    }
}

/// `COUNT(*) OVER (PARTITION BY parent) AS total`: a parent's number of matching rows
/// on each of its rows, so the page query also answers `totalCount`. Read it back with
/// [`TOTAL`].
pub fn count_per_parent_as_total(select: &mut SelectStatement, parent: impl IntoColumnRef) {
    select.expr_window_as(
        Expr::cust("COUNT(*)"),
        WindowStatement::partition_by(parent),
        Alias::new(TOTAL),
    );
}

/// `COUNT(*) OVER () AS total`: the number of rows the statement matches, before its
/// `LIMIT`, on each row. Read it back with [`TOTAL`].
pub fn count_all_as_total(select: &mut SelectStatement) {
    select.expr_window_as(
        Expr::cust("COUNT(*)"),
        WindowStatement::new(),
        Alias::new(TOTAL),
    );
}

/// The column [`count_per_parent_as_total`] and [`count_all_as_total`] add.
pub const TOTAL: &str = "total";

/// Run a top-N-per-parent query.
///
/// `inner` must select the row's columns plus `parent` (see [`PARENT`]) and must not be
/// ordered; `order` is the order within each parent. One statement returns at most `n`
/// rows for every parent, grouped by parent in `order`: the loaders' way to page a
/// nested list for a whole page of parents at once.
pub async fn top_n_per_parent<M: FromQueryResult, C: ConnectionTrait>(
    db: &C,
    mut inner: SelectStatement,
    parent: impl IntoColumnRef,
    order: Vec<(SimpleExpr, Order)>,
    n: u64,
) -> Result<HashMap<Uuid, Vec<M>>, DbErr> {
    let mut window = WindowStatement::partition_by(parent);
    for (expr, o) in order {
        window.order_by_expr(expr, o);
    }
    inner.expr_window_as(Expr::cust("ROW_NUMBER()"), window, Alias::new(ROW_NUMBER));
    let outer = Query::select()
        .column(Asterisk)
        .from_subquery(inner, Alias::new("ranked"))
        .and_where(Expr::col(Alias::new(ROW_NUMBER)).lte(n as i64))
        .order_by(Alias::new(PARENT), Order::Asc)
        .order_by(Alias::new(ROW_NUMBER), Order::Asc)
        .to_owned();
    let rows = db.query_all(&outer).await?;
    group_rows(rows)
}

fn group_rows<M: FromQueryResult>(rows: Vec<QueryResult>) -> Result<HashMap<Uuid, Vec<M>>, DbErr> {
    let mut grouped: HashMap<Uuid, Vec<M>> = HashMap::new();
    for row in rows {
        let parent: Uuid = row.try_get("", PARENT)?;
        grouped
            .entry(parent)
            .or_default()
            .push(M::from_query_result(&row, "")?);
    }
    Ok(grouped)
}

/// Run `SELECT parent, COUNT(*) … GROUP BY parent` built by the caller (which selects
/// `parent` and `n`), as a map.
pub async fn counts_per_parent<C: ConnectionTrait>(
    db: &C,
    select: &SelectStatement,
) -> Result<HashMap<Uuid, u64>, DbErr> {
    let rows = db.query_all(select).await?;
    let mut counts = HashMap::new();
    for row in rows {
        let parent: Uuid = row.try_get("", PARENT)?;
        let n: i64 = row.try_get("", "n")?;
        counts.insert(parent, u64::try_from(n).unwrap_or(0));
    }
    Ok(counts)
}

/// How many rows of `table` each parent in `parents` has, in one `GROUP BY`: the batched
/// `totalCount` of a nested list.
pub async fn children_per_parent<C, T, P>(
    db: &C,
    table: T,
    workspace: (impl IntoColumnRef, Uuid),
    parent: P,
    parents: Vec<Uuid>,
) -> Result<HashMap<Uuid, u64>, DbErr>
where
    C: ConnectionTrait,
    T: sea_orm::sea_query::IntoTableRef,
    P: IntoColumnRef + Clone,
{
    let (count, n) = count_star();
    let select = Query::select()
        .expr_as(Expr::col(parent.clone()), Alias::new(PARENT))
        .expr_as(count, n)
        .from(table)
        .and_where(Expr::col(workspace.0).eq(workspace.1))
        .and_where(Expr::col(parent.clone()).is_in(parents))
        .group_by_col(parent)
        .to_owned();
    counts_per_parent(db, &select).await
}

/// How many rows `select` (a `SELECT … FROM … WHERE …` without columns) matches.
pub async fn count_rows<C: ConnectionTrait>(
    db: &C,
    mut select: SelectStatement,
) -> Result<u64, DbErr> {
    let (count, n) = count_star();
    select.expr_as(count, n);
    let n: i64 = match db.query_one(&select).await? {
        Some(row) => row.try_get("", "n")?,
        None => 0,
    };
    Ok(u64::try_from(n).unwrap_or(0))
}

/// `COUNT(*) AS n` for a select.
pub fn count_star() -> (SimpleExpr, Alias) {
    (Expr::cust("COUNT(*)"), Alias::new("n"))
}

/// Declare `by_ids(db, workspace_id, ids)` for an entity with `id` and `workspace_id`: its
/// rows of the workspace with those ids, in one statement (the by-id loaders' batch).
macro_rules! by_ids {
    ($(#[$doc:meta])* $entity:ident) => {
        $(#[$doc])*
        pub async fn by_ids(
            db: &$crate::Db,
            workspace_id: ::uuid::Uuid,
            ids: ::std::vec::Vec<::uuid::Uuid>,
        ) -> $crate::Result<::std::vec::Vec<entity::$entity::Model>> {
            use ::sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
            Ok(entity::$entity::Entity::find()
                .filter(entity::$entity::Column::WorkspaceId.eq(workspace_id))
                .filter(entity::$entity::Column::Id.is_in(ids))
                .all(&db.conn)
                .await?)
        }
    };
}
pub(crate) use by_ids;
