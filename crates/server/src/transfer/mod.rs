//! Bringing profiles in and out in bulk: `profilegraph export` and `profilegraph import`.
//!
//! Both speak two formats. **JSONL**: one JSON object per line, a profile with its
//! external id, name, field values by key, contacts (channel type and name, identifier,
//! display name) and notes (author e-mail, body, times). **CSV**, as spreadsheets write it:
//! a header row, one profile per row, columns `externalId`, `name`, `field:<key>` per
//! custom field and `contact:<channel name>` per channel (several identifiers separated
//! by `; `). What export writes, import reads back; importing the same file twice
//! changes nothing the second time.

pub mod export;
pub mod import;
mod pipeline;

use chrono::SecondsFormat;
use profilegraph_store::channels::ChannelType;
use profilegraph_store::fields::CustomFieldType;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The two formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// One JSON object per line, with notes.
    Jsonl,
    /// A header row and one profile per row, without notes.
    Csv,
}

/// One profile as a JSONL line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Record {
    /// The profile's global id on export; ignored on import (a profile is matched by its
    /// external id, else by its contacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The partner's key.
    #[serde(default)]
    pub external_id: Option<String>,
    /// The name.
    #[serde(default)]
    pub name: Option<String>,
    /// Field values by key (null clears on import).
    #[serde(default)]
    pub fields: Map<String, Value>,
    /// Contacts.
    #[serde(default)]
    pub contacts: Vec<ContactRecord>,
    /// Notes, oldest first.
    #[serde(default)]
    pub notes: Vec<NoteRecord>,
}

/// A contact in a JSONL line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContactRecord {
    /// Its channel.
    pub channel: ChannelRecord,
    /// The identifier.
    pub identifier: String,
    /// The display name.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// A channel, by type and name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRecord {
    /// EMAIL, WHATSAPP, …
    #[serde(rename = "type")]
    pub channel_type: String,
    /// The channel's name.
    pub name: String,
}

/// A note in a JSONL line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NoteRecord {
    /// The author's e-mail address (null: none).
    #[serde(default)]
    pub author: Option<String>,
    /// The text.
    pub body: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// When it was last edited (RFC 3339).
    pub updated_at: String,
}

/// A time as export writes it: RFC 3339 UTC with microseconds.
pub fn instant(at: &chrono::DateTime<chrono::FixedOffset>) -> String {
    at.with_timezone(&chrono::Utc)
        .to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// The CSV column of a field.
pub fn field_column(key: &str) -> String {
    format!("field:{key}")
}

/// The CSV column of a channel: `contact:<name>`, or `contact:<name> (<TYPE>)` when
/// another channel has the same name.
pub fn contact_column(name: &str, channel_type: Option<ChannelType>) -> String {
    match channel_type {
        None => format!("contact:{name}"),
        Some(t) => format!("contact:{name} ({})", t.as_str()),
    }
}

/// Split a channel column's name into the channel's name and, when it ends in
/// ` (<TYPE>)`, its type.
pub fn parse_contact_column(rest: &str) -> (String, Option<ChannelType>) {
    if let Some(open) = rest.rfind(" (")
        && let Some(inner) = rest[open + 2..].strip_suffix(')')
        && let Some(t) = ChannelType::parse(inner)
    {
        return (rest[..open].trim().to_owned(), Some(t));
    }
    (rest.trim().to_owned(), None)
}

/// Separates several identifiers (or MULTI_SELECT options) in one CSV cell.
pub const LIST_SEPARATOR: &str = "; ";

/// A stored field value as a CSV cell.
pub fn cell_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(cell_of)
            .collect::<Vec<_>>()
            .join(LIST_SEPARATOR),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A CSV cell as the value of a field of `field_type`: `None` for an empty cell (the
/// field is cleared), else the JSON the field's check expects, or what is wrong.
pub fn value_of_cell(cell: &str, field_type: CustomFieldType) -> Result<Option<Value>, String> {
    let cell = cell.trim();
    if cell.is_empty() {
        return Ok(None);
    }
    let value = match field_type {
        CustomFieldType::Number => {
            let n: serde_json::Number = cell
                .parse()
                .map_err(|_| format!("`{cell}` is not a number"))?;
            Value::Number(n)
        }
        CustomFieldType::Boolean => match cell.to_lowercase().as_str() {
            "true" | "yes" | "1" => Value::Bool(true),
            "false" | "no" | "0" => Value::Bool(false),
            _ => return Err(format!("`{cell}` is not true or false")),
        },
        CustomFieldType::MultiSelect => Value::from(
            cell.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        ),
        _ => Value::String(cell.to_owned()),
    };
    Ok(Some(value))
}

/// Whether progress should be drawn: on a terminal only (stdout and stderr both are).
pub fn on_terminal() -> bool {
    use std::io::IsTerminal;
    std::io::stdout().is_terminal() && std::io::stderr().is_terminal()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_read_as_their_field_types() {
        assert_eq!(value_of_cell("  ", CustomFieldType::Text), Ok(None));
        assert_eq!(
            value_of_cell("12.5", CustomFieldType::Number),
            Ok(Some(serde_json::json!(12.5)))
        );
        assert!(value_of_cell("12,5", CustomFieldType::Number).is_err());
        assert_eq!(
            value_of_cell("Yes", CustomFieldType::Boolean),
            Ok(Some(Value::Bool(true)))
        );
        assert_eq!(
            value_of_cell("Shoes; Sale;", CustomFieldType::MultiSelect),
            Ok(Some(serde_json::json!(["Shoes", "Sale"])))
        );
        assert_eq!(
            cell_of(&serde_json::json!(["Shoes", "Sale"])),
            "Shoes; Sale"
        );
        assert_eq!(cell_of(&serde_json::json!(4200)), "4200");
    }

    #[test]
    fn channel_columns_may_name_the_type() {
        assert_eq!(
            parse_contact_column("Support WhatsApp"),
            ("Support WhatsApp".to_owned(), None)
        );
        assert_eq!(
            parse_contact_column("Support (NL) (WHATSAPP)"),
            ("Support (NL)".to_owned(), Some(ChannelType::Whatsapp))
        );
        assert_eq!(
            parse_contact_column("Support (NL)"),
            ("Support (NL)".to_owned(), None)
        );
    }
}
