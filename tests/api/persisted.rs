//! Persisted documents: automatic persisted queries (a hash instead of the document), the
//! safelist of `--persisted-only` over HTTP and WebSocket, and the caches of parsed and
//! validated documents, which must never let a request skip a check that its own
//! variables would fail.

use std::sync::{Arc, Mutex};

use profilegraph::http::documents::DocumentCache;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app_custom, spawn_app_with};
use crate::live::{next, ready, send};

const LIST: &str = "query PersistedList { profiles(first: 5) { nodes { name } } }";
const CREATE: &str = "mutation PersistedCreate($name: String!) { createProfile(input: { name: $name }) { profile { name } } }";
const EVENTS: &str = "subscription PersistedEvents { workspaceEvents { kind profile { name } } }";

fn sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// `POST /graphql` with `body`, as the demo token (unless `token` is `None`), accepting
/// `accept`; the status and the JSON body.
async fn post(
    app: &TestApp,
    token: Option<&str>,
    accept: &str,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = app
        .client
        .post(format!("{}/graphql", app.address))
        .header("accept", accept)
        .json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

async fn post_json(app: &TestApp, body: Value) -> (StatusCode, Value) {
    post(app, Some(&app.demo_token), "application/json", body).await
}

/// `GET /graphql` with `params` in the query string, as the demo token.
async fn get(app: &TestApp, params: &[(&str, String)]) -> (StatusCode, Value) {
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .query(params)
        .header("accept", "application/json")
        .bearer_auth(&app.demo_token)
        .send()
        .await
        .unwrap();
    (response.status(), response.json().await.unwrap())
}

fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or_default()
}

both_backends!(
    a_document_is_sent_once_then_named_by_its_hash,
    |app: TestApp| async move {
        let hash = sha256(LIST);
        let direct = app.demo_data(LIST, json!({})).await;
        assert!(!direct["profiles"]["nodes"].as_array().unwrap().is_empty());

        // Not known yet: the protocol's error, which Apollo's clients match by code and
        // message; a request error, so 200 in legacy JSON and 400 in the GraphQL media type.
        let hash_only = json!({ "extensions": persisted(&hash) });
        let (status, body) = post_json(&app, hash_only.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
        assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
        assert!(body.get("data").is_none(), "{body:#}");
        let (status, body) = post(
            &app,
            Some(&app.demo_token),
            "application/graphql-response+json",
            hash_only.clone(),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");

        // Without a token, nothing is learnt: the caller is refused first.
        let (status, body) = post(
            &app,
            None,
            "application/json",
            json!({ "query": LIST, "extensions": persisted(&hash) }),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(code(&body), "UNAUTHENTICATED");
        let (_, body) = post_json(&app, hash_only.clone()).await;
        assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");

        // Sent with its hash: run, and learnt.
        let (status, body) = post_json(
            &app,
            json!({ "query": LIST, "extensions": persisted(&hash) }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_eq!(body["data"], direct);

        // Now the hash alone runs it, by POST and by GET.
        let (status, body) = post_json(&app, hash_only).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_eq!(body["data"], direct);
        let (status, body) = get(&app, &[("extensions", persisted(&hash).to_string())]).await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_eq!(body["data"], direct);

        // A hash that isn't the document's, or a protocol version that doesn't exist.
        let (status, body) = post_json(
            &app,
            json!({ "query": LIST, "extensions": persisted(&sha256("{ other }")) }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
        assert_eq!(code(&body), "BAD_REQUEST");
        let (status, body) = post_json(
            &app,
            json!({ "extensions": { "persistedQuery": { "version": 2, "sha256Hash": hash } } }),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:#}");
        assert_eq!(code(&body), "BAD_REQUEST");

        // A mutation learnt by POST still can't run by GET, even named only by its hash.
        let create = sha256(CREATE);
        let (status, body) = post_json(
            &app,
            json!({ "query": CREATE, "variables": { "name": "Learnt" }, "extensions": persisted(&create) }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert_eq!(body["data"]["createProfile"]["profile"]["name"], "Learnt");
        let (status, body) = get(
            &app,
            &[
                ("extensions", persisted(&create).to_string()),
                ("variables", json!({ "name": "By GET" }).to_string()),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body:#}");
        let names = app
            .demo_data("{ profiles(first: 100) { nodes { name } } }", json!({}))
            .await;
        assert!(!names.to_string().contains("By GET"), "nothing was created");
    }
);

/// A server with a safelist of three documents and `--persisted-only`.
async fn spawn_safelisted(backend: Backend) -> Option<TestApp> {
    let dir = std::env::temp_dir().join(format!("pg-safelist-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in [
        ("list.graphql", LIST),
        ("create.graphql", CREATE),
        ("events.graphql", EVENTS),
    ] {
        std::fs::write(dir.join(file), text).unwrap();
    }
    spawn_app_with(backend, |config| {
        config.persisted_documents = Some(dir);
        config.persisted_only = true;
    })
    .await
}

both_backends!(
    persisted_only_runs_the_safelist_and_nothing_else,
    spawn = spawn_safelisted,
    |app: TestApp| async move {
        // Listed: by hash, or as the same text.
        let (status, by_hash) =
            post_json(&app, json!({ "extensions": persisted(&sha256(LIST)) })).await;
        assert_eq!(status, StatusCode::OK, "{by_hash:#}");
        assert!(
            by_hash["data"]["profiles"]["nodes"].is_array(),
            "{by_hash:#}"
        );
        let (status, by_text) = post_json(&app, json!({ "query": LIST })).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(by_text["data"], by_hash["data"]);

        // Anything else, whether sent as text, with its hash, or as a hash alone.
        let other = "{ profiles(first: 1) { nodes { id } } }";
        for body in [
            json!({ "query": other }),
            json!({ "query": other, "extensions": persisted(&sha256(other)) }),
            json!({ "extensions": persisted(&sha256(other)) }),
        ] {
            let (status, refused) = post_json(&app, body.clone()).await;
            assert_eq!(status, StatusCode::OK, "{body}: {refused:#}");
            assert_eq!(code(&refused), "PERSISTED_QUERY_NOT_IN_LIST", "{body}");
            assert!(refused.get("data").is_none());
        }
        // Not learnt either: the hash alone is still refused.
        let (_, refused) =
            post_json(&app, json!({ "extensions": persisted(&sha256(other)) })).await;
        assert_eq!(code(&refused), "PERSISTED_QUERY_NOT_IN_LIST");

        // Over WebSocket: an unlisted subscription is refused with the same code; a listed
        // one, named by its hash, hears the change a listed mutation makes.
        let mut socket = ready(&app.address, &app.demo_token).await;
        send(
            &mut socket,
            json!({ "id": "other", "type": "subscribe", "payload": { "query": "subscription { workspaceEvents { kind } }" } }),
        )
        .await;
        let refused = next(&mut socket).await.unwrap();
        assert_eq!(refused["type"], "error", "{refused:#}");
        assert_eq!(refused["id"], "other");
        assert_eq!(
            refused["payload"][0]["extensions"]["code"],
            "PERSISTED_QUERY_NOT_IN_LIST"
        );
        send(
            &mut socket,
            json!({ "id": "listed", "type": "subscribe", "payload": { "query": "", "extensions": persisted(&sha256(EVENTS)) } }),
        )
        .await;
        // The subscription is in place once the server has read the message; a round of
        // ping and pong makes sure of that.
        send(&mut socket, json!({ "type": "ping" })).await;
        assert_eq!(next(&mut socket).await.unwrap()["type"], "pong");
        let (status, created) = post_json(
            &app,
            json!({ "extensions": persisted(&sha256(CREATE)), "variables": { "name": "Safelisted" } }),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{created:#}");
        assert_eq!(
            created["data"]["createProfile"]["profile"]["name"],
            "Safelisted"
        );
        let event = next(&mut socket).await.unwrap();
        assert_eq!(event["id"], "listed", "{event:#}");
        assert_eq!(event["type"], "next");
        assert_eq!(
            event["payload"]["data"]["workspaceEvents"]["kind"],
            "PROFILE_CREATED"
        );
        assert_eq!(
            event["payload"]["data"]["workspaceEvents"]["profile"]["name"],
            "Safelisted"
        );
    }
);

#[tokio::test(flavor = "multi_thread")]
async fn persisted_only_needs_documents_that_parse() {
    let dir = std::env::temp_dir().join(format!("pg-safelist-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("broken.graphql"), "query { profiles(").unwrap();
    let mut config = profilegraph::config::Config::for_database("sqlite::memory:");
    config.persisted_documents = Some(dir.clone());
    config.persisted_only = true;
    let err = profilegraph::app::prepare(&config)
        .await
        .err()
        .expect("the start is refused");
    let message = err.to_string();
    assert!(message.contains("broken.graphql"), "{message}");
    assert!(message.contains("is not a GraphQL document"), "{message}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cached_validation_never_lets_other_variables_through() {
    let cache = Arc::new(Mutex::new(None::<Arc<DocumentCache>>));
    let kept = cache.clone();
    let app = spawn_app_custom(
        Backend::Sqlite,
        |_| {},
        move |state, _| *kept.lock().unwrap() = Some(state.document_cache.clone()),
    )
    .await
    .unwrap();
    let cache = cache.lock().unwrap().clone().unwrap();
    let query = "query CacheCheck($n: Int!) { profiles(first: $n) { nodes { name notes(first: $n) { nodes { body } } } } }";
    assert!(cache.parsed(query).is_none());
    let before = cache.counts();

    // The same request twice: parsed once, validated once.
    let small = app.demo_data(query, json!({ "n": 3 })).await;
    assert!(cache.parsed(query).is_some(), "kept once parsed");
    assert_eq!(app.demo_data(query, json!({ "n": 3 })).await, small);
    let after = cache.counts();
    assert!(
        after.parsed_hits > before.parsed_hits,
        "{before:?} → {after:?}"
    );
    assert!(
        after.validated_hits > before.validated_hits,
        "{before:?} → {after:?}"
    );

    // The same text with variables that break the complexity limit is validated in full,
    // and refused; and a variable of the wrong type still fails validation.
    let (status, body) = app
        .graphql(Some(&app.demo_token), query, json!({ "n": 100 }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    assert_eq!(code(&body), "GRAPHQL_VALIDATION_FAILED", "{body:#}");
    assert!(body.get("data").is_none(), "{body:#}");
    let (_, body) = app
        .graphql(Some(&app.demo_token), query, json!({ "n": "three" }))
        .await;
    assert!(body.get("errors").is_some(), "{body:#}");
    assert!(
        body.get("data").is_none() || body["data"].is_null(),
        "{body:#}"
    );
    // And the first variables still run.
    assert_eq!(app.demo_data(query, json!({ "n": 3 })).await, small);
}
