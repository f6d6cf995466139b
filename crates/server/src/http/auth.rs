//! Who is calling: the bearer token of the request, checked against the token cache and
//! the database. Every operation needs a valid token, introspection included, so this
//! runs before anything of the request is executed. Depends only on `error`.

use axum::http::{HeaderMap, header};
use profilegraph_store::{StoreError, Viewer, stats};

use super::AppState;
use super::error::HttpError;

/// The token of an `Authorization: Bearer <token>` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// The caller, and how many SQL statements finding them took (for `--sql-stats`).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Viewer, u64), HttpError> {
    let token = bearer_token(headers).ok_or(StoreError::Unauthenticated)?;
    let (viewer, statements) =
        stats::counted(state.tokens.authenticate(&state.db.conn, token)).await;
    Ok((viewer?, statements))
}
