//! Deleting a profile: it is gone for good from every query; its notes go with it; its
//! contacts stay, detached, with their tickets; nothing else is touched.

use profilegraph_schema::ids::NodeKind;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops::{self, DELETE_PROFILE, gid};

const CREATE_NOTE: &str =
    "mutation($input: CreateNoteInput!) { createNote(input: $input) { note { id body } } }";
const SET_FIELDS: &str = "mutation($input: SetProfileFieldsInput!) { setProfileFields(input: $input) { profile { id version } } }";

/// `node(id)` and `nodes([id])` both answer null.
async fn assert_no_node(app: &TestApp, id: &Value) {
    let data = app
        .demo_data(
            "query($id: ID!) { node(id: $id) { id } nodes(ids: [$id]) { id } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data, json!({ "node": null, "nodes": [null] }), "{id}");
}

both_backends!(
    a_deleted_profile_is_gone_for_good,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let id = peter["id"].clone();
        let note = app
            .demo_data(
                CREATE_NOTE,
                json!({ "input": { "profileId": id, "body": "Called back about the refund." } }),
            )
            .await["createNote"]["note"]
            .clone();
        let page = ops::profile_page(&app, &id).await;
        assert_eq!(
            page["notes"]["totalCount"], 2,
            "the demo's note and this one"
        );
        let note_ids = page["notes"]["nodes"].as_array().unwrap().clone();
        assert!(note_ids.iter().any(|n| n["id"] == note["id"]));
        let contacts_before: Vec<Value> = ops::ids_of(&page["contacts"])
            .into_iter()
            .map(Value::from)
            .collect();
        let mut contact_pages = Vec::new();
        for contact_id in &contacts_before {
            contact_pages.push(ops::contact(&app, contact_id).await);
        }

        // Someone else, who must not be touched.
        let whatsapp = ops::demo_channel(&app, "WHATSAPP").await;
        let bystander_contact =
            ops::new_contact(&app, &whatsapp["id"], "+31 6 9999 0000", Some("Bea")).await;
        let bystander = ops::create_profile(&app, "Bea Bos", &[&bystander_contact["id"]]).await;
        app.demo_data(
            CREATE_NOTE,
            json!({ "input": { "profileId": bystander["id"], "body": "Bea's note" } }),
        )
        .await;
        let bystander_page = ops::profile_page(&app, &bystander["id"]).await;

        let profiles_before = ops::profile_count(&app).await;
        let moments_before = app
            .demo_data("{ contactMoments { totalCount } }", json!({}))
            .await;

        let data = app
            .demo_data(DELETE_PROFILE, json!({ "input": { "id": id } }))
            .await;
        assert_eq!(data["deleteProfile"]["deletedProfileId"], id);

        // Gone from every query.
        assert!(ops::profile(&app, &id).await.is_null());
        assert_no_node(&app, &id).await;
        assert_eq!(ops::profile_count(&app).await, profiles_before - 1);
        let (listed, _) = ops::search_profiles(&app, None).await;
        assert!(listed.iter().all(|p| p["id"] != id), "{listed:#?}");
        for search in ["Peter", "fb:4820193384710", "+31612345678"] {
            let (found, total) = ops::search_profiles(&app, Some(search)).await;
            assert_eq!(total, 0, "{search}: {found:#?}");
        }

        // Its notes went with it.
        for note in &note_ids {
            assert_no_node(&app, &note["id"]).await;
        }

        // Its contacts stay, detached, with their tickets.
        for (contact_id, before) in contacts_before.iter().zip(&contact_pages) {
            let after = ops::contact(&app, contact_id).await;
            assert!(after["profile"].is_null(), "{after:#}");
            assert_eq!(after["identifier"], before["identifier"]);
            assert_eq!(after["contactMoments"], before["contactMoments"]);
            assert_eq!(after["contactMoments"]["totalCount"], 2);
            let ticket = app
                .demo_data(
                    "query($id: ID!) { contactMoment(id: $id) { contact { id profile { id } } } }",
                    json!({ "id": after["contactMoments"]["nodes"][0]["id"] }),
                )
                .await;
            assert_eq!(
                ticket["contactMoment"]["contact"],
                json!({ "id": contact_id, "profile": null }),
                "the ticket opens, and its contact has no profile"
            );
        }
        assert_eq!(
            app.demo_data("{ contactMoments { totalCount } }", json!({}))
                .await,
            moments_before
        );
        let unattached = app
            .demo_data(
                "{ contacts(withoutProfile: true) { nodes { id } } }",
                json!({}),
            )
            .await;
        for contact_id in &contacts_before {
            assert!(
                ops::ids_of(&unattached["contacts"]["nodes"])
                    .contains(&contact_id.as_str().unwrap().to_owned()),
                "{contact_id} is listed without a profile"
            );
        }

        // The other profile is as it was.
        assert_eq!(
            ops::profile_page(&app, &bystander["id"]).await,
            bystander_page
        );

        // Nothing can be done with the deleted profile any more.
        let maria = ops::demo_maria(&app).await;
        let plan = app
            .demo_data("{ customFields { id key } }", json!({}))
            .await["customFields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["key"] == "plan")
            .unwrap()["id"]
            .clone();
        let refused = [
            (DELETE_PROFILE.to_owned(), json!({ "input": { "id": id } })),
            (
                ops::update_profile_mutation(),
                json!({ "input": { "id": id, "name": "Peter again" } }),
            ),
            (
                ops::attach_mutation(),
                ops::attach_input(&id, &maria["id"], false),
            ),
            (
                ops::attach_mutation(),
                ops::attach_input(&id, &maria["id"], true),
            ),
            (
                ops::detach_mutation(),
                ops::detach_input(&id, &contacts_before[0]),
            ),
            (
                CREATE_NOTE.to_owned(),
                json!({ "input": { "profileId": id, "body": "Too late" } }),
            ),
            (
                SET_FIELDS.to_owned(),
                json!({ "input": { "profileId": id, "values": [{ "fieldId": plan, "value": "Free" }] } }),
            ),
        ];
        for (mutation, variables) in refused {
            ops::expect_error(&app, &mutation, variables, "NOT_FOUND").await;
        }
        assert!(ops::profile(&app, &id).await.is_null(), "not brought back");
        assert!(
            ops::contact(&app, &maria["id"]).await["profile"].is_null(),
            "Maria was not attached to a deleted profile"
        );
        assert_eq!(ops::profile_count(&app).await, profiles_before - 1);

        // The freed contacts can start a new profile, without moving anything.
        let again = ops::create_profile(
            &app,
            "Peter B.",
            &contacts_before.iter().collect::<Vec<_>>(),
        )
        .await;
        assert_ne!(again["id"], id, "a new profile, not the old one");
        assert_eq!(
            ops::ids_of(&again["contacts"]),
            ops::ids_of(&Value::from(
                contacts_before
                    .iter()
                    .map(|c| json!({ "id": c }))
                    .collect::<Vec<_>>()
            ))
        );
        let fresh = ops::profile_page(&app, &again["id"]).await;
        assert_eq!(
            fresh["notes"]["totalCount"], 0,
            "the old notes don't come back"
        );
        assert_eq!(fresh["contactMoments"]["totalCount"], 4, "the tickets do");
    }
);

both_backends!(deleting_needs_a_profile_id, |app: TestApp| async move {
    let peter = ops::demo_peter(&app).await;
    ops::expect_bad_input(
        &app,
        DELETE_PROFILE,
        json!({ "input": { "id": "garbage" } }),
        "input.id",
    )
    .await;
    for id in [
        // A contact's id, and an id that never existed.
        peter["contacts"][0]["id"].as_str().unwrap().to_owned(),
        gid(NodeKind::Profile, uuid::Uuid::now_v7()),
    ] {
        ops::expect_error(
            &app,
            DELETE_PROFILE,
            json!({ "input": { "id": id } }),
            "NOT_FOUND",
        )
        .await;
    }
    assert_eq!(ops::profile(&app, &peter["id"]).await["name"], "Peter B.");
    assert_eq!(
        ops::contact(&app, &peter["contacts"][0]["id"]).await["profile"]["id"],
        peter["id"]
    );
});
