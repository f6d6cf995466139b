//! `Idempotency-Key` on mutations: a replay returns the stored result, reuse with other
//! input is refused, and parallel replays execute once.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;

const CREATE_NOTE: &str = "mutation($p: ID!, $b: String!) { createNote(input: { profileId: $p, body: $b }) { note { id body } } }";

async fn send(app: &TestApp, key: &str, variables: Value) -> (StatusCode, Option<String>, Value) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.demo_token)
        .header("Idempotency-Key", key)
        .json(&json!({ "query": CREATE_NOTE, "variables": variables }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, replayed, response.json().await.unwrap())
}

async fn notes(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::notes::Entity::find()
        .count(app.conn())
        .await
        .unwrap()
}

async fn peter(app: &TestApp) -> String {
    let data = app
        .demo_data(
            "{ profiles(search: \"Peter\") { nodes { id } } }",
            json!({}),
        )
        .await;
    data["profiles"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

both_backends!(
    a_replay_returns_the_stored_result,
    |app: TestApp| async move {
        let before = notes(&app).await;
        let vars = json!({ "p": peter(&app).await, "b": "Called back about #1042." });
        let (status, replayed, first) = send(&app, "retry-1", vars.clone()).await;
        assert_eq!(status, StatusCode::OK, "{first}");
        assert_eq!(replayed, None);
        let (status, replayed, second) = send(&app, "retry-1", vars.clone()).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(replayed.as_deref(), Some("true"));
        assert_eq!(first, second, "the stored response, byte for byte");
        assert_eq!(notes(&app).await, before + 1, "the mutation ran once");

        // The same key for another request is refused, and writes nothing.
        let other = json!({ "p": vars["p"], "b": "Something else." });
        let (status, _, body) = send(&app, "retry-1", other).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
        assert_eq!(notes(&app).await, before + 1);

        // A new key runs again; a bad key is refused.
        let (status, replayed, third) = send(&app, "retry-2", vars.clone()).await;
        assert_eq!((status, replayed), (StatusCode::OK, None));
        assert_ne!(third, first);
        let (status, _, body) = send(&app, &"k".repeat(201), vars).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(notes(&app).await, before + 2);
    }
);

both_backends!(parallel_replays_execute_once, |app: TestApp| async move {
    let before = notes(&app).await;
    let vars = json!({ "p": peter(&app).await, "b": "Sent ten times at once." });
    let answers = join_all((0..10).map(|_| send(&app, "burst", vars.clone()))).await;
    let ids: Vec<&Value> = answers
        .iter()
        .map(|(status, _, body)| {
            assert_eq!(*status, StatusCode::OK, "{body}");
            &body["data"]["createNote"]["note"]["id"]
        })
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0] && id.is_string()),
        "{ids:?}"
    );
    assert_eq!(
        answers
            .iter()
            .filter(|(_, replayed, _)| replayed.is_none())
            .count(),
        1,
        "exactly one request ran the mutation"
    );
    assert_eq!(notes(&app).await, before + 1);
});
