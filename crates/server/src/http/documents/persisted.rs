//! Persisted documents: Apollo's automatic persisted queries, and the safelist.
//!
//! **Automatic persisted queries.** A client sends
//! `extensions: {"persistedQuery": {"version": 1, "sha256Hash": "…"}}` and no `query`. A
//! server that knows the hash runs that document; one that doesn't answers
//! `PERSISTED_QUERY_NOT_FOUND`, and the client sends the request again with the `query`,
//! which the server checks against the hash and remembers. A browser app then sends a
//! 64-character hash instead of its documents, and a GET with only the hash fits in a
//! URL and in a CDN's cache. Only a caller with a valid token gets here (this runs after
//! authentication), and what it teaches the server is kept in a bounded cache
//! ([`LEARNT_ENTRIES`], [`LEARNT_BYTES`]), so nobody can grow the server's memory with it.
//!
//! **The safelist.** `--persisted-documents DIR` loads every `*.graphql` file in `DIR` at
//! start, each file one document, known by the SHA-256 of its bytes (what `sha256sum`
//! prints). With `--persisted-only` the server runs those documents and nothing else: a
//! request names one by its hash, or sends its exact text; anything else is refused with
//! `PERSISTED_QUERY_NOT_IN_LIST`, over HTTP and over WebSocket alike, and the server
//! learns no document from its clients. This is for partners' integrations in production,
//! whose operations are known when they deploy.

use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;

use async_graphql::Value;
use sha2::{Digest, Sha256};

use super::lru::Lru;
use crate::http::HttpError;

/// A document's key: the SHA-256 of its text, as sent.
pub type DocumentHash = [u8; 32];

/// Documents learnt from clients, kept at most.
pub const LEARNT_ENTRIES: usize = 1_000;
/// Their text, kept at most (bytes).
pub const LEARNT_BYTES: usize = 4 * 1024 * 1024;

/// The SHA-256 of `text`.
pub fn sha256(text: &str) -> DocumentHash {
    Sha256::digest(text.as_bytes()).into()
}

/// What a server knows of persisted documents.
pub struct PersistedDocuments {
    /// The safelist, from `--persisted-documents`.
    listed: HashMap<DocumentHash, Arc<str>>,
    /// `--persisted-only`: run the listed documents and nothing else.
    only: bool,
    /// Documents clients registered by sending them with their hash.
    learnt: Lru<DocumentHash, Arc<str>>,
}

/// Why the safelist could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The folder or a file in it can't be read.
    #[error("cannot read the persisted documents in {path}: {source}")]
    Read {
        /// The folder or file.
        path: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// A file isn't a GraphQL document.
    #[error("the persisted document {path} is not a GraphQL document: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// `--persisted-only` with no document to run.
    #[error("--persisted-only runs only the persisted documents, and {0} holds no *.graphql file")]
    Empty(String),
}

impl PersistedDocuments {
    /// Automatic persisted queries only: no safelist.
    pub fn automatic() -> Self {
        Self::with(HashMap::new(), false)
    }

    fn with(listed: HashMap<DocumentHash, Arc<str>>, only: bool) -> Self {
        PersistedDocuments {
            listed,
            only,
            learnt: Lru::new(
                NonZeroUsize::new(LEARNT_ENTRIES).unwrap_or(NonZeroUsize::MIN),
                LEARNT_BYTES,
            ),
        }
    }

    /// The safelist in `dir` (every `*.graphql` file; each must parse), and whether to run
    /// nothing else.
    pub fn load(dir: &Path, only: bool) -> Result<Self, LoadError> {
        let read = |path: &Path, source| LoadError::Read {
            path: path.display().to_string(),
            source,
        };
        let mut listed = HashMap::new();
        for entry in std::fs::read_dir(dir).map_err(|err| read(dir, err))? {
            let path = entry.map_err(|err| read(dir, err))?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("graphql") || !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|err| read(&path, err))?;
            if let Err(err) = async_graphql::parser::parse_query(&text) {
                return Err(LoadError::Parse {
                    path: path.display().to_string(),
                    message: err.to_string(),
                });
            }
            listed.insert(sha256(&text), Arc::from(text));
        }
        if only && listed.is_empty() {
            return Err(LoadError::Empty(dir.display().to_string()));
        }
        tracing::info!(
            documents = listed.len(),
            only,
            dir = %dir.display(),
            "persisted documents loaded"
        );
        Ok(Self::with(listed, only))
    }

    /// How many documents the safelist holds.
    pub fn listed(&self) -> usize {
        self.listed.len()
    }

    /// Fill in the `query` of a request that names its document by hash, learn a document
    /// sent with its hash, and (with `--persisted-only`) refuse what isn't listed.
    pub fn resolve(&self, request: &mut async_graphql::Request) -> Result<(), HttpError> {
        let Some(persisted) = request.extensions.0.get("persistedQuery") else {
            if self.only && !self.listed.contains_key(&sha256(&request.query)) {
                return Err(HttpError::NotPersisted { by_hash: false });
            }
            return Ok(());
        };
        let hash = parse_extension(persisted)?;
        if request.query.is_empty() {
            let known = match self.listed.get(&hash) {
                Some(text) => Some(text.clone()),
                None if self.only => return Err(HttpError::NotPersisted { by_hash: true }),
                None => self.learnt.get(&hash),
            };
            let text = known.ok_or(HttpError::PersistedQueryNotFound)?;
            request.query = text.to_string();
            return Ok(());
        }
        if sha256(&request.query) != hash {
            return Err(HttpError::BadRequest(
                "`extensions.persistedQuery.sha256Hash` is not the SHA-256 of the `query`".into(),
            ));
        }
        if self.listed.contains_key(&hash) {
            return Ok(());
        }
        if self.only {
            return Err(HttpError::NotPersisted { by_hash: false });
        }
        let weight = request.query.len();
        self.learnt
            .put(hash, Arc::from(request.query.as_str()), weight);
        Ok(())
    }
}

/// The hash of `{"version": 1, "sha256Hash": "<64 hex digits>"}`.
fn parse_extension(value: &Value) -> Result<DocumentHash, HttpError> {
    let bad = |why: &str| HttpError::BadRequest(format!("`extensions.persistedQuery` {why}"));
    let Value::Object(fields) = value else {
        return Err(bad("must be an object with `version` and `sha256Hash`"));
    };
    match fields.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(1) => {}
        _ => return Err(bad("needs `version: 1`, the only version there is")),
    }
    let Some(Value::String(hex_hash)) = fields.get("sha256Hash") else {
        return Err(bad(
            "needs `sha256Hash`, the SHA-256 of the document in hex",
        ));
    };
    let mut hash = [0; 32];
    hex::decode_to_slice(hex_hash, &mut hash)
        .map_err(|_| bad("`sha256Hash` must be 64 hexadecimal digits"))?;
    Ok(hash)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const DOC: &str = "{ viewer { workspace { name } } }";

    fn with_hash(query: &str, hash: &str) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(query);
        request.extensions.0.insert(
            "persistedQuery".into(),
            Value::from_json(serde_json::json!({ "version": 1, "sha256Hash": hash })).unwrap(),
        );
        request
    }

    #[test]
    fn a_hash_is_learnt_from_the_document_sent_with_it() {
        let documents = PersistedDocuments::automatic();
        let hash = hex::encode(sha256(DOC));
        let mut unknown = with_hash("", &hash);
        assert!(matches!(
            documents.resolve(&mut unknown),
            Err(HttpError::PersistedQueryNotFound)
        ));
        documents.resolve(&mut with_hash(DOC, &hash)).unwrap();
        let mut known = with_hash("", &hash);
        documents.resolve(&mut known).unwrap();
        assert_eq!(known.query, DOC);

        let mut wrong = with_hash("{ other }", &hash);
        assert!(matches!(
            documents.resolve(&mut wrong),
            Err(HttpError::BadRequest(_))
        ));
        for bad in ["abc", &"g".repeat(64)] {
            assert!(matches!(
                documents.resolve(&mut with_hash("", bad)),
                Err(HttpError::BadRequest(_))
            ));
        }
    }

    #[test]
    fn persisted_only_runs_the_list_by_hash_or_text() {
        let dir = std::env::temp_dir().join(format!("pg-persisted-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("workspace.graphql"), DOC).unwrap();
        std::fs::write(dir.join("README.md"), "not a document").unwrap();
        let documents = PersistedDocuments::load(&dir, true).unwrap();
        assert_eq!(documents.listed(), 1);

        let mut by_hash = with_hash("", &hex::encode(sha256(DOC)));
        documents.resolve(&mut by_hash).unwrap();
        assert_eq!(by_hash.query, DOC);
        documents
            .resolve(&mut async_graphql::Request::new(DOC))
            .unwrap();

        let other = "{ viewer { token { name } } }";
        assert!(matches!(
            documents.resolve(&mut async_graphql::Request::new(other)),
            Err(HttpError::NotPersisted { by_hash: false })
        ));
        assert!(matches!(
            documents.resolve(&mut with_hash(other, &hex::encode(sha256(other)))),
            Err(HttpError::NotPersisted { by_hash: false })
        ));
        assert!(matches!(
            documents.resolve(&mut with_hash("", &hex::encode(sha256(other)))),
            Err(HttpError::NotPersisted { by_hash: true })
        ));

        std::fs::write(dir.join("broken.graphql"), "{ viewer ").unwrap();
        assert!(matches!(
            PersistedDocuments::load(&dir, true),
            Err(LoadError::Parse { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
