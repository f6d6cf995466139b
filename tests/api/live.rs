//! Live profile events over WebSocket (`graphql-transport-ws` at `/graphql`), driven by a
//! real WebSocket client: delivery, isolation, every close code the protocol names, and
//! two server instances on one PostgreSQL behaving as one.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};
use crate::support::{demo, mutate_ok, token};

pub(crate) type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How long a test waits for a message it expects.
const WAIT: Duration = Duration::from_secs(5);

/// A WebSocket on `address`'s `/graphql` speaking `graphql-transport-ws`.
pub(crate) async fn connect(address: &str) -> Socket {
    let url = format!("{}/graphql", address.replacen("http://", "ws://", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static("graphql-transport-ws"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

pub(crate) async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next protocol message (WebSocket pings skipped); `None` when the socket closed.
pub(crate) async fn next(socket: &mut Socket) -> Result<Value, Option<(u16, String)>> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next())
            .await
            .expect("a message within the wait");
        match message {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).unwrap()),
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map(|f| (u16::from(f.code), f.reason.to_string())));
            }
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return Err(None),
        }
    }
}

/// The close code the server ends the socket with.
async fn closed_with(socket: &mut Socket) -> u16 {
    loop {
        match next(socket).await {
            Ok(_) => continue,
            Err(Some((code, _))) => return code,
            Err(None) => panic!("the socket ended without a close frame"),
        }
    }
}

/// Connect and initialise with `token`.
pub(crate) async fn ready(address: &str, token: &str) -> Socket {
    let mut socket = connect(address).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    socket
}

pub(crate) async fn subscribe(socket: &mut Socket, id: &str, query: &str, variables: Value) {
    send(
        socket,
        json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
}

const WORKSPACE_EVENTS: &str =
    "subscription { workspaceEvents { kind seq profileId changes profile { name } } }";

both_backends!(
    a_subscriber_gets_each_committed_event,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let mut all = ready(&app.address, &app.demo_token).await;
        subscribe(&mut all, "all", WORKSPACE_EVENTS, json!({})).await;
        let mut maria = ready(&app.address, &app.demo_token).await;
        // Only Peter's notes.
        subscribe(
        &mut maria,
        "notes",
        "subscription($p: ID!) { profileEvents(profileId: $p, kinds: [NOTE_CREATED]) { kind seq } }",
        json!({ "p": d.peter }),
    )
    .await;
        // Let both subscriptions take hold before the write.
        tokio::time::sleep(Duration::from_millis(300)).await;
        mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "name": "Peter Bakker" }),
        )
        .await;
        mutate_ok(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": d.peter, "body": "Live!" }),
        )
        .await;
        let first = next(&mut all).await.unwrap();
        assert_eq!(first["type"], "next");
        assert_eq!(first["id"], "all");
        let event = &first["payload"]["data"]["workspaceEvents"];
        assert_eq!(event["kind"], "PROFILE_RENAMED");
        assert_eq!(event["seq"], 1);
        assert_eq!(event["profile"]["name"], "Peter Bakker");
        let second = next(&mut all).await.unwrap();
        assert_eq!(
            second["payload"]["data"]["workspaceEvents"]["kind"],
            "NOTE_CREATED"
        );
        // The filtered one skipped the rename.
        let only = next(&mut maria).await.unwrap();
        assert_eq!(
            only["payload"]["data"]["profileEvents"],
            json!({ "kind": "NOTE_CREATED", "seq": 2 })
        );
        // `complete` from the client ends it; the socket stays open.
        send(&mut all, json!({ "id": "all", "type": "complete" })).await;
        send(&mut all, json!({ "type": "ping" })).await;
        assert_eq!(next(&mut all).await.unwrap()["type"], "pong");
    }
);

both_backends!(another_workspace_hears_nothing, |app: TestApp| async move {
    let d = demo(&app).await;
    let other = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
        .await
        .unwrap();
    let other_token = token(&app, other.id, None, "read").await;
    let mut theirs = ready(&app.address, &other_token).await;
    subscribe(&mut theirs, "all", WORKSPACE_EVENTS, json!({})).await;
    // Their subscription on our profile's id: a profile they don't have.
    subscribe(
        &mut theirs,
        "peter",
        "subscription($p: ID!) { profileEvents(profileId: $p) { kind } }",
        json!({ "p": d.peter }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    mutate_ok(
        &app,
        &app.demo_token,
        "createNote",
        json!({ "profileId": d.peter, "body": "Not for them." }),
    )
    .await;
    send(&mut theirs, json!({ "type": "ping" })).await;
    // The pong comes; no event before or after it.
    assert_eq!(next(&mut theirs).await.unwrap()["type"], "pong");
    let quiet = tokio::time::timeout(Duration::from_millis(800), theirs.next()).await;
    assert!(quiet.is_err(), "nothing else arrives: {quiet:?}");
});

both_backends!(
    every_close_code_of_the_protocol,
    |app: TestApp| async move {
        // 4400: not a protocol message.
        let mut socket = connect(&app.address).await;
        send(&mut socket, json!({ "type": "hello" })).await;
        assert_eq!(closed_with(&mut socket).await, 4400);
        // 4401: subscribe before the ack.
        let mut socket = connect(&app.address).await;
        subscribe(&mut socket, "1", WORKSPACE_EVENTS, json!({})).await;
        assert_eq!(closed_with(&mut socket).await, 4401);
        // 4403: a bad token.
        let mut socket = connect(&app.address).await;
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": { "Authorization": "Bearer pgr_nope" } }),
        )
        .await;
        assert_eq!(closed_with(&mut socket).await, 4403);
        // 4429: a second connection_init.
        let mut socket = ready(&app.address, &app.demo_token).await;
        send(
            &mut socket,
            json!({ "type": "connection_init", "payload": {} }),
        )
        .await;
        assert_eq!(closed_with(&mut socket).await, 4429);
        // 4409: an id that is already active.
        let mut socket = ready(&app.address, &app.demo_token).await;
        subscribe(&mut socket, "same", WORKSPACE_EVENTS, json!({})).await;
        subscribe(&mut socket, "same", WORKSPACE_EVENTS, json!({})).await;
        assert_eq!(closed_with(&mut socket).await, 4409);
        // 4408: no connection_init in time (3 s by default).
        let mut socket = connect(&app.address).await;
        let started = std::time::Instant::now();
        assert_eq!(closed_with(&mut socket).await, 4408);
        assert!(started.elapsed() >= Duration::from_secs(2));
        // A query over the socket: an `error` for that id, the socket stays.
        let mut socket = ready(&app.address, &app.demo_token).await;
        subscribe(&mut socket, "q", "{ viewer { scopes } }", json!({})).await;
        let refused = next(&mut socket).await.unwrap();
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["id"], "q");
        // A document that doesn't validate: an `error` too.
        subscribe(&mut socket, "v", "subscription { nope }", json!({})).await;
        let refused = next(&mut socket).await.unwrap();
        assert_eq!(refused["type"], "error");
        assert_eq!(refused["id"], "v");
        // The token in the upgrade request's header works as well.
        let url = format!("{}/graphql", app.address.replacen("http://", "ws://", 1));
        let mut request = url.into_client_request().unwrap();
        let headers = request.headers_mut();
        headers.insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static("graphql-transport-ws"),
        );
        headers.insert(
            "Authorization",
            HeaderValue::from_str(&format!("Bearer {}", app.demo_token)).unwrap(),
        );
        let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
        send(&mut socket, json!({ "type": "connection_init" })).await;
        assert_eq!(next(&mut socket).await.unwrap()["type"], "connection_ack");
    }
);

both_backends!(
    a_revoked_token_loses_its_socket,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let reader = token(&app, d.workspace_id, None, "read").await;
        let mut socket = ready(&app.address, &reader).await;
        subscribe(&mut socket, "all", WORKSPACE_EVENTS, json!({})).await;
        let prefix: String = reader.chars().take(12).collect();
        profilegraph_store::tokens::revoke(app.conn(), d.workspace_id, &prefix)
            .await
            .unwrap();
        let started = std::time::Instant::now();
        assert_eq!(closed_with(&mut socket).await, 4403);
        assert!(started.elapsed() < Duration::from_secs(3));
    }
);

/// A socket reads with a small buffer (thousands of them stay cheap); a `subscribe`
/// many times its size still arrives whole and runs.
#[tokio::test(flavor = "multi_thread")]
async fn a_subscribe_larger_than_the_read_buffer_runs() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let d = demo(&app).await;
    let mut socket = ready(&app.address, &app.demo_token).await;
    // 64 KiB of comment in front of the document.
    let padding = format!("# {}\n", "x".repeat(64 * 1024));
    let query = format!("{padding}subscription {{ workspaceEvents {{ kind profileId }} }}");
    subscribe(&mut socket, "big", &query, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    mutate_ok(
        &app,
        &app.demo_token,
        "createNote",
        json!({ "profileId": d.peter, "body": "Heard through a big subscribe" }),
    )
    .await;
    let message = next(&mut socket).await.unwrap();
    assert_eq!(message["id"], "big");
    assert_eq!(
        message["payload"]["data"]["workspaceEvents"]["kind"],
        "NOTE_CREATED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_the_server_closes_sockets_with_1001() {
    let mut app = spawn_app(Backend::Sqlite).await.unwrap();
    let mut socket = ready(&app.address, &app.demo_token).await;
    subscribe(&mut socket, "all", WORKSPACE_EVENTS, json!({})).await;
    app.stop();
    assert_eq!(closed_with(&mut socket).await, 1001);
}

/// A second server on the same database as `app`, as another process would run it.
async fn second_instance(app: &TestApp) -> (String, tokio::sync::oneshot::Sender<()>) {
    let mut config = profilegraph::config::Config::for_database(app.db_url.clone());
    config.no_demo = true;
    let prepared = profilegraph::app::prepare(&config).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(profilegraph::app::run(
        listener,
        prepared.state,
        async move {
            let _ = stopped.await;
        },
    ));
    (address, stop)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_on_one_postgresql_behave_as_one() {
    let Some(app) = spawn_app_with(Backend::Postgres, |_| {}).await else {
        println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
        return;
    };
    let d = demo(&app).await;
    let (b, _stop) = second_instance(&app).await;
    let mut on_b = ready(&b, &app.demo_token).await;
    subscribe(&mut on_b, "all", WORKSPACE_EVENTS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A write through A reaches B's subscriber within a second.
    let started = std::time::Instant::now();
    mutate_ok(
        &app,
        &app.demo_token,
        "createNote",
        json!({ "profileId": d.peter, "body": "Through A" }),
    )
    .await;
    let event = next(&mut on_b).await.unwrap();
    assert_eq!(
        event["payload"]["data"]["workspaceEvents"]["kind"],
        "NOTE_CREATED"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    // Kill every LISTEN connection (B's among them), write meanwhile: nothing is lost.
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let killed = app
        .conn()
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index::<i64>(0)
        .unwrap();
    assert!(killed >= 2, "both instances' listeners were cut ({killed})");
    for n in 0..3 {
        mutate_ok(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": d.peter, "body": format!("While B was away {n}") }),
        )
        .await;
    }
    let mut seqs = Vec::new();
    for _ in 0..3 {
        let event = next(&mut on_b).await.unwrap();
        seqs.push(
            event["payload"]["data"]["workspaceEvents"]["seq"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(seqs, [2, 3, 4]);
}
