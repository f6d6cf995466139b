//! External ids and `upsertProfile`: a partner's own key for a profile, unique within the
//! workspace, looked up with `profileByExternalId`, and create-or-update by it, all or
//! nothing, with its events, and replayed under an `Idempotency-Key`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{
    agent, assert_bad_input, call, data, demo, mutate, mutate_ok, single_error, snapshot, token,
};

const BY_EXTERNAL_ID: &str = "query($e: String!) {
  profileByExternalId(externalId: $e) {
    id name externalId version
    contacts { identifier displayName channel { type } }
    fields { field { key } value }
  }
}";

const HISTORY: &str = "query($id: ID!) {
  profile(id: $id) { history(first: 100) { nodes { kind changes } } }
}";

async fn by_external_id(app: &TestApp, token: &str, external_id: &str) -> Value {
    data(app, token, BY_EXTERNAL_ID, json!({ "e": external_id })).await["profileByExternalId"]
        .clone()
}

/// A profile's events, oldest first: `(kind, changes)`.
async fn history(app: &TestApp, id: &str) -> Vec<(String, Value)> {
    let d = data(app, &app.demo_token, HISTORY, json!({ "id": id })).await;
    let mut events: Vec<(String, Value)> = d["profile"]["history"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap().to_owned(), e["changes"].clone()))
        .collect();
    events.reverse();
    events
}

fn conflict_message(body: &Value) -> String {
    single_error(body, "CONFLICT")["message"]
        .as_str()
        .unwrap()
        .to_owned()
}

both_backends!(
    external_ids_are_unique_per_workspace_and_found_by_them,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let made = mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "Carla CRM", "externalId": "  crm-1 " }),
        )
        .await;
        let carla = made["profile"]["id"].as_str().unwrap().to_owned();
        let found = by_external_id(&app, &app.demo_token, "crm-1").await;
        assert_eq!(found["id"], carla.as_str());
        assert_eq!(found["externalId"], "crm-1", "stored trimmed");
        assert_eq!(
            history(&app, &carla).await[0],
            (
                "PROFILE_CREATED".to_owned(),
                json!({ "name": "Carla CRM", "externalId": "crm-1" })
            )
        );
        assert_eq!(
            by_external_id(&app, &app.demo_token, "crm-404").await,
            Value::Null
        );

        // A key another profile has: CONFLICT naming it, and nothing written.
        let before = snapshot(app.conn()).await;
        let again = mutate(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "Someone else", "externalId": "crm-1" }),
        )
        .await;
        assert!(conflict_message(&again).contains("`crm-1`"), "{again:#}");
        let taken = mutate(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "externalId": "crm-1" }),
        )
        .await;
        assert!(conflict_message(&taken).contains("`crm-1`"), "{taken:#}");
        assert_eq!(snapshot(app.conn()).await, before, "a refused change wrote");

        // Set, change and clear Peter's; each is one version and one event.
        let version = |p: &Value| p["profile"]["version"].as_i64().unwrap();
        let set = mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "externalId": "crm-2" }),
        )
        .await;
        assert_eq!(set["profile"]["name"], "Peter B.", "the name stays");
        let changed = mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "externalId": "crm-3", "name": "Peter Bakker" }),
        )
        .await;
        assert_eq!(version(&changed), version(&set) + 1);
        let same = mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "externalId": "crm-3" }),
        )
        .await;
        assert_eq!(
            version(&same),
            version(&changed),
            "no change, no new version"
        );
        let cleared = mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "externalId": null }),
        )
        .await;
        assert_eq!(version(&cleared), version(&changed) + 1);
        assert_eq!(
            by_external_id(&app, &app.demo_token, "crm-3").await,
            Value::Null
        );
        let changes: Vec<(String, Value)> = history(&app, &d.peter).await;
        assert_eq!(
            changes,
            [
                (
                    "EXTERNAL_ID_CHANGED".to_owned(),
                    json!({ "externalId": { "old": null, "new": "crm-2" } })
                ),
                (
                    "PROFILE_RENAMED".to_owned(),
                    json!({ "name": { "old": "Peter B.", "new": "Peter Bakker" } })
                ),
                (
                    "EXTERNAL_ID_CHANGED".to_owned(),
                    json!({ "externalId": { "old": "crm-2", "new": "crm-3" } })
                ),
                (
                    "EXTERNAL_ID_CHANGED".to_owned(),
                    json!({ "externalId": { "old": "crm-3", "new": null } })
                ),
            ]
        );

        // Bad keys are refused before anything runs.
        for bad in [json!("   "), json!("x".repeat(256)), json!("crm\u{7}1")] {
            let body = mutate(
                &app,
                &app.demo_token,
                "createProfile",
                json!({ "name": "Bad key", "externalId": bad }),
            )
            .await;
            assert_bad_input(&body, "input.externalId");
        }
        let nothing = mutate(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter }),
        )
        .await;
        assert_bad_input(&nothing, "input");

        // Another workspace has its own keys: the same key is free there, and neither
        // sees the other's.
        let ws = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
            .await
            .unwrap();
        let olga = agent(&app, ws.id, "Olga Other", "olga@other.example").await;
        let other = token(&app, ws.id, Some(olga), "read,write").await;
        assert_eq!(by_external_id(&app, &other, "crm-1").await, Value::Null);
        let theirs = mutate_ok(
            &app,
            &other,
            "upsertProfile",
            json!({ "externalId": "crm-1", "name": "Their Carla" }),
        )
        .await;
        assert_eq!(theirs["created"], true);
        assert_eq!(
            by_external_id(&app, &app.demo_token, "crm-1").await["id"],
            carla.as_str()
        );
        assert_eq!(
            by_external_id(&app, &other, "crm-1").await["name"],
            "Their Carla"
        );
    }
);

both_backends!(
    upsert_creates_then_updates_and_a_repeat_changes_nothing,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let input = json!({
            "externalId": "shop-7",
            "name": "Sam Shop",
            "fields": [{ "fieldId": d.fields["plan"], "value": "Pro" },
                       { "fieldId": d.fields["customer_number"], "value": " C-7 " }],
            "contacts": [
                { "channelId": d.channels["WHATSAPP"], "identifier": "+31 6 1111 2222",
                  "displayName": "Sam" },
                { "channelId": d.channels["EMAIL"], "identifier": "Sam@Shop.Example" },
                { "channelId": d.channels["EMAIL"], "identifier": "sam@shop.example" },
            ],
        });
        let first = mutate_ok(&app, &app.demo_token, "upsertProfile", input.clone()).await;
        assert_eq!(first["created"], true, "{first:#}");
        let sam = first["profile"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["profile"]["version"], 1);
        let found = by_external_id(&app, &app.demo_token, "shop-7").await;
        assert_eq!(found["id"], sam.as_str());
        let mut contacts: Vec<(String, String)> = found["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["identifier"].as_str().unwrap().to_owned(),
                    c["displayName"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        contacts.sort();
        assert_eq!(
            contacts,
            [
                ("+31611112222".to_owned(), "Sam".to_owned()),
                ("sam@shop.example".to_owned(), "sam@shop.example".to_owned()),
            ],
            "normalised, the same identity once"
        );
        let values: Vec<(String, Value)> = found["fields"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| !f["value"].is_null())
            .map(|f| {
                (
                    f["field"]["key"].as_str().unwrap().to_owned(),
                    f["value"].clone(),
                )
            })
            .collect();
        assert_eq!(
            values,
            [
                ("customer_number".to_owned(), json!("C-7")),
                ("plan".to_owned(), json!("Pro"))
            ]
        );
        let kinds: Vec<String> = history(&app, &sam).await.into_iter().map(|e| e.0).collect();
        assert_eq!(
            kinds,
            [
                "PROFILE_CREATED",
                "CONTACT_ATTACHED",
                "CONTACT_ATTACHED",
                "FIELDS_CHANGED"
            ]
        );

        // The same again: found, nothing written, no event, same version.
        let before = snapshot(app.conn()).await;
        let second = mutate_ok(&app, &app.demo_token, "upsertProfile", input.clone()).await;
        assert_eq!(second["created"], false);
        assert_eq!(second["profile"]["id"], sam.as_str());
        assert_eq!(second["profile"]["version"], 1);
        assert_eq!(
            snapshot(app.conn()).await,
            before,
            "a repeat wrote something"
        );

        // A change: a new name, one field changed, an existing contact without a profile
        // (Maria's e-mail) joins. One version up; its events.
        let third = mutate_ok(
            &app,
            &app.demo_token,
            "upsertProfile",
            json!({
                "externalId": "shop-7",
                "name": "Samantha Shop",
                "fields": [{ "fieldId": d.fields["plan"], "value": "Enterprise" },
                           { "fieldId": d.fields["customer_number"], "value": "C-7" }],
                "contacts": [{ "channelId": d.channels["EMAIL"], "identifier": "maria.k@example.com" }],
            }),
        )
        .await;
        assert_eq!(third["created"], false);
        assert_eq!(third["profile"]["name"], "Samantha Shop");
        assert_eq!(third["profile"]["version"], 2);
        let events = history(&app, &sam).await;
        let kinds: Vec<&str> = events[4..].iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            kinds,
            ["PROFILE_RENAMED", "CONTACT_ATTACHED", "FIELDS_CHANGED"]
        );
        assert_eq!(
            events[6].1["fields"],
            json!([{ "key": "plan", "old": "Pro", "new": "Enterprise" }]),
            "only what changed"
        );
        let found = by_external_id(&app, &app.demo_token, "shop-7").await;
        assert_eq!(
            found["contacts"].as_array().unwrap().len(),
            3,
            "contacts are only added"
        );

        // Without a name, an existing profile keeps its own; a new one needs one.
        let unnamed = mutate_ok(
            &app,
            &app.demo_token,
            "upsertProfile",
            json!({ "externalId": "shop-7" }),
        )
        .await;
        assert_eq!(unnamed["profile"]["name"], "Samantha Shop");
        let body = mutate(
            &app,
            &app.demo_token,
            "upsertProfile",
            json!({ "externalId": "shop-8" }),
        )
        .await;
        assert_bad_input(&body, "input.name");
    }
);

both_backends!(upsert_is_all_or_nothing, |app: TestApp| async move {
    let d = demo(&app).await;
    let peter_wa = "+31612345678";
    let before = snapshot(app.conn()).await;
    // Peter's contact: CONFLICT, and nothing of the new profile is written.
    let body = mutate(
        &app,
        &app.demo_token,
        "upsertProfile",
        json!({
            "externalId": "shop-9",
            "name": "Pete Again",
            "contacts": [
                { "channelId": d.channels["EMAIL"], "identifier": "pete@new.example" },
                { "channelId": d.channels["WHATSAPP"], "identifier": peter_wa },
            ],
        }),
    )
    .await;
    assert!(conflict_message(&body).contains(peter_wa), "{body:#}");
    // A value that breaks its field's rule: the field named, nothing written.
    let body = mutate(
        &app,
        &app.demo_token,
        "upsertProfile",
        json!({
            "externalId": "shop-9",
            "name": "Pete Again",
            "contacts": [{ "channelId": d.channels["EMAIL"], "identifier": "pete@new.example" }],
            "fields": [{ "fieldId": d.fields["plan"], "value": "Platinum" }],
        }),
    )
    .await;
    assert_bad_input(&body, "plan");
    // A bad identifier, named by its place.
    let body = mutate(
        &app,
        &app.demo_token,
        "upsertProfile",
        json!({
            "externalId": "shop-9",
            "name": "Pete Again",
            "contacts": [{ "channelId": d.channels["WHATSAPP"], "identifier": "not a number" }],
        }),
    )
    .await;
    assert_bad_input(&body, "input.contacts[0].identifier");
    assert_eq!(snapshot(app.conn()).await, before, "a refused upsert wrote");

    // With moveContacts the contact moves: Peter's version goes up, and he gets the
    // CONTACT_DETACHED.
    let peter_before = data(
        &app,
        &app.demo_token,
        "query($id: ID!) { profile(id: $id) { version } }",
        json!({ "id": d.peter }),
    )
    .await["profile"]["version"]
        .as_i64()
        .unwrap();
    let moved = mutate_ok(
        &app,
        &app.demo_token,
        "upsertProfile",
        json!({
            "externalId": "shop-9",
            "name": "Pete Again",
            "moveContacts": true,
            "contacts": [{ "channelId": d.channels["WHATSAPP"], "identifier": peter_wa }],
        }),
    )
    .await;
    assert_eq!(moved["created"], true);
    let peter = data(
        &app,
        &app.demo_token,
        "query($id: ID!) { profile(id: $id) { version contacts { identifier } } }",
        json!({ "id": d.peter }),
    )
    .await;
    assert_eq!(
        peter["profile"]["version"].as_i64().unwrap(),
        peter_before + 1
    );
    assert!(
        !peter["profile"]["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["identifier"] == peter_wa)
    );
    let last = history(&app, &d.peter).await.pop().unwrap();
    assert_eq!(last.0, "CONTACT_DETACHED");
});

both_backends!(
    an_upsert_with_an_idempotency_key_replays,
    |app: TestApp| async move {
        let doc = crate::support::mutation_doc("upsertProfile");
        let send = || async {
            let response = app
                .client
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.demo_token)
                .header("Idempotency-Key", "sync-shop-10")
                .json(&json!({ "query": doc, "variables": { "input": {
                    "externalId": "shop-10", "name": "Ida Idem" } } }))
                .send()
                .await
                .unwrap();
            let replayed = response.headers().get("idempotent-replayed").is_some();
            assert_eq!(response.status(), StatusCode::OK);
            (replayed, response.json::<Value>().await.unwrap())
        };
        let (replayed, first) = send().await;
        assert!(!replayed);
        assert_eq!(first["data"]["upsertProfile"]["created"], true, "{first:#}");
        let (replayed, second) = send().await;
        assert!(replayed, "the second is the stored answer");
        assert_eq!(
            second["data"], first["data"],
            "created: true again, as stored"
        );
        // Without the key, the same call runs: it finds the profile.
        let third = call(
            &app,
            &app.demo_token,
            &doc,
            json!({ "input": { "externalId": "shop-10", "name": "Ida Idem" } }),
        )
        .await;
        assert_eq!(
            third["data"]["upsertProfile"]["created"], false,
            "{third:#}"
        );
    }
);

both_backends!(
    deletion_erases_the_external_id_from_the_log,
    |app: TestApp| async move {
        let made = mutate_ok(
            &app,
            &app.demo_token,
            "upsertProfile",
            json!({ "externalId": "secret-key-11", "name": "Gone Soon" }),
        )
        .await;
        let id = made["profile"]["id"].as_str().unwrap().to_owned();
        mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": id, "externalId": "secret-key-12" }),
        )
        .await;
        mutate_ok(&app, &app.demo_token, "deleteProfile", json!({ "id": id })).await;
        let feed = data(
            &app,
            &app.demo_token,
            "query($p: ID) { events(first: 100, profileId: $p) { nodes { kind changes } } }",
            json!({ "p": id }),
        )
        .await;
        let printed = feed.to_string();
        assert!(!printed.contains("secret-key"), "{feed:#}");
        assert_eq!(feed["events"]["nodes"].as_array().unwrap().len(), 3);
        // The row is gone, and the key is free again.
        assert_eq!(
            by_external_id(&app, &app.demo_token, "secret-key-12").await,
            Value::Null
        );
        let again = mutate_ok(
            &app,
            &app.demo_token,
            "upsertProfile",
            json!({ "externalId": "secret-key-12", "name": "New Owner" }),
        )
        .await;
        assert_eq!(again["created"], true);
    }
);
