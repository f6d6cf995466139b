//! Keyset pages: the paging arguments, opaque cursors, and a page of rows.
//!
//! Every list that can grow is paged by a keyset cursor `(sort key, id)`, never by
//! OFFSET: a page costs the same however deep it is, and rows inserted meanwhile don't
//! shift what the next page returns. A cursor is parsed once, into the kind of key its
//! list is sorted by, when the paging arguments are read; the SQL then uses it as is.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sea_orm::prelude::DateTimeWithTimeZone;
use uuid::Uuid;

use crate::error::{Result, StoreError};

/// The page size when `first`/`last` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// What a list is sorted by, and so what its cursors hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    /// Text (a name).
    Text,
    /// An instant (creation, last change, last message).
    Instant,
    /// A number that only grows (an event's `seq`).
    Number,
}

/// A row's sort key, as its list compares it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SortValue {
    /// A name.
    Text(String),
    /// An instant.
    At(DateTimeWithTimeZone),
    /// A number.
    Number(i64),
}

impl SortValue {
    /// The key as a database value, for the keyset condition.
    pub fn to_value(&self) -> sea_orm::Value {
        match self {
            SortValue::Text(text) => text.clone().into(),
            SortValue::At(at) => (*at).into(),
            SortValue::Number(n) => (*n).into(),
        }
    }
}

/// A position in a keyset-ordered list: the sort key of a row and its id (the tie-break).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    /// The sort key.
    pub key: SortValue,
    /// The row's id.
    pub id: Uuid,
}

impl Cursor {
    /// The cursor of a name-ordered row.
    pub fn text(key: &str, id: Uuid) -> Self {
        Cursor {
            key: SortValue::Text(key.to_owned()),
            id,
        }
    }

    /// The cursor of a number-ordered row.
    pub fn number(key: i64, id: Uuid) -> Self {
        Cursor {
            key: SortValue::Number(key),
            id,
        }
    }

    /// The cursor of an instant-ordered row.
    pub fn at(instant: &DateTimeWithTimeZone, id: Uuid) -> Self {
        Cursor {
            key: SortValue::At(*instant),
            id,
        }
    }

    /// The opaque form clients see: base64url of the JSON `[key, id]`.
    pub fn encode(&self) -> String {
        let key = match &self.key {
            SortValue::Text(text) => text.clone(),
            SortValue::At(at) => at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            SortValue::Number(n) => n.to_string(),
        };
        // Serialising a string and a UUID cannot fail; fall back to an empty cursor anyway
        // rather than panic.
        let json = serde_json::to_vec(&(key, self.id)).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parse a cursor a client sent back, for a list sorted by `kind`; `field` names the
    /// argument for the error.
    pub fn decode(raw: &str, kind: KeyKind, field: &str) -> Result<Self> {
        let not_ours = || {
            StoreError::bad_input(
                field,
                "not a cursor of this list; pass an `endCursor` or `startCursor` from a previous page",
            )
        };
        let (key, id) = URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<(String, Uuid)>(&bytes).ok())
            // A hand-made cursor could carry bytes a database refuses in text (NUL);
            // cursors we issue never do.
            .filter(|(key, _)| !key.contains('\0'))
            .ok_or_else(not_ours)?;
        let key = match kind {
            KeyKind::Text => SortValue::Text(key),
            KeyKind::Instant => {
                SortValue::At(chrono::DateTime::parse_from_rfc3339(&key).map_err(|_| not_ours())?)
            }
            KeyKind::Number => SortValue::Number(key.parse().map_err(|_| not_ours())?),
        };
        Ok(Cursor { key, id })
    }
}

/// Which way a page is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// `first`/`after`: from the start of the order.
    Forward,
    /// `last`/`before`: from the end of the order, returned in list order.
    Backward,
}

/// Validated paging arguments.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageRequest {
    /// How many rows the page holds at most.
    pub limit: u64,
    /// Which end of the list the page is read from.
    pub direction: Direction,
    /// Start after (forward) or before (backward) this row.
    pub cursor: Option<Cursor>,
}

impl PageRequest {
    /// Validate `first`/`after`/`last`/`before` of a list sorted by `kind`: one direction
    /// at a time, sizes 1 to 100.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
        kind: KeyKind,
    ) -> Result<Self> {
        if first.is_some() && last.is_some() {
            return Err(StoreError::bad_input(
                "last",
                "pass either `first` (with `after`) or `last` (with `before`), not both",
            ));
        }
        if last.is_some() || before.is_some() {
            if after.is_some() {
                return Err(StoreError::bad_input(
                    "after",
                    "`after` pages forwards; it cannot be combined with `last`/`before`",
                ));
            }
            return Ok(PageRequest {
                limit: size(last, "last")?,
                direction: Direction::Backward,
                cursor: before
                    .map(|c| Cursor::decode(c, kind, "before"))
                    .transpose()?,
            });
        }
        Ok(PageRequest {
            limit: size(first, "first")?,
            direction: Direction::Forward,
            cursor: after
                .map(|c| Cursor::decode(c, kind, "after"))
                .transpose()?,
        })
    }

    /// Forward paging only (`first`/`after`), for nested lists, which are all ordered by
    /// an instant.
    pub fn forward(first: Option<i32>, after: Option<&str>) -> Result<Self> {
        Self::new(first, after, None, None, KeyKind::Instant)
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch(&self) -> u64 {
        self.limit + 1
    }
}

fn size(value: Option<i32>, field: &str) -> Result<u64> {
    match value {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(n) if (1..=MAX_PAGE_SIZE as i32).contains(&n) => Ok(n as u64),
        Some(_) => Err(StoreError::bad_input(
            field,
            format!("`{field}` must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// One page of rows, in list order, with what a connection needs to describe it.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows and their cursors.
    pub items: Vec<(Cursor, T)>,
    /// Whether rows follow the last one.
    pub has_next_page: bool,
    /// Whether rows precede the first one.
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Cut `rows` (fetched with [`PageRequest::fetch`], in the query's order) into a page.
    pub fn from_rows(
        request: &PageRequest,
        mut rows: Vec<T>,
        cursor: impl Fn(&T) -> Cursor,
    ) -> Self {
        let more = rows.len() as u64 > request.limit;
        rows.truncate(request.limit as usize);
        let (has_next_page, has_previous_page) = match request.direction {
            Direction::Forward => (more, request.cursor.is_some()),
            Direction::Backward => {
                // Backward pages are read newest-last; put them back in list order.
                rows.reverse();
                (request.cursor.is_some(), more)
            }
        };
        Page {
            items: rows.into_iter().map(|row| (cursor(&row), row)).collect(),
            has_next_page,
            has_previous_page,
        }
    }

    /// Map the rows, keeping cursors and flags.
    pub fn map<U>(self, f: impl Fn(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(|(c, t)| (c, f(t))).collect(),
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(PageRequest::forward(None, None).unwrap().limit, 20);
        assert_eq!(PageRequest::forward(Some(100), None).unwrap().limit, 100);
        assert!(PageRequest::forward(Some(0), None).is_err());
        assert!(PageRequest::forward(Some(101), None).is_err());
        assert!(PageRequest::new(Some(1), None, Some(1), None, KeyKind::Text).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor::text("Peter B.", Uuid::now_v7());
        assert_eq!(
            Cursor::decode(&cursor.encode(), KeyKind::Text, "after").unwrap(),
            cursor
        );
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-21T10:00:00.123456Z").unwrap();
        let cursor = Cursor::at(&at, Uuid::now_v7());
        assert_eq!(
            Cursor::decode(&cursor.encode(), KeyKind::Instant, "after").unwrap(),
            cursor
        );
        // A name is not an instant: a cursor of another list is refused once, up front.
        let named = Cursor::text("Peter B.", Uuid::nil()).encode();
        assert!(Cursor::decode(&named, KeyKind::Instant, "after").is_err());
        assert!(Cursor::decode("nope", KeyKind::Text, "after").is_err());
    }

    #[test]
    fn pages_know_their_neighbours() {
        let request = PageRequest::forward(Some(2), None).unwrap();
        let page = Page::from_rows(&request, vec![1, 2, 3], |n| {
            Cursor::text(&n.to_string(), Uuid::nil())
        });
        assert_eq!(page.items.len(), 2);
        assert!(page.has_next_page);
        assert!(!page.has_previous_page);
    }
}
