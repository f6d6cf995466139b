//! `CustomField`, its type and rules, and `ProfileFieldValue`.

use async_graphql::{Enum, ID, Json, Object, SimpleObject};
use serde::{Deserialize, Serialize};

use crate::ids::{self, NodeKind};
use crate::scalars::DateTime;

/// The kind of value a custom field holds, which decides how values are checked.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CustomFieldType {
    /// One line of text (a string).
    Text,
    /// Several lines of text (a string).
    Textarea,
    /// A number.
    Number,
    /// A calendar date, as a `YYYY-MM-DD` string.
    Date,
    /// true or false.
    Boolean,
    /// One of the field's `options` (a string).
    Select,
    /// Several distinct `options` (an array of strings).
    MultiSelect,
    /// An e-mail address (a string; stored lower-cased).
    Email,
    /// A phone number (a string; stored in E.164, e.g. `+31612345678`).
    Phone,
    /// An http(s) URL (a string).
    Url,
}

impl CustomFieldType {
    /// The stored form.
    pub fn as_str(self) -> &'static str {
        match self {
            CustomFieldType::Text => "TEXT",
            CustomFieldType::Textarea => "TEXTAREA",
            CustomFieldType::Number => "NUMBER",
            CustomFieldType::Date => "DATE",
            CustomFieldType::Boolean => "BOOLEAN",
            CustomFieldType::Select => "SELECT",
            CustomFieldType::MultiSelect => "MULTI_SELECT",
            CustomFieldType::Email => "EMAIL",
            CustomFieldType::Phone => "PHONE",
            CustomFieldType::Url => "URL",
        }
    }

    /// Read the stored form (TEXT for anything unknown, which is never written).
    pub fn from_db(value: &str) -> Self {
        match value {
            "TEXTAREA" => CustomFieldType::Textarea,
            "NUMBER" => CustomFieldType::Number,
            "DATE" => CustomFieldType::Date,
            "BOOLEAN" => CustomFieldType::Boolean,
            "SELECT" => CustomFieldType::Select,
            "MULTI_SELECT" => CustomFieldType::MultiSelect,
            "EMAIL" => CustomFieldType::Email,
            "PHONE" => CustomFieldType::Phone,
            "URL" => CustomFieldType::Url,
            _ => CustomFieldType::Text,
        }
    }

    /// Whether values are chosen from `options`.
    pub fn has_options(self) -> bool {
        matches!(self, CustomFieldType::Select | CustomFieldType::MultiSelect)
    }
}

/// Extra rules a field's values must follow, checked on the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, SimpleObject)]
#[graphql(name = "CustomFieldRules")]
#[serde(rename_all = "camelCase")]
pub struct Rules {
    /// TEXT, TEXTAREA: the fewest characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<i32>,
    /// TEXT, TEXTAREA: the most characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i32>,
    /// TEXT: a regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// NUMBER: the smallest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    /// NUMBER: the largest value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

/// A workspace-defined profile field.
#[derive(Clone)]
pub struct CustomField(pub entity::custom_fields::Model);

/// The options stored on a field.
pub fn options_of(field: &entity::custom_fields::Model) -> Vec<String> {
    serde_json::from_value(field.options.clone()).unwrap_or_default()
}

/// The rules stored on a field.
pub fn rules_of(field: &entity::custom_fields::Model) -> Rules {
    field
        .validation
        .clone()
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default()
}

/// A profile field the workspace defined: its key, label, type, options and rules.
#[Object]
impl CustomField {
    /// The field's global id.
    pub async fn id(&self) -> ID {
        ids::encode(NodeKind::CustomField, self.0.id)
    }

    /// A stable machine name (`^[a-z][a-z0-9_]{0,63}$`), unique in the workspace; it never
    /// changes.
    async fn key(&self) -> &str {
        &self.0.key
    }

    /// The label agents see.
    async fn label(&self) -> &str {
        &self.0.label
    }

    /// What kind of value it holds; it never changes.
    #[graphql(name = "type")]
    async fn field_type(&self) -> CustomFieldType {
        CustomFieldType::from_db(&self.0.field_type)
    }

    /// The choices of a SELECT or MULTI_SELECT field; empty for other types.
    async fn options(&self) -> Vec<String> {
        options_of(&self.0)
    }

    /// Whether a value, once set, can't be cleared.
    async fn required(&self) -> bool {
        self.0.required
    }

    /// Where the field sits among the others (ascending).
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// Archived fields are hidden from profiles and can't be set; their values are kept.
    async fn archived(&self) -> bool {
        self.0.archived
    }

    /// Extra rules values must follow.
    async fn rules(&self) -> Rules {
        rules_of(&self.0)
    }

    /// When the field was defined.
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

/// One custom field of a profile and its value.
#[derive(SimpleObject)]
pub struct ProfileFieldValue {
    /// The field.
    pub field: CustomField,
    /// The value, shaped by the field's type: a string (TEXT, TEXTAREA, EMAIL, PHONE, URL,
    /// SELECT, or DATE as `YYYY-MM-DD`), a number, a boolean, or an array of strings
    /// (MULTI_SELECT); null when unset.
    pub value: Option<Json<serde_json::Value>>,
}
