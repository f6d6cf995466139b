//! Checking a value against its custom field, and turning it into its stored form.

use serde_json::Value;

use super::kinds::{CustomFieldType, options_of, rules_of};
use crate::contacts::identifier;

/// The longest TEXT value, unless the field's rules say less.
pub const MAX_TEXT: usize = 1_000;
/// The longest TEXTAREA value, unless the field's rules say less.
pub const MAX_TEXTAREA: usize = 10_000;
/// The longest URL.
const MAX_URL: usize = 2_048;

/// Check `value` for `field`: the normalised value to store, or what is wrong with it.
pub fn check(field: &entity::custom_fields::Model, value: &Value) -> Result<Value, String> {
    let field_type = CustomFieldType::from_db(&field.field_type);
    match field_type {
        CustomFieldType::Text | CustomFieldType::Textarea => {
            let text = string(value)?;
            let text = text.trim();
            let rules = rules_of(field);
            let max = if field_type == CustomFieldType::Text {
                MAX_TEXT
            } else {
                MAX_TEXTAREA
            };
            let max = rules
                .max_length
                .and_then(|m| usize::try_from(m).ok())
                .map_or(max, |m| m.min(max));
            let min = rules
                .min_length
                .and_then(|m| usize::try_from(m).ok())
                .unwrap_or(0);
            let len = text.chars().count();
            if len == 0 {
                return Err("must not be empty; send null to clear the field".into());
            }
            if len > max {
                return Err(format!("must be at most {max} characters (got {len})"));
            }
            if len < min {
                return Err(format!("must be at least {min} characters (got {len})"));
            }
            let multiline = field_type == CustomFieldType::Textarea;
            if text
                .chars()
                .any(|c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
            {
                return Err("must not contain control characters".into());
            }
            if let Some(pattern) = rules.pattern.as_deref() {
                let matcher = regex::Regex::new(&format!("^(?:{pattern})$"))
                    .map_err(|_| "the field's pattern is invalid".to_owned())?;
                if !matcher.is_match(text) {
                    return Err(format!("must match the pattern `{pattern}`"));
                }
            }
            Ok(Value::String(text.to_owned()))
        }
        CustomFieldType::Number => {
            let n = value
                .as_f64()
                .filter(|n| n.is_finite())
                .ok_or_else(|| format!("must be a number, got {}", kind(value)))?;
            let rules = rules_of(field);
            if let Some(min) = rules.min.filter(|min| n < *min) {
                return Err(format!("must be at least {min}"));
            }
            if let Some(max) = rules.max.filter(|max| n > *max) {
                return Err(format!("must be at most {max}"));
            }
            Ok(value.clone())
        }
        CustomFieldType::Date => {
            let text = string(value)?;
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .ok()
                .filter(|_| text.len() == 10)
                .map(|d| Value::String(d.format("%Y-%m-%d").to_string()))
                .ok_or_else(|| format!("must be a date as YYYY-MM-DD, got `{text}`"))
        }
        CustomFieldType::Boolean => value
            .as_bool()
            .map(Value::Bool)
            .ok_or_else(|| format!("must be true or false, got {}", kind(value))),
        CustomFieldType::Select => {
            let choice = string(value)?;
            let options = options_of(field);
            if options.iter().any(|o| o == choice) {
                Ok(Value::String(choice.to_owned()))
            } else {
                Err(format!(
                    "`{choice}` is not one of the options: {}",
                    options.join(", ")
                ))
            }
        }
        CustomFieldType::MultiSelect => {
            let items = value
                .as_array()
                .ok_or_else(|| format!("must be an array of options, got {}", kind(value)))?;
            let options = options_of(field);
            let mut chosen: Vec<String> = Vec::with_capacity(items.len());
            for item in items {
                let choice = item
                    .as_str()
                    .ok_or_else(|| "every item must be a string".to_owned())?;
                if !options.iter().any(|o| o == choice) {
                    return Err(format!(
                        "`{choice}` is not one of the options: {}",
                        options.join(", ")
                    ));
                }
                if chosen.iter().any(|c| c == choice) {
                    return Err(format!("`{choice}` is chosen twice"));
                }
                chosen.push(choice.to_owned());
            }
            if chosen.is_empty() {
                return Err("choose at least one option; send null to clear the field".into());
            }
            Ok(Value::from(chosen))
        }
        CustomFieldType::Email => {
            let text = string(value)?;
            identifier::email(text)
                .map(Value::String)
                .ok_or_else(|| format!("`{text}` is not an e-mail address"))
        }
        CustomFieldType::Phone => {
            let text = string(value)?;
            identifier::e164(text).map(Value::String).ok_or_else(|| {
                format!("`{text}` is not a phone number in international form (e.g. +31612345678)")
            })
        }
        CustomFieldType::Url => {
            let text = string(value)?.trim();
            if url_ok(text) {
                Ok(Value::String(text.to_owned()))
            } else {
                Err(format!("`{text}` is not an http(s) URL"))
            }
        }
    }
}

fn string(value: &Value) -> Result<&str, String> {
    value
        .as_str()
        .ok_or_else(|| format!("must be a string, got {}", kind(value)))
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn url_ok(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    text.len() <= MAX_URL
        && !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '-'))
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(
        field_type: &str,
        options: Value,
        validation: Option<Value>,
    ) -> entity::custom_fields::Model {
        let now = chrono::Utc::now().into();
        entity::custom_fields::Model {
            id: uuid::Uuid::nil(),
            workspace_id: uuid::Uuid::nil(),
            key: "k".into(),
            label: "K".into(),
            field_type: field_type.into(),
            options,
            validation,
            required: false,
            position: 0,
            archived: false,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn every_type_takes_its_shape_and_refuses_others() {
        let cases = [
            ("TEXT", json!(" hi "), Some(json!("hi")), json!(3)),
            ("TEXTAREA", json!("a\nb"), Some(json!("a\nb")), json!(true)),
            ("NUMBER", json!(4.5), Some(json!(4.5)), json!("4.5")),
            (
                "DATE",
                json!("2026-02-28"),
                Some(json!("2026-02-28")),
                json!("2026-02-30"),
            ),
            ("BOOLEAN", json!(false), Some(json!(false)), json!("false")),
            (
                "EMAIL",
                json!("A@B.nl"),
                Some(json!("a@b.nl")),
                json!("nope"),
            ),
            (
                "PHONE",
                json!("+31 6 12345678"),
                Some(json!("+31612345678")),
                json!("06"),
            ),
            (
                "URL",
                json!("https://x.nl/a?b"),
                Some(json!("https://x.nl/a?b")),
                json!("ftp://x"),
            ),
        ];
        for (field_type, good, stored, bad) in cases {
            let f = field(field_type, json!([]), None);
            assert_eq!(check(&f, &good).ok(), stored, "{field_type} accepts {good}");
            assert!(check(&f, &bad).is_err(), "{field_type} refuses {bad}");
        }
    }

    #[test]
    fn options_and_rules_are_enforced() {
        let select = field("SELECT", json!(["Free", "Pro"]), None);
        assert!(check(&select, &json!("Pro")).is_ok());
        assert!(check(&select, &json!("Gold")).is_err());
        let multi = field("MULTI_SELECT", json!(["a", "b", "c"]), None);
        assert_eq!(
            check(&multi, &json!(["c", "a"])).ok(),
            Some(json!(["c", "a"]))
        );
        assert!(check(&multi, &json!(["a", "a"])).is_err());
        assert!(check(&multi, &json!(["z"])).is_err());
        assert!(check(&multi, &json!("a")).is_err());
        let number = field("NUMBER", json!([]), Some(json!({"min": 0, "max": 10})));
        assert!(check(&number, &json!(11)).is_err());
        assert!(check(&number, &json!(-1)).is_err());
        let text = field(
            "TEXT",
            json!([]),
            Some(json!({"pattern": "C-[0-9]+", "maxLength": 8})),
        );
        assert!(check(&text, &json!("C-10042")).is_ok());
        assert!(check(&text, &json!("X-1")).is_err());
        assert!(check(&text, &json!("C-1234567")).is_err());
    }
}
