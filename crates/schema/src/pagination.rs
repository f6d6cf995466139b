//! Relay connections: arguments, opaque keyset cursors, and the connection types.
//!
//! Every list that can grow is paged by a keyset cursor `(sort key, id)`, never by
//! OFFSET: a page costs the same however deep it is, and rows inserted meanwhile don't
//! shift what the next page returns.

use std::future::Future;
use std::pin::Pin;

use async_graphql::{Context, SimpleObject};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{Error, Result};

/// The page size when `first`/`last` is not given.
pub const DEFAULT_PAGE_SIZE: u64 = 20;
/// The largest page a client may ask for.
pub const MAX_PAGE_SIZE: u64 = 100;

/// A position in a keyset-ordered list: the sort key of a row and its id (the tie-break).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cursor {
    /// The sort key, as text (a name, or an RFC 3339 instant).
    pub key: String,
    /// The row's id.
    pub id: Uuid,
}

impl Cursor {
    /// The opaque form clients see.
    pub fn encode(&self) -> String {
        // Serialising two plain fields cannot fail; fall back to an empty cursor anyway
        // rather than panic.
        let json = serde_json::to_vec(&(&self.key, self.id)).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Parse a cursor a client sent back; `field` names the argument for the error.
    pub fn decode(raw: &str, field: &str) -> Result<Self> {
        URL_SAFE_NO_PAD
            .decode(raw)
            .ok()
            .and_then(|bytes| serde_json::from_slice::<(String, Uuid)>(&bytes).ok())
            // A hand-made cursor could carry bytes a database refuses in text (NUL);
            // cursors we issue never do.
            .filter(|(key, _)| !key.contains('\0'))
            .map(|(key, id)| Cursor { key, id })
            .ok_or_else(|| {
                Error::bad_input(field, "not a cursor of this list; pass an `endCursor` or `startCursor` from a previous page")
            })
    }

    /// The cursor of an instant-ordered row.
    pub fn at(instant: &sea_orm::prelude::DateTimeWithTimeZone, id: Uuid) -> Self {
        Cursor {
            key: instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            id,
        }
    }

    /// The sort key read back as an instant; `field` names the argument for the error.
    pub fn instant(&self, field: &str) -> Result<sea_orm::prelude::DateTimeWithTimeZone> {
        chrono::DateTime::parse_from_rfc3339(&self.key)
            .map_err(|_| Error::bad_input(field, "not a cursor of this list"))
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
    /// Validate `first`/`after`/`last`/`before`: one direction at a time, sizes 1 to 100.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        last: Option<i32>,
        before: Option<&str>,
    ) -> Result<Self> {
        if first.is_some() && last.is_some() {
            return Err(Error::bad_input(
                "last",
                "pass either `first` (with `after`) or `last` (with `before`), not both",
            ));
        }
        if last.is_some() || before.is_some() {
            if after.is_some() {
                return Err(Error::bad_input(
                    "after",
                    "`after` pages forwards; it cannot be combined with `last`/`before`",
                ));
            }
            return Ok(PageRequest {
                limit: size(last, "last")?,
                direction: Direction::Backward,
                cursor: before.map(|c| Cursor::decode(c, "before")).transpose()?,
            });
        }
        Ok(PageRequest {
            limit: size(first, "first")?,
            direction: Direction::Forward,
            cursor: after.map(|c| Cursor::decode(c, "after")).transpose()?,
        })
    }

    /// Forward paging only (`first`/`after`), for nested lists.
    pub fn forward(first: Option<i32>, after: Option<&str>) -> Result<Self> {
        Self::new(first, after, None, None)
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
        Some(_) => Err(Error::bad_input(
            field,
            format!("`{field}` must be between 1 and {MAX_PAGE_SIZE}"),
        )),
    }
}

/// What a connection field costs in the complexity budget: its page size (`first` or
/// `last`, the default when absent, capped at the maximum) times what one item costs.
pub fn cost(size: Option<i32>, child_complexity: usize) -> usize {
    let size = size.map_or(DEFAULT_PAGE_SIZE, |n| u64::try_from(n).unwrap_or(1));
    let size = usize::try_from(size.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1);
    size.saturating_mul(child_complexity).saturating_add(1)
}

/// One page of rows, in list order, with what the connection needs to describe it.
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

/// Where a connection sits in its list.
#[derive(SimpleObject)]
pub struct PageInfo {
    /// Whether more items follow this page (page on with `after: endCursor`).
    pub has_next_page: bool,
    /// Whether items precede this page (page back with `before: startCursor`).
    pub has_previous_page: bool,
    /// The cursor of the first item of the page; null when the page is empty.
    pub start_cursor: Option<String>,
    /// The cursor of the last item of the page; null when the page is empty.
    pub end_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The page's `pageInfo`.
    pub fn page_info(&self) -> PageInfo {
        PageInfo {
            has_next_page: self.has_next_page,
            has_previous_page: self.has_previous_page,
            start_cursor: self.items.first().map(|(c, _)| c.encode()),
            end_cursor: self.items.last().map(|(c, _)| c.encode()),
        }
    }
}

/// A boxed future, for counting lazily.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// How a connection counts its whole list, run only when `totalCount` is asked for.
pub trait Count: Send + Sync {
    /// Count every item of the list (not only the page).
    fn count<'a>(&'a self, ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>>;
}

/// Declare a connection type and its edge type for a node type.
///
/// The connection resolves `totalCount` lazily through its [`Count`], so a client that
/// doesn't ask for it pays nothing.
#[macro_export]
macro_rules! connection {
    ($connection:ident, $edge:ident, $node:ty, $connection_doc:literal, $edge_doc:literal) => {
        #[doc = $connection_doc]
        pub struct $connection {
            page: $crate::pagination::Page<$node>,
            count: ::std::boxed::Box<dyn $crate::pagination::Count>,
        }

        impl $connection {
            /// A connection over `page` that counts with `count`.
            pub fn new(
                page: $crate::pagination::Page<$node>,
                count: impl $crate::pagination::Count + 'static,
            ) -> Self {
                Self {
                    page,
                    count: ::std::boxed::Box::new(count),
                }
            }
        }

        #[doc = $connection_doc]
        #[::async_graphql::Object]
        impl $connection {
            /// The items of this page, each with its cursor.
            async fn edges(&self) -> ::std::vec::Vec<$edge> {
                self.page
                    .items
                    .iter()
                    .map(|(cursor, node)| $edge {
                        cursor: cursor.encode(),
                        node: node.clone(),
                    })
                    .collect()
            }

            /// The items of this page, without cursors.
            async fn nodes(&self) -> ::std::vec::Vec<&$node> {
                self.page.items.iter().map(|(_, node)| node).collect()
            }

            /// Where this page sits in the list.
            async fn page_info(&self) -> $crate::pagination::PageInfo {
                self.page.page_info()
            }

            /// How many items the whole list holds, across all pages.
            async fn total_count(
                &self,
                ctx: &::async_graphql::Context<'_>,
            ) -> $crate::error::Result<u64> {
                self.count.count(ctx).await
            }
        }

        #[doc = $edge_doc]
        #[derive(::async_graphql::SimpleObject)]
        pub struct $edge {
            /// Pass it as `after` (or `before`) to page on from this item.
            pub cursor: ::std::string::String,
            /// The item.
            pub node: $node,
        }
    };
}

/// A count that is already known.
pub struct Known(pub u64);

impl Count for Known {
    fn count<'a>(&'a self, _ctx: &'a Context<'_>) -> BoxFuture<'a, Result<u64>> {
        let n = self.0;
        Box::pin(async move { Ok(n) })
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
        assert!(PageRequest::new(Some(1), None, Some(1), None).is_err());
    }

    #[test]
    fn cursors_round_trip_and_refuse_garbage() {
        let cursor = Cursor {
            key: "Peter B.".into(),
            id: Uuid::now_v7(),
        };
        assert_eq!(Cursor::decode(&cursor.encode(), "after").unwrap(), cursor);
        assert!(Cursor::decode("nope", "after").is_err());
    }

    #[test]
    fn pages_know_their_neighbours() {
        let request = PageRequest::forward(Some(2), None).unwrap();
        let rows = vec![1, 2, 3];
        let page = Page::from_rows(&request, rows, |n| Cursor {
            key: n.to_string(),
            id: Uuid::nil(),
        });
        assert_eq!(page.items.len(), 2);
        assert!(page.has_next_page);
        assert!(!page.has_previous_page);
    }
}
