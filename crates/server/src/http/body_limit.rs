//! The request body limit ([`MAX_BODY`]), refused with a 413 that every client can read.
//!
//! Most clients (Python's `urllib`, `requests`, many HTTP libraries) write the whole body
//! before they read anything. Answering 413 at once and closing the connection under
//! such a client makes the kernel reset it while the client is still writing: the client
//! sees "broken pipe" or "connection reset" instead of the 413. So a body over the limit
//! is read and thrown away, up to [`DRAIN_LIMIT`] bytes in all and for at most
//! [`DRAIN_TIME`], before the 413 goes out; a body that ends within those bounds leaves
//! the connection clean, even fit to reuse. Only a body larger still (or a client that
//! dawdles) is cut off. A client that asked `Expect: 100-continue` is answered at once:
//! it waits for our word before it sends the body, so it never sends this one.
//!
//! The body is collected here (it would be collected by the handler anyway), so the
//! limit holds for a body with a `Content-Length` and for a chunked one alike. Depends
//! only on `error`.

use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::MAX_BODY;
use super::error::HttpError;

/// The most bytes read from a body over the limit, the first [`MAX_BODY`] included.
pub const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// The longest time spent reading a body over the limit.
pub const DRAIN_TIME: Duration = Duration::from_secs(5);

/// Collect the request's body, or answer 413 when it is over the limit.
pub async fn limit(request: Request, next: Next) -> Response {
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let declared = content_length(request.headers());
    let (parts, mut body) = request.into_parts();
    if let Some(declared) = declared.filter(|&n| n > MAX_BODY as u64) {
        if expects_continue(&parts.headers) || declared > DRAIN_LIMIT as u64 {
            return too_large(false);
        }
        return too_large(drain(body, 0).await);
    }
    let mut collected = Vec::with_capacity(declared.map_or(0, |n| n as usize));
    loop {
        match next_data(&mut body).await {
            None => break,
            Some(Ok(data)) => {
                if collected.len() + data.len() > MAX_BODY {
                    let read = collected.len() + data.len();
                    return too_large(drain(body, read).await);
                }
                collected.extend_from_slice(&data);
            }
            Some(Err(err)) => {
                return HttpError::BadRequest(format!("the request body can't be read: {err}"))
                    .into_response();
            }
        }
    }
    next.run(Request::from_parts(parts, Body::from(collected)))
        .await
}

/// The 413; telling the client the connection ends unless the body was read to its end.
fn too_large(drained: bool) -> Response {
    let mut response = HttpError::PayloadTooLarge.into_response();
    if !drained {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Read and drop the rest of `body` (of which `read` bytes are gone already) within the
/// bounds; whether it ended.
async fn drain(mut body: Body, mut read: usize) -> bool {
    let to_the_end = async {
        while read <= DRAIN_LIMIT {
            match next_data(&mut body).await {
                None => return true,
                Some(Ok(data)) => read += data.len(),
                Some(Err(_)) => return false,
            }
        }
        false
    };
    tokio::time::timeout(DRAIN_TIME, to_the_end)
        .await
        .unwrap_or(false)
}

/// The next data frame of `body` (trailers are skipped).
async fn next_data(body: &mut Body) -> Option<Result<Bytes, axum::Error>> {
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await?;
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    return Some(Ok(data));
                }
            }
            Err(err) => return Some(Err(err)),
        }
    }
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("100-continue"))
}
