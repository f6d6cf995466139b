//! Two `profilegraph serve` processes on one PostgreSQL database deliver one endpoint's
//! webhooks together: every event arrives, no attempt runs on both at once, and when one
//! is killed with SIGKILL in the middle, the other takes over its deliveries once their
//! leases run out. Needs `TEST_DATABASE_URL` (skipped without it).

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_profilegraph");
const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const EVENTS: usize = 1000;

struct Server {
    child: Child,
    addr: String,
    _stdout: BufReader<ChildStdout>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `serve` on `url`; the demo token when it seeded one.
fn start(url: &str, demo: bool) -> (Server, Option<String>) {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", url)
        .env("PROFILEGRAPH_LISTEN", "127.0.0.1:0")
        .env("PROFILEGRAPH_LOG", "warn")
        .env("PROFILEGRAPH_WEBHOOK_SECRET_KEY", KEY)
        .env("PROFILEGRAPH_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("PROFILEGRAPH_WEBHOOK_TIMEOUT_SECS", "2");
    if !demo {
        command.env("PROFILEGRAPH_NO_DEMO", "true");
    }
    let mut child = command
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("the first line names the address: {first:?}"))
        .to_owned();
    let token = demo.then(|| {
        loop {
            let mut line = String::new();
            assert!(stdout.read_line(&mut line).unwrap() > 0, "no demo token");
            if line.starts_with("pgr_") {
                break line.trim().to_owned();
            }
        }
    });
    (
        Server {
            child,
            addr,
            _stdout: stdout,
        },
        token,
    )
}

/// What the receiver saw: the `webhook-id`s answered, how many requests, and whether one
/// id was ever being sent twice at the same moment.
#[derive(Default)]
struct Seen {
    delivered: HashSet<String>,
    requests: usize,
    in_flight: HashMap<String, usize>,
    overlaps: usize,
}

async fn hook(State(seen): State<Arc<Mutex<Seen>>>, headers: HeaderMap) -> &'static str {
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    {
        let mut seen = seen.lock().unwrap();
        seen.requests += 1;
        let n = seen.in_flight.entry(id.clone()).or_default();
        *n += 1;
        if *n > 1 {
            seen.overlaps += 1;
        }
    }
    // Leaves the count when the request ends, also when it ends early: a request from
    // the killed instance is dropped mid-way when its connection goes, and is no longer
    // in flight after that.
    let in_flight = InFlight {
        seen: seen.clone(),
        id: id.clone(),
    };
    // A receiver that takes a moment, so that attempts overlap in time.
    tokio::time::sleep(Duration::from_millis(5)).await;
    drop(in_flight);
    seen.lock().unwrap().delivered.insert(id);
    "ok"
}

/// One request to the receiver, counted in `Seen::in_flight` until dropped.
struct InFlight {
    seen: Arc<Mutex<Seen>>,
    id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = seen.in_flight.get_mut(&self.id) {
            *n -= 1;
        }
    }
}

async fn graphql(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    query: &str,
    variables: Value,
) -> Value {
    let body: Value = client
        .post(format!("http://{server}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body:#}");
    body["data"].clone()
}

/// `createProfile`; `None` when the server can't be reached or failed.
async fn create(
    client: &reqwest::Client,
    server: &str,
    token: &str,
    variables: &Value,
) -> Option<()> {
    let body: Value = client
        .post(format!("http://{server}/graphql"))
        .bearer_auth(token)
        .json(&json!({
            "query": "mutation($input: CreateProfileInput!) { createProfile(input: $input) { profile { id } } }",
            "variables": variables,
        }))
        .send()
        .await
        .ok()?
        .json()
        .await
        .ok()?;
    body.get("errors").is_none().then_some(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_instances_deliver_every_event_once_at_a_time_and_survive_a_sigkill() {
    let Ok(admin_url) = std::env::var("TEST_DATABASE_URL") else {
        println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
        return;
    };
    let name = format!("pgtest_{}", Uuid::now_v7().simple());
    let admin = Database::connect(&admin_url).await.unwrap();
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
        .await
        .unwrap();
    let (base, _) = admin_url.rsplit_once('/').unwrap();
    let url = format!("{base}/{name}");

    let seen = Arc::new(Mutex::new(Seen::default()));
    let router = axum::Router::new()
        .route("/hook", axum::routing::post(hook))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });

    let (a, token) = start(&url, true);
    let token = token.unwrap();
    let (b, _) = start(&url, false);
    let mut a = Some(a);
    let client = reqwest::Client::new();
    let a_addr = a.as_ref().unwrap().addr.clone();
    graphql(
        &client,
        &a_addr,
        &token,
        "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { secret } }",
        json!({ "input": { "url": format!("http://{receiver}/hook") } }),
    )
    .await;

    // 1,000 events, written through both instances, 8 at a time.
    let mut writers = Vec::new();
    for w in 0..8 {
        let (client, token) = (client.clone(), token.clone());
        let servers = [a_addr.clone(), b.addr.clone()];
        writers.push(tokio::spawn(async move {
            for i in (w..EVENTS).step_by(8) {
                let input = json!({ "input": { "name": format!("Customer {i}") } });
                // Once A is gone, its writes go to B.
                if create(&client, &servers[i % 2], &token, &input)
                    .await
                    .is_none()
                {
                    create(&client, &servers[1], &token, &input).await.unwrap();
                }
            }
        }));
        if w == 3 {
            // Let deliveries get going before the rest of the writers join in.
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    // Kill A in the middle of the deliveries.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().delivered.len() < EVENTS / 3 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deliveries never got going"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut killed = a.take().unwrap();
    killed.child.kill().unwrap(); // SIGKILL
    killed.child.wait().unwrap();
    let at_kill = seen.lock().unwrap().delivered.len();
    for writer in writers {
        writer.await.unwrap();
    }
    let written: i64 = {
        let conn = Database::connect(&url).await.unwrap();
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                // Those still waiting for their number included.
                "SELECT (SELECT COUNT(*) FROM profile_events) \
                   + (SELECT COUNT(*) FROM profile_events_pending) AS n",
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    };

    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        let delivered = seen.lock().unwrap().delivered.len() as i64;
        if delivered >= written {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{delivered} of {written} events delivered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The receiver answers before the server records the answer: wait for the record.
    let conn = Database::connect(&url).await.unwrap();
    let (delivered, n) = loop {
        let row = conn
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                "SELECT COUNT(*) FILTER (WHERE status = 'DELIVERED') AS delivered, COUNT(*) AS n FROM webhook_deliveries",
            ))
            .await
            .unwrap()
            .unwrap();
        let counts: (i64, i64) = (
            row.try_get("", "delivered").unwrap(),
            row.try_get("", "n").unwrap(),
        );
        if counts.0 >= written || tokio::time::Instant::now() >= deadline {
            break counts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let (seen_delivered, requests, overlaps) = {
        let seen = seen.lock().unwrap();
        (seen.delivered.len(), seen.requests, seen.overlaps)
    };
    println!(
        "{written} events, {} delivered ({at_kill} when A was killed), {} requests, {} overlaps",
        seen_delivered, requests, overlaps
    );
    // A write A committed just before it died may have been sent again to B.
    assert!(
        written >= EVENTS as i64,
        "every write went through: {written}"
    );
    assert_eq!(n, written, "one delivery per event");
    assert_eq!(delivered, written, "every delivery DELIVERED");
    assert_eq!(overlaps, 0, "no attempt ran on both instances at once");
    drop(conn);
    drop(b);
    let _ = admin
        .execute_unprepared(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await;
}
