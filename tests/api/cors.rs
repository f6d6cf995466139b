//! CORS: the origins of `--cors-origins` get preflight answers and the headers they need;
//! any other origin gets nothing a browser would accept; with no origins configured the
//! server sends no CORS header at all. (The browser's side of it is in `browser.rs`.)
//! CORS lives in the HTTP layer, the same on both backends: these run on SQLite.

use reqwest::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_ALLOW_ORIGIN,
    ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ORIGIN,
};
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

const ALLOWED: &str = "https://app.example.com";

async fn app_with_origins() -> TestApp {
    spawn_app_with(Backend::Sqlite, |config| {
        config.cors_origins = vec![
            ALLOWED.parse().unwrap(),
            "http://localhost:5173".parse().unwrap(),
        ];
    })
    .await
    .unwrap()
}

async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, format!("{}/graphql", app.address))
        .header(ORIGIN, origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization,content-type,idempotency-key",
        )
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: impl reqwest::header::AsHeaderName) -> Option<&str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

fn listed(value: Option<&str>) -> Vec<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_allowed_origin_gets_its_preflight_and_reads_the_headers() {
    let app = app_with_origins().await;
    let response = preflight(&app, ALLOWED).await;
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(
        header(&response, ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(ALLOWED)
    );
    let methods = listed(header(&response, ACCESS_CONTROL_ALLOW_METHODS));
    assert!(methods.contains(&"post".to_owned()), "{methods:?}");
    let headers = listed(header(&response, ACCESS_CONTROL_ALLOW_HEADERS));
    for name in ["authorization", "content-type", "idempotency-key"] {
        assert!(headers.contains(&name.to_owned()), "{name} in {headers:?}");
    }
    assert_eq!(header(&response, ACCESS_CONTROL_MAX_AGE), Some("600"));
    // Bearer tokens, not cookies: credentials are never allowed.
    assert!(
        response
            .headers()
            .get("access-control-allow-credentials")
            .is_none()
    );

    // The request itself: answered with the origin and the headers a page may read.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(ORIGIN, ALLOWED)
        .bearer_auth(&app.demo_token)
        .json(&json!({ "query": "{ viewer { scopes } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, ACCESS_CONTROL_ALLOW_ORIGIN),
        Some(ALLOWED)
    );
    let exposed = listed(header(&response, ACCESS_CONTROL_EXPOSE_HEADERS));
    for name in [
        "x-request-id",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "retry-after",
    ] {
        assert!(exposed.contains(&name.to_owned()), "{name} in {exposed:?}");
    }
    assert!(response.headers().get("x-request-id").is_some());
    assert!(response.headers().get("x-ratelimit-remaining").is_some());

    // A refusal carries the CORS headers too, so the page can read why.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(ORIGIN, "http://localhost:5173")
        .json(&json!({ "query": "{ viewer { scopes } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        header(&response, ACCESS_CONTROL_ALLOW_ORIGIN),
        Some("http://localhost:5173")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn another_origin_gets_no_allow_origin() {
    let app = app_with_origins().await;
    for origin in [
        "https://evil.example.com",
        "https://app.example.com.evil.example",
        "http://app.example.com",
        "null",
    ] {
        let response = preflight(&app, origin).await;
        assert!(
            response
                .headers()
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{origin}: {:?}",
            response.headers()
        );
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header(ORIGIN, origin)
            .bearer_auth(&app.demo_token)
            .json(&json!({ "query": "{ viewer { scopes } }" }))
            .send()
            .await
            .unwrap();
        assert!(
            response
                .headers()
                .get(ACCESS_CONTROL_ALLOW_ORIGIN)
                .is_none(),
            "{origin}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn no_origins_configured_sends_no_cors_headers() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let response = preflight(&app, ALLOWED).await;
    let cors: Vec<_> = response
        .headers()
        .keys()
        .filter(|name| name.as_str().starts_with("access-control-"))
        .collect();
    assert!(cors.is_empty(), "{cors:?}");
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .header(ORIGIN, ALLOWED)
        .bearer_auth(&app.demo_token)
        .json(&json!({ "query": "{ viewer { scopes } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        !response
            .headers()
            .keys()
            .any(|name| name.as_str().starts_with("access-control-")),
        "{:?}",
        response.headers()
    );
}
