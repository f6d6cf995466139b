//! GraphQL subscriptions over WebSocket, at `/graphql`: the `graphql-transport-ws`
//! protocol (the `graphql-ws` library's), implemented here rather than with
//! async-graphql's own handler, which gets several of the protocol's rules wrong (no
//! initialisation timeout, a duplicate id silently replacing a stream, 1011 and 1002
//! where the protocol says 4401 and 4403).
//!
//! The rules, with the close code each breach gets:
//! - `connection_init` within `--ws-init-timeout-secs` (4408), once (4429), carrying
//!   `{"Authorization": "Bearer <token>"}` (or the upgrade request's header) for a valid
//!   token with the `read` scope (4403); nothing before it is answered but `ping` (4401 for
//!   a `subscribe`);
//! - each `subscribe` id unique among the active ones (4409), at most
//!   `--ws-max-subscriptions` at once (an `error` for the one over), only subscription
//!   operations (queries and mutations go over HTTP);
//! - anything that isn't one of the protocol's messages: 4400.
//! - A token revoked while connected closes the socket with 4403 within the token
//!   cache's time; a subscriber that falls behind its bounded buffer gets 1013 and the
//!   last `seq` it was sent, to catch up through the `events` feed; shutdown closes with
//!   1001. The server pings every 15 s.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_graphql::parser::types::OperationType;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use futures_util::StreamExt;
use profilegraph_schema::events::Live;
use profilegraph_schema::{ErrorCode, RequestCtx};
use profilegraph_store::Viewer;
use profilegraph_store::tokens::Scope;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use uuid::Uuid;

use super::AppState;

/// The subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";
/// How often the server pings.
const PING_EVERY: Duration = Duration::from_secs(15);
/// Messages waiting to be written to one socket; a subscription whose messages don't get
/// written waits, and falls behind its own buffer instead of growing memory.
const OUTBOX: usize = 64;

/// The read buffer of a socket. Protocol messages are small (a `subscribe` is one
/// document; the server's messages are written, not read), and a server holds thousands
/// of sockets: tungstenite's default of 128 KiB each would make 1,000 idle sockets cost
/// over 100 MiB. A larger message still arrives, in several reads.
const READ_BUFFER: usize = 4 * 1024;
/// How much a socket buffers before it writes: nothing, each message is written (and
/// flushed) as it is sent, so no socket holds a buffer of its own.
const WRITE_BUFFER: usize = 0;
/// What a socket may hold unwritten for a client that doesn't read, before sending
/// fails and the socket closes.
const MAX_WRITE_BUFFER: usize = 1024 * 1024;
/// The largest message a client may send: a `subscribe` carries one GraphQL document, as
/// large as an HTTP request's body may be.
const MAX_MESSAGE: usize = super::MAX_BODY;

/// The upgrade with this server's socket settings.
pub fn configure(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_write_buffer_size(MAX_WRITE_BUFFER)
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
}

/// Limits on sockets, from the configuration.
#[derive(Debug)]
pub struct SocketLimits {
    /// How long a client may take to send `connection_init`.
    pub init_timeout: Duration,
    /// Active subscriptions per socket.
    pub max_subscriptions: usize,
    /// Open sockets per token.
    pub max_per_token: usize,
    /// How often a socket's token is checked again (revocation, expiry).
    pub recheck: Duration,
    /// Open sockets by token.
    open: Mutex<HashMap<Uuid, usize>>,
}

impl SocketLimits {
    /// The limits, with no socket open.
    pub fn new(
        init_timeout: Duration,
        max_subscriptions: usize,
        max_per_token: usize,
        recheck: Duration,
    ) -> Self {
        SocketLimits {
            init_timeout,
            max_subscriptions,
            max_per_token,
            recheck,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Count a socket of `token`; `None` when it has too many already.
    fn open(self: &Arc<Self>, token: Uuid) -> Option<OpenSocket> {
        let mut open = self.open.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(token).or_default();
        if *n >= self.max_per_token {
            return None;
        }
        *n += 1;
        Some(OpenSocket {
            limits: self.clone(),
            token,
            _gauge: crate::metrics::Open::new(crate::metrics::SOCKETS_OPEN),
        })
    }
}

/// One counted socket; uncounted when dropped.
struct OpenSocket {
    limits: Arc<SocketLimits>,
    token: Uuid,
    _gauge: crate::metrics::Open,
}

impl Drop for OpenSocket {
    fn drop(&mut self) {
        let mut open = self
            .limits
            .open
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.token);
            }
        }
    }
}

/// Why a socket is closed: its code and reason.
struct Close(u16, String);

impl Close {
    fn new(code: u16, reason: impl Into<String>) -> Self {
        Close(code, reason.into())
    }
}

/// What a subscription task tells the socket.
enum Out {
    /// A message to send.
    Send(Value),
    /// The subscription ended; forget its id.
    Done(String),
    /// Close the socket.
    Close(Close),
}

/// Serve one upgraded socket. `header_token` is the upgrade request's bearer token.
pub async fn serve(state: AppState, mut socket: WebSocket, header_token: Option<String>) {
    let close = run(&state, &mut socket, header_token).await;
    let Close(code, reason) = close;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await;
}

/// The connection's life; returns how it ends.
async fn run(state: &AppState, socket: &mut WebSocket, header_token: Option<String>) -> Close {
    let limits = state.sockets.clone();
    // Before the ack: only `connection_init` and `ping`, within the time limit.
    let deadline = tokio::time::sleep(limits.init_timeout);
    tokio::pin!(deadline);
    let (viewer, token, _open) = loop {
        tokio::select! {
            () = &mut deadline => return Close::new(4408, "Connection initialisation timeout"),
            () = state.shutdown.cancelled() => return Close::new(1001, "the server is shutting down"),
            message = socket.recv() => {
                let message = match read(message) {
                    Ok(Some(message)) => message,
                    Ok(None) => continue,
                    Err(close) => return close,
                };
                match message["type"].as_str() {
                    Some("connection_init") => {
                        let token = message["payload"]["Authorization"]
                            .as_str()
                            .or(message["payload"]["authorization"].as_str())
                            .and_then(bearer)
                            .map(str::to_owned)
                            .or(header_token.clone());
                        let Some(token) = token else {
                            return Close::new(4403, "Forbidden");
                        };
                        let viewer = match authenticate(state, &token).await {
                            Ok(viewer) => viewer,
                            Err(close) => return close,
                        };
                        let Some(open) = limits.open(viewer.token_id) else {
                            return Close::new(4429, "too many open sockets for this token");
                        };
                        if send(socket, &json!({ "type": "connection_ack" })).await.is_err() {
                            return Close::new(1000, "");
                        }
                        break (viewer, token, open);
                    }
                    Some("ping") => {
                        if send(socket, &json!({ "type": "pong" })).await.is_err() {
                            return Close::new(1000, "");
                        }
                    }
                    Some("pong") => {}
                    Some("subscribe") => return Close::new(4401, "Unauthorized"),
                    _ => return Close::new(4400, "not a graphql-transport-ws message"),
                }
            }
        }
    };

    let (outbox, mut inbox) = mpsc::channel::<Out>(OUTBOX);
    let mut active: HashMap<String, AbortHandle> = HashMap::new();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut recheck = tokio::time::interval(limits.recheck);
    recheck.tick().await;
    let close = loop {
        tokio::select! {
            () = state.shutdown.cancelled() => break Close::new(1001, "the server is shutting down"),
            _ = ping.tick() => {
                if send(socket, &json!({ "type": "ping" })).await.is_err() {
                    break Close::new(1000, "");
                }
            }
            _ = recheck.tick() => {
                if let Err(close) = authenticate(state, &token).await {
                    break close;
                }
            }
            out = inbox.recv() => match out {
                Some(Out::Send(message)) if send(socket, &message).await.is_err() => {
                    break Close::new(1000, "");
                }
                Some(Out::Send(_)) | None => {}
                Some(Out::Done(id)) => {
                    active.remove(&id);
                }
                Some(Out::Close(close)) => break close,
            },
            message = socket.recv() => {
                let message = match read(message) {
                    Ok(Some(message)) => message,
                    Ok(None) => continue,
                    Err(close) => break close,
                };
                match message["type"].as_str() {
                    Some("connection_init") => break Close::new(4429, "Too many initialisation requests"),
                    Some("ping") => {
                        if send(socket, &json!({ "type": "pong" })).await.is_err() {
                            break Close::new(1000, "");
                        }
                    }
                    Some("pong") => {}
                    Some("subscribe") => {
                        let Some(id) = message["id"].as_str().map(str::to_owned) else {
                            break Close::new(4400, "`subscribe` needs an `id`");
                        };
                        if active.contains_key(&id) {
                            break Close::new(4409, format!("Subscriber for {id} already exists"));
                        }
                        let Ok(mut request) = serde_json::from_value::<async_graphql::Request>(
                            message["payload"].clone(),
                        ) else {
                            break Close::new(4400, "`subscribe` needs a GraphQL request as its payload");
                        };
                        // The same persisted documents, and the same safelist, as over HTTP.
                        if let Err(err) = state.persisted.resolve(&mut request) {
                            let refused = error(&id, err.code(), &err.to_string());
                            if send(socket, &refused).await.is_err() {
                                break Close::new(1000, "");
                            }
                            continue;
                        }
                        if active.len() >= limits.max_subscriptions {
                            let refused = error(&id, ErrorCode::BadRequest, &format!(
                                "at most {} subscriptions per socket", limits.max_subscriptions
                            ));
                            if send(socket, &refused).await.is_err() {
                                break Close::new(1000, "");
                            }
                            continue;
                        }
                        if !is_subscription(&request) {
                            let refused = error(&id, ErrorCode::BadRequest, "only subscriptions go over WebSocket; send queries and mutations over HTTP");
                            if send(socket, &refused).await.is_err() {
                                break Close::new(1000, "");
                            }
                            continue;
                        }
                        // Counted until the task ends or is aborted (its future dropped).
                        let gauge = crate::metrics::Open::new(crate::metrics::SUBSCRIPTIONS_OPEN);
                        let task = tokio::spawn(subscription(
                            state.clone(),
                            viewer.clone(),
                            id.clone(),
                            request,
                            outbox.clone(),
                            gauge,
                        ));
                        active.insert(id, task.abort_handle());
                    }
                    Some("complete") => {
                        if let Some(task) = message["id"].as_str().and_then(|id| active.remove(id)) {
                            task.abort();
                        }
                    }
                    _ => break Close::new(4400, "not a graphql-transport-ws message"),
                }
            }
        }
    };
    for task in active.into_values() {
        task.abort();
    }
    close
}

/// Run one subscription until it ends, sending its `next`s (and `complete`) to the socket.
async fn subscription(
    state: AppState,
    viewer: Viewer,
    id: String,
    request: async_graphql::Request,
    outbox: mpsc::Sender<Out>,
    _gauge: crate::metrics::Open,
) {
    // A subscription reads through the pool, each statement filtered by the viewer's
    // workspace (the loaders are workspace-scoped); the hub reads the events themselves
    // behind the wall.
    let request = request
        .data(RequestCtx::new(viewer, state.db.clone()))
        .data(Live(state.hub.clone()));
    let mut stream = state.schema.execute_stream(request);
    while let Some(response) = stream.next().await {
        let slow = response.errors.iter().find_map(|e| {
            e.extensions
                .as_ref()
                .and_then(|x| x.get("lastSeq"))
                .map(|v| v.to_string())
        });
        if let Some(last_seq) = slow {
            let reason = format!("too slow: catch up with events(after:) from seq {last_seq}");
            let _ = outbox.send(Out::Close(Close::new(1013, reason))).await;
            return;
        }
        let message = if response.data == async_graphql::Value::Null && !response.errors.is_empty()
        {
            // Refused before it ran (validation, limits, scope): the protocol's `error`.
            json!({ "id": id, "type": "error", "payload": response.errors })
        } else {
            json!({ "id": id, "type": "next", "payload": response })
        };
        let refused = message["type"] == "error";
        if outbox.send(Out::Send(message)).await.is_err() {
            return;
        }
        if refused {
            let _ = outbox.send(Out::Done(id)).await;
            return;
        }
    }
    let _ = outbox
        .send(Out::Send(json!({ "id": id, "type": "complete" })))
        .await;
    let _ = outbox.send(Out::Done(id)).await;
}

/// An `error` message for subscription `id`.
fn error(id: &str, code: ErrorCode, message: &str) -> Value {
    json!({
        "id": id,
        "type": "error",
        "payload": [{ "message": message, "extensions": { "code": code.as_str() } }],
    })
}

/// Whether the operation `request` would run is a subscription.
fn is_subscription(request: &async_graphql::Request) -> bool {
    super::extract::operation_type(&request.query, request.operation_name.as_deref())
        == Some(OperationType::Subscription)
}

/// The token's viewer, or the close that refuses it.
async fn authenticate(state: &AppState, token: &str) -> Result<Viewer, Close> {
    match state.tokens.authenticate(&state.db.conn, token).await {
        Ok(viewer) if viewer.require(Scope::Read).is_ok() => Ok(viewer),
        Ok(_) => Err(Close::new(4403, "Forbidden")),
        Err(profilegraph_store::StoreError::Unavailable(_)) => Err(Close::new(
            1013,
            "the database is unavailable, try again shortly",
        )),
        Err(_) => Err(Close::new(4403, "Forbidden")),
    }
}

/// The token of `Bearer <token>`.
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

/// A received frame as a protocol message: `Ok(None)` for frames to skip (WebSocket
/// pings), the close for the end of the socket or a message that isn't JSON.
fn read(message: Option<Result<Message, axum::Error>>) -> Result<Option<Value>, Close> {
    match message {
        None | Some(Err(_)) | Some(Ok(Message::Close(_))) => Err(Close::new(1000, "")),
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<Value>(&text) {
            Ok(value) if value.is_object() => Ok(Some(value)),
            _ => Err(Close::new(4400, "a message must be a JSON object")),
        },
        Some(Ok(Message::Binary(_))) => Err(Close::new(4400, "messages are text")),
        Some(Ok(Message::Ping(_) | Message::Pong(_))) => Ok(None),
    }
}

async fn send(socket: &mut WebSocket, message: &Value) -> Result<(), axum::Error> {
    socket.send(Message::Text(message.to_string().into())).await
}
