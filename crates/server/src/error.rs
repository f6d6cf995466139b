//! The one error type of the server crate.

/// What can stop the server or a CLI command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Schema(#[from] profilegraph_schema::Error),
    /// A rule of the store refused, or the database failed.
    #[error(transparent)]
    Store(#[from] profilegraph_store::StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Usage(String),
    /// `--persisted-documents` can't be loaded.
    #[error(transparent)]
    PersistedDocuments(#[from] crate::http::documents::persisted::LoadError),
    #[error("cannot start an execution worker: {0}")]
    Worker(String),
}

/// `Result` with the server's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
