//! Merging two profiles: what moves, what wins, what stays addressable; the dry run that
//! shows exactly that; the refusals; and a merge racing attaches that loses no contact.

use profilegraph_schema::ids::NodeKind;
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops;
use crate::support::{
    Demo, call, data, demo, mutate_ok, random_id, single_error, snapshot, token, uuid_of,
};

/// The merge mutation, reading everything the payload tells.
const MERGE: &str = "mutation($input: MergeProfilesInput!) {
  mergeProfiles(input: $input) {
    dryRun
    profile {
      id name version mergedIds
      contacts { id identifier }
      contactsByChannel { channel { type } contacts { id } }
      fields { field { key } value }
    }
    movedContacts { id identifier profile { id } }
    movedNoteCount
    fieldConflicts { field { key } survivorValue mergedValue kept }
  }
}";

/// A profile as the tests compare it before and after.
const PROFILE: &str = "query($id: ID!) {
  profile(id: $id) {
    id name version mergedIds
    contacts { id identifier }
    fields { field { key } value }
    notes(first: 20) { nodes { id body createdAt updatedAt author { id } } }
    history(first: 50) { nodes { kind profileId changes } }
  }
}";

async fn profile(app: &TestApp, id: &str) -> Value {
    data(app, &app.demo_token, PROFILE, json!({ "id": id })).await["profile"].clone()
}

/// Run `mergeProfiles` with `input`; the whole body.
async fn merge(app: &TestApp, token: &str, input: Value) -> Value {
    call(app, token, MERGE, json!({ "input": input })).await
}

/// Run `mergeProfiles` and return its payload, failing on any error.
async fn merge_ok(app: &TestApp, input: Value) -> Value {
    let body = merge(app, &app.demo_token, input).await;
    assert!(body.get("errors").is_none(), "the merge failed: {body:#}");
    body["data"]["mergeProfiles"].clone()
}

/// A second "Peter": created from a new e-mail contact, with a note and field values
/// (one the survivor lacks, one that conflicts with it, two that are the same).
struct Duplicate {
    id: String,
    contact: String,
    note: String,
}

async fn duplicate_of_peter(app: &TestApp, a: &Demo) -> Duplicate {
    let token = &app.demo_token;
    let contact = mutate_ok(
        app,
        token,
        "createContact",
        json!({ "channelId": a.channels["EMAIL"], "identifier": "peter.bakker@example.com",
                "displayName": "Peter Bakker" }),
    )
    .await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = mutate_ok(
        app,
        token,
        "createProfile",
        json!({ "name": "Peter Bakker", "contactIds": [contact], "fields": [
            { "fieldId": a.fields["customer_number"], "value": "C-2" },
            { "fieldId": a.fields["plan"], "value": "Pro" },
            { "fieldId": a.fields["vip"], "value": true },
            { "fieldId": a.fields["birthday"], "value": "1980-05-17" },
        ] }),
    )
    .await;
    let id = created["profile"]["id"].as_str().unwrap().to_owned();
    let note = mutate_ok(
        app,
        token,
        "createNote",
        json!({ "profileId": id, "body": "Asked about the replacement again." }),
    )
    .await["note"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Duplicate { id, contact, note }
}

/// The value of field `key` in a profile's `fields`.
fn field<'a>(profile: &'a Value, key: &str) -> &'a Value {
    profile["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["field"]["key"] == key)
        .map(|f| &f["value"])
        .unwrap_or_else(|| panic!("no field {key}: {profile:#}"))
}

/// How many events have been written: the log's rows, and on PostgreSQL those still
/// waiting for their number.
async fn event_count(app: &TestApp) -> u64 {
    let numbered = entity::profile_events::Entity::find()
        .count(app.conn())
        .await
        .unwrap();
    if app.backend != crate::helpers::Backend::Postgres {
        return numbered;
    }
    use sea_orm::ConnectionTrait;
    let waiting: i64 = app
        .conn()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT COUNT(*) AS n FROM profile_events_pending",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get("", "n")
        .unwrap();
    numbered + u64::try_from(waiting).unwrap()
}

both_backends!(
    a_dry_run_shows_exactly_what_the_merge_then_does,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let dup = duplicate_of_peter(&app, &a).await;
        let peter_before = profile(&app, &a.peter).await;
        let dup_before = profile(&app, &dup.id).await;
        let input = json!({ "survivorId": a.peter, "mergedId": dup.id });

        // The preview writes nothing at all, not even an event.
        let (rows, events) = (snapshot(app.conn()).await, event_count(&app).await);
        let mut preview_input = input.clone();
        preview_input["dryRun"] = json!(true);
        let preview = merge_ok(&app, preview_input).await;
        assert_eq!(snapshot(app.conn()).await, rows, "a dry run wrote rows");
        assert_eq!(event_count(&app).await, events, "a dry run wrote an event");
        assert_eq!(profile(&app, &dup.id).await, dup_before);

        // What it shows: the survivor as it would be, and every conflict.
        assert_eq!(preview["dryRun"], true);
        let survivor = &preview["profile"];
        assert_eq!(survivor["id"], a.peter);
        assert_eq!(survivor["name"], "Peter B.");
        assert_eq!(
            survivor["version"],
            peter_before["version"].as_i64().unwrap() + 1
        );
        assert_eq!(survivor["mergedIds"], json!([dup.id]));
        let identifiers = ops::strings_of(&survivor["contacts"], "identifier");
        assert_eq!(
            identifiers,
            [
                "peter.bakker@example.com",
                "fb:4820193384710",
                "+31612345678"
            ],
            "by channel: e-mail, Messenger, WhatsApp: {survivor:#}"
        );
        assert_eq!(
            preview["movedContacts"],
            json!([{ "id": dup.contact, "identifier": "peter.bakker@example.com",
                     "profile": { "id": a.peter } }])
        );
        assert_eq!(preview["movedNoteCount"], 1);
        // The survivor keeps its own customer number (the default), gains the birthday,
        // and the plan and VIP both have the same way are no conflict.
        assert_eq!(
            preview["fieldConflicts"],
            json!([{ "field": { "key": "customer_number" }, "survivorValue": "C-10042",
                     "mergedValue": "C-2", "kept": "SURVIVOR" }])
        );
        assert_eq!(field(survivor, "customer_number"), "C-10042");
        assert_eq!(field(survivor, "vip"), true);
        assert_eq!(field(survivor, "birthday"), "1980-05-17");
        assert_eq!(field(survivor, "plan"), "Pro");

        // The merge itself does what the preview showed.
        let done = merge_ok(&app, input).await;
        assert_eq!(done["dryRun"], false);
        let mut expected = preview.clone();
        expected["dryRun"] = json!(false);
        assert_eq!(done, expected, "the merge did what its preview showed");

        // The merged profile is gone, but its id answers with the survivor.
        let after = profile(&app, &dup.id).await;
        assert_eq!(
            after["id"], a.peter,
            "the merged id answers with the survivor"
        );
        let node = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { node(id: $id) { id ... on Profile { name } } }",
            json!({ "id": dup.id }),
        )
        .await;
        assert_eq!(node["node"], json!({ "id": a.peter, "name": "Peter B." }));
        let peter_after = profile(&app, &a.peter).await;
        assert_eq!(after, peter_after);
        assert_eq!(peter_after["mergedIds"], json!([dup.id]));
        assert_eq!(peter_after["version"], survivor["version"]);
        let list = data(
            &app,
            &app.demo_token,
            "{ profiles(first: 100) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
        assert!(
            !ops::ids_of(&list["profiles"]["nodes"]).contains(&dup.id),
            "{list:#}"
        );

        // The note moved with its author and times.
        let note_before = &dup_before["notes"]["nodes"][0];
        assert_eq!(note_before["id"], dup.note);
        let moved_note = peter_after["notes"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == dup.note)
            .unwrap_or_else(|| panic!("the note is the survivor's: {peter_after:#}"));
        assert_eq!(moved_note, note_before);
        assert_eq!(peter_after["notes"]["nodes"].as_array().unwrap().len(), 2);

        // History: PROFILES_MERGED on the survivor, and the merged profile's events with it.
        let history = peter_after["history"]["nodes"].as_array().unwrap();
        let latest = &history[0];
        assert_eq!(latest["kind"], "PROFILES_MERGED");
        assert_eq!(latest["profileId"], a.peter);
        assert_eq!(latest["changes"]["mergedProfileId"], dup.id);
        assert_eq!(latest["changes"]["mergedName"], "Peter Bakker");
        assert_eq!(latest["changes"]["contactIds"], json!([dup.contact]));
        assert_eq!(latest["changes"]["noteIds"], json!([dup.note]));
        assert_eq!(
            latest["changes"]["fields"],
            json!([{ "key": "birthday", "old": null, "new": "1980-05-17" }])
        );
        let carried: Vec<&Value> = dup_before["history"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        assert!(!carried.is_empty());
        for event in carried {
            let mut expected = event.clone();
            expected["profileId"] = json!(a.peter);
            assert!(
                history.contains(&expected),
                "the merged profile's {} is the survivor's now: {history:#?}",
                event["kind"]
            );
        }
        // The change feed and the webhooks carry the kind like every other.
        let feed = data(
            &app,
            &app.demo_token,
            "{ events(first: 100, kinds: [PROFILES_MERGED]) { nodes { kind profileId } } }",
            json!({}),
        )
        .await;
        assert_eq!(
            feed["events"]["nodes"],
            json!([{ "kind": "PROFILES_MERGED", "profileId": a.peter }])
        );
        let row = entity::profile_events::Entity::find()
            .all(app.conn())
            .await
            .unwrap()
            .into_iter()
            .find(|e| e.kind == "PROFILES_MERGED")
            .unwrap();
        let body: Value =
            serde_json::from_slice(&profilegraph_schema::webhooks::payload::body(&row)).unwrap();
        assert_eq!(body["type"], "profile.merged");
        assert_eq!(body["data"]["changes"]["mergedProfileId"], dup.id);
    }
);

both_backends!(
    field_choices_decide_conflicts_and_merges_chain,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let dup = duplicate_of_peter(&app, &a).await;
        let done = merge_ok(
            &app,
            json!({ "survivorId": a.peter, "mergedId": dup.id, "fieldChoices": [
                { "fieldId": a.fields["customer_number"], "keep": "MERGED" },
                // A choice for a field without a conflict changes nothing.
                { "fieldId": a.fields["vip"], "keep": "MERGED" },
            ] }),
        )
        .await;
        assert_eq!(
            done["fieldConflicts"],
            json!([{ "field": { "key": "customer_number" }, "survivorValue": "C-10042",
                     "mergedValue": "C-2", "kept": "MERGED" }])
        );
        assert_eq!(field(&done["profile"], "customer_number"), "C-2");
        assert_eq!(field(&done["profile"], "vip"), true);
        assert_eq!(field(&done["profile"], "birthday"), "1980-05-17");
        assert_eq!(
            field(&profile(&app, &a.peter).await, "customer_number"),
            "C-2"
        );

        // Peter is merged on into a third profile: both earlier ids answer with it.
        let third = ops::create_profile(&app, "P. Bakker", &[]).await;
        let third_id = third["id"].as_str().unwrap();
        let again = merge_ok(
            &app,
            json!({ "survivorId": third_id, "mergedId": a.peter,
                    "expectedVersions": { "survivor": 1, "merged": done["profile"]["version"] } }),
        )
        .await;
        assert_eq!(again["profile"]["version"], 2);
        assert_eq!(again["profile"]["mergedIds"], json!([dup.id, a.peter]));
        assert_eq!(again["movedContacts"].as_array().unwrap().len(), 3);
        assert_eq!(again["movedNoteCount"], 2);
        for id in [&dup.id, &a.peter] {
            assert_eq!(profile(&app, id).await["id"], third_id, "{id}");
        }
    }
);

both_backends!(
    merges_that_are_refused_write_nothing,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let dup = duplicate_of_peter(&app, &a).await;
        let before = snapshot(app.conn()).await;

        // Into itself.
        let body = merge(
            &app,
            &app.demo_token,
            json!({ "survivorId": a.peter, "mergedId": a.peter }),
        )
        .await;
        let error = single_error(&body, "BAD_USER_INPUT");
        assert_eq!(error["extensions"]["field"], "input.mergedId");
        // An id that names nothing, on either side; an id that isn't one.
        for input in [
            json!({ "survivorId": a.peter, "mergedId": random_id(NodeKind::Profile) }),
            json!({ "survivorId": random_id(NodeKind::Profile), "mergedId": dup.id }),
            json!({ "survivorId": a.peter, "mergedId": a.maria }),
        ] {
            single_error(&merge(&app, &app.demo_token, input).await, "NOT_FOUND");
        }
        let body = merge(
            &app,
            &app.demo_token,
            json!({ "survivorId": "nope", "mergedId": dup.id }),
        )
        .await;
        assert_eq!(
            single_error(&body, "BAD_USER_INPUT")["extensions"]["field"],
            "input.survivorId"
        );
        // A stale version on either side.
        for expected in [
            json!({ "survivor": 7 }),
            json!({ "survivor": 1, "merged": 9 }),
        ] {
            let body = merge(
                &app,
                &app.demo_token,
                json!({ "survivorId": a.peter, "mergedId": dup.id, "expectedVersions": expected }),
            )
            .await;
            let error = single_error(&body, "CONFLICT");
            assert!(
                error["message"].as_str().unwrap().contains("version"),
                "{error}"
            );
        }
        // A field choice naming the same field twice, or no field of this workspace.
        let body = merge(
            &app,
            &app.demo_token,
            json!({ "survivorId": a.peter, "mergedId": dup.id, "fieldChoices": [
                { "fieldId": a.fields["plan"], "keep": "MERGED" },
                { "fieldId": a.fields["plan"], "keep": "SURVIVOR" },
            ] }),
        )
        .await;
        single_error(&body, "BAD_USER_INPUT");
        let body = merge(
            &app,
            &app.demo_token,
            json!({ "survivorId": a.peter, "mergedId": dup.id, "fieldChoices": [
                { "fieldId": random_id(NodeKind::CustomField), "keep": "MERGED" },
            ] }),
        )
        .await;
        single_error(&body, "NOT_FOUND");
        // A read token may not merge, not even as a dry run.
        let reader = token(&app, a.workspace_id, Some(a.agent_id), "read").await;
        for dry_run in [false, true] {
            let body = merge(
                &app,
                &reader,
                json!({ "survivorId": a.peter, "mergedId": dup.id, "dryRun": dry_run }),
            )
            .await;
            single_error(&body, "FORBIDDEN");
        }
        assert_eq!(snapshot(app.conn()).await, before, "a refused merge wrote");

        // A deleted profile can't be merged, nor merged into.
        mutate_ok(
            &app,
            &app.demo_token,
            "deleteProfile",
            json!({ "id": dup.id }),
        )
        .await;
        for input in [
            json!({ "survivorId": a.peter, "mergedId": dup.id }),
            json!({ "survivorId": dup.id, "mergedId": a.peter }),
        ] {
            single_error(&merge(&app, &app.demo_token, input).await, "NOT_FOUND");
        }
    }
);

both_backends!(
    merged_ids_answer_only_in_their_workspace_and_go_with_the_survivor,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let dup = duplicate_of_peter(&app, &a).await;
        merge_ok(&app, json!({ "survivorId": a.peter, "mergedId": dup.id })).await;

        // Another workspace's token: the merged id is nothing there.
        let ws = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
            .await
            .unwrap();
        let other = token(&app, ws.id, None, "read,write").await;
        let seen = data(
            &app,
            &other,
            "query($id: ID!) { profile(id: $id) { id } node(id: $id) { id } }",
            json!({ "id": dup.id }),
        )
        .await;
        assert_eq!(seen, json!({ "profile": null, "node": null }));

        // Deleting the survivor deletes the redirects: the merged id is gone for good too,
        // and the carried-over history loses its personal data like the rest.
        mutate_ok(
            &app,
            &app.demo_token,
            "deleteProfile",
            json!({ "id": a.peter }),
        )
        .await;
        let gone = data(
            &app,
            &app.demo_token,
            "query($a: ID!, $b: ID!) { a: profile(id: $a) { id } b: profile(id: $b) { id }
                                      n: node(id: $b) { id } }",
            json!({ "a": a.peter, "b": dup.id }),
        )
        .await;
        assert_eq!(gone, json!({ "a": null, "b": null, "n": null }));
        let redirects = entity::profile_redirects::Entity::find()
            .count(app.conn())
            .await
            .unwrap();
        assert_eq!(redirects, 0);
        let peter = uuid_of(&a.peter);
        let dup_row = uuid_of(&dup.id);
        for event in entity::profile_events::Entity::find()
            .all(app.conn())
            .await
            .unwrap()
        {
            assert_ne!(
                event.profile_id, dup_row,
                "the merged profile's events moved"
            );
            if event.profile_id == peter {
                assert_eq!(event.changes, json!({}), "{} kept its data", event.kind);
            }
        }
        let printed = serde_json::to_string(
            &entity::profile_events::Entity::find()
                .all(app.conn())
                .await
                .unwrap(),
        )
        .unwrap();
        for secret in [
            "Peter Bakker",
            "peter.bakker@example.com",
            "C-2",
            "replacement",
        ] {
            assert!(!printed.contains(secret), "the log still holds {secret}");
        }
    }
);

/// One round of the race: a merge of `merged` into `survivor` while `contacts` are
/// attached to `merged`, all at once. Returns how many attaches landed.
async fn race(app: &TestApp, survivor: &str, merged: &str, contacts: &[String]) -> usize {
    let attach = "mutation($input: AttachContactInput!) {
        attachContact(input: $input) { contact { id } } }";
    let merging = async {
        let body = merge(
            app,
            &app.demo_token,
            json!({ "survivorId": survivor, "mergedId": merged }),
        )
        .await;
        assert!(body.get("errors").is_none(), "the merge failed: {body:#}");
    };
    let attaching = futures_util::future::join_all(contacts.iter().map(|contact| async move {
        let body = call(
            app,
            &app.demo_token,
            attach,
            json!({ "input": { "profileId": merged, "contactId": contact } }),
        )
        .await;
        match body["errors"].as_array() {
            None => true,
            Some(errors) => {
                assert_eq!(errors.len(), 1, "{body:#}");
                assert_eq!(
                    errors[0]["extensions"]["code"], "NOT_FOUND",
                    "an attach that loses the race finds the profile gone: {body:#}"
                );
                false
            }
        }
    }));
    let ((), landed) = tokio::join!(merging, attaching);
    landed.into_iter().filter(|ok| *ok).count()
}

both_backends!(
    a_merge_racing_attaches_loses_no_contact,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let survivor = ops::create_profile(&app, "Survivor", &[]).await;
        let survivor = survivor["id"].as_str().unwrap().to_owned();
        let mut landed_total = 0;
        for round in 0..6 {
            let merged = ops::create_profile(&app, &format!("Merged {round}"), &[]).await;
            let merged = merged["id"].as_str().unwrap().to_owned();
            let mut contacts = Vec::new();
            for i in 0..4 {
                let contact = mutate_ok(
                    &app,
                    &app.demo_token,
                    "createContact",
                    json!({ "channelId": a.channels["WHATSAPP"],
                            "identifier": format!("+3161000{round}{i:03}") }),
                )
                .await;
                contacts.push(contact["contact"]["id"].as_str().unwrap().to_owned());
            }
            let landed = race(&app, &survivor, &merged, &contacts).await;
            landed_total += landed;
            // Every attach that succeeded left its contact in the survivor; every one that
            // failed left it without a profile. None is lost to the deleted profile.
            let mut in_survivor = 0;
            for contact in &contacts {
                let seen = ops::contact(&app, &json!(contact)).await;
                match seen["profile"]["id"].as_str() {
                    Some(id) => {
                        assert_eq!(id, survivor, "{seen:#}");
                        in_survivor += 1;
                    }
                    None => assert!(seen["profile"].is_null()),
                }
            }
            assert_eq!(in_survivor, landed, "round {round}");
        }
        let contacts = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { profile(id: $id) { contacts { id } } }",
            json!({ "id": survivor }),
        )
        .await;
        assert_eq!(
            contacts["profile"]["contacts"].as_array().unwrap().len(),
            landed_total
        );
    }
);

both_backends!(
    a_merge_racing_moves_out_of_the_merged_profile_answers_every_request,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let attach = "mutation($input: AttachContactInput!) {
            attachContact(input: $input) { contact { id } } }";
        let survivor = ops::create_profile(&app, "Stays", &[]).await;
        let survivor = survivor["id"].as_str().unwrap().to_owned();
        for round in 0..6 {
            // The merged profile's contacts, each moved to a profile of its own while the
            // merge takes them: both lock the merged profile, so neither deadlocks.
            let mut contacts = Vec::new();
            for i in 0..4 {
                let contact = mutate_ok(
                    &app,
                    &app.demo_token,
                    "createContact",
                    json!({ "channelId": a.channels["WHATSAPP"],
                            "identifier": format!("+3162000{round}{i:03}") }),
                )
                .await;
                contacts.push(contact["contact"]["id"].clone());
            }
            let refs: Vec<&Value> = contacts.iter().collect();
            let merged = ops::create_profile(&app, &format!("Goes {round}"), &refs).await;
            let merged = merged["id"].as_str().unwrap().to_owned();
            let mut targets = Vec::new();
            for i in 0..contacts.len() {
                let target =
                    ops::create_profile(&app, &format!("Elsewhere {round}.{i}"), &[]).await;
                targets.push(target["id"].as_str().unwrap().to_owned());
            }
            let merging = merge(
                &app,
                &app.demo_token,
                json!({ "survivorId": survivor, "mergedId": merged }),
            );
            let moving = futures_util::future::join_all(contacts.iter().zip(&targets).map(
                |(contact, target)| {
                    call(
                        &app,
                        &app.demo_token,
                        attach,
                        json!({ "input": { "profileId": target, "contactId": contact, "move": true } }),
                    )
                },
            ));
            let (merged_body, moved) = tokio::join!(merging, moving);
            assert!(
                merged_body.get("errors").is_none(),
                "the merge: {merged_body:#}"
            );
            for (body, (contact, target)) in moved.iter().zip(contacts.iter().zip(&targets)) {
                // Each move either lands, or finds the contact already taken by the merge.
                let now = ops::contact(&app, contact).await;
                let home = now["profile"]["id"].as_str().unwrap();
                match body.get("errors") {
                    None => assert_eq!(home, target, "{body:#}"),
                    Some(errors) => {
                        let code = errors[0]["extensions"]["code"].as_str().unwrap();
                        assert!(code == "CONFLICT" || code == "NOT_FOUND", "{body:#}");
                        assert_eq!(home, survivor, "{now:#}");
                    }
                }
            }
        }
    }
);

/// A new profile named `name`, with `external_id` if given; its id.
async fn keyed_profile(app: &TestApp, name: &str, external_id: Option<&str>) -> String {
    let d = data(
        app,
        &app.demo_token,
        "mutation($input: CreateProfileInput!) { createProfile(input: $input) { profile { id } } }",
        json!({ "input": { "name": name, "externalId": external_id } }),
    )
    .await;
    d["createProfile"]["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `profileByExternalId(key)`.
async fn by_key(app: &TestApp, key: &str) -> Value {
    data(
        app,
        &app.demo_token,
        "query($e: String!) { profileByExternalId(externalId: $e) { id externalId } }",
        json!({ "e": key }),
    )
    .await["profileByExternalId"]
        .clone()
}

both_backends!(
    a_survivor_without_an_external_id_takes_the_merged_ones,
    |app: TestApp| async move {
        // The survivor has none: it takes the merged profile's, which finds it from then on.
        let survivor = keyed_profile(&app, "Grace Hopper", None).await;
        let merged = keyed_profile(&app, "Grace B. Hopper", Some("crm-77")).await;
        merge_ok(&app, json!({ "survivorId": survivor, "mergedId": merged })).await;
        let found = by_key(&app, "crm-77").await;
        assert_eq!(found["id"], survivor.as_str(), "{found:#}");
        assert_eq!(found["externalId"], "crm-77");

        // The survivor has one: it keeps its own.
        let keeper = keyed_profile(&app, "Ada Lovelace", Some("crm-1")).await;
        let other = keyed_profile(&app, "Ada King", Some("crm-2")).await;
        merge_ok(&app, json!({ "survivorId": keeper, "mergedId": other })).await;
        assert_eq!(by_key(&app, "crm-1").await["id"], keeper.as_str());
        assert!(by_key(&app, "crm-2").await.is_null());
    }
);
