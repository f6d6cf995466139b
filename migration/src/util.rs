//! Small builders shared by the migrations, so each table reads as its columns and rules.

use sea_orm_migration::prelude::*;

/// A foreign key from `table.column` to `target.id` with the given delete rule.
pub fn fk(
    table: impl IntoIden + 'static,
    column: impl IntoIden + 'static,
    target: impl IntoIden + 'static,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, column)
        .to(target, Alias::new("id"))
        .on_delete(on_delete)
        .on_update(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A (possibly unique) index named `name` on `table(columns)`.
pub fn index<T: IntoIden + 'static>(
    name: &str,
    table: T,
    columns: Vec<IndexColumn>,
    unique: bool,
) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for column in columns {
        stmt.col(column);
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

/// An ascending index column.
pub fn asc(column: impl IntoIden) -> IndexColumn {
    IndexColumn::from(column)
}

/// A descending index column (newest first).
pub fn desc(column: impl IntoIden) -> IndexColumn {
    IndexColumn::from((column, IndexOrder::Desc))
}
