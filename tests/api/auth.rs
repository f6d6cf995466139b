//! Who may do what: no or bad tokens get 401; `read` tokens query, `write` tokens also
//! change profiles, contacts, notes and contact moments, `admin` tokens also manage
//! channels and custom fields. A refused request writes nothing.

use std::collections::BTreeSet;

use chrono::{Duration, Utc};
use entity::api_tokens;
use profilegraph_store::tokens::{self, Scopes};
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{
    Demo, Hooks, call, data, demo, hooks, mutate, mutate_ok, mutation_descriptions, single_error,
    snapshot, token,
};

/// The mutations that need the `admin` scope.
const ADMIN_MUTATIONS: [&str; 10] = [
    "createChannel",
    "updateChannel",
    "createCustomField",
    "updateCustomField",
    "archiveCustomField",
    "createWebhookEndpoint",
    "updateWebhookEndpoint",
    "rotateWebhookSecret",
    "redeliverWebhook",
    "deleteWebhookEndpoint",
];

/// A second profile, for the merge into Peter's.
async fn spare_profile(app: &TestApp) -> String {
    mutate_ok(
        app,
        &app.demo_token,
        "createProfile",
        json!({ "name": "Peter Bakker" }),
    )
    .await["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A valid call of every mutation on the demo data, in an order in which all of them
/// succeed one after the other (`spare` is merged into Peter's profile).
fn every_mutation(demo: &Demo, hooks: &Hooks, spare: &str) -> Vec<(&'static str, Value)> {
    let peter = &demo.peter;
    let plan = &demo.fields["plan"];
    vec![
        ("createProfile", json!({ "name": "New Customer" })),
        (
            "upsertProfile",
            json!({ "externalId": "crm-1", "name": "Synced Customer" }),
        ),
        (
            "updateProfile",
            json!({ "id": peter, "name": "Peter Bakker" }),
        ),
        (
            "setProfileFields",
            json!({ "profileId": peter, "values": [{ "fieldId": plan, "value": "Free" }] }),
        ),
        (
            "createContact",
            json!({ "channelId": demo.channels["WHATSAPP"], "identifier": "+31 6 0000 0009" }),
        ),
        (
            "attachContact",
            json!({ "profileId": peter, "contactId": demo.maria }),
        ),
        (
            "detachContact",
            json!({ "profileId": peter, "contactId": demo.peter_contacts["+31612345678"] }),
        ),
        (
            "createNote",
            json!({ "profileId": peter, "body": "A note" }),
        ),
        ("updateNote", json!({ "id": demo.note, "body": "An edit" })),
        ("deleteNote", json!({ "id": demo.note })),
        (
            "startContactMoment",
            json!({ "contactId": demo.maria, "subject": "Follow-up" }),
        ),
        (
            "updateContactMoment",
            json!({ "id": demo.moments[0], "status": "CLOSED" }),
        ),
        (
            "mergeProfiles",
            json!({ "survivorId": peter, "mergedId": spare }),
        ),
        ("deleteProfile", json!({ "id": peter })),
        (
            "createChannel",
            json!({ "type": "SMS", "name": "Support SMS" }),
        ),
        (
            "updateChannel",
            json!({ "id": demo.channels["EMAIL"], "name": "Mail" }),
        ),
        (
            "createCustomField",
            json!({ "key": "language", "label": "Language", "type": "TEXT" }),
        ),
        ("updateCustomField", json!({ "id": plan, "label": "Tier" })),
        ("archiveCustomField", json!({ "id": plan })),
        (
            "createWebhookEndpoint",
            json!({ "url": "http://127.0.0.1:9/other", "kinds": ["NOTE_CREATED"] }),
        ),
        (
            "updateWebhookEndpoint",
            json!({ "id": hooks.endpoint, "description": "CRM" }),
        ),
        ("rotateWebhookSecret", json!({ "id": hooks.endpoint })),
        ("redeliverWebhook", json!({ "deliveryId": hooks.delivery })),
        ("deleteWebhookEndpoint", json!({ "id": hooks.endpoint })),
    ]
}

/// Check `every_mutation` calls every mutation the server has, and that the ones needing
/// `admin` are the ones the schema documents so.
async fn check_mutation_coverage(app: &TestApp, calls: &[(&'static str, Value)]) {
    let served = mutation_descriptions(app).await;
    let called: BTreeSet<&str> = calls.iter().map(|(name, _)| *name).collect();
    let names: BTreeSet<&str> = served.keys().map(String::as_str).collect();
    assert_eq!(
        called, names,
        "every mutation the schema has must be tried here"
    );
    let admin: BTreeSet<&str> = served
        .iter()
        .filter(|(_, description)| description.contains("Needs the `admin` scope"))
        .map(|(name, _)| name.as_str())
        .collect();
    assert_eq!(admin, BTreeSet::from(ADMIN_MUTATIONS));
}

/// Check a refused mutation: FORBIDDEN, and no payload.
fn assert_forbidden(name: &str, body: &Value) {
    let error = single_error(body, "FORBIDDEN");
    assert_eq!(error["path"], json!([name]), "{body:#}");
    assert!(body["data"].is_null(), "{name}: {body:#}");
}

async fn scopes_of(app: &TestApp, token: &str) -> Value {
    data(app, token, "{ viewer { scopes } }", json!({})).await["viewer"]["scopes"].clone()
}

/// A 401 with one UNAUTHENTICATED error, a request id, and no data.
fn assert_unauthenticated(what: &str, status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{what}: {body:#}");
    single_error(body, "UNAUTHENTICATED");
    assert!(
        body.get("data").is_none_or(Value::is_null),
        "{what}: {body:#}"
    );
}

both_backends!(
    missing_bad_revoked_and_expired_tokens_get_401,
    |app: TestApp| async move {
        let conn = app.conn();
        let ws = app.demo_workspace().await.id;
        let read: Scopes = "read".parse().unwrap();

        let revoked = tokens::create(conn, ws, None, "revoked", &read, None)
            .await
            .unwrap();
        // It works until it is revoked.
        assert_eq!(scopes_of(&app, &revoked.plaintext).await, json!(["read"]));
        let mut row: api_tokens::ActiveModel = revoked.row.clone().into();
        row.revoked_at = Set(Some(Utc::now().into()));
        row.update(conn).await.unwrap();

        let expired = tokens::create(
            conn,
            ws,
            None,
            "expired",
            &read,
            Some(Utc::now() - Duration::seconds(1)),
        )
        .await
        .unwrap();
        let expiring = tokens::create(
            conn,
            ws,
            None,
            "expiring",
            &read,
            Some(Utc::now() + Duration::hours(1)),
        )
        .await
        .unwrap();
        assert_eq!(
            scopes_of(&app, &expiring.plaintext).await,
            json!(["read"]),
            "a token that has not expired yet works"
        );

        // One character of a real token changed: a broken checksum.
        let mut typo = app.demo_token.clone().into_bytes();
        let last = typo.len() - 1;
        typo[last] = if typo[last] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();

        let unknown = tokens::generate();
        let cases: Vec<(&str, Option<&str>)> = vec![
            ("no Authorization header", None),
            ("not a token", Some("garbage")),
            ("a broken checksum", Some(typo.as_str())),
            ("a well-formed unknown token", Some(unknown.as_str())),
            ("a revoked token", Some(revoked.plaintext.as_str())),
            ("an expired token", Some(expired.plaintext.as_str())),
        ];
        let rows = snapshot(conn).await;
        for (what, token) in cases {
            let (status, body) = app.graphql(token, "{ viewer { scopes } }", json!({})).await;
            assert_unauthenticated(what, status, &body);
            let (status, body) = app
                .graphql(
                    token,
                    &crate::support::mutation_doc("createProfile"),
                    json!({ "input": { "name": "Intruder" } }),
                )
                .await;
            assert_unauthenticated(what, status, &body);
            // Not even introspection.
            let (status, body) = app
                .graphql(token, "{ __schema { queryType { name } } }", json!({}))
                .await;
            assert_unauthenticated(what, status, &body);
        }
        assert_eq!(snapshot(conn).await, rows, "nothing was written");
    }
);

both_backends!(
    a_read_token_can_query_but_not_change_anything,
    |app: TestApp| async move {
        let demo = demo(&app).await;
        let hooks = hooks(&app, &app.demo_token, &demo.peter).await;
        let spare = spare_profile(&app).await;
        let calls = every_mutation(&demo, &hooks, &spare);
        check_mutation_coverage(&app, &calls).await;
        let read = token(&app, demo.workspace_id, Some(demo.agent_id), "read").await;
        assert_eq!(scopes_of(&app, &read).await, json!(["read"]));

        // It reads what the demo token reads.
        let query = "query($id: ID!) {
            profiles(first: 10) { totalCount nodes { id name } }
            profile(id: $id) { name fields { field { key } value }
                               notes(first: 5) { totalCount } contacts { identifier } }
            channels { name }
            customFields { key }
            contactMoments(first: 10) { totalCount }
        }";
        let vars = json!({ "id": demo.peter });
        assert_eq!(
            data(&app, &read, query, vars.clone()).await,
            data(&app, &app.demo_token, query, vars).await
        );

        let rows = snapshot(app.conn()).await;
        for (name, input) in &calls {
            let body = mutate(&app, &read, name, input.clone()).await;
            assert_forbidden(name, &body);
        }
        assert_eq!(snapshot(app.conn()).await, rows, "nothing was written");
    }
);

both_backends!(
    a_write_token_cannot_run_admin_mutations,
    |app: TestApp| async move {
        let demo = demo(&app).await;
        let hooks = hooks(&app, &app.demo_token, &demo.peter).await;
        let spare = spare_profile(&app).await;
        let calls = every_mutation(&demo, &hooks, &spare);
        check_mutation_coverage(&app, &calls).await;
        let write = token(&app, demo.workspace_id, Some(demo.agent_id), "write").await;
        assert_eq!(scopes_of(&app, &write).await, json!(["write"]));

        let rows = snapshot(app.conn()).await;
        for (name, input) in calls.iter().filter(|(n, _)| ADMIN_MUTATIONS.contains(n)) {
            let body = mutate(&app, &write, name, input.clone()).await;
            assert_forbidden(name, &body);
        }
        assert_eq!(snapshot(app.conn()).await, rows, "nothing was written");

        // Everything else it may do.
        for (name, input) in calls.iter().filter(|(n, _)| !ADMIN_MUTATIONS.contains(n)) {
            mutate_ok(&app, &write, name, input.clone()).await;
        }
        assert_ne!(snapshot(app.conn()).await, rows);
    }
);

both_backends!(
    an_admin_token_can_run_every_mutation,
    |app: TestApp| async move {
        let demo = demo(&app).await;
        let hooks = hooks(&app, &app.demo_token, &demo.peter).await;
        let spare = spare_profile(&app).await;
        let calls = every_mutation(&demo, &hooks, &spare);
        check_mutation_coverage(&app, &calls).await;
        let admin = token(&app, demo.workspace_id, Some(demo.agent_id), "admin").await;
        assert_eq!(scopes_of(&app, &admin).await, json!(["admin"]));
        let all = token(&app, demo.workspace_id, None, "write,read,admin").await;
        assert_eq!(
            scopes_of(&app, &all).await,
            json!(["read", "write", "admin"])
        );

        for (name, input) in &calls {
            let payload = mutate_ok(&app, &admin, name, input.clone()).await;
            assert!(payload.is_object(), "{name}: {payload}");
        }

        // The admin mutations took effect.
        let d = call(
            &app,
            &admin,
            "{ channels { type name } customFields(includeArchived: true) { key label archived } }",
            json!({}),
        )
        .await;
        assert!(d.get("errors").is_none(), "{d:#}");
        let channels = d["data"]["channels"].as_array().unwrap();
        assert!(channels.contains(&json!({ "type": "SMS", "name": "Support SMS" })));
        assert!(channels.contains(&json!({ "type": "EMAIL", "name": "Mail" })));
        let fields = d["data"]["customFields"].as_array().unwrap();
        assert!(
            fields.contains(&json!({ "key": "language", "label": "Language", "archived": false }))
        );
        assert!(fields.contains(&json!({ "key": "plan", "label": "Tier", "archived": true })));
    }
);

/// The token cache (`--token-cache-seconds`): a token that authenticated is not looked up
/// again for the next requests, and a revoked one stops working once its entry is stale.
mod token_cache {
    use super::*;
    use crate::helpers::{Backend, spawn_app_with};

    async fn statements(app: &TestApp, token: &str) -> (StatusCode, u64) {
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .bearer_auth(token)
            .json(&json!({ "query": "{ viewer { scopes } }" }))
            .send()
            .await
            .unwrap();
        // A refused request (401) carries no count.
        let count = crate::helpers::sql_statements(response.headers()).unwrap_or(0);
        (response.status(), count)
    }

    async fn scenario(app: TestApp) {
        let conn = app.conn();
        let ws = app.demo_workspace().await.id;
        let read: Scopes = "read".parse().unwrap();
        let token = tokens::create(conn, ws, None, "cached", &read, None)
            .await
            .unwrap();
        // The first request looks the token up (and records its first use).
        let (status, first) = statements(&app, &token.plaintext).await;
        assert_eq!(status, StatusCode::OK);
        let (_, second) = statements(&app, &token.plaintext).await;
        // Later ones find it in the cache: no look-up statement at all.
        let (_, third) = statements(&app, &token.plaintext).await;
        assert!(second < first, "first {first}, second {second}");
        assert_eq!(second, third);

        // Revoked in the database: still served from the cache for at most the TTL …
        let mut row: api_tokens::ActiveModel = token.row.clone().into();
        row.revoked_at = Set(Some(Utc::now().into()));
        row.update(conn).await.unwrap();
        let started = std::time::Instant::now();
        let mut status = statements(&app, &token.plaintext).await.0;
        while status == StatusCode::OK && started.elapsed() < std::time::Duration::from_secs(5) {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            status = statements(&app, &token.plaintext).await.0;
        }
        // … and refused once its entry is stale.
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            started.elapsed() <= std::time::Duration::from_millis(1_500),
            "refused within the 1 s TTL (and a request): {:?}",
            started.elapsed()
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn sqlite() {
        let app = spawn_app_with(Backend::Sqlite, |c| c.token_cache_seconds = 1)
            .await
            .unwrap();
        scenario(app).await;
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn postgres() {
        match spawn_app_with(Backend::Postgres, |c| c.token_cache_seconds = 1).await {
            Some(app) => scenario(app).await,
            None => println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL"),
        }
    }
}
