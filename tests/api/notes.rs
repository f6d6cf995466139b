//! Notes on a profile: written, edited and deleted by agents, each keeping its author and
//! times; listed newest first and paged.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{
    Demo, agent, assert_bad_input, data, demo, mutate, mutate_ok, single_error, snapshot, token,
};

const PROFILE_NOTES: &str = "query($id: ID!, $first: Int, $after: String) {
  profile(id: $id) {
    notes(first: $first, after: $after) {
      totalCount
      edges { cursor node { id body createdAt updatedAt author { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
}";

/// One page of a profile's notes.
async fn notes_page(app: &TestApp, profile: &str, first: i64, after: Option<&str>) -> Value {
    data(
        app,
        &app.demo_token,
        PROFILE_NOTES,
        json!({ "id": profile, "first": first, "after": after }),
    )
    .await["profile"]["notes"]
        .clone()
}

/// The ids of a page's notes, in order.
fn ids(page: &Value) -> Vec<String> {
    page["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn create_note(app: &TestApp, token: &str, profile: &str, body: &str) -> Value {
    mutate_ok(
        app,
        token,
        "createNote",
        json!({ "profileId": profile, "body": body }),
    )
    .await["note"]
        .clone()
}

/// Parse an RFC 3339 `DateTime` from the API.
fn instant(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap_or_else(|e| panic!("{value} is not RFC 3339: {e}"))
}

both_backends!(
    notes_are_written_edited_and_deleted_with_author_and_times,
    |app: TestApp| async move {
        let Demo {
            peter,
            note: demo_note,
            ..
        } = demo(&app).await;

        let note = create_note(
            &app,
            &app.demo_token,
            &peter,
            "  Called about the refund.\nWill call back.  ",
        )
        .await;
        assert_eq!(
            note["body"], "Called about the refund.\nWill call back.",
            "trimmed, line breaks kept"
        );
        assert_eq!(
            note["author"]["name"], "Anna de Vries",
            "the token's agent wrote it"
        );
        assert_eq!(note["profile"]["id"], peter.as_str());
        assert_eq!(
            note["createdAt"], note["updatedAt"],
            "a new note is unedited"
        );
        assert!(
            note["createdAt"].as_str().unwrap().ends_with('Z'),
            "UTC: {note}"
        );
        let id = note["id"].as_str().unwrap().to_owned();

        // Newest first, with the total.
        let page = notes_page(&app, &peter, 10, None).await;
        assert_eq!(page["totalCount"], 2);
        assert_eq!(ids(&page), [id.clone(), demo_note.clone()]);

        // Edited by another agent of the workspace: the author stays, updatedAt moves.
        let ws = app.demo_workspace().await.id;
        let bert = agent(&app, ws, "Bert Jansen", "bert@demo.example").await;
        let berts_token = token(&app, ws, Some(bert), "read,write").await;
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let edited = mutate_ok(
            &app,
            &berts_token,
            "updateNote",
            json!({ "id": id, "body": "Refund sent." }),
        )
        .await["note"]
            .clone();
        assert_eq!(edited["id"], id.as_str());
        assert_eq!(edited["body"], "Refund sent.");
        assert_eq!(
            edited["author"]["name"], "Anna de Vries",
            "the author stays"
        );
        assert_eq!(edited["createdAt"], note["createdAt"], "createdAt stays");
        assert!(
            instant(&edited["updatedAt"]) > instant(&note["updatedAt"]),
            "updatedAt moves: {note} -> {edited}"
        );
        // As the list shows it, too.
        let page = notes_page(&app, &peter, 10, None).await;
        assert_eq!(page["edges"][0]["node"]["body"], "Refund sent.");
        assert_eq!(page["edges"][0]["node"]["author"]["name"], "Anna de Vries");

        // Bert's own note is his.
        let berts = create_note(&app, &berts_token, &peter, "Bert was here").await;
        assert_eq!(berts["author"]["name"], "Bert Jansen");
        // A token without an agent writes notes without an author.
        let integration = token(&app, ws, None, "write").await;
        let anonymous = create_note(&app, &integration, &peter, "Imported from the CRM").await;
        assert!(anonymous["author"].is_null(), "{anonymous}");

        // Deleted: gone from node(id), the list and the count; deleting again is NOT_FOUND.
        let deleted = mutate_ok(&app, &app.demo_token, "deleteNote", json!({ "id": id })).await;
        assert_eq!(deleted["deletedNoteId"], id.as_str());
        let node = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": id }),
        )
        .await;
        assert!(node["node"].is_null(), "{node}");
        let page = notes_page(&app, &peter, 10, None).await;
        assert_eq!(page["totalCount"], 3);
        assert!(!ids(&page).contains(&id));
        let rows = snapshot(app.conn()).await;
        let again = mutate(&app, &app.demo_token, "deleteNote", json!({ "id": id })).await;
        single_error(&again, "NOT_FOUND");
        let update = mutate(
            &app,
            &app.demo_token,
            "updateNote",
            json!({ "id": id, "body": "resurrected?" }),
        )
        .await;
        single_error(&update, "NOT_FOUND");
        assert_eq!(snapshot(app.conn()).await, rows);

        // Notes go with their profile.
        mutate_ok(
            &app,
            &app.demo_token,
            "deleteProfile",
            json!({ "id": peter }),
        )
        .await;
        for note in [
            berts["id"].clone(),
            anonymous["id"].clone(),
            json!(demo_note),
        ] {
            let node = data(
                &app,
                &app.demo_token,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": note }),
            )
            .await;
            assert!(node["node"].is_null(), "{note} outlived its profile");
        }
        let body = mutate(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": peter, "body": "too late" }),
        )
        .await;
        single_error(&body, "NOT_FOUND");
    }
);

both_backends!(
    a_note_body_is_1_to_10000_characters,
    |app: TestApp| async move {
        let Demo {
            peter,
            note: demo_note,
            ..
        } = demo(&app).await;
        let rows = snapshot(app.conn()).await;
        let too_long = "x".repeat(10_001);
        for body in ["", "   ", " \n\t ", too_long.as_str()] {
            let created = mutate(
                &app,
                &app.demo_token,
                "createNote",
                json!({ "profileId": peter, "body": body }),
            )
            .await;
            assert_bad_input(&created, "input.body");
            let updated = mutate(
                &app,
                &app.demo_token,
                "updateNote",
                json!({ "id": demo_note, "body": body }),
            )
            .await;
            assert_bad_input(&updated, "input.body");
        }
        // Control characters other than line breaks and tabs are refused too.
        let created = mutate(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": peter, "body": "bell \u{7}" }),
        )
        .await;
        assert_bad_input(&created, "input.body");
        assert_eq!(snapshot(app.conn()).await, rows, "nothing was written");

        // Exactly 10,000 characters, counted as characters, not bytes.
        for longest in ["x".repeat(10_000), "ü".repeat(10_000)] {
            let note = create_note(&app, &app.demo_token, &peter, &longest).await;
            assert_eq!(note["body"].as_str().unwrap(), longest);
            let edited = mutate_ok(
                &app,
                &app.demo_token,
                "updateNote",
                json!({ "id": note["id"], "body": longest }),
            )
            .await;
            assert_eq!(
                edited["note"]["body"].as_str().unwrap().chars().count(),
                10_000
            );
        }
    }
);

both_backends!(
    notes_are_paged_newest_first_alone_and_batched,
    |app: TestApp| async move {
        let Demo {
            peter,
            note: demo_note,
            ..
        } = demo(&app).await;
        let mut newest_first = vec![demo_note];
        for n in 1..=6 {
            let note = create_note(&app, &app.demo_token, &peter, &format!("note {n}")).await;
            newest_first.insert(0, note["id"].as_str().unwrap().to_owned());
        }

        // Pages of 3: 3 + 3 + 1, each with the total.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        let mut pages = 0;
        loop {
            let page = notes_page(&app, &peter, 3, after.as_deref()).await;
            pages += 1;
            assert_eq!(page["totalCount"], 7, "{page:#}");
            let page_ids = ids(&page);
            assert!(!page_ids.is_empty(), "{page:#}");
            assert_eq!(
                page["pageInfo"]["endCursor"],
                page["edges"].as_array().unwrap().last().unwrap()["cursor"]
            );
            seen.extend(page_ids);
            if page["pageInfo"]["hasNextPage"] == false {
                break;
            }
            after = Some(page["pageInfo"]["endCursor"].as_str().unwrap().to_owned());
            assert!(pages < 10, "paging does not end");
        }
        assert_eq!(pages, 3);
        assert_eq!(seen, newest_first, "every note once, newest first");

        // The page size is bounded and cursors are checked.
        for (first, after) in [(0, None), (101, None), (3, Some("not-a-cursor"))] {
            let body = crate::support::call(
                &app,
                &app.demo_token,
                PROFILE_NOTES,
                json!({ "id": peter, "first": first, "after": after }),
            )
            .await;
            single_error(&body, "BAD_USER_INPUT");
        }
        // A page past the end is empty.
        let last = notes_page(&app, &peter, 7, None).await;
        let end = last["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
        let past = notes_page(&app, &peter, 3, Some(&end)).await;
        assert_eq!(ids(&past), Vec::<String>::new());
        assert_eq!(past["pageInfo"]["hasNextPage"], false);
        assert_eq!(past["totalCount"], 7);

        // Several profiles' notes in one request (batched): each profile gets its own page.
        let jane = mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "Jane" }),
        )
        .await["profile"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let janes: Vec<String> = {
            let mut ids = Vec::new();
            for body in ["jane 1", "jane 2"] {
                let note = create_note(&app, &app.demo_token, &jane, body).await;
                ids.insert(0, note["id"].as_str().unwrap().to_owned());
            }
            ids
        };
        let both = data(
            &app,
            &app.demo_token,
            "{ profiles(first: 10) { nodes { id notes(first: 3) {
             totalCount edges { cursor node { id body createdAt updatedAt author { name } } }
             pageInfo { hasNextPage endCursor } } } } }",
            json!({}),
        )
        .await;
        for profile in both["profiles"]["nodes"].as_array().unwrap() {
            let id = profile["id"].as_str().unwrap();
            let alone = notes_page(&app, id, 3, None).await;
            assert_eq!(profile["notes"], alone, "{id} batched as alone");
            let expected: Vec<String> = if id == jane {
                janes.clone()
            } else {
                newest_first[..3].to_vec()
            };
            assert_eq!(ids(&alone), expected);
        }
    }
);
