//! Custom scalars.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use chrono::{SecondsFormat, Utc};

/// An instant, as an RFC 3339 string in UTC (`2026-11-21T09:30:00.123Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime(pub chrono::DateTime<Utc>);

/// An instant in RFC 3339 form, always in UTC with a `Z` suffix, e.g. `2026-11-21T09:30:00.123Z`.
#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }
}

/// An event's place in its workspace's log (`ProfileEvent.seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Seq(pub i64);

/// An integer that only grows: the place of an event in its workspace's log, in commit
/// order. Sent as a JSON number (exact up to 2^53).
#[Scalar(name = "Seq")]
impl ScalarType for Seq {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::Number(n) => n
                .as_i64()
                .filter(|n| *n >= 0)
                .map(Seq)
                .ok_or_else(|| InputValueError::custom("expected a whole number, 0 or more")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::Number(self.0.into())
    }
}

impl From<chrono::DateTime<chrono::FixedOffset>> for DateTime {
    fn from(t: chrono::DateTime<chrono::FixedOffset>) -> Self {
        DateTime(t.with_timezone(&Utc))
    }
}
