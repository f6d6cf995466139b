//! `POST /graphql` runs an operation as the bearer token's viewer; `GET /graphql` serves
//! GraphiQL.

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use profilegraph_schema::auth::tokens;
use profilegraph_schema::{Error, ErrorCode, exec};
use tracing::Instrument;

use super::{AppState, REQUEST_ID, SQL_STATEMENTS};

/// GraphiQL, which loads without a token; paste one into its headers panel.
pub async fn graphiql(State(state): State<AppState>) -> Response {
    if !state.settings.graphiql {
        return StatusCode::NOT_FOUND.into_response();
    }
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .title("profilegraph")
            .finish(),
    )
    .into_response()
}

/// Run one GraphQL request as the bearer token's viewer.
pub async fn execute(
    State(state): State<AppState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let Some(token) = bearer_token(&headers) else {
        return error_response(
            StatusCode::UNAUTHORIZED,
            Error::Unauthenticated,
            &request_id,
        );
    };
    let (viewer, auth_statements) =
        exec::counted(tokens::authenticate(&state.db.conn, token)).await;
    let viewer = match viewer {
        Ok(viewer) => viewer,
        Err(err) => {
            let status = match err.code() {
                ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
                ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            return error_response(status, err, &request_id);
        }
    };

    // Execution runs on a single-threaded worker, where the loaders batch each level of
    // the query in one statement without waiting for a time window (see
    // `profilegraph_schema::exec`). The span keeps the request id on its log lines.
    let schema = state.schema.clone();
    let db = state.db.clone();
    let request = request.into_inner();
    let span = tracing::Span::current();
    let task = state.executor.spawn_pinned(move || {
        async move { profilegraph_schema::execute_pinned(&schema, &db, viewer, request).await }
            .instrument(span)
    });
    let (mut response, statements) = match task.await {
        Ok(done) => done,
        // A panic in a resolver ends that request's task only; the worker and every other
        // request carry on.
        Err(err) => {
            tracing::error!(error = %err, "request execution panicked");
            return error_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                Error::Panicked,
                &request_id,
            );
        }
    };
    // Every error carries the request id, so a partner can quote it and we can find the
    // detail that the message leaves out in the logs.
    for error in &mut response.errors {
        error
            .extensions
            .get_or_insert_with(Default::default)
            .set("requestId", request_id.as_str());
    }
    let mut http = GraphQLResponse::from(response).into_response();
    if state.settings.sql_stats {
        http.headers_mut().insert(
            SQL_STATEMENTS,
            HeaderValue::from(auth_statements + statements),
        );
    }
    http
}

/// The token of an `Authorization: Bearer <token>` header.
fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// A GraphQL error document with no `data`, for failures before execution.
fn error_response(status: StatusCode, err: Error, request_id: &str) -> Response {
    let code = err.code();
    let body = serde_json::json!({
        "errors": [{
            "message": err.to_string(),
            "extensions": { "code": code.as_str(), "requestId": request_id },
        }]
    });
    let mut response = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"profilegraph\""),
        );
    }
    if code == ErrorCode::Internal || code == ErrorCode::ServiceUnavailable {
        tracing::error!(error = ?err, "request failed before execution");
    }
    response
}
