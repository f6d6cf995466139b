//! Normalising a contact's identifier for its channel, so one identity is stored one way.

use crate::channels::ChannelType;
use crate::error::{Result, StoreError};

/// A normalised identifier: e-mail addresses trimmed and lower-cased, phone numbers in
/// E.164 (`+31612345678`), platform ids trimmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(String);

impl Identifier {
    /// Normalise `raw` for a channel of `channel_type`; `field` names the input for errors.
    pub fn parse(raw: &str, channel_type: ChannelType, field: &str) -> Result<Self> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(StoreError::bad_input(field, "must not be empty"));
        }
        match channel_type {
            ChannelType::Email => email(raw).map(Identifier).ok_or_else(|| {
                StoreError::bad_input(field, format!("`{raw}` is not an e-mail address"))
            }),
            ChannelType::Whatsapp | ChannelType::Sms | ChannelType::Voice => {
                e164(raw).map(Identifier).ok_or_else(|| {
                    StoreError::bad_input(
                        field,
                        format!(
                            "`{raw}` is not a phone number in international form (e.g. +31612345678)"
                        ),
                    )
                })
            }
            _ => {
                if raw.chars().count() > 320 || raw.chars().any(char::is_control) {
                    Err(StoreError::bad_input(
                        field,
                        "must be at most 320 characters, without control characters",
                    ))
                } else {
                    Ok(Identifier(raw.to_owned()))
                }
            }
        }
    }

    /// The normalised identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The normalised identifier, owned.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A lower-cased e-mail address with one `@`, a local part and a dotted domain.
pub fn email(raw: &str) -> Option<String> {
    let address = raw.trim().to_lowercase();
    let (local, domain) = address.split_once('@')?;
    let valid = !local.is_empty()
        && local.len() <= 64
        && address.len() <= 254
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !address.chars().any(|c| c.is_whitespace() || c.is_control());
    valid.then_some(address)
}

/// A phone number in E.164: `+`, then 8 to 15 digits, the first not 0. Spaces, dashes,
/// dots and brackets are dropped, and a leading `00` is read as `+`.
pub fn e164(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')' | '\u{a0}'))
        .collect();
    let digits = compact
        .strip_prefix('+')
        .or_else(|| compact.strip_prefix("00"))?;
    let valid = (8..=15).contains(&digits.len())
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then(|| format!("+{digits}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_lower_cased_and_checked() {
        assert_eq!(
            email("  Peter.B@Example.COM ").as_deref(),
            Some("peter.b@example.com")
        );
        assert_eq!(email("no-at-sign"), None);
        assert_eq!(email("a@b"), None);
        assert_eq!(email("a b@example.com"), None);
    }

    #[test]
    fn phones_become_e164() {
        assert_eq!(e164("+31 6 1234 5678").as_deref(), Some("+31612345678"));
        assert_eq!(e164("0031-6-12345678").as_deref(), Some("+31612345678"));
        assert_eq!(e164("(+1) 415.555.0100").as_deref(), Some("+14155550100"));
        assert_eq!(e164("0612345678"), None);
        assert_eq!(e164("+12"), None);
        assert_eq!(e164("+3161234abcd"), None);
    }

    #[test]
    fn identifiers_follow_the_channel() {
        let id = Identifier::parse(" fb:123 ", ChannelType::FacebookMessenger, "f").unwrap();
        assert_eq!(id.as_str(), "fb:123");
        assert!(Identifier::parse("nope", ChannelType::Email, "f").is_err());
        assert!(Identifier::parse("", ChannelType::Custom, "f").is_err());
    }
}
