//! The DataLoaders at work: each query shape runs the same small number of SQL statements
//! whether the page holds 1, 10 or 100 profiles (with their contacts, tickets, notes and
//! field values). Counted by the server itself (`x-sql-statements`), on both backends.

use profilegraph::seed::{self, Size};
use profilegraph::shapes::{
    Q1_PROFILE_PAGE, Q2_LOOKUP, Q3_EXPORT, Q4_CREATE_NOTE, Q4_MOVE_CONTACT,
};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;

/// Run `query` and return its data and the statements the server counted for it.
async fn counted(app: &TestApp, token: &str, query: &str, variables: Value) -> (Value, u64) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap();
    let statements = crate::helpers::sql_statements(response.headers())
        .expect("the test server reports statement counts");
    let body: Value = response.json().await.unwrap();
    assert!(body.get("errors").is_none(), "{query}: {body}");
    (body["data"].clone(), statements)
}

/// Statements per shape for a workspace seeded with `n` profiles.
async fn measure(app: &TestApp, n: usize) -> [u64; 5] {
    let seeded = seed::generate(&app.db, &format!("Batch {n}"), Size::per_profile(n), false)
        .await
        .unwrap();
    let token = seeded.token.as_str();
    // The first request of a token records its last use (one UPDATE); keep it out of the
    // counts below.
    counted(app, token, "{ viewer { scopes } }", json!({})).await;

    let (page, q3) = counted(app, token, Q3_EXPORT, json!({ "cursor": null })).await;
    let edges = page["profiles"]["edges"].as_array().unwrap();
    assert_eq!(
        edges.len(),
        n.min(100),
        "the export page holds every profile"
    );
    assert!(
        edges
            .iter()
            .any(|e| !e["node"]["contacts"][0]["contactMoments"]["edges"]
                .as_array()
                .unwrap()
                .is_empty()),
        "nested tickets are loaded"
    );

    let (list, q2) = counted(app, token, Q2_LOOKUP, json!({ "q": "e" })).await;
    assert!(list["profiles"]["totalCount"].as_u64().unwrap() > 0);

    let (ids, _) = counted(
        app,
        token,
        "{ profiles(first: 2) { edges { node { id contacts { id } } } } }",
        json!({}),
    )
    .await;
    let first = &ids["profiles"]["edges"][0]["node"];
    let profile_id = first["id"].as_str().unwrap();
    let (profile, q1) = counted(app, token, Q1_PROFILE_PAGE, json!({ "id": profile_id })).await;
    assert!(
        !profile["profile"]["contactsByChannel"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        profile["profile"]["contactMoments"]["totalCount"]
            .as_u64()
            .unwrap()
            > 0
    );

    let (_, q4_note) = counted(
        app,
        token,
        Q4_CREATE_NOTE,
        json!({ "profileId": profile_id, "body": "Called back." }),
    )
    .await;
    // A real move: the first profile's contact into a profile made for it (uncounted).
    let contact_id = first["contacts"][0]["id"].as_str().unwrap();
    let (made, _) = counted(
        app,
        token,
        "mutation { createProfile(input: { name: \"Moved to\" }) { profile { id } } }",
        json!({}),
    )
    .await;
    let target_id = made["createProfile"]["profile"]["id"].as_str().unwrap();
    let (moved, q4_move) = counted(
        app,
        token,
        Q4_MOVE_CONTACT,
        json!({ "profileId": target_id, "contactId": contact_id }),
    )
    .await;
    assert_eq!(moved["attachContact"]["contact"]["id"], contact_id);
    [q1, q2, q3, q4_note, q4_move]
}

both_backends!(
    statement_counts_do_not_grow_with_the_page,
    |app: TestApp| async move {
        let one = measure(&app, 1).await;
        let ten = measure(&app, 10).await;
        let hundred = measure(&app, 100).await;
        assert_eq!(one, ten, "Q1..Q4 statements for 1 vs 10 profiles");
        assert_eq!(ten, hundred, "Q1..Q4 statements for 10 vs 100 profiles");

        // Budgets: about one statement per level of nesting, plus the token look-up.
        // Rows shown with a parent-side row come in the same statement: a moment's
        // channel and contact, a note's author, and a timeline's total.
        // On PostgreSQL each request also runs in its walled transaction: `BEGIN` with
        // the role and workspace settings in one round trip, and its end (see
        // `Db::walled`); a change is the transaction itself, with no savepoint, when it
        // is the first thing the request sends. A write also records
        // its events (`store::events::record`) in one statement: on SQLite the change
        // numbers them itself; on PostgreSQL they wait for their number, given after the
        // commit, off the request's path (`store::events::numbering`).
        let wall = match app.backend {
            crate::helpers::Backend::Postgres => 2,
            crate::helpers::Backend::Sqlite => 0,
        };
        let [q1, q2, q3, q4_note, q4_move] = hundred;
        assert!(q1 <= 7 + wall, "Q1 profile page ran {q1} statements");
        // The look-up's first page counts its matches in its own statement.
        assert!(q2 <= 3 + wall, "Q2 look-up ran {q2} statements");
        assert!(q3 <= 7 + wall, "Q3 export page ran {q3} statements");
        // A note is the note and its events. A move locks both profiles, reads the
        // contact, moves it, raises the old profile's version, records its events and
        // raises the new profile's version. On SQLite a change's `BEGIN IMMEDIATE` goes
        // out with its first statement, and its events with its next statement or its
        // `COMMIT`, in the same call (`store::db::sqlite`), all counted: a note is two
        // calls, a move six (eight before, counting `BEGIN` and `COMMIT`).
        let (note, moved) = match app.backend {
            crate::helpers::Backend::Postgres => (1 + 2 + wall, 1 + 6 + wall),
            crate::helpers::Backend::Sqlite => (1 + 2, 1 + 6),
        };
        assert!(q4_note <= note, "Q4 createNote ran {q4_note} statements");
        assert!(
            q4_move <= moved,
            "Q4 attachContact(move) ran {q4_move} statements"
        );
        println!(
            "statements per request: Q1 {q1}, Q2 {q2}, Q3 {q3}, createNote {q4_note}, attachContact {q4_move}"
        );
    }
);

/// `n` new profiles as JSONL lines, each with an external id, two contacts, two field
/// values and a note, for a workspace seeded as `seed::generate` seeds one.
fn new_profiles(n: usize) -> String {
    (0..n)
        .map(|i| {
            json!({
                "externalId": format!("crm-{i}"),
                "name": format!("Imported Person {i}"),
                "fields": { "customer_number": format!("C-{i}"), "vip": i % 2 == 0 },
                "contacts": [
                    {
                        "channel": { "type": "EMAIL", "name": "Support e-mail" },
                        "identifier": format!("person{i}@import.example"),
                    },
                    {
                        "channel": { "type": "WHATSAPP", "name": "Support WhatsApp" },
                        "identifier": format!("+316{i:08}"),
                    },
                ],
                "notes": [{
                    "author": null,
                    "body": format!("Came over from the CRM ({i})"),
                    "createdAt": "2026-01-02T03:04:05.000006Z",
                    "updatedAt": "2026-01-02T03:04:05.000006Z",
                }],
            })
            .to_string()
                + "\n"
        })
        .collect()
}

/// Import `n` new profiles into a workspace of their own; the statements it ran.
async fn import_counted(app: &TestApp, n: usize) -> u64 {
    use profilegraph::transfer::{Format, import};
    let seeded = seed::generate(&app.db, &format!("Import {n}"), Size::per_profile(0), false)
        .await
        .unwrap();
    let options = import::Options {
        format: Format::Jsonl,
        dry_run: false,
        on_error: import::OnError::Skip,
        create_channels: false,
        progress: false,
    };
    let file = new_profiles(n);
    let mut failures = Vec::new();
    let (summary, statements) = profilegraph_store::stats::counted(import::run(
        &app.db,
        seeded.workspace_id,
        &options,
        file.as_bytes(),
        None,
        |f: &import::Failure| failures.push(f.to_string()),
    ))
    .await;
    let summary = summary.unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(summary.created, n as u64, "{summary:?}");
    statements
}

both_backends!(
    an_import_runs_statements_per_batch_not_per_row,
    |app: TestApp| async move {
        // New profiles go in batches of 100 (`transfer::pipeline`): their look-ups (external
        // ids, contacts) and each table's rows (profiles, name keys, field definitions and
        // values, contacts, notes, events) take one statement each per batch.
        let hundred = import_counted(&app, 100).await;
        let three_hundred = import_counted(&app, 300).await;
        let per_batch = (three_hundred - hundred) / 2;
        assert_eq!(
            three_hundred - hundred,
            2 * per_batch,
            "every batch of 100 costs the same: {hundred} statements for 100 rows, {three_hundred} for 300"
        );
        assert!(
            per_batch <= 10,
            "a batch of 100 new profiles ran {per_batch} statements"
        );
        println!(
            "import statements: {hundred} for 100 rows, {three_hundred} for 300 ({per_batch} per batch)"
        );
    }
);
