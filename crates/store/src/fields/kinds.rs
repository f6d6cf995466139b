//! What a custom field is: its type, and the rules its values follow, as stored.

use serde::{Deserialize, Serialize};

/// The kind of value a custom field holds, which decides how values are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
