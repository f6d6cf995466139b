//! Prometheus metrics on their own listener: scraped over HTTP and parsed as the text
//! exposition format, after requests this test made itself.
//!
//! The recorder is one per process, so every test server in this binary records into it;
//! this test's requests carry operation names no other test uses, and the shared series
//! (pool, sockets, rate limiter) are checked for what this test alone guarantees.
//! Metrics live in the HTTP layer: SQLite is enough.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_with, sql_statements};
use crate::live::{next, ready, subscribe};
use crate::support::{demo, mutate_ok};

/// One sample: its metric name and labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: String,
    labels: BTreeMap<String, String>,
}

/// Parse the text exposition format: `# HELP`/`# TYPE` lines are checked for shape,
/// every other line is `name{label="value",…} value`.
fn parse(text: &str) -> BTreeMap<Series, f64> {
    let mut samples = BTreeMap::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(comment) = line.strip_prefix("# ") {
            let kind = comment.split_whitespace().next().unwrap();
            assert!(kind == "HELP" || kind == "TYPE", "comment line: {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').unwrap();
                (name.to_owned(), parse_labels(body))
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "metric name {name}"
        );
        assert!(
            samples.insert(Series { name, labels }, value).is_none(),
            "one sample per series: {line}"
        );
    }
    samples
}

fn parse_labels(mut body: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    while !body.is_empty() {
        let (key, rest) = body.split_once("=\"").unwrap();
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().unwrap() {
                (_, '\\') => match chars.next().unwrap().1 {
                    'n' => value.push('\n'),
                    c => value.push(c),
                },
                (i, '"') => break i,
                (_, c) => value.push(c),
            }
        };
        labels.insert(key.to_owned(), value);
        body = rest[end + 1..].trim_start_matches(',');
    }
    labels
}

async fn scrape(app: &TestApp) -> BTreeMap<Series, f64> {
    let addr = app.metrics_addr.expect("the metrics listener is on");
    let response = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    parse(&response.text().await.unwrap())
}

fn value(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let series = Series {
        name: name.to_owned(),
        labels: labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    };
    samples.get(&series).copied()
}

/// The sum of every sample of `name` whose labels include `labels`.
fn total(samples: &BTreeMap<Series, f64>, name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|(s, _)| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|(_, v)| v)
        .sum()
}

const LIST: &str =
    "query MetricsProfileList { profiles(first: 10) { nodes { id name contacts { id } } } }";

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_listener_reports_requests_statements_batches_and_sockets() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.metrics_listen = Some("127.0.0.1:0".parse().unwrap());
        // Low enough for a few profile lists (a point each) to run out.
        config.rate_limit_per_token = 12;
    })
    .await
    .unwrap();
    // Not on the API's listener.
    let api = app
        .client
        .get(format!("{}/metrics", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::NOT_FOUND);

    // Three profile lists, each with the statements the server says it ran.
    let mut statements = 0;
    for _ in 0..3 {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(&app.demo_token)
            .json(&json!({ "query": LIST }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        statements += sql_statements(response.headers()).unwrap();
    }
    // A bad token, and a document that doesn't parse.
    let (status, _) = app.graphql(Some("pgr_nope"), LIST, json!({})).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, body) = app
        .graphql(Some(&app.demo_token), "query MetricsBroken {", json!({}))
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    // A subscriber, and a change for it to hear of.
    let d = demo(&app).await;
    let mut socket = ready(&app.address, &app.demo_token).await;
    subscribe(
        &mut socket,
        "s",
        "subscription MetricsEvents { workspaceEvents { kind seq } }",
        json!({}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    mutate_ok(
        &app,
        &app.demo_token,
        "updateProfile",
        json!({ "id": d.peter, "name": "Peter Metrics" }),
    )
    .await;
    assert_eq!(next(&mut socket).await.unwrap()["type"], "next");

    // Run profile lists until the token's budget runs out.
    let mut limited = false;
    for _ in 0..50 {
        let (status, _) = app.graphql(Some(&app.demo_token), LIST, json!({})).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            limited = true;
            break;
        }
    }
    assert!(limited, "the budget of 12 ran out");

    let samples = scrape(&app).await;
    let requests = "profilegraph_graphql_requests_total";
    let ok = [
        ("operation", "MetricsProfileList"),
        ("type", "query"),
        ("code", "OK"),
    ];
    assert!(value(&samples, requests, &ok).unwrap() >= 3.0);
    let list_ok = value(&samples, requests, &ok).unwrap();
    let list_limited = value(
        &samples,
        requests,
        &[
            ("operation", "MetricsProfileList"),
            ("type", "query"),
            ("code", "RATE_LIMITED"),
        ],
    );
    assert_eq!(list_limited, Some(1.0), "{samples:#?}");
    // Authentication comes before the document is read.
    assert!(
        value(
            &samples,
            requests,
            &[
                ("operation", "unknown"),
                ("type", "unknown"),
                ("code", "UNAUTHENTICATED")
            ],
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        value(
            &samples,
            requests,
            &[
                ("operation", "unknown"),
                ("type", "unknown"),
                ("code", "GRAPHQL_VALIDATION_FAILED")
            ],
        )
        .unwrap()
            >= 1.0
    );
    assert!(
        total(&samples, requests, &[("type", "mutation"), ("code", "OK")]) >= 1.0,
        "the updateProfile mutation"
    );

    // The profile list, sent again and again, was parsed and validated once: the rest
    // found both in the document cache (and were still charged: one was rate-limited).
    let cache = "profilegraph_document_cache_total";
    for kind in ["parsed", "validated"] {
        let hits = value(&samples, cache, &[("cache", kind), ("outcome", "hit")]).unwrap();
        assert!(
            hits >= list_ok - 1.0,
            "{kind}: {hits} hits, {list_ok} lists"
        );
        assert!(value(&samples, cache, &[("cache", kind), ("outcome", "miss")]).unwrap() >= 1.0);
    }
    // Read at scrape time; no test load fills a pool, so only its presence is certain.
    assert!(value(&samples, "profilegraph_db_pool_waits_total", &[]).is_some());

    // Latency: a histogram with its buckets, one observation per request.
    let latency = "profilegraph_graphql_request_duration_seconds";
    let labels = [("operation", "MetricsProfileList"), ("type", "query")];
    let count = value(&samples, &format!("{latency}_count"), &labels).unwrap();
    assert_eq!(count, list_ok + 1.0, "every request, the limited one too");
    let inf = value(
        &samples,
        &format!("{latency}_bucket"),
        &[
            ("operation", "MetricsProfileList"),
            ("type", "query"),
            ("le", "+Inf"),
        ],
    )
    .unwrap();
    assert_eq!(inf, count);
    assert!(value(&samples, &format!("{latency}_sum"), &labels).unwrap() > 0.0);

    // Statements per request: at least what the three lists' headers said they ran.
    let sql = "profilegraph_sql_statements_per_request";
    let sum = value(
        &samples,
        &format!("{sql}_sum"),
        &[("operation", "MetricsProfileList")],
    );
    let sql_count = value(
        &samples,
        &format!("{sql}_count"),
        &[("operation", "MetricsProfileList")],
    )
    .unwrap();
    assert!(sql_count >= 3.0);
    assert!(sum.unwrap() >= statements as f64, "{sum:?} of {statements}");

    // The contacts of the page's profiles came in batches.
    let batches = "profilegraph_dataloader_batch_size";
    assert!(
        value(
            &samples,
            &format!("{batches}_count"),
            &[("loader", "ContactsOfProfile")]
        )
        .unwrap()
            >= 3.0
    );

    assert!(
        total(
            &samples,
            "profilegraph_rate_limited_total",
            &[("limit", "token")]
        ) >= 1.0
    );
    assert!(value(&samples, "profilegraph_websockets_open", &[]).unwrap() >= 1.0);
    assert!(value(&samples, "profilegraph_subscriptions_open", &[]).unwrap() >= 1.0);
    assert!(value(&samples, "profilegraph_event_fanout_seconds_count", &[]).unwrap() >= 1.0);

    let max = value(&samples, "profilegraph_db_pool_max_connections", &[]).unwrap();
    assert!(max >= 1.0);
    let idle = value(
        &samples,
        "profilegraph_db_pool_connections",
        &[("state", "idle")],
    )
    .unwrap();
    let in_use = value(
        &samples,
        "profilegraph_db_pool_connections",
        &[("state", "in_use")],
    )
    .unwrap();
    assert!(
        idle + in_use >= 1.0 && idle + in_use <= max,
        "{idle} + {in_use} of {max}"
    );
}
