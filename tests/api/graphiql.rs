//! GraphiQL as the server serves it: a page whose every asset is the server's own
//! (embedded), a policy that lets the browser load nothing else, the demo token in the
//! headers tab only on a fresh development start on loopback, and nothing in production.
//! (A real browser runs it in `browser.rs`.) The HTTP layer only: SQLite.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with};

/// The page, and the settings in its JSON block.
async fn page(app: &TestApp) -> (reqwest::header::HeaderMap, String, Value) {
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    let html = response.text().await.unwrap();
    let block = html
        .split("<script id=\"graphiql-config\" type=\"application/json\">")
        .nth(1)
        .unwrap();
    let config = serde_json::from_str(&block[..block.find("</script>").unwrap()]).unwrap();
    (headers, html, config)
}

/// Every `src="…"` and `href="…"` of the page.
fn references(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attribute in ["src=\"", "href=\""] {
        for rest in html.split(attribute).skip(1) {
            out.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_loads_only_the_servers_own_assets() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (headers, html, config) = page(&app).await;
    let csp = headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(csp.contains(directive), "{directive} in {csp}");
    }
    assert_eq!(headers["cache-control"], "no-store");
    assert!(!html.contains("unpkg") && !html.contains("https://") && !html.contains("http://"));

    let references = references(&html);
    assert!(references.len() >= 5, "{references:?}");
    let mut scripts = 0;
    for reference in references.iter().filter(|r| *r != "data:,") {
        assert!(reference.starts_with("/graphiql/"), "{reference}");
        let response = app.get(reference).await;
        assert_eq!(response.status(), StatusCode::OK, "{reference}");
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.bytes().await.unwrap();
        assert!(!body.is_empty());
        if reference.ends_with(".js") {
            assert!(
                content_type.starts_with("text/javascript"),
                "{content_type}"
            );
            scripts += 1;
        } else {
            assert!(content_type.starts_with("text/css"), "{content_type}");
        }
    }
    assert_eq!(
        scripts, 4,
        "React, ReactDOM, GraphiQL and the page's own script"
    );
    assert_eq!(
        app.get("/graphiql/nothing.js").await.status(),
        StatusCode::NOT_FOUND
    );

    // The tab it opens with lists the profiles.
    assert!(
        config["query"]
            .as_str()
            .unwrap()
            .contains("query ProfileList")
    );
    assert_eq!(config["endpoint"], "/graphql");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_start_on_loopback_fills_in_the_demo_token() {
    let app = spawn_app(Backend::Sqlite).await.unwrap();
    let (_, _, config) = page(&app).await;
    let headers: Value = serde_json::from_str(config["headers"].as_str().unwrap()).unwrap();
    assert_eq!(
        headers["Authorization"],
        format!("Bearer {}", app.demo_token)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn no_token_on_an_address_others_can_reach() {
    let app = spawn_app_with(Backend::Sqlite, |config| {
        config.listen = "0.0.0.0:0".parse().unwrap();
    })
    .await
    .unwrap();
    let (_, html, config) = page(&app).await;
    assert_eq!(config["headers"], Value::Null);
    assert!(!html.contains(&app.demo_token));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_graphiql_in_production() {
    let app = spawn_app_with(Backend::Sqlite, |config| config.production = true)
        .await
        .unwrap();
    for path in ["/graphiql/boot.js", "/graphiql/graphiql-4.1.2.min.js"] {
        assert_eq!(
            app.get(path).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
    let response = app
        .client
        .get(format!("{}/graphql", app.address))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_ne!(response.status(), StatusCode::OK);
    assert!(!response.text().await.unwrap().contains(&app.demo_token));
}
