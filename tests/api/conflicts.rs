//! Conflicts: a contact of another profile is refused unless moved explicitly; attaching
//! what is already there changes nothing; a stale `expectedVersion` is refused; a new
//! profile with someone else's contact is not created at all; and simultaneous writers
//! neither duplicate nor overwrite each other.

use profilegraph_schema::ids::NodeKind;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops;

/// A profile's version, contacts and `updatedAt` as they are now.
async fn snapshot(app: &TestApp, id: &Value) -> Value {
    let profile = ops::profile(app, id).await;
    assert!(!profile.is_null(), "{id} exists");
    profile
}

/// Run `query` with the demo token; `Ok(data)` or `Err(code)` of its only error.
async fn outcome(app: &TestApp, query: &str, variables: Value) -> Result<Value, String> {
    let (_, body) = app.graphql(Some(&app.demo_token), query, variables).await;
    match body["errors"].as_array() {
        None => Ok(body["data"].clone()),
        Some(errors) => {
            assert_eq!(errors.len(), 1, "{body:#}");
            Err(errors[0]["extensions"]["code"]
                .as_str()
                .unwrap_or_else(|| panic!("an error code: {body:#}"))
                .to_owned())
        }
    }
}

both_backends!(
    a_contact_of_another_profile_moves_only_when_asked,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let wa = peter["contacts"][1].clone();
        let other = ops::create_profile(&app, "Pieter Bos", &[]).await;
        let peter_before = snapshot(&app, &peter["id"]).await;
        let other_before = snapshot(&app, &other["id"]).await;

        // Without `move`: CONFLICT, and nothing changes.
        let error = ops::expect_error(
            &app,
            &ops::attach_mutation(),
            ops::attach_input(&other["id"], &wa["id"], false),
            "CONFLICT",
        )
        .await;
        assert!(
            error["message"].as_str().unwrap().contains("move"),
            "the message says how to move it: {error}"
        );
        assert_eq!(snapshot(&app, &peter["id"]).await, peter_before);
        assert_eq!(snapshot(&app, &other["id"]).await, other_before);
        assert_eq!(
            ops::contact(&app, &wa["id"]).await["profile"]["id"],
            peter["id"]
        );

        // With `move: true` it moves, and both profiles changed.
        let moved = ops::attach_contact(&app, &other["id"], &wa["id"], true).await;
        assert_eq!(moved["contact"]["profile"]["id"], other["id"]);
        assert_eq!(moved["profile"]["id"], other["id"]);
        assert_eq!(moved["profile"]["contacts"], json!([{ "id": wa["id"] }]));
        assert_eq!(
            moved["profile"]["version"],
            other_before["version"].as_i64().unwrap() + 1
        );
        let peter_after = snapshot(&app, &peter["id"]).await;
        assert_eq!(
            peter_after["version"],
            peter_before["version"].as_i64().unwrap() + 1
        );
        assert_eq!(
            peter_after["contacts"],
            json!([{ "id": peter["contacts"][0]["id"] }])
        );
        assert!(ops::instant(&peter_after["updatedAt"]) > ops::instant(&peter_before["updatedAt"]));

        // The tickets follow the contact.
        let peter_page = ops::profile_page(&app, &peter["id"]).await;
        let other_page = ops::profile_page(&app, &other["id"]).await;
        assert_eq!(peter_page["contactMoments"]["totalCount"], 2);
        assert_eq!(other_page["contactMoments"]["totalCount"], 2);
        assert!(
            other_page["contactMoments"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["contact"]["id"] == wa["id"])
        );
    }
);

both_backends!(
    attaching_a_contact_already_there_changes_nothing,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let before = snapshot(&app, &peter["id"]).await;
        for contact in peter["contacts"].as_array().unwrap() {
            let contact_before = ops::contact(&app, &contact["id"]).await;
            for move_it in [false, true] {
                let payload =
                    ops::attach_contact(&app, &peter["id"], &contact["id"], move_it).await;
                assert_eq!(
                    payload["profile"]["version"], before["version"],
                    "move: {move_it}"
                );
                assert_eq!(payload["profile"]["updatedAt"], before["updatedAt"]);
                assert_eq!(payload["profile"]["contacts"], before["contacts"]);
                assert_eq!(payload["contact"]["profile"]["id"], peter["id"]);
                assert_eq!(payload["contact"]["updatedAt"], contact_before["updatedAt"]);
            }
            assert_eq!(ops::contact(&app, &contact["id"]).await, contact_before);
        }
        assert_eq!(snapshot(&app, &peter["id"]).await, before);
    }
);

both_backends!(
    a_stale_expected_version_is_refused,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let id = &peter["id"];
        assert_eq!(peter["version"], 1);

        // Two agents read version 1. The first rename wins ...
        let first = ops::rename_profile(&app, id, "Peter Bakker", Some(1)).await;
        assert_eq!(first["version"], 2);
        // ... the second, still on version 1, is refused.
        let error = ops::expect_error(
            &app,
            &ops::update_profile_mutation(),
            json!({ "input": { "id": id, "name": "Pete", "expectedVersion": 1 } }),
            "CONFLICT",
        )
        .await;
        assert!(
            error["message"].as_str().unwrap().contains("version 2"),
            "{error}"
        );
        let now = snapshot(&app, id).await;
        assert_eq!(now["name"], "Peter Bakker", "the first rename stands");
        assert_eq!(now["version"], 2);
        assert_eq!(now["updatedAt"], first["updatedAt"]);

        // Another kind of change (a contact joining) also makes an old version stale.
        let maria = ops::demo_maria(&app).await;
        ops::attach_contact(&app, id, &maria["id"], false).await;
        ops::expect_error(
            &app,
            &ops::update_profile_mutation(),
            json!({ "input": { "id": id, "name": "Pete", "expectedVersion": 2 } }),
            "CONFLICT",
        )
        .await;
        // A version from the future is no better.
        ops::expect_error(
            &app,
            &ops::update_profile_mutation(),
            json!({ "input": { "id": id, "name": "Pete", "expectedVersion": 99 } }),
            "CONFLICT",
        )
        .await;
        let now = snapshot(&app, id).await;
        assert_eq!(
            (now["name"].clone(), now["version"].clone()),
            (json!("Peter Bakker"), json!(3))
        );

        // With the current version it goes through.
        let last = ops::rename_profile(&app, id, "Pete", Some(3)).await;
        assert_eq!(last["name"], "Pete");
        assert_eq!(last["version"], 4);
    }
);

both_backends!(
    a_new_profile_with_someone_elses_contact_is_not_created,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let maria = ops::demo_maria(&app).await;
        let wa = &peter["contacts"][1];
        let peter_before = snapshot(&app, &peter["id"]).await;
        let count_before = ops::profile_count(&app).await;

        // Maria's free contact first, then Peter's: all or nothing, so Maria's isn't
        // attached either.
        ops::expect_error(
            &app,
            &ops::create_profile_mutation(),
            json!({ "input": { "name": "Maria Kuipers", "contactIds": [maria["id"], wa["id"]] } }),
            "CONFLICT",
        )
        .await;
        assert_eq!(
            ops::profile_count(&app).await,
            count_before,
            "no profile was created"
        );
        assert_eq!(ops::search_profiles(&app, Some("Kuipers")).await.1, 0);
        assert!(ops::contact(&app, &maria["id"]).await["profile"].is_null());
        assert_eq!(snapshot(&app, &peter["id"]).await, peter_before);

        // An unknown contact: NOT_FOUND, and nothing created either.
        let ghost = ops::gid(NodeKind::Contact, uuid::Uuid::now_v7());
        ops::expect_error(
            &app,
            &ops::create_profile_mutation(),
            json!({ "input": { "name": "Maria Kuipers", "contactIds": [maria["id"], ghost] } }),
            "NOT_FOUND",
        )
        .await;
        assert_eq!(ops::profile_count(&app).await, count_before);
        assert!(ops::contact(&app, &maria["id"]).await["profile"].is_null());

        // With `moveContacts: true` it is created, and Peter lost a contact.
        let data = app
            .demo_data(
                &ops::create_profile_mutation(),
                json!({ "input": {
                    "name": "Maria Kuipers",
                    "contactIds": [maria["id"], wa["id"]],
                    "moveContacts": true,
                } }),
            )
            .await;
        let created = &data["createProfile"]["profile"];
        let mut contact_ids = ops::ids_of(&created["contacts"]);
        contact_ids.sort();
        let mut expected = vec![
            maria["id"].as_str().unwrap().to_owned(),
            wa["id"].as_str().unwrap().to_owned(),
        ];
        expected.sort();
        assert_eq!(contact_ids, expected);
        assert_eq!(ops::profile_count(&app).await, count_before + 1);
        let peter_after = snapshot(&app, &peter["id"]).await;
        assert_eq!(
            peter_after["version"],
            peter_before["version"].as_i64().unwrap() + 1
        );
        assert_eq!(
            peter_after["contacts"],
            json!([{ "id": peter["contacts"][0]["id"] }])
        );
    }
);

both_backends!(
    simultaneous_writers_neither_duplicate_nor_overwrite,
    |app: TestApp| async move {
        // Four renames from version 1 at once: exactly one wins.
        let peter = ops::demo_peter(&app).await;
        let rename = |name: &'static str| {
            outcome(
                &app,
                "mutation($input: UpdateProfileInput!) { updateProfile(input: $input) { profile { name version } } }",
                json!({ "input": { "id": peter["id"], "name": name, "expectedVersion": 1 } }),
            )
        };
        let results = tokio::join!(rename("A"), rename("B"), rename("C"), rename("D"));
        let results = [results.0, results.1, results.2, results.3];
        let winners: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|code| code == "CONFLICT"),
            "{results:?}"
        );
        let now = snapshot(&app, &peter["id"]).await;
        assert_eq!(now["version"], 2);
        assert_eq!(now["name"], winners[0]["updateProfile"]["profile"]["name"]);

        // One free contact attached to three profiles at once: one gets it.
        let maria = ops::demo_maria(&app).await;
        let mut targets = Vec::new();
        for name in ["Maria K.", "Maria Kuipers", "M. Kuipers"] {
            targets.push(ops::create_profile(&app, name, &[]).await["id"].clone());
        }
        let attach = |profile_id: &Value| {
            outcome(
                &app,
                "mutation($input: AttachContactInput!) { attachContact(input: $input) { profile { id version } } }",
                ops::attach_input(profile_id, &maria["id"], false),
            )
        };
        let results = tokio::join!(
            attach(&targets[0]),
            attach(&targets[1]),
            attach(&targets[2])
        );
        let results = [results.0, results.1, results.2];
        let winners: Vec<&Value> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "{results:?}");
        assert!(
            results
                .iter()
                .filter_map(|r| r.as_ref().err())
                .all(|code| code == "CONFLICT"),
            "{results:?}"
        );
        let winner = &winners[0]["attachContact"]["profile"]["id"];
        assert_eq!(
            ops::contact(&app, &maria["id"]).await["profile"]["id"],
            *winner
        );
        for target in &targets {
            let version = snapshot(&app, target).await["version"].clone();
            assert_eq!(version, if target == winner { 2 } else { 1 }, "{target}");
        }

        // The same new identity brought in by four conversations at once: one contact.
        let whatsapp = ops::demo_channel(&app, "WHATSAPP").await;
        let bring_in = |typed: &'static str| {
            outcome(
                &app,
                "mutation($input: CreateContactInput!) { createContact(input: $input) { created contact { id } } }",
                json!({ "input": { "channelId": whatsapp["id"], "identifier": typed } }),
            )
        };
        let results = tokio::join!(
            bring_in("+31 6 4444 1111"),
            bring_in("+31644441111"),
            bring_in("0031 6 4444 1111"),
            bring_in("+31-6-4444-1111")
        );
        let results = [results.0, results.1, results.2, results.3]
            .map(|r| r.unwrap_or_else(|code| panic!("createContact failed with {code}")));
        let created = results
            .iter()
            .filter(|r| r["createContact"]["created"] == true)
            .count();
        assert_eq!(created, 1, "{results:?}");
        let ids: Vec<&Value> = results
            .iter()
            .map(|r| &r["createContact"]["contact"]["id"])
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "one contact: {results:?}"
        );
        let found = app
            .demo_data(
                "{ contacts(search: \"+31644441111\") { totalCount } }",
                json!({}),
            )
            .await;
        assert_eq!(found["contacts"]["totalCount"], 1);
    }
);
