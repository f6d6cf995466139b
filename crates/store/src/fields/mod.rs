//! Custom fields: the profile fields a workspace defines, and profiles' values for them.
//! Every rule about a field's settings and its values is here: keys, options, rules,
//! positions, and checking a value against its field.

mod kinds;
pub mod validate;

use std::collections::{HashMap, HashSet};

use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::Value;
use uuid::Uuid;

use entity::{custom_fields, profile_field_values};

pub use kinds::{CustomFieldType, Rules, options_of, rules_of};

use crate::Db;
use crate::error::{Result, StoreError};
use crate::text::{Label, OptionLabel};

/// One requested change to a profile's field: a new value, or `None` to clear it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldChange {
    /// The field.
    pub field_id: Uuid,
    /// The new value; `None` clears the field.
    pub value: Option<Value>,
}

/// The workspace's fields among `ids`, by id.
async fn definitions<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, custom_fields::Model>> {
    Ok(custom_fields::Entity::find()
        .filter(custom_fields::Column::WorkspaceId.eq(workspace_id))
        .filter(custom_fields::Column::Id.is_in(ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|f| (f.id, f))
        .collect())
}

/// One checked change: the field, and the value in its stored form (`None`: cleared).
type Checked<'a> = (&'a custom_fields::Model, Option<Value>);

/// Check every change against its field: the first bad one refuses them all.
fn check_all<'a>(
    fields: &'a HashMap<Uuid, custom_fields::Model>,
    changes: &[FieldChange],
) -> Result<Vec<Checked<'a>>> {
    changes
        .iter()
        .map(|change| {
            let field = fields
                .get(&change.field_id)
                .ok_or(StoreError::NotFound("CustomField"))?;
            if field.archived {
                return Err(StoreError::bad_input(
                    field.key.as_str(),
                    format!("{} is archived and can't be set", field.label),
                ));
            }
            match &change.value {
                None if field.required => Err(StoreError::bad_input(
                    field.key.as_str(),
                    format!("{} is required and can't be cleared", field.label),
                )),
                None => Ok((field, None)),
                Some(value) => {
                    let stored = validate::check(field, value).map_err(|msg| {
                        StoreError::bad_input(field.key.as_str(), format!("{}: {msg}", field.label))
                    })?;
                    Ok((field, Some(stored)))
                }
            }
        })
        .collect()
}

/// The rows to insert for the values `checked` sets on `profile_id`.
fn value_rows(
    workspace_id: Uuid,
    profile_id: Uuid,
    checked: &[Checked<'_>],
) -> Vec<profile_field_values::ActiveModel> {
    let now = crate::db::now();
    checked
        .iter()
        .filter_map(|(field, value)| {
            value
                .as_ref()
                .map(|value| profile_field_values::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    workspace_id: Set(workspace_id),
                    profile_id: Set(profile_id),
                    field_id: Set(field.id),
                    value: Set(value.clone()),
                    updated_at: Set(now),
                })
        })
        .collect()
}

/// A profile's current values of the fields `ids`, by field.
async fn current_values<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Value>> {
    Ok(profile_field_values::Entity::find()
        .filter(profile_field_values::Column::WorkspaceId.eq(workspace_id))
        .filter(profile_field_values::Column::ProfileId.eq(profile_id))
        .filter(profile_field_values::Column::FieldId.is_in(ids))
        .all(txn)
        .await?
        .into_iter()
        .map(|v| (v.field_id, v.value))
        .collect())
}

/// Check every change against its field, then write them, inside the caller's
/// transaction. Nothing is written unless every value is good. Returns what changed, one
/// `{ "key", "old", "new" }` per field whose value is now different, for the event log.
pub async fn apply<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    changes: &[FieldChange],
) -> Result<Vec<Value>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = changes.iter().map(|c| c.field_id).collect();
    let fields = definitions(txn, workspace_id, ids.clone()).await?;
    // Validate everything first: one bad value refuses the request before any write.
    let checked = check_all(&fields, changes)?;
    let rows = value_rows(workspace_id, profile_id, &checked);
    let old = current_values(txn, workspace_id, profile_id, ids.clone()).await?;
    let changed: Vec<Value> = checked
        .into_iter()
        .filter(|(field, new)| old.get(&field.id) != new.as_ref())
        .map(|(field, new)| {
            serde_json::json!({
                "key": field.key,
                "old": old.get(&field.id).cloned(),
                "new": new,
            })
        })
        .collect();

    // Replace: drop the old values of every field named, then insert the new ones.
    profile_field_values::Entity::delete_many()
        .filter(profile_field_values::Column::WorkspaceId.eq(workspace_id))
        .filter(profile_field_values::Column::ProfileId.eq(profile_id))
        .filter(profile_field_values::Column::FieldId.is_in(ids))
        .exec(txn)
        .await?;
    if !rows.is_empty() {
        profile_field_values::Entity::insert_many(rows)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(changed)
}

/// [`apply`] for a profile made in the same transaction, which has no values yet: check,
/// then insert, in two statements.
pub async fn apply_to_new<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    changes: &[FieldChange],
) -> Result<Vec<Value>> {
    let mut changed = apply_to_new_many(txn, workspace_id, &[(profile_id, changes)]).await?;
    Ok(changed.pop().unwrap_or_default())
}

/// [`apply_to_new`] for several new profiles at once, in two statements whatever their
/// number: what changed on each, in the order given. The first bad value refuses them
/// all.
pub(crate) async fn apply_to_new_many<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    changes: &[(Uuid, &[FieldChange])],
) -> Result<Vec<Vec<Value>>> {
    let ids: HashSet<Uuid> = changes
        .iter()
        .flat_map(|(_, c)| c.iter().map(|c| c.field_id))
        .collect();
    if ids.is_empty() {
        return Ok(vec![Vec::new(); changes.len()]);
    }
    let fields = definitions(txn, workspace_id, ids.into_iter().collect()).await?;
    let mut rows = Vec::new();
    let mut changed = Vec::with_capacity(changes.len());
    for (profile_id, changes) in changes {
        let checked = check_all(&fields, changes)?;
        rows.extend(value_rows(workspace_id, *profile_id, &checked));
        changed.push(
            checked
                .into_iter()
                .filter(|(_, new)| new.is_some())
                .map(
                    |(field, new)| serde_json::json!({ "key": field.key, "old": null, "new": new }),
                )
                .collect(),
        );
    }
    crate::bulk::insert_rows(txn, rows).await?;
    Ok(changed)
}

/// Check every change against its field (refusing as [`apply`] does) and keep those that
/// would change `profile_id`'s values: what [`apply`] has left to do. Reads only.
pub async fn effective<C: ConnectionTrait>(
    txn: &C,
    workspace_id: Uuid,
    profile_id: Uuid,
    changes: &[FieldChange],
) -> Result<Vec<FieldChange>> {
    if changes.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = changes.iter().map(|c| c.field_id).collect();
    let fields = definitions(txn, workspace_id, ids.clone()).await?;
    let checked = check_all(&fields, changes)?;
    let old = current_values(txn, workspace_id, profile_id, ids).await?;
    Ok(checked
        .into_iter()
        .filter(|(field, new)| old.get(&field.id) != new.as_ref())
        .map(|(field, value)| FieldChange {
            field_id: field.id,
            value,
        })
        .collect())
}

/// The workspace's fields, in position order; archived ones only when asked.
pub async fn list(
    db: &Db,
    workspace_id: Uuid,
    include_archived: bool,
) -> Result<Vec<custom_fields::Model>> {
    let mut select =
        custom_fields::Entity::find().filter(custom_fields::Column::WorkspaceId.eq(workspace_id));
    if !include_archived {
        select = select.filter(custom_fields::Column::Archived.eq(false));
    }
    Ok(select
        .order_by_asc(custom_fields::Column::Position)
        .order_by_asc(custom_fields::Column::CreatedAt)
        .order_by_asc(custom_fields::Column::Id)
        .all(&db.conn)
        .await?)
}

/// A field key: `^[a-z][a-z0-9_]{0,63}$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldKey(String);

impl FieldKey {
    /// Parse a key; `field` names the input for errors.
    pub fn parse(raw: &str, field: &str) -> Result<Self> {
        let mut chars = raw.chars();
        let valid = raw.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(FieldKey(raw.to_owned()))
        } else {
            Err(StoreError::bad_input(
                field,
                format!(
                    "`{raw}` is not a valid key: start with a-z, then up to 63 of a-z, 0-9 and _"
                ),
            ))
        }
    }
}

/// The largest position (and, negated, the smallest) a field may be given. Bounded so
/// that "after the others" (`MAX(position) + 1`) always fits the column.
pub const MAX_POSITION: i32 = 1_000_000;

/// Check a requested position.
fn parse_position(position: Option<i32>, field: &str) -> Result<Option<i32>> {
    match position {
        Some(p) if !(-MAX_POSITION..=MAX_POSITION).contains(&p) => Err(StoreError::bad_input(
            field,
            format!("a position is between -{MAX_POSITION} and {MAX_POSITION}"),
        )),
        other => Ok(other),
    }
}

/// Check the options of a field of `field_type`.
fn parse_options(
    field_type: CustomFieldType,
    options: &[String],
    field: &str,
) -> Result<Vec<String>> {
    if !field_type.has_options() {
        if options.is_empty() {
            return Ok(Vec::new());
        }
        return Err(StoreError::bad_input(
            field,
            "only SELECT and MULTI_SELECT fields have options",
        ));
    }
    if options.is_empty() {
        return Err(StoreError::bad_input(field, "give at least one option"));
    }
    crate::text::check_list_len(options, field)?;
    let mut seen = HashSet::new();
    let mut parsed = Vec::with_capacity(options.len());
    for option in options {
        let option = OptionLabel::parse(option, field)?.into_inner();
        if !seen.insert(option.clone()) {
            return Err(StoreError::bad_input(
                field,
                format!("`{option}` is listed twice"),
            ));
        }
        parsed.push(option);
    }
    Ok(parsed)
}

/// Check a field's rules: a pattern that compiles, sensible bounds.
fn parse_rules(field_type: CustomFieldType, rules: Rules, field: &str) -> Result<Rules> {
    if let Some(pattern) = &rules.pattern {
        if field_type != CustomFieldType::Text {
            return Err(StoreError::bad_input(
                field,
                "`pattern` applies to TEXT fields only",
            ));
        }
        // Values are matched against the anchored form (see `validate::check`), so that is
        // the form that must compile too: an `(?x)` comment would swallow the anchors.
        if pattern.len() > 500
            || regex::Regex::new(pattern).is_err()
            || regex::Regex::new(&format!("^(?:{pattern})$")).is_err()
        {
            return Err(StoreError::bad_input(
                field,
                "`pattern` must be a valid regular expression of at most 500 characters",
            ));
        }
        // PostgreSQL can't store a NUL in JSON; escapes such as `\t` say the same.
        if pattern.chars().any(char::is_control) {
            return Err(StoreError::bad_input(
                field,
                "`pattern` must not contain control characters; write them as escapes (`\\n`, `\\t`)",
            ));
        }
    }
    if (rules.min_length.is_some() || rules.max_length.is_some())
        && !matches!(
            field_type,
            CustomFieldType::Text | CustomFieldType::Textarea
        )
    {
        return Err(StoreError::bad_input(
            field,
            "`minLength`/`maxLength` apply to TEXT and TEXTAREA fields only",
        ));
    }
    if (rules.min.is_some() || rules.max.is_some()) && field_type != CustomFieldType::Number {
        return Err(StoreError::bad_input(
            field,
            "`min`/`max` apply to NUMBER fields only",
        ));
    }
    let negative = |n: Option<i32>| n.is_some_and(|n| n < 0);
    if negative(rules.min_length) || negative(rules.max_length) {
        return Err(StoreError::bad_input(field, "lengths can't be negative"));
    }
    // The type's own limit applies whatever the rules say, so a rule above it would promise
    // values the server refuses.
    let most = if field_type == CustomFieldType::Text {
        validate::MAX_TEXT
    } else {
        validate::MAX_TEXTAREA
    };
    let above = |n: Option<i32>| {
        n.and_then(|n| usize::try_from(n).ok())
            .is_some_and(|n| n > most)
    };
    if above(rules.min_length) || above(rules.max_length) {
        return Err(StoreError::bad_input(
            field,
            format!(
                "lengths of {} fields can be at most {most}",
                field_type.as_str()
            ),
        ));
    }
    if let (Some(min), Some(max)) = (rules.min_length, rules.max_length)
        && min > max
    {
        return Err(StoreError::bad_input(
            field,
            "`minLength` is above `maxLength`",
        ));
    }
    if let (Some(min), Some(max)) = (rules.min, rules.max)
        && (min > max || !min.is_finite() || !max.is_finite())
    {
        return Err(StoreError::bad_input(
            field,
            "`min` must be a number at most `max`",
        ));
    }
    Ok(rules)
}

/// What `createCustomField` asks for. The options, rules and position are checked
/// against the type by [`create`], as [`update`] checks them: in one place.
pub struct NewField {
    /// The key.
    pub key: FieldKey,
    /// The label.
    pub label: Label,
    /// The type.
    pub field_type: CustomFieldType,
    /// The options, as sent.
    pub options: Vec<String>,
    /// The rules, as sent.
    pub rules: Rules,
    /// Whether it can't be cleared.
    pub required: bool,
    /// Its position, as sent; after the others when `None`.
    pub position: Option<i32>,
}

fn rules_json(rules: &Rules) -> Option<Value> {
    (rules != &Rules::default())
        .then(|| serde_json::to_value(rules).ok())
        .flatten()
}

/// Define a field. A key already in use is a CONFLICT.
pub async fn create(db: &Db, workspace_id: Uuid, new: NewField) -> Result<custom_fields::Model> {
    let options = parse_options(new.field_type, &new.options, "input.options")?;
    let rules = parse_rules(new.field_type, new.rules, "input.rules")?;
    let position = parse_position(new.position, "input.position")?;
    let txn = db.begin_write().await?;
    let position = match position {
        Some(p) => p,
        None => {
            let select = Query::select()
                .expr_as(Expr::cust("COALESCE(MAX(position), -1) + 1"), "next")
                .from(custom_fields::Entity)
                .and_where(custom_fields::Column::WorkspaceId.eq(workspace_id))
                .to_owned();
            match txn.query_one(&select).await? {
                Some(row) => row.try_get::<i32>("", "next")?,
                None => 0,
            }
        }
    };
    let now = crate::db::now();
    let inserted = custom_fields::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        key: Set(new.key.0.clone()),
        label: Set(new.label.into_inner()),
        field_type: Set(new.field_type.as_str().to_owned()),
        options: Set(Value::from(options)),
        validation: Set(rules_json(&rules)),
        required: Set(new.required),
        position: Set(position),
        archived: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(StoreError::from);
    let field = match inserted {
        Ok(field) => field,
        Err(err) if err.is_unique_violation() => {
            return Err(StoreError::Conflict(format!(
                "a field with key `{}` already exists",
                new.key.0
            )));
        }
        Err(err) => return Err(err),
    };
    txn.commit().await?;
    Ok(field)
}

/// What `updateCustomField` changes; `None` leaves a setting as it is.
#[derive(Default)]
pub struct FieldUpdate {
    /// A new label.
    pub label: Option<Label>,
    /// New options (checked against the field's type).
    pub options: Option<Vec<String>>,
    /// New rules (checked against the field's type).
    pub rules: Option<Rules>,
    /// Whether it can't be cleared.
    pub required: Option<bool>,
    /// A new position (checked here).
    pub position: Option<i32>,
    /// Archive (true) or restore (false).
    pub archived: Option<bool>,
}

/// Change a field's settings. Its key and type never change.
pub async fn update(
    db: &Db,
    workspace_id: Uuid,
    id: Uuid,
    update: FieldUpdate,
) -> Result<custom_fields::Model> {
    let position = parse_position(update.position, "input.position")?;
    let txn = db.begin_write().await?;
    let field = custom_fields::Entity::find_by_id(id)
        .filter(custom_fields::Column::WorkspaceId.eq(workspace_id))
        .one(&txn)
        .await?
        .ok_or(StoreError::NotFound("CustomField"))?;
    let field_type = CustomFieldType::from_db(&field.field_type);
    let mut active: custom_fields::ActiveModel = field.into();
    if let Some(label) = update.label {
        active.label = Set(label.into_inner());
    }
    if let Some(options) = update.options {
        let options = parse_options(field_type, &options, "input.options")?;
        active.options = Set(Value::from(options));
    }
    if let Some(rules) = update.rules {
        let rules = parse_rules(field_type, rules, "input.rules")?;
        active.validation = Set(rules_json(&rules));
    }
    if let Some(required) = update.required {
        active.required = Set(required);
    }
    if let Some(position) = position {
        active.position = Set(position);
    }
    if let Some(archived) = update.archived {
        active.archived = Set(archived);
    }
    active.updated_at = Set(crate::db::now());
    let field = active.update(&txn).await?;
    txn.commit().await?;
    Ok(field)
}

crate::sql::by_ids!(
    /// Custom fields of the workspace by id (the missing ones left out).
    custom_fields
);

/// Every profile's values among `profile_ids`, in one statement; every profile asked for
/// has an entry.
pub async fn values_of_profiles(
    db: &Db,
    workspace_id: Uuid,
    profile_ids: Vec<Uuid>,
) -> Result<HashMap<Uuid, Vec<profile_field_values::Model>>> {
    let rows = profile_field_values::Entity::find()
        .filter(profile_field_values::Column::WorkspaceId.eq(workspace_id))
        .filter(profile_field_values::Column::ProfileId.is_in(profile_ids.clone()))
        .all(&db.conn)
        .await?;
    let mut grouped: HashMap<Uuid, Vec<_>> =
        profile_ids.into_iter().map(|id| (id, Vec::new())).collect();
    for row in rows {
        grouped.entry(row.profile_id).or_default().push(row);
    }
    Ok(grouped)
}
