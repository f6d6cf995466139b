//! Input newtypes that parse rather than re-check: once a value is a [`Text`], it is
//! trimmed, non-empty, within its length and free of control characters.

use crate::error::{Error, Result};

/// Trimmed, non-empty text of bounded length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(String);

impl Text {
    /// Parse single-line text: 1 to `max` characters after trimming, no control characters.
    pub fn parse(raw: &str, max: usize, field: &str) -> Result<Self> {
        Self::parse_with(raw, max, field, false)
    }

    /// Parse multi-line text: like [`Text::parse`], but line breaks and tabs are kept.
    pub fn parse_multiline(raw: &str, max: usize, field: &str) -> Result<Self> {
        Self::parse_with(raw, max, field, true)
    }

    fn parse_with(raw: &str, max: usize, field: &str, multiline: bool) -> Result<Self> {
        let text = raw.trim();
        if text.is_empty() {
            return Err(Error::bad_input(field, "must not be empty"));
        }
        let len = text.chars().count();
        if len > max {
            return Err(Error::bad_input(
                field,
                format!("must be at most {max} characters (got {len})"),
            ));
        }
        let allowed = |c: char| !c.is_control() || (multiline && matches!(c, '\n' | '\r' | '\t'));
        if !text.chars().all(allowed) {
            return Err(Error::bad_input(
                field,
                "must not contain control characters",
            ));
        }
        Ok(Text(text.to_owned()))
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

/// The most items an input list may hold.
pub const MAX_INPUT_LIST: usize = 250;

/// Refuse an input list longer than [`MAX_INPUT_LIST`].
pub fn check_list_len<T>(items: &[T], field: &str) -> Result<()> {
    if items.len() > MAX_INPUT_LIST {
        return Err(Error::bad_input(
            field,
            format!("at most {MAX_INPUT_LIST} items per request"),
        ));
    }
    Ok(())
}

/// A search term: trimmed, at most 200 characters, no control characters. Empty means
/// no filter.
pub fn parse_search(raw: Option<&str>, field: &str) -> Result<Option<String>> {
    let Some(term) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    Text::parse(term, 200, field).map(|t| Some(t.into_inner()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(
            Text::parse("  Peter B. ", 10, "name").unwrap().as_str(),
            "Peter B."
        );
        assert!(Text::parse("   ", 10, "name").is_err());
        assert!(Text::parse("abcdefghijk", 10, "name").is_err());
        assert!(Text::parse("a\u{0}b", 10, "name").is_err());
        assert!(Text::parse("a\nb", 10, "name").is_err());
        assert!(Text::parse_multiline("a\nb", 10, "body").is_ok());
    }
}
