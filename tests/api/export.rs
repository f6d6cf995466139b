//! `GET /export/profiles.jsonl` and `.csv`: the bulk export for partners over HTTP, the
//! same bytes as `profilegraph export`, for a `read` token, gzip on request.

use std::io::Read;

use profilegraph::transfer::Format;
use profilegraph::transfer::export::{self, Options};
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{demo, mutate_ok, token};

/// What `profilegraph export` writes for `workspace_id` in `format`, since `since`.
async fn expected(
    app: &TestApp,
    workspace_id: uuid::Uuid,
    format: Format,
    since: Option<chrono::DateTime<chrono::FixedOffset>>,
) -> Vec<u8> {
    let options = Options {
        format,
        updated_since: since,
        excel: false,
        progress: false,
    };
    let mut out = Vec::new();
    export::run(&app.db, workspace_id, &options, &mut out)
        .await
        .unwrap();
    out
}

async fn get(app: &TestApp, path: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = app.client.get(format!("{}{path}", app.address));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

both_backends!(
    a_partner_exports_the_workspace_over_http,
    |app: TestApp| async move {
        let d = demo(&app).await;
        // A profile of its own, so that there is more than the demo to find.
        mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "Exported Person", "externalId": "crm-export-1" }),
        )
        .await;
        let read = token(&app, d.workspace_id, None, "read").await;

        let response = get(&app, "/export/profiles.jsonl", Some(&read)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "application/x-ndjson");
        assert!(
            response.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("profiles.jsonl")
        );
        let body = response.bytes().await.unwrap().to_vec();
        assert_eq!(
            body,
            expected(&app, d.workspace_id, Format::Jsonl, None).await
        );
        let lines: Vec<Value> = String::from_utf8(body.clone())
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert!(
            lines
                .iter()
                .any(|l| l["name"] == "Exported Person" && l["externalId"] == "crm-export-1"),
            "{lines:#?}"
        );
        assert!(lines.iter().any(|l| l["name"] == "Peter B."), "{lines:#?}");

        // CSV, as the command writes it.
        let response = get(&app, "/export/profiles.csv", Some(&read)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/csv; charset=utf-8"
        );
        let csv = response.bytes().await.unwrap().to_vec();
        assert!(csv.starts_with(b"externalId,name,"), "{csv:?}");
        assert_eq!(csv, expected(&app, d.workspace_id, Format::Csv, None).await);

        // gzip when asked for: the same bytes once inflated.
        let response = app
            .client
            .get(format!("{}/export/profiles.jsonl", app.address))
            .bearer_auth(&read)
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-encoding"], "gzip");
        let compressed = response.bytes().await.unwrap();
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&compressed[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, body);

        // Only what changed since an instant: nothing changes in the future.
        let since = "2999-01-01T00:00:00Z";
        let response = get(
            &app,
            &format!("/export/profiles.jsonl?updatedSince={since}"),
            Some(&read),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.bytes().await.unwrap().is_empty());
        let since = chrono::DateTime::parse_from_rfc3339(since).unwrap();
        assert!(
            expected(&app, d.workspace_id, Format::Jsonl, Some(since))
                .await
                .is_empty()
        );

        // Refusals: a bad instant, no token, an unknown file.
        let response = get(
            &app,
            "/export/profiles.jsonl?updatedSince=yesterday",
            Some(&read),
        )
        .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let refused: Value = response.json().await.unwrap();
        assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_REQUEST");
        let response = get(&app, "/export/profiles.jsonl", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let response = get(&app, "/export/contacts.xml", Some(&read)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);

        // Another workspace's token sees only its own (empty) workspace.
        let other_workspace =
            profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
                .await
                .unwrap();
        let other = token(&app, other_workspace.id, None, "read").await;
        let response = get(&app, "/export/profiles.jsonl", Some(&other)).await;
        assert_eq!(response.status(), StatusCode::OK);
        let theirs = String::from_utf8(response.bytes().await.unwrap().to_vec()).unwrap();
        assert!(!theirs.contains("Peter B."), "{theirs}");
        assert!(!theirs.contains("Exported Person"), "{theirs}");
    }
);
