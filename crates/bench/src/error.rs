//! The one error type of the benchmark.

/// What can stop a benchmark.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asks for something impossible.
    #[error("{0}")]
    Usage(String),
    /// Setting up a database, the server or the inputs went wrong.
    #[error("{0}")]
    Setup(String),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The database refused a statement or a connection.
    #[error("database: {0}")]
    Database(#[from] sea_orm::DbErr),
    /// An HTTP request failed outside a measured run.
    #[error("http: {0}")]
    Http(#[from] reqwest::Error),
    /// JSON could not be read or written.
    #[error("json: {0}")]
    Json(#[from] serde_json::Error),
}

impl Error {
    /// An [`Error::Io`] with a description of what was being done.
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let what = what.into();
        move |source| Error::Io { what, source }
    }
}

/// `Result` with the benchmark's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
