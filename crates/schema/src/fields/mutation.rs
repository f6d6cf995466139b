//! Custom field mutations (admin scope).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use profilegraph_store::fields::{self as store, FieldKey, FieldUpdate, NewField, Rules};
use profilegraph_store::text::Label;

use super::{CustomField, CustomFieldType};
use crate::auth::{self, Scope};
use crate::error::Result;
use crate::ids::{self, NodeKind};

/// Extra rules for a field's values.
#[derive(InputObject, Default)]
pub struct CustomFieldRulesInput {
    /// TEXT, TEXTAREA: the fewest characters.
    pub min_length: Option<i32>,
    /// TEXT, TEXTAREA: the most characters. Without it, and at most: 1,000 for TEXT,
    /// 10,000 for TEXTAREA.
    pub max_length: Option<i32>,
    /// TEXT: a regular expression the whole value must match.
    pub pattern: Option<String>,
    /// NUMBER: the smallest value.
    pub min: Option<f64>,
    /// NUMBER: the largest value.
    pub max: Option<f64>,
}

impl From<CustomFieldRulesInput> for Rules {
    fn from(input: CustomFieldRulesInput) -> Self {
        Rules {
            min_length: input.min_length,
            max_length: input.max_length,
            pattern: input.pattern,
            min: input.min,
            max: input.max,
        }
    }
}

/// A new custom profile field.
#[derive(InputObject)]
pub struct CreateCustomFieldInput {
    /// A machine name, `^[a-z][a-z0-9_]{0,63}$`, unique in the workspace. It can't be
    /// changed later.
    pub key: String,
    /// The label agents see, 1 to 200 characters.
    pub label: String,
    /// What kind of value it holds. It can't be changed later.
    #[graphql(name = "type")]
    pub field_type: CustomFieldType,
    /// The choices, for SELECT and MULTI_SELECT (required there, not allowed elsewhere).
    #[graphql(default)]
    pub options: Vec<String>,
    /// Whether a value, once set, can't be cleared.
    #[graphql(default = false)]
    pub required: bool,
    /// Where it sits among the others, -1,000,000 to 1,000,000; after them when omitted.
    pub position: Option<i32>,
    /// Extra rules for its values.
    pub rules: Option<CustomFieldRulesInput>,
}

/// Changes to a custom field. Its key and type can't be changed; omitted settings stay.
#[derive(InputObject)]
pub struct UpdateCustomFieldInput {
    /// The field.
    pub id: ID,
    /// A new label.
    pub label: Option<String>,
    /// New choices (SELECT, MULTI_SELECT).
    pub options: Option<Vec<String>>,
    /// Whether a value, once set, can't be cleared.
    pub required: Option<bool>,
    /// A new position, -1,000,000 to 1,000,000.
    pub position: Option<i32>,
    /// New rules, replacing the old ones.
    pub rules: Option<CustomFieldRulesInput>,
    /// false restores an archived field.
    pub archived: Option<bool>,
}

/// The field to archive.
#[derive(InputObject)]
pub struct ArchiveCustomFieldInput {
    /// The field.
    pub id: ID,
}

/// The result of a custom field mutation.
#[derive(SimpleObject)]
pub struct CustomFieldPayload {
    /// The field as it is now.
    pub custom_field: CustomField,
}

/// Custom field mutations.
#[derive(Default)]
pub struct FieldMutation;

#[Object]
impl FieldMutation {
    /// Define a custom profile field. Needs the `admin` scope.
    async fn create_custom_field(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The field's key, label, type, options and rules.")]
        input: CreateCustomFieldInput,
    ) -> Result<CustomFieldPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let new = NewField {
            key: FieldKey::parse(&input.key, "input.key")?,
            label: Label::parse(&input.label, "input.label")?,
            field_type: input.field_type.into(),
            options: input.options,
            rules: input.rules.map(Rules::from).unwrap_or_default(),
            required: input.required,
            position: input.position,
        };
        let field = store::create(crate::context::db(ctx)?, viewer.workspace_id, new).await?;
        crate::context::wrote(ctx)?;
        Ok(CustomFieldPayload {
            custom_field: CustomField(field),
        })
    }

    /// Change a custom field's label, options, rules, required flag, position or archived
    /// state. Needs the `admin` scope.
    async fn update_custom_field(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The field and the settings to change.")] input: UpdateCustomFieldInput,
    ) -> Result<CustomFieldPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let id = ids::decode_as(NodeKind::CustomField, &input.id, "input.id")?;
        let update = FieldUpdate {
            label: input
                .label
                .map(|l| Label::parse(&l, "input.label"))
                .transpose()?,
            options: input.options,
            rules: input.rules.map(Rules::from),
            required: input.required,
            position: input.position,
            archived: input.archived,
        };
        let field =
            store::update(crate::context::db(ctx)?, viewer.workspace_id, id, update).await?;
        crate::context::wrote(ctx)?;
        Ok(CustomFieldPayload {
            custom_field: CustomField(field),
        })
    }

    /// Archive a custom field: hidden from profiles and no longer settable; its values are
    /// kept. Needs the `admin` scope.
    async fn archive_custom_field(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The field to archive.")] input: ArchiveCustomFieldInput,
    ) -> Result<CustomFieldPayload> {
        let viewer = auth::viewer_with(ctx, Scope::Admin)?;
        let id = ids::decode_as(NodeKind::CustomField, &input.id, "input.id")?;
        let update = FieldUpdate {
            archived: Some(true),
            ..FieldUpdate::default()
        };
        let field =
            store::update(crate::context::db(ctx)?, viewer.workspace_id, id, update).await?;
        crate::context::wrote(ctx)?;
        Ok(CustomFieldPayload {
            custom_field: CustomField(field),
        })
    }
}
