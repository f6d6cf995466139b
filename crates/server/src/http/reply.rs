//! The layer that renders every [`HttpError`](super::error::HttpError) reply in the
//! context of its request: in the media type the client accepts (application/json when
//! it accepts neither JSON form), with the request id, and with the message masked in
//! production (by [`respond::public_message`], the same rule as for GraphQL errors).
//!
//! It sits outside the handlers, the body limit, the time limit and the panic catcher, so
//! the refusals of each of them look alike. Depends on `error`, `extract` and `respond`.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

use super::HttpSettings;
use super::error::Refusal;
use super::extract::{negotiate, request_id};
use super::respond::{self, Format};

/// Render the body of a refusal; pass every other response through untouched.
pub async fn render(
    State(settings): State<Arc<HttpSettings>>,
    request: Request,
    next: Next,
) -> Response {
    let format = negotiate(request.headers()).unwrap_or(Format::Json);
    let request_id = request_id(request.headers());
    let mut response = next.run(request).await;
    let Some(refusal) = response.extensions_mut().remove::<Refusal>() else {
        return response;
    };
    let message = respond::public_message(refusal.code, &refusal.detail, settings.production);
    let body = respond::error_document(refusal.code, &message, &request_id);
    if refusal.document {
        *response.status_mut() = respond::document_refusal_status(format);
    }
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    headers.remove(header::CONTENT_LENGTH);
    *response.body_mut() = Body::from(body.to_string());
    response
}
