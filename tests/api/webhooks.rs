//! Webhooks: registered endpoints get the workspace's profile events, signed to the
//! Standard Webhooks 1.0 spec, at least once, with retries on a clock the tests move.
//!
//! The receiver is a real HTTP server on loopback (axum), so the server runs with
//! `--webhook-allow-private`; the SSRF rules are tested without it. Signatures are checked
//! with the spec's algorithm written here independently (the `hmac` and `sha2` crates),
//! not with the server's code.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use profilegraph_store::webhooks::Clock;
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, spawn_app_with};
use crate::ops::{create_profile, rename_profile};
use crate::support::{call, data, single_error, token};

/// The server's key in these tests (base64 of 32 bytes).
const KEY: &str = crate::helpers::TEST_WEBHOOK_KEY;

/// What the receiver answers to one request.
#[derive(Debug, Clone)]
enum Reply {
    /// This status, with an empty body.
    Status(u16),
    /// 429 with `Retry-After: secs`.
    TooMany(u64),
    /// Never answer.
    Hang,
    /// 200 with a body that never ends.
    Endless,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("no `{name}` header in {:?}", self.headers))
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

#[derive(Clone, Default)]
struct Script {
    replies: Arc<Mutex<VecDeque<Reply>>>,
    received: Arc<Mutex<Vec<Received>>>,
}

/// A webhook receiver on loopback: answers with the scripted replies in order, then 200.
struct Receiver {
    addr: SocketAddr,
    script: Script,
}

impl Receiver {
    async fn start(replies: Vec<Reply>) -> Receiver {
        let script = Script {
            replies: Arc::new(Mutex::new(replies.into())),
            received: Arc::default(),
        };
        let router = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(script.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Receiver { addr, script }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    fn received(&self) -> Vec<Received> {
        self.script.received.lock().unwrap().clone()
    }

    /// Wait until it has received `n` requests (at most 15 s).
    async fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the receiver got {} of {n} requests",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn hook(State(script): State<Script>, headers: HeaderMap, body: Bytes) -> Response {
    script
        .received
        .lock()
        .unwrap()
        .push(Received { headers, body });
    let reply = script
        .replies
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(status) => Response::builder()
            .status(status)
            .body(Body::from("ok"))
            .unwrap(),
        Reply::TooMany(secs) => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header("retry-after", secs.to_string())
            .body(Body::empty())
            .unwrap(),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Response::new(Body::empty())
        }
        Reply::Endless => {
            let chunk = Bytes::from(vec![b'x'; 4096]);
            let stream = futures_util::stream::repeat_with(move || {
                Ok::<_, std::convert::Infallible>(chunk.clone())
            });
            Response::new(Body::from_stream(stream))
        }
    }
}

/// The spec's verification, written from the spec: HMAC-SHA256 with the base64-decoded
/// part of `whsec_…` over `id.timestamp.body`, compared with each `v1,` signature of the
/// header in constant time; the timestamp within 5 minutes. Returns how many of the
/// header's signatures `secret` made.
fn verify(secret: &str, request: &Received) -> usize {
    use hmac::{Hmac, KeyInit, Mac};
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").expect("a whsec_ secret"))
        .unwrap();
    let id = request.header("webhook-id");
    let timestamp = request.header("webhook-timestamp");
    let sent: i64 = timestamp.parse().unwrap();
    assert!(
        (chrono::Utc::now().timestamp() - sent).abs() < 300,
        "webhook-timestamp {sent} is within 5 minutes of now"
    );
    let mut signed = format!("{id}.{timestamp}.").into_bytes();
    signed.extend_from_slice(&request.body);
    request
        .header("webhook-signature")
        .split(' ')
        .filter(|part| {
            let sig = part.strip_prefix("v1,").expect("a v1 signature");
            let sig = STANDARD.decode(sig).unwrap();
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(&signed);
            mac.verify_slice(&sig).is_ok()
        })
        .count()
}

/// The server with webhooks on, on `backend`, with a clock the test moves.
async fn spawn(backend: Backend, clock: &Clock) -> Option<TestApp> {
    let clock = clock.clone();
    spawn_app_with(backend, move |config| {
        config.webhook_secret_key = Some(KEY.into());
        config.webhook_allow_private = true;
        config.webhook_timeout_secs = 1;
        config.webhook_clock = clock;
    })
    .await
}

const ENDPOINT: &str = "id url description kinds enabled disabledReason failingSince lastSeq";

const CREATE: &str = "mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret endpoint { id url description kinds enabled } }
}";

const DELIVERIES: &str = "query($id: ID!) { webhookEndpoint(id: $id) {
  deliveries(first: 100) { totalCount nodes {
    id webhookId eventSeq status attemptCount nextAttemptAt createdAt finishedAt
    event { id kind }
    attempts { attemptedAt durationMs httpStatus error responseBody }
  } }
} }";

/// Register an endpoint for `url` (every kind unless `kinds`); its id and secret.
async fn register(app: &TestApp, url: &str, kinds: Value) -> (String, String) {
    let d = data(
        app,
        &app.demo_token,
        CREATE,
        json!({ "input": { "url": url, "kinds": kinds, "description": "CRM sync" } }),
    )
    .await;
    let payload = &d["createWebhookEndpoint"];
    (
        payload["endpoint"]["id"].as_str().unwrap().to_owned(),
        payload["secret"].as_str().unwrap().to_owned(),
    )
}

/// The endpoint's deliveries, newest first.
async fn deliveries(app: &TestApp, endpoint: &str) -> Vec<Value> {
    let d = data(app, &app.demo_token, DELIVERIES, json!({ "id": endpoint })).await;
    d["webhookEndpoint"]["deliveries"]["nodes"]
        .as_array()
        .unwrap()
        .clone()
}

/// Wait until the endpoint's newest delivery satisfies `done` (at most 15 s).
async fn wait_delivery(app: &TestApp, endpoint: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let all = deliveries(app, endpoint).await;
        if let Some(first) = all.first()
            && done(first)
        {
            return first.clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the delivery never got there: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn at(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap()).unwrap()
}

/// The seconds from the end of the last attempt to the next one scheduled.
fn wait_after(delivery: &Value) -> f64 {
    let attempts = delivery["attempts"].as_array().unwrap();
    let last = attempts.last().unwrap();
    let ended = at(&last["attemptedAt"])
        + chrono::Duration::milliseconds(last["durationMs"].as_i64().unwrap());
    (at(&delivery["nextAttemptAt"]) - ended).as_seconds_f64()
}

/// One test per backend for a scenario that spawns its own app.
macro_rules! on_both {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                super::$name(crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                super::$name(crate::helpers::Backend::Postgres).await;
            }
        }
    };
}

on_both!(signed_events_reach_the_receiver);
async fn signed_events_reach_the_receiver(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![]).await;
    let (endpoint, secret) = register(&app, &receiver.url(), json!([])).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(STANDARD.decode(&secret[6..]).unwrap().len() >= 24);

    let profile = create_profile(&app, "Ada Lovelace", &[]).await;
    rename_profile(&app, &profile["id"], "Ada King", None).await;
    let mut got = receiver.wait_for(2).await;
    // An endpoint gets several deliveries at once, so they may arrive in any order: a
    // receiver orders by `seq`.
    got.sort_by_key(|r| r.json()["data"]["seq"].as_i64());
    let bodies: Vec<Value> = got.iter().map(Received::json).collect();
    let types: Vec<&str> = bodies.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["profile.created", "profile.renamed"]);
    for (request, body) in got.iter().zip(&bodies) {
        assert_eq!(request.header("content-type"), "application/json");
        assert_eq!(verify(&secret, request), 1, "the signature verifies");
        assert_eq!(request.header("webhook-id"), body["data"]["id"]);
        assert_eq!(body["data"]["profileId"], profile["id"]);
        assert_eq!(body["timestamp"], body["data"]["occurredAt"]);
        chrono::DateTime::parse_from_rfc3339(body["timestamp"].as_str().unwrap()).unwrap();
    }
    assert_eq!(bodies[1]["data"]["kind"], "PROFILE_RENAMED");
    assert_eq!(
        bodies[1]["data"]["changes"]["name"],
        json!({ "old": "Ada Lovelace", "new": "Ada King" })
    );
    assert!(
        bodies[1]["data"]["seq"].as_i64().unwrap() > bodies[0]["data"]["seq"].as_i64().unwrap()
    );
    assert!(bodies[0]["data"]["actor"].is_string(), "{:#}", bodies[0]);

    // A body tampered with in transit no longer verifies.
    let mut forged = got[0].clone();
    forged.body = Bytes::from(String::from_utf8_lossy(&forged.body).replace("Ada", "Eve"));
    assert_eq!(verify(&secret, &forged), 0);

    let delivery = wait_delivery(&app, &endpoint, |d| d["status"] == "DELIVERED").await;
    assert_eq!(delivery["attemptCount"], 1);
    assert_eq!(delivery["attempts"][0]["httpStatus"], 200);
    assert_eq!(delivery["attempts"][0]["responseBody"], "ok");
    assert_eq!(delivery["event"]["kind"], "PROFILE_RENAMED");
    assert_eq!(delivery["webhookId"], delivery["event"]["id"]);
    assert!(delivery["nextAttemptAt"].is_null());
    assert_eq!(deliveries(&app, &endpoint).await.len(), 2);
}

on_both!(a_failing_receiver_is_retried_with_the_same_id_until_it_answers);
async fn a_failing_receiver_is_retried_with_the_same_id_until_it_answers(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![Reply::Status(500), Reply::Status(503)]).await;
    let (endpoint, secret) = register(&app, &receiver.url(), json!([])).await;
    create_profile(&app, "Grace Hopper", &[]).await;

    let first = wait_delivery(&app, &endpoint, |d| d["attemptCount"] == 1).await;
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["attempts"][0]["httpStatus"], 500);
    let wait = wait_after(&first);
    assert!(
        (4.5..=5.5).contains(&wait),
        "about 5 s, with jitter: {wait}"
    );
    // Not due yet: nothing more arrives without the clock moving.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(receiver.received().len(), 1);

    clock.advance(Duration::from_secs(6));
    let second = wait_delivery(&app, &endpoint, |d| d["attemptCount"] == 2).await;
    assert_eq!(second["attempts"][1]["httpStatus"], 503);
    let wait = wait_after(&second);
    assert!((27.0..=33.0).contains(&wait), "about 30 s: {wait}");

    clock.advance(Duration::from_secs(34));
    let done = wait_delivery(&app, &endpoint, |d| d["status"] == "DELIVERED").await;
    assert_eq!(done["attemptCount"], 3);
    let got = receiver.wait_for(3).await;
    assert_eq!(got.len(), 3, "three attempts and no more");
    let ids: Vec<&str> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one webhook-id on every retry: {ids:?}"
    );
    assert!(got.iter().all(|r| verify(&secret, r) == 1));
    assert_eq!(got[0].body, got[2].body, "the same body on every attempt");
}

on_both!(a_receiver_that_never_answers_is_retried_on_schedule_then_failed);
async fn a_receiver_that_never_answers_is_retried_on_schedule_then_failed(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![Reply::Hang; 20]).await;
    let (endpoint, _) = register(&app, &receiver.url(), json!([])).await;
    create_profile(&app, "Alan Turing", &[]).await;

    // The schedule after each timeout (1 s here): about 5 s, 30 s, 2 min, 10 min, 30 min,
    // 1 h, then 3 h.
    let expected = [5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 10800.0];
    for (n, secs) in expected.iter().enumerate() {
        let delivery = wait_delivery(&app, &endpoint, |d| d["attemptCount"] == n + 1).await;
        assert_eq!(delivery["status"], "PENDING");
        let attempt = &delivery["attempts"][n];
        assert!(attempt["httpStatus"].is_null());
        assert_eq!(attempt["error"], "no answer within 1 s", "{attempt:#}");
        let wait = wait_after(&delivery);
        assert!(
            // The schedule starts when the attempt's result is kept, a moment after it
            // ended.
            wait >= secs * 0.9 - 0.05 && wait <= secs * 1.1 + 0.2,
            "attempt {}: {wait} s, expected about {secs} s",
            n + 1
        );
        clock.advance(Duration::from_secs_f64(wait + 1.0));
    }
    // Past 24 hours of retries it is given up.
    clock.advance(Duration::from_secs(24 * 3600));
    let failed = wait_delivery(&app, &endpoint, |d| d["status"] == "FAILED").await;
    assert!(failed["nextAttemptAt"].is_null());
    assert!(failed["finishedAt"].is_string());
    let endpoint_now = data(
        &app,
        &app.demo_token,
        &format!("query($id: ID!) {{ webhookEndpoint(id: $id) {{ {ENDPOINT} }} }}"),
        json!({ "id": endpoint }),
    )
    .await;
    assert!(
        endpoint_now["webhookEndpoint"]["failingSince"].is_string(),
        "{endpoint_now:#}"
    );
}

on_both!(client_errors_fail_at_once_and_retry_after_is_respected);
async fn client_errors_fail_at_once_and_retry_after_is_respected(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let gone = Receiver::start(vec![Reply::Status(410)]).await;
    let (gone_endpoint, _) = register(&app, &gone.url(), json!([])).await;
    let busy = Receiver::start(vec![Reply::TooMany(600)]).await;
    let (busy_endpoint, _) = register(&app, &busy.url(), json!([])).await;
    create_profile(&app, "Katherine Johnson", &[]).await;

    let failed = wait_delivery(&app, &gone_endpoint, |d| d["status"] == "FAILED").await;
    assert_eq!(failed["attemptCount"], 1);
    assert_eq!(failed["attempts"][0]["httpStatus"], 410);

    let waiting = wait_delivery(&app, &busy_endpoint, |d| d["attemptCount"] == 1).await;
    assert_eq!(waiting["status"], "PENDING");
    let wait = wait_after(&waiting);
    assert!(
        (600.0..601.0).contains(&wait),
        "Retry-After: 600 over the 5 s step: {wait}"
    );
}

on_both!(a_rotated_secret_signs_beside_the_new_one_for_a_day);
async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![]).await;
    let (endpoint, old) = register(&app, &receiver.url(), json!([])).await;
    let d = data(
        &app,
        &app.demo_token,
        "mutation($input: RotateWebhookSecretInput!) { rotateWebhookSecret(input: $input) {
           secret endpoint { previousSecretExpiresAt } } }",
        json!({ "input": { "id": endpoint } }),
    )
    .await;
    let new = d["rotateWebhookSecret"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    let until = at(&d["rotateWebhookSecret"]["endpoint"]["previousSecretExpiresAt"]);
    let hours = (until - chrono::Utc::now().fixed_offset()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");

    create_profile(&app, "Hedy Lamarr", &[]).await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].header("webhook-signature").split(' ').count(), 2);
    assert_eq!(verify(&new, &got[0]), 1, "the new secret signs");
    assert_eq!(verify(&old, &got[0]), 1, "and the old one, for now");

    // A day later only the new one signs.
    clock.advance(Duration::from_secs(24 * 3600 + 60));
    create_profile(&app, "Hedy Kiesler", &[]).await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].header("webhook-signature").split(' ').count(), 1);
    assert_eq!(verify(&new, &got[1]), 1);
    assert_eq!(verify(&old, &got[1]), 0);
}

on_both!(kinds_filter_and_a_disabled_endpoint_gets_nothing);
async fn kinds_filter_and_a_disabled_endpoint_gets_nothing(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let renames = Receiver::start(vec![]).await;
    let (renames_endpoint, _) = register(&app, &renames.url(), json!(["PROFILE_RENAMED"])).await;
    let off = Receiver::start(vec![]).await;
    let (off_endpoint, _) = register(&app, &off.url(), json!([])).await;
    let d = data(
        &app,
        &app.demo_token,
        &format!(
            "mutation($input: UpdateWebhookEndpointInput!) {{
               updateWebhookEndpoint(input: $input) {{ secret endpoint {{ {ENDPOINT} }} }} }}"
        ),
        json!({ "input": { "id": off_endpoint, "enabled": false } }),
    )
    .await;
    let updated = &d["updateWebhookEndpoint"];
    assert!(updated["secret"].is_null(), "an update shows no secret");
    assert_eq!(updated["endpoint"]["enabled"], false);
    assert_eq!(
        updated["endpoint"]["disabledReason"],
        "disabled through the API"
    );

    let profile = create_profile(&app, "Mary Jackson", &[]).await;
    rename_profile(&app, &profile["id"], "Mary W. Jackson", None).await;
    let got = renames.wait_for(1).await;
    assert_eq!(got[0].json()["type"], "profile.renamed");
    // Give the worker time to send anything it wrongly would.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(renames.received().len(), 1, "only the kind asked for");
    assert!(
        off.received().is_empty(),
        "a disabled endpoint gets nothing"
    );
    assert!(deliveries(&app, &off_endpoint).await.is_empty());
    assert_eq!(deliveries(&app, &renames_endpoint).await.len(), 1);

    // On again: what happens from now on.
    data(
        &app,
        &app.demo_token,
        "mutation($input: UpdateWebhookEndpointInput!) { updateWebhookEndpoint(input: $input) { endpoint { id } } }",
        json!({ "input": { "id": off_endpoint, "enabled": true } }),
    )
    .await;
    rename_profile(&app, &profile["id"], "Mary Winston Jackson", None).await;
    let got = off.wait_for(1).await;
    assert_eq!(
        got[0].json()["data"]["changes"]["name"]["new"],
        "Mary Winston Jackson"
    );
}

on_both!(response_bodies_are_kept_to_a_kibibyte_and_redelivery_sends_again);
async fn response_bodies_are_kept_to_a_kibibyte_and_redelivery_sends_again(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![Reply::Endless]).await;
    let (endpoint, _) = register(&app, &receiver.url(), json!([])).await;
    create_profile(&app, "Dorothy Vaughan", &[]).await;
    let delivered = wait_delivery(&app, &endpoint, |d| d["status"] == "DELIVERED").await;
    let body = delivered["attempts"][0]["responseBody"].as_str().unwrap();
    assert_eq!(body.len(), 1024, "an endless body is cut off at 1 KiB");
    assert!(delivered["attempts"][0]["durationMs"].as_i64().unwrap() < 1000);

    let d = data(
        &app,
        &app.demo_token,
        "mutation($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) {
           delivery { id status nextAttemptAt attemptCount } } }",
        json!({ "input": { "deliveryId": delivered["id"] } }),
    )
    .await;
    assert_eq!(d["redeliverWebhook"]["delivery"]["status"], "PENDING");
    let again = wait_delivery(&app, &endpoint, |d| d["attemptCount"] == 2).await;
    assert_eq!(again["status"], "DELIVERED");
    let got = receiver.wait_for(2).await;
    assert_eq!(got[0].header("webhook-id"), got[1].header("webhook-id"));
}

on_both!(only_admins_of_the_workspace_manage_its_endpoints);
async fn only_admins_of_the_workspace_manage_its_endpoints(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![]).await;
    let (endpoint, _) = register(&app, &receiver.url(), json!([])).await;
    let workspace = app.demo_workspace().await;
    for scopes in ["read", "read,write"] {
        let t = token(&app, workspace.id, None, scopes).await;
        let body = call(
            &app,
            &t,
            "{ webhookEndpoints(first: 5) { totalCount } }",
            json!({}),
        )
        .await;
        single_error(&body, "FORBIDDEN");
        let body = call(
            &app,
            &t,
            CREATE,
            json!({ "input": { "url": receiver.url() } }),
        )
        .await;
        single_error(&body, "FORBIDDEN");
    }
    // An admin of another workspace: the endpoint doesn't exist for it.
    let other = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
        .await
        .unwrap();
    let stranger = token(&app, other.id, None, "read,write,admin").await;
    let d = data(
        &app,
        &stranger,
        "query($id: ID!) { webhookEndpoint(id: $id) { id } webhookEndpoints(first: 5) { totalCount } }",
        json!({ "id": endpoint }),
    )
    .await;
    assert!(d["webhookEndpoint"].is_null());
    assert_eq!(d["webhookEndpoints"]["totalCount"], 0);
    for (mutation, input) in [
        (
            "updateWebhookEndpoint",
            json!({ "id": endpoint, "enabled": false }),
        ),
        ("rotateWebhookSecret", json!({ "id": endpoint })),
        ("deleteWebhookEndpoint", json!({ "id": endpoint })),
    ] {
        let input_type = format!("{}{}Input", mutation[..1].to_uppercase(), &mutation[1..]);
        let selection = if mutation == "deleteWebhookEndpoint" {
            "deletedId"
        } else {
            "secret"
        };
        let body = call(
            &app,
            &stranger,
            &format!(
                "mutation($input: {input_type}!) {{ {mutation}(input: $input) {{ {selection} }} }}"
            ),
            json!({ "input": input }),
        )
        .await;
        single_error(&body, "NOT_FOUND");
    }
    let d = data(
        &app,
        &app.demo_token,
        "{ webhookEndpoints(first: 5) { totalCount nodes { enabled } } }",
        json!({}),
    )
    .await;
    assert_eq!(d["webhookEndpoints"]["totalCount"], 1);
    assert_eq!(
        d["webhookEndpoints"]["nodes"][0]["enabled"], true,
        "untouched"
    );

    // The owner deletes it, and it is gone.
    let d = data(
        &app,
        &app.demo_token,
        "mutation($input: DeleteWebhookEndpointInput!) { deleteWebhookEndpoint(input: $input) { deletedId } }",
        json!({ "input": { "id": endpoint } }),
    )
    .await;
    assert_eq!(d["deleteWebhookEndpoint"]["deletedId"], endpoint);
    let d = data(
        &app,
        &app.demo_token,
        "{ webhookEndpoints(first: 5) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(d["webhookEndpoints"]["totalCount"], 0);
}

/// A name other than `localhost` that resolves to loopback on this machine (its own
/// host name does on these machines).
fn loopback_name() -> String {
    use std::net::ToSocketAddrs;
    let hostname = std::fs::read_to_string("/etc/hostname").unwrap_or_default();
    for name in [hostname.trim(), "ip6-localhost", "ip6-loopback"] {
        if name.is_empty() || name == "localhost" {
            continue;
        }
        if let Ok(addrs) = (name, 443).to_socket_addrs() {
            let addrs: Vec<_> = addrs.collect();
            if !addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()) {
                return name.to_owned();
            }
        }
    }
    panic!("no host name here resolves to loopback: the rebinding case needs one");
}

on_both!(urls_into_the_servers_own_network_are_refused);
async fn urls_into_the_servers_own_network_are_refused(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn_app_with(backend, |config| {
        config.webhook_allow_private = false;
        config.webhook_timeout_secs = 1;
    })
    .await
    else {
        return;
    };
    let name = loopback_name();
    for url in [
        "http://127.0.0.1/hook".to_owned(),
        "https://127.0.0.1/hook".to_owned(),
        "http://[::1]/hook".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data".to_owned(),
        "https://10.0.0.1/".to_owned(),
        "https://192.168.1.1/".to_owned(),
        "https://[::ffff:127.0.0.1]/".to_owned(),
        "https://[fd00:ec2::254]/".to_owned(),
        "https://localhost/hook".to_owned(),
        format!("https://{name}/hook"),
        "http://partner.example/hook".to_owned(),
        "ftp://partner.example/".to_owned(),
    ] {
        let body = call(
            &app,
            &app.demo_token,
            CREATE,
            json!({ "input": { "url": url } }),
        )
        .await;
        let error = single_error(&body, "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], "input.url", "{url}: {body:#}");
    }
    let d = data(
        &app,
        &app.demo_token,
        "{ webhookEndpoints(first: 5) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        d["webhookEndpoints"]["totalCount"], 0,
        "nothing was registered"
    );

    // A URL that got into the database some other way (or whose name resolves
    // differently now) is checked again on every attempt, and never connected to.
    let receiver = Receiver::start(vec![]).await;
    let key = profilegraph_store::webhooks::SecretKey::parse(KEY).unwrap();
    let workspace = app.demo_workspace().await;
    let (row, _) = profilegraph_store::webhooks::endpoints::create(
        &app.db,
        &key,
        &clock,
        workspace.id,
        profilegraph_store::webhooks::endpoints::NewEndpoint {
            url: url::Url::parse(&format!("http://{name}:{}/hook", receiver.addr.port())).unwrap(),
            kinds: vec![],
            description: Default::default(),
        },
    )
    .await
    .unwrap();
    create_profile(&app, "Mallory", &[]).await;
    let endpoint = crate::support::gid(profilegraph_schema::ids::NodeKind::WebhookEndpoint, row.id);
    let refused = wait_delivery(&app, &endpoint, |d| d["attemptCount"] == 1).await;
    let error = refused["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("https"), "{error}");
    assert_eq!(refused["status"], "PENDING");
    assert!(
        receiver.received().is_empty(),
        "nothing reached the private address"
    );
}

on_both!(a_dead_endpoint_holds_only_its_own_slots);
async fn a_dead_endpoint_holds_only_its_own_slots(backend: Backend) {
    // A 10 s timeout, so the dead endpoint's first attempts hang through the whole test.
    let Some(app) = spawn_app_with(backend, |config| {
        config.webhook_secret_key = Some(KEY.into());
        config.webhook_allow_private = true;
        config.webhook_timeout_secs = 10;
        config.webhook_max_in_flight_per_endpoint = 8;
    })
    .await
    else {
        return;
    };
    let dead = Receiver::start(vec![Reply::Hang; 100]).await;
    register(&app, &dead.url(), json!([])).await;
    let fast = Receiver::start(vec![]).await;
    register(&app, &fast.url(), json!([])).await;
    let started = tokio::time::Instant::now();
    for i in 0..20 {
        create_profile(&app, &format!("Customer {i}"), &[]).await;
    }
    // Every one reaches the fast endpoint while the dead one's attempts hang.
    fast.wait_for(20).await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "the fast endpoint waited: {took:?}"
    );
    dead.wait_for(8).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        dead.received().len(),
        8,
        "at most --webhook-max-in-flight-per-endpoint (8) attempts at once to one endpoint"
    );
}

/// The endpoint as the API shows it.
async fn endpoint_now(app: &TestApp, endpoint: &str) -> Value {
    let d = data(
        app,
        &app.demo_token,
        &format!("query($id: ID!) {{ webhookEndpoint(id: $id) {{ {ENDPOINT} }} }}"),
        json!({ "id": endpoint }),
    )
    .await;
    d["webhookEndpoint"].clone()
}

/// Wait until the receiver's delivery count for the endpoint has `n` attempts in all.
async fn wait_attempts(app: &TestApp, endpoint: &str, n: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let all = deliveries(app, endpoint).await;
        let made: usize = all
            .iter()
            .map(|d| d["attempts"].as_array().map_or(0, Vec::len))
            .sum();
        if made >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{made} of {n} attempts: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both!(an_endpoint_that_only_fails_for_five_days_is_disabled);
async fn an_endpoint_that_only_fails_for_five_days_is_disabled(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    // 404 fails a delivery at once: each event below is one attempt, and nothing retries
    // behind the test's back.
    let receiver = Receiver::start(vec![Reply::Status(404); 10]).await;
    let (endpoint, _) = register(&app, &receiver.url(), json!([])).await;
    let profile = create_profile(&app, "Katherine Johnson", &[]).await;
    wait_attempts(&app, &endpoint, 1).await;
    let first = endpoint_now(&app, &endpoint).await;
    let since = first["failingSince"].clone();
    assert!(since.is_string(), "the streak starts: {first:#}");
    assert_eq!(first["enabled"], true);

    // Four days of failures later: still on, and the streak still counts from the first.
    clock.advance(Duration::from_secs(4 * 24 * 3600));
    rename_profile(&app, &profile["id"], "Katherine G. Johnson", None).await;
    wait_attempts(&app, &endpoint, 2).await;
    let later = endpoint_now(&app, &endpoint).await;
    assert_eq!(later["enabled"], true, "{later:#}");
    assert_eq!(later["failingSince"], since);

    // Past five days with not one success: disabled, and the reason says why.
    clock.advance(Duration::from_secs(24 * 3600 + 60));
    rename_profile(&app, &profile["id"], "Katherine Coleman Johnson", None).await;
    wait_attempts(&app, &endpoint, 3).await;
    let off = endpoint_now(&app, &endpoint).await;
    assert_eq!(off["enabled"], false, "{off:#}");
    let reason = off["disabledReason"].as_str().unwrap();
    assert!(
        reason.contains("every attempt failed for 5 days"),
        "{reason}"
    );

    // Disabled: the next change is not sent.
    rename_profile(&app, &profile["id"], "K. Johnson", None).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "a disabled endpoint gets nothing"
    );
}

on_both!(a_success_ends_the_failing_streak);
async fn a_success_ends_the_failing_streak(backend: Backend) {
    let clock = Clock::real();
    let Some(app) = spawn(backend, &clock).await else {
        return;
    };
    let receiver = Receiver::start(vec![Reply::Status(503)]).await;
    let (endpoint, _) = register(&app, &receiver.url(), json!([])).await;
    create_profile(&app, "Dorothy Vaughan", &[]).await;
    wait_attempts(&app, &endpoint, 1).await;
    assert!(endpoint_now(&app, &endpoint).await["failingSince"].is_string());

    // The retry, about 5 s later, is answered 200.
    clock.advance(Duration::from_secs(10));
    let delivered = wait_delivery(&app, &endpoint, |d| d["status"] == "DELIVERED").await;
    assert_eq!(delivered["attemptCount"], 2);
    let after = endpoint_now(&app, &endpoint).await;
    assert!(after["failingSince"].is_null(), "{after:#}");

    // Six days on, one failure starts a new streak: not a reason to disable.
    clock.advance(Duration::from_secs(6 * 24 * 3600));
    receiver
        .script
        .replies
        .lock()
        .unwrap()
        .push_back(Reply::Status(404));
    create_profile(&app, "Mary Jackson", &[]).await;
    wait_attempts(&app, &endpoint, 3).await;
    let now = endpoint_now(&app, &endpoint).await;
    assert_eq!(now["enabled"], true, "{now:#}");
    assert!(now["failingSince"].is_string());
}
