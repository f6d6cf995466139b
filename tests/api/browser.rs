//! A real browser: Debian's headless chromium, driven by `tests/browser/browser.mjs`
//! (playwright-core, pinned in that folder's `package-lock.json`; `npm ci` there installs
//! it, as `.ci/run` does) against this test's server, with no network but its own:
//! GraphiQL runs the profile list with the demo token and a subscription over the
//! server's WebSocket; a page on an allowed origin calls the API through CORS with a
//! bearer token, and one on another origin is blocked.
//!
//! Without chromium the test is skipped with a message, unless `CI` is set: in CI a
//! missing browser is a failure. The GraphiQL screenshot is kept in
//! `<target>/tmp/browser/graphiql.png`.

use std::path::{Path, PathBuf};
use std::process::Command;

use axum::Router;
use axum::response::Html;
use axum::routing::get;

use crate::helpers::{Backend, spawn_app_with};
use crate::support::demo;

/// A browser app: calls the API named in its URL's fragment with the token there, and
/// shows what happened (as JSON, in `#result`, marked `data-done`).
const SPA: &str = r#"<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>An app on its own origin</title></head>
<body>
<pre id="result">calling…</pre>
<script>
(async () => {
  const params = new URLSearchParams(location.hash.slice(1));
  const out = document.getElementById('result');
  let outcome;
  try {
    const response = await fetch(params.get('api'), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        'Authorization': 'Bearer ' + params.get('token'),
        'Idempotency-Key': crypto.randomUUID(),
      },
      body: JSON.stringify({ query: '{ profiles(first: 5) { nodes { name } } }' }),
    });
    outcome = {
      ok: true,
      status: response.status,
      requestId: response.headers.get('x-request-id'),
      rateLimitRemaining: response.headers.get('x-ratelimit-remaining'),
      body: await response.json(),
    };
  } catch (err) {
    outcome = { ok: false, error: String(err) };
  }
  out.textContent = JSON.stringify(outcome);
  out.setAttribute('data-done', '');
})();
</script>
</body>
</html>
"#;

/// Serve [`SPA`] on a port of its own; its origin.
async fn spa_origin() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    let router = Router::new().route("/", get(|| async { Html(SPA) }));
    tokio::spawn(async move { axum::serve(listener, router).await });
    origin
}

/// The chromium to drive: `$CHROMIUM`, or the first of Debian's names on the `PATH`.
fn find_chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).find_map(|dir| {
        ["chromium", "chromium-browser", "google-chrome"]
            .iter()
            .map(|name| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

#[tokio::test(flavor = "multi_thread")]
async fn graphiql_and_cors_in_a_real_browser() {
    let Some(chromium) = find_chromium() else {
        assert!(
            !in_ci(),
            "chromium is missing: install Debian's `chromium` package (.ci/run does)"
        );
        println!(
            "skipped: no chromium found (install Debian's `chromium`, or set CHROMIUM to one)"
        );
        return;
    };
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "the browser test's packages are missing: run `npm ci` in {}",
        dir.display()
    );
    let allowed = spa_origin().await;
    let blocked = spa_origin().await;
    let cors = allowed.clone();
    let app = spawn_app_with(Backend::Sqlite, move |config| {
        config.cors_origins = vec![cors.parse().unwrap()];
    })
    .await
    .unwrap();
    let peter = demo(&app).await.peter;
    let artifacts = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&artifacts).unwrap();
    let screenshot = artifacts.join("graphiql.png");
    let _ = std::fs::remove_file(&screenshot);

    let server = app.address.clone();
    let token = app.demo_token.clone();
    let shot = screenshot.clone();
    // The browser's requests come back to this process's servers: run node off the
    // runtime.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("browser.mjs")
            .current_dir(&dir)
            .env("PROFILEGRAPH_URL", server)
            .env("PROFILEGRAPH_TOKEN", token)
            .env("PROFILEGRAPH_PROFILE", peter)
            .env("SPA_ALLOWED_URL", format!("{allowed}/"))
            .env("SPA_BLOCKED_URL", format!("{blocked}/"))
            .env("CHROMIUM", chromium)
            .env("SCREENSHOT", shot)
            .output()
    })
    .await
    .unwrap()
    .expect("run `node browser.mjs` (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.lines().any(|l| l == "browser: ok"),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
    let png = std::fs::read(&screenshot).unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    println!("GraphiQL screenshot: {}", screenshot.display());
}
