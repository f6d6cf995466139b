//! The key that encrypts the webhook signing secrets: from `--webhook-secret-key`, or for
//! a SQLite database a key file beside it, made on first start.

use std::io::Write;
use std::path::PathBuf;

use profilegraph_store::webhooks::SecretKey;

use crate::config::Config;
use crate::database;
use crate::error::{Error, Result};

/// The key for `config`: the configured one; on SQLite the key file beside the database
/// (made now if missing); `None` on PostgreSQL without one (webhooks are off, said in the
/// log).
pub fn load_key(config: &Config) -> Result<Option<SecretKey>> {
    if let Some(text) = &config.webhook_secret_key {
        return SecretKey::parse(text)
            .map(Some)
            .map_err(|e| Error::Usage(format!("--webhook-secret-key: {e}")));
    }
    if !database::is_sqlite(&config.database_url) {
        tracing::warn!(
            "webhooks are off: start with --webhook-secret-key (PROFILEGRAPH_WEBHOOK_SECRET_KEY) to send them"
        );
        return Ok(None);
    }
    let Some(path) = key_file(&config.database_url) else {
        // An in-memory database lives as long as the process, and so may its key.
        return Ok(Some(parse(&SecretKey::generate())?));
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => parse(&text).map(Some),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let text = SecretKey::generate();
            write_new(&path, &text)?;
            tracing::info!(path = %path.display(), "made the webhook secret key");
            // Another process may have won the race to make it: use whatever is there.
            parse(&std::fs::read_to_string(&path)?).map(Some)
        }
        Err(err) => Err(Error::Usage(format!(
            "cannot read the webhook secret key {}: {err}",
            path.display()
        ))),
    }
}

fn parse(text: &str) -> Result<SecretKey> {
    SecretKey::parse(text).map_err(Error::Usage)
}

/// `<database file>.webhook-key`, or `None` for an in-memory database.
pub fn key_file(database_url: &str) -> Option<PathBuf> {
    let rest = database_url
        .strip_prefix("sqlite://")
        .or_else(|| database_url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    if path.is_empty() || path == ":memory:" {
        return None;
    }
    Some(PathBuf::from(format!("{path}.webhook-key")))
}

/// Write `text` to `path` only if it does not exist yet, readable by its owner alone.
fn write_new(path: &PathBuf, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            Ok(())
        }
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(Error::Usage(format!(
            "cannot write the webhook secret key {}: {err}",
            path.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_file_sits_beside_the_database() {
        assert_eq!(
            key_file("sqlite://data/pg.db?mode=rwc"),
            Some(PathBuf::from("data/pg.db.webhook-key"))
        );
        assert_eq!(key_file("sqlite::memory:"), None);
        assert_eq!(key_file("postgres://x@y/z"), None);
    }
}
