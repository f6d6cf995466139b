//! The documents clients send: persisted ones (automatic persisted queries and the
//! safelist, in `persisted`), and the caches of parsed and validated documents (`cache`),
//! both bounded (`lru`).

pub mod cache;
mod lru;
pub mod persisted;

pub use cache::{CacheCounts, DocumentCache, DocumentCacheFactory};
pub use persisted::PersistedDocuments;
