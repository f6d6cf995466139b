//! `GET /export/profiles.jsonl` and `GET /export/profiles.csv`: a workspace's profiles for
//! a partner with a token, the same stream `profilegraph export` writes.
//!
//! - Any valid token with the `read` scope; `?updatedSince=<RFC 3339>` for only the
//!   profiles changed since (a partner's sync asks for what changed since its last run).
//! - The body is sent as it is read: a page of profiles is read, sent, then the next. At
//!   most [`BUFFERED_PAGES`] pages wait for a slow client, so the server's memory stays
//!   that of a few pages whatever the workspace's size.
//! - One export at a time per token ([`Running`]): a second gets 429 with `Retry-After`,
//!   so one partner can't hold every database connection.
//! - gzip when the client accepts it (`Accept-Encoding: gzip`; the layer is in
//!   [`super::router`]).
//! - On PostgreSQL it reads behind the wall, like a GraphQL request: one transaction,
//!   with the workspace set, so row-level security holds here too.
//!
//! A failure after the first bytes were sent can't change the status any more: the body
//! then ends without its final chunk, which every HTTP client reports as a broken
//! transfer, rather than looking complete. Depends on `auth` and `error`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use profilegraph_store::tokens::Scope;
use serde::Deserialize;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::AppState;
use super::auth;
use super::error::HttpError;
use crate::transfer::Format;
use crate::transfer::export::{self, Sink};

/// Pages read ahead of a slow client, at most.
pub const BUFFERED_PAGES: usize = 2;

/// The tokens with an export running on this server.
#[derive(Debug, Default)]
pub struct Running(Mutex<HashSet<Uuid>>);

impl Running {
    /// Claim `token_id`'s export; `None` when it already has one.
    fn claim(self: &Arc<Self>, token_id: Uuid) -> Option<Claimed> {
        let mut running = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        running.insert(token_id).then(|| Claimed {
            running: self.clone(),
            token_id,
        })
    }
}

/// A running export; the token may start another once it is dropped.
struct Claimed {
    running: Arc<Running>,
    token_id: Uuid,
}

impl Drop for Claimed {
    fn drop(&mut self) {
        let mut running = self
            .running
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        running.remove(&self.token_id);
    }
}

/// The query string.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    /// Only profiles changed at or after this instant (RFC 3339).
    #[serde(rename = "updatedSince")]
    updated_since: Option<String>,
}

/// Sends each page into the response body.
struct ToBody(mpsc::Sender<Result<Vec<u8>, std::io::Error>>);

impl Sink for ToBody {
    async fn send(&mut self, bytes: Vec<u8>) -> crate::error::Result<()> {
        self.0
            .send(Ok(bytes))
            .await
            .map_err(|_| std::io::Error::other("the client went away").into())
    }
}

/// `GET /export/{file}`.
pub async fn profiles(
    State(state): State<AppState>,
    Path(file): Path<String>,
    params: Result<Query<ExportParams>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let (format, content_type) = match file.as_str() {
        "profiles.jsonl" => (Format::Jsonl, "application/x-ndjson"),
        "profiles.csv" => (Format::Csv, "text/csv; charset=utf-8"),
        _ => return Err(HttpError::NoSuchExport),
    };
    let (viewer, _) = auth::authenticate(&state, &headers).await?;
    viewer.require(Scope::Read)?;
    let Ok(Query(params)) = params else {
        return Err(HttpError::BadRequest(
            "the query string can't be read".into(),
        ));
    };
    let updated_since = match params.updated_since.as_deref() {
        None => None,
        Some(text) => Some(chrono::DateTime::parse_from_rfc3339(text).map_err(|_| {
            HttpError::BadRequest(format!(
                "`updatedSince` must be an RFC 3339 instant, e.g. 2026-01-31T12:00:00Z, not {text:?}"
            ))
        })?),
    };
    let claimed = state
        .exports
        .claim(viewer.token_id)
        .ok_or(HttpError::ExportRunning)?;

    let options = export::Options {
        format,
        updated_since,
        excel: false,
        progress: false,
    };
    let (sender, pages) = mpsc::channel(BUFFERED_PAGES);
    let db = state.db.walled(viewer.workspace_id);
    let workspace_id = viewer.workspace_id;
    tokio::spawn(async move {
        let _claimed = claimed;
        let mut sink = ToBody(sender.clone());
        let streamed = export::stream(&db, workspace_id, &options, &mut sink).await;
        let finished = match streamed {
            Ok(n) => db.finish().await.map(|()| n).map_err(crate::Error::from),
            Err(err) => Err(err),
        };
        match finished {
            Ok(n) => tracing::info!(profiles = n, "export sent"),
            Err(err) => {
                tracing::warn!(error = %err, "export cut short");
                let _ = sender
                    .send(Err(std::io::Error::other("the export failed")))
                    .await;
            }
        }
    });
    // Fused: the gzip layer may poll once more after the end.
    let body = Body::from_stream(futures_util::StreamExt::fuse(futures_util::stream::unfold(
        pages,
        |mut pages| async move { pages.recv().await.map(|page| (page, pages)) },
    )));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static(match format {
            Format::Jsonl => "attachment; filename=\"profiles.jsonl\"",
            Format::Csv => "attachment; filename=\"profiles.csv\"",
        }),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_export_at_a_time_per_token_and_a_second_is_told_when_to_retry() {
        let running = Arc::new(Running::default());
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let first = running.claim(a).unwrap();
        assert!(running.claim(a).is_none(), "the same token waits");
        let other = running.claim(b).unwrap();
        drop(first);
        assert!(running.claim(a).is_some(), "free again once it ended");
        drop(other);

        let refused = HttpError::ExportRunning.into_response();
        assert_eq!(refused.status(), axum::http::StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            refused.headers()[header::RETRY_AFTER],
            super::super::error::EXPORT_RETRY_AFTER_S.to_string()
        );
    }
}
