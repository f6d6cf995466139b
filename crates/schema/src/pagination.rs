//! Relay connections: the connection and edge types over a store [`Page`], `pageInfo`,
//! lazy `totalCount`, and what a connection costs in the complexity budget. Paging
//! itself (arguments, cursors, keysets) is the store's (`profilegraph_store::page`).

use std::future::Future;
use std::pin::Pin;

use async_graphql::{Context, SimpleObject};
pub use profilegraph_store::page::{
    Cursor, DEFAULT_PAGE_SIZE, KeyKind, MAX_PAGE_SIZE, Page, PageRequest,
};

use crate::error::Result;

/// What a connection field costs in the complexity budget: its page size (`first` or
/// `last`, the default when absent, capped at the maximum) times what one item costs.
pub fn cost(size: Option<i32>, child_complexity: usize) -> usize {
    let size = size.map_or(DEFAULT_PAGE_SIZE, |n| u64::try_from(n).unwrap_or(1));
    let size = usize::try_from(size.clamp(1, MAX_PAGE_SIZE)).unwrap_or(1);
    size.saturating_mul(child_complexity).saturating_add(1)
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

/// The `pageInfo` of `page`.
pub fn page_info<T>(page: &Page<T>) -> PageInfo {
    PageInfo {
        has_next_page: page.has_next_page,
        has_previous_page: page.has_previous_page,
        start_cursor: page.items.first().map(|(c, _)| c.encode()),
        end_cursor: page.items.last().map(|(c, _)| c.encode()),
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
                $crate::pagination::page_info(&self.page)
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
