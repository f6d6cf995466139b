//! The GraphQL-over-HTTP audit of `graphql-http` (the specification's reference
//! implementation) against the real server: every MUST and every SHOULD must hold, no
//! error and no warning.
//!
//! The audit is a Node package, run by `tests/http-audit/audit.mjs` (its versions pinned
//! in `package-lock.json` there; `npm ci` in that folder installs them, as `.ci/run` does).
//! It runs on both backends: the rules it checks are the HTTP layer's, the same code on
//! either, but the requests authenticate against the database, and the run is cheap.

use std::path::PathBuf;
use std::process::Command;

use crate::both_backends;
use crate::helpers::TestApp;

fn audit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/http-audit")
}

both_backends!(graphql_over_http_audit_passes, |app: TestApp| async move {
    let dir = audit_dir();
    assert!(
        dir.join("node_modules/graphql-http").is_dir(),
        "the audit's packages are missing: run `npm ci` in {}",
        dir.display()
    );
    let url = format!("{}/graphql", app.address);
    let token = app.demo_token.clone();
    // The audit's requests come back to this process's server: run node off the runtime.
    let output = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg("audit.mjs")
            .current_dir(&dir)
            .env("PROFILEGRAPH_AUDIT_URL", url)
            .env("PROFILEGRAPH_AUDIT_TOKEN", token)
            .output()
    })
    .await
    .unwrap()
    .expect("run `node audit.mjs` (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    let totals = stdout
        .lines()
        .find(|line| line.starts_with("audit: "))
        .unwrap_or_else(|| panic!("no totals from the audit:\n{stdout}\n{stderr}"));
    assert!(
        totals.ends_with(" 0 warn, 0 error") && output.status.success(),
        "the audit found problems ({totals}):\n{stdout}\n{stderr}"
    );
});
