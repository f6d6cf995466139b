//! Custom profile fields: the workspace's definitions, and each profile's values, checked
//! on the server against the field's type and rules.

pub mod loaders;
mod mutation;
mod query;
mod types;

use std::collections::HashSet;

use async_graphql::{Context, ID, InputObject, Json};

pub use mutation::FieldMutation;
pub use query::FieldQuery;
pub use types::{CustomField, CustomFieldRules, CustomFieldType, ProfileFieldValue};

use crate::error::{Error, Result};
use crate::ids::{self, NodeKind};
use profilegraph_store::fields::FieldChange;

/// One field value to set.
#[derive(InputObject)]
pub struct FieldValueInput {
    /// The custom field.
    pub field_id: ID,
    /// The value, shaped by the field's type (see `ProfileFieldValue.value`); null clears
    /// the field.
    pub value: Option<Json<serde_json::Value>>,
}

/// Decode a list of field inputs: at most 250, each field at most once.
pub fn parse_inputs(inputs: &[FieldValueInput], field: &str) -> Result<Vec<FieldChange>> {
    profilegraph_store::text::check_list_len(inputs, field)?;
    let mut seen = HashSet::new();
    inputs
        .iter()
        .map(|input| {
            let field_id = ids::decode_as(NodeKind::CustomField, &input.field_id, field)?;
            if !seen.insert(field_id) {
                return Err(Error::bad_input(
                    field,
                    "a field is listed twice; give each field one value",
                ));
            }
            Ok(FieldChange {
                field_id,
                value: input
                    .value
                    .as_ref()
                    .map(|v| v.0.clone())
                    .filter(|v| !v.is_null()),
            })
        })
        .collect()
}

/// A profile's values for every active field of the workspace, in position order.
pub async fn values_of(
    ctx: &Context<'_>,
    profile_id: uuid::Uuid,
) -> Result<Vec<ProfileFieldValue>> {
    let loaders = crate::context::loaders(ctx)?;
    let (fields, values) = futures_join(
        loaders.load_one(loaders::ActiveFields),
        loaders.load_one(loaders::ValuesOfProfile(profile_id)),
    )
    .await;
    let fields = fields?.unwrap_or_default();
    let values = values?.unwrap_or_default();
    Ok(pair_values(fields, &values))
}

/// The workspace's active fields, each with its value among `values` (a profile's values
/// that are not stored yet: a merge's preview).
pub async fn values_from(
    ctx: &Context<'_>,
    values: &[entity::profile_field_values::Model],
) -> Result<Vec<ProfileFieldValue>> {
    let fields = crate::context::loaders(ctx)?
        .load_one(loaders::ActiveFields)
        .await?
        .unwrap_or_default();
    Ok(pair_values(fields, values))
}

/// Each field with its value among `values`.
fn pair_values(
    fields: Vec<entity::custom_fields::Model>,
    values: &[entity::profile_field_values::Model],
) -> Vec<ProfileFieldValue> {
    fields
        .into_iter()
        .map(|field| {
            let value = values
                .iter()
                .find(|v| v.field_id == field.id)
                .map(|v| Json(v.value.clone()));
            ProfileFieldValue {
                field: CustomField(field),
                value,
            }
        })
        .collect()
}

/// Await two futures side by side, so both loads join the same batch window.
async fn futures_join<A: std::future::Future, B: std::future::Future>(
    a: A,
    b: B,
) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}
