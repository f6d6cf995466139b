//! `CustomField`, its type and rules, and `ProfileFieldValue`.

use async_graphql::{Enum, ID, Json, Object, SimpleObject};
use profilegraph_store::fields::{self as store, options_of, rules_of};

use crate::ids::{self, NodeKind};
use crate::scalars::DateTime;

/// The kind of value a custom field holds, which decides how values are checked.
#[derive(Debug, Enum, Clone, Copy, PartialEq, Eq, Hash)]
#[graphql(remote = "profilegraph_store::fields::CustomFieldType")]
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

/// Extra rules a field's values must follow, checked on the server.
#[derive(Debug, Clone, Default, PartialEq, SimpleObject)]
pub struct CustomFieldRules {
    /// TEXT, TEXTAREA: the fewest characters.
    pub min_length: Option<i32>,
    /// TEXT, TEXTAREA: the most characters.
    pub max_length: Option<i32>,
    /// TEXT: a regular expression the whole value must match.
    pub pattern: Option<String>,
    /// NUMBER: the smallest value.
    pub min: Option<f64>,
    /// NUMBER: the largest value.
    pub max: Option<f64>,
}

/// A workspace-defined profile field.
#[derive(Clone)]
pub struct CustomField(pub entity::custom_fields::Model);

impl From<store::Rules> for CustomFieldRules {
    fn from(rules: store::Rules) -> Self {
        CustomFieldRules {
            min_length: rules.min_length,
            max_length: rules.max_length,
            pattern: rules.pattern,
            min: rules.min,
            max: rules.max,
        }
    }
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
        store::CustomFieldType::from_db(&self.0.field_type).into()
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
    async fn rules(&self) -> CustomFieldRules {
        rules_of(&self.0).into()
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
