//! Parsed and validated documents, kept by the hash of their text.
//!
//! Clients send the same few documents again and again: a browser app has a handful, a
//! partner's integration fewer. Parsing one is the same work every time, so a document
//! is parsed once per text: the first request parses it (and async-graphql checks its
//! recursion depth and directives then), and later requests get a copy of what it parsed.
//!
//! Validation depends on more than the text: on the variables too (the values of
//! arguments given as `$variables`, the complexity of `first: $n`) and on the operation
//! chosen. So its result is kept by all three, and skipped only when the same request
//! comes again (a list polled, a page refreshed, a feed asked with the same cursor); a
//! request with other variables is validated in full. Both caches are bounded by entries
//! and by bytes of text ([`PARSED_ENTRIES`], [`PARSED_BYTES`], [`VALIDATED_ENTRIES`]).
//!
//! The extension sits inside the guard (`super::super::guard`), which still counts
//! aliases and root fields and charges the rate limiter on every request, from the
//! complexity a cached validation returns as from a fresh one.

use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};
use sha2::{Digest, Sha256};

use super::lru::Lru;
use super::persisted::{DocumentHash, sha256};

/// Parsed documents kept at most.
pub const PARSED_ENTRIES: usize = 1_000;
/// The text of the parsed documents kept, at most (bytes); what they take parsed grows
/// with it.
pub const PARSED_BYTES: usize = 4 * 1024 * 1024;
/// Validation results kept at most (each a few dozen bytes).
pub const VALIDATED_ENTRIES: usize = 10_000;

/// The server's caches of documents, shared by every request.
pub struct DocumentCache {
    parsed: Lru<DocumentHash, Arc<ExecutableDocument>>,
    validated: Lru<DocumentHash, ValidationResult>,
    counts: [AtomicU64; 4],
}

/// How often each cache was asked, and answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounts {
    /// Documents taken from the cache instead of parsed.
    pub parsed_hits: u64,
    /// Documents parsed.
    pub parsed_misses: u64,
    /// Validations skipped for a request seen before.
    pub validated_hits: u64,
    /// Validations run.
    pub validated_misses: u64,
}

impl Default for DocumentCache {
    fn default() -> Self {
        let entries = |n| NonZeroUsize::new(n).unwrap_or(NonZeroUsize::MIN);
        DocumentCache {
            parsed: Lru::new(entries(PARSED_ENTRIES), PARSED_BYTES),
            // Weighed by count alone: each entry weighs 1.
            validated: Lru::new(entries(VALIDATED_ENTRIES), VALIDATED_ENTRIES),
            counts: Default::default(),
        }
    }
}

impl DocumentCache {
    /// The parsed document of `text`, if a request parsed it before.
    pub fn parsed(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        self.parsed.get(&sha256(text))
    }

    /// The hits and misses so far.
    pub fn counts(&self) -> CacheCounts {
        let [parsed_hits, parsed_misses, validated_hits, validated_misses] =
            self.counts.each_ref().map(|n| n.load(Ordering::Relaxed));
        CacheCounts {
            parsed_hits,
            parsed_misses,
            validated_hits,
            validated_misses,
        }
    }

    fn count(&self, validated: bool, hit: bool) {
        let index = usize::from(validated) * 2 + usize::from(!hit);
        self.counts[index].fetch_add(1, Ordering::Relaxed);
    }
}

/// Makes the per-request extension over the server's [`DocumentCache`].
pub struct DocumentCacheFactory(pub Arc<DocumentCache>);

impl ExtensionFactory for DocumentCacheFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Cached {
            cache: self.0.clone(),
            keys: Mutex::new(None),
        })
    }
}

/// The keys of one request: its text, and its text with the operation and variables.
#[derive(Clone, Copy)]
struct Keys {
    text: DocumentHash,
    request: DocumentHash,
}

struct Cached {
    cache: Arc<DocumentCache>,
    keys: Mutex<Option<Keys>>,
}

impl Cached {
    fn keys(&self) -> Option<Keys> {
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The key of a validation: the text's hash, the operation's name and the variables.
fn request_key(
    text: &DocumentHash,
    operation: Option<&str>,
    variables: &Variables,
) -> DocumentHash {
    let mut hasher = Sha256::new();
    hasher.update(text);
    // The name's length first, so that no name and variables run into each other.
    let name = operation.unwrap_or_default();
    hasher.update((name.len() as u64).to_le_bytes());
    hasher.update(name.as_bytes());
    hasher.update([u8::from(operation.is_some())]);
    // Variables are a sorted map, so the same values serialise the same way.
    if let Ok(json) = serde_json::to_vec(variables) {
        hasher.update(json);
    }
    hasher.finalize().into()
}

#[async_graphql::async_trait::async_trait]
impl Extension for Cached {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        let text = sha256(&request.query);
        let keys = Keys {
            text,
            request: request_key(&text, request.operation_name.as_deref(), &request.variables),
        };
        *self.keys.lock().unwrap_or_else(PoisonError::into_inner) = Some(keys);
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let key = self.keys().map_or_else(|| sha256(query), |keys| keys.text);
        if let Some(document) = self.cache.parsed.get(&key) {
            self.cache.count(false, true);
            return Ok(ExecutableDocument::clone(&document));
        }
        self.cache.count(false, false);
        let document = next.run(ctx, query, variables).await?;
        self.cache
            .parsed
            .put(key, Arc::new(document.clone()), query.len());
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let Some(keys) = self.keys() else {
            return next.run(ctx).await;
        };
        if let Some(result) = self.cache.validated.get(&keys.request) {
            self.cache.count(true, true);
            return Ok(result);
        }
        self.cache.count(true, false);
        let result = next.run(ctx).await?;
        self.cache.validated.put(keys.request, result, 1);
        Ok(result)
    }
}
