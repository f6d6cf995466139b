//! Liveness and readiness probes.

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// The process is up and serving HTTP.
pub async fn live() -> &'static str {
    "ok"
}

/// The process can serve requests: the database answers.
pub async fn ready(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match crate::database::ping(&state.db.conn).await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
