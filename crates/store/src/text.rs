//! Text newtypes that parse rather than re-check: once a value is a [`Name`] (or a
//! [`Label`], a [`Body`], …) it is trimmed, non-empty, within that kind's length and free
//! of control characters. Each kind's limit is written once, here.

use crate::error::{Result, StoreError};

/// Trim `raw` and check it: 1 to `max` characters, no control characters (but line
/// breaks and tabs when `multiline`).
fn parse_text(raw: &str, max: usize, field: &str, multiline: bool) -> Result<String> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(StoreError::bad_input(field, "must not be empty"));
    }
    let len = text.chars().count();
    if len > max {
        return Err(StoreError::bad_input(
            field,
            format!("must be at most {max} characters (got {len})"),
        ));
    }
    let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
    if !text.chars().all(allowed) {
        return Err(StoreError::bad_input(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text.to_owned())
}

macro_rules! bounded_text {
    ($(#[$doc:meta])* $name:ident, $max:expr, multiline = $multiline:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            /// The most characters it may hold, after trimming.
            pub const MAX: usize = $max;

            /// Parse a value a client sent; `field` names it in the error.
            pub fn parse(raw: &str, field: &str) -> Result<Self> {
                parse_text(raw, Self::MAX, field, $multiline).map(Self)
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text, owned.
            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

bounded_text!(
    /// The name of a profile, a channel, a workspace, or a contact's display name: one
    /// line, 1 to 200 characters.
    Name, 200, multiline = false
);
bounded_text!(
    /// A custom field's label: one line, 1 to 200 characters.
    Label, 200, multiline = false
);
bounded_text!(
    /// One option of a SELECT or MULTI_SELECT field: one line, 1 to 100 characters.
    OptionLabel, 100, multiline = false
);
bounded_text!(
    /// A contact moment's subject: one line, 1 to 500 characters.
    Subject, 500, multiline = false
);
bounded_text!(
    /// A note's body: 1 to 10,000 characters, line breaks kept.
    Body, 10_000, multiline = true
);
bounded_text!(
    /// A profile's external id: a partner's own key for it (a CRM id, a customer
    /// number), unique within the workspace; one line, 1 to 255 printable characters.
    ExternalId, 255, multiline = false
);
bounded_text!(
    /// A search term: one line, 1 to 200 characters.
    SearchTerm, 200, multiline = false
);

impl SearchTerm {
    /// A search argument: empty or blank means no filter.
    pub fn parse_optional(raw: Option<&str>, field: &str) -> Result<Option<Self>> {
        match raw.map(str::trim).filter(|t| !t.is_empty()) {
            None => Ok(None),
            Some(term) => Self::parse(term, field).map(Some),
        }
    }
}

/// The most items an input list may hold.
pub const MAX_INPUT_LIST: usize = 250;

/// Refuse an input list longer than [`MAX_INPUT_LIST`].
pub fn check_list_len<T>(items: &[T], field: &str) -> Result<()> {
    if items.len() > MAX_INPUT_LIST {
        return Err(StoreError::bad_input(
            field,
            format!("at most {MAX_INPUT_LIST} items per request"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            Name::parse("  Peter B. ", "name").unwrap().as_str(),
            "Peter B."
        );
        assert!(Name::parse("   ", "name").is_err());
        assert!(Name::parse(&"a".repeat(201), "name").is_err());
        assert!(Name::parse(&"a".repeat(200), "name").is_ok());
        assert!(Name::parse("a\u{0}b", "name").is_err());
        assert!(Name::parse("a\nb", "name").is_err());
        assert!(Body::parse("a\nb", "body").is_ok());
        assert!(OptionLabel::parse(&"a".repeat(101), "options").is_err());
        assert!(ExternalId::parse(&"x".repeat(255), "externalId").is_ok());
        assert!(ExternalId::parse(&"x".repeat(256), "externalId").is_err());
        assert!(ExternalId::parse("crm\t42", "externalId").is_err());
        assert_eq!(
            ExternalId::parse(" crm-42 ", "externalId")
                .unwrap()
                .as_str(),
            "crm-42"
        );
        assert_eq!(
            SearchTerm::parse_optional(Some("  "), "search").unwrap(),
            None
        );
    }
}
