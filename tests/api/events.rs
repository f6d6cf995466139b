//! The profile event log: every change writes its event in the same transaction, read as
//! a profile's `history` and as the workspace's change feed `events`.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{data, demo, mutate, mutate_ok};

const FEED: &str = "query($after: String, $kinds: [ProfileEventKind!], $profileId: ID) {
  events(first: 100, after: $after, kinds: $kinds, profileId: $profileId) {
    totalCount
    pageInfo { endCursor hasNextPage }
    nodes { id seq kind profileId changes requestId occurredAt actor { name } actorTokenId }
  }
}";

/// Every event after `after`, in feed order, and the last cursor.
async fn feed_after(app: &TestApp, after: Option<&str>) -> (Vec<Value>, Option<String>) {
    let mut events = Vec::new();
    let mut cursor = after.map(str::to_owned);
    loop {
        let d = data(
            app,
            &app.demo_token,
            FEED,
            json!({ "after": cursor.clone() }),
        )
        .await;
        let page = &d["events"];
        events.extend(page["nodes"].as_array().unwrap().iter().cloned());
        if let Some(end) = page["pageInfo"]["endCursor"].as_str() {
            cursor = Some(end.to_owned());
        }
        if page["pageInfo"]["hasNextPage"] != true {
            return (events, cursor);
        }
    }
}

fn kinds(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect()
}

both_backends!(
    every_change_writes_its_event_with_actor_and_changes,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let (before, start) = feed_after(&app, None).await;
        assert!(
            before.is_empty(),
            "the demo is loaded, not logged: {before:?}"
        );

        // A profile made from Maria's contact, with a field value.
        let created = mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({
                "name": "Maria K.",
                "contactIds": [d.maria],
                "fields": [{ "fieldId": d.fields["plan"], "value": "Pro" }],
            }),
        )
        .await;
        let maria = created["profile"]["id"].as_str().unwrap().to_owned();
        let (events, cursor) = feed_after(&app, start.as_deref()).await;
        assert_eq!(
            kinds(&events),
            ["PROFILE_CREATED", "CONTACT_ATTACHED", "FIELDS_CHANGED"]
        );
        for event in &events {
            assert_eq!(event["profileId"], maria.as_str());
            assert_eq!(event["actor"]["name"], "Anna de Vries");
            assert!(event["actorTokenId"].is_string());
            assert!(event["requestId"].as_str().is_some_and(|r| !r.is_empty()));
        }
        assert_eq!(events[0]["changes"], json!({ "name": "Maria K." }));
        assert_eq!(events[1]["changes"]["contactId"], d.maria.as_str());
        assert_eq!(events[1]["changes"]["identifier"], "maria.k@example.com");
        assert_eq!(events[1]["changes"]["fromProfileId"], Value::Null);
        assert_eq!(
            events[2]["changes"]["fields"],
            json!([{ "key": "plan", "old": null, "new": "Pro" }])
        );
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3], "seq grows by one per event");

        // Rename, fields, a move of Peter's WhatsApp contact to Maria, a detach.
        mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": maria, "name": "Maria Kowalski" }),
        )
        .await;
        mutate_ok(
            &app,
            &app.demo_token,
            "setProfileFields",
            json!({ "profileId": maria, "values": [{ "fieldId": d.fields["plan"], "value": null }] }),
        )
        .await;
        let wa = d.peter_contacts["+31612345678"].clone();
        mutate_ok(
            &app,
            &app.demo_token,
            "attachContact",
            json!({ "profileId": maria, "contactId": wa, "move": true }),
        )
        .await;
        mutate_ok(
            &app,
            &app.demo_token,
            "detachContact",
            json!({ "profileId": maria, "contactId": wa }),
        )
        .await;
        let (events, cursor) = feed_after(&app, cursor.as_deref()).await;
        assert_eq!(
            kinds(&events),
            [
                "PROFILE_RENAMED",
                "FIELDS_CHANGED",
                "CONTACT_DETACHED",
                "CONTACT_ATTACHED",
                "CONTACT_DETACHED"
            ]
        );
        assert_eq!(
            events[0]["changes"],
            json!({ "name": { "old": "Maria K.", "new": "Maria Kowalski" } })
        );
        assert_eq!(
            events[1]["changes"]["fields"],
            json!([{ "key": "plan", "old": "Pro", "new": null }])
        );
        // A move: detached from Peter (going to Maria), then attached to Maria.
        assert_eq!(events[2]["profileId"], d.peter.as_str());
        assert_eq!(events[2]["changes"]["toProfileId"], maria.as_str());
        assert_eq!(events[3]["profileId"], maria.as_str());
        assert_eq!(events[3]["changes"]["fromProfileId"], d.peter.as_str());
        assert_eq!(events[4]["changes"]["toProfileId"], Value::Null);

        // Notes and contact moments, on the profile of the moment's contact.
        let note = mutate_ok(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": d.peter, "body": "Called back." }),
        )
        .await;
        let note = note["note"]["id"].as_str().unwrap().to_owned();
        mutate_ok(
            &app,
            &app.demo_token,
            "updateNote",
            json!({ "id": note, "body": "Called back twice." }),
        )
        .await;
        mutate_ok(&app, &app.demo_token, "deleteNote", json!({ "id": note })).await;
        let fb = d.peter_contacts["fb:4820193384710"].clone();
        let moment = mutate_ok(
            &app,
            &app.demo_token,
            "startContactMoment",
            json!({ "contactId": fb, "subject": "Refund" }),
        )
        .await;
        let moment = moment["contactMoment"]["id"].as_str().unwrap().to_owned();
        mutate_ok(
            &app,
            &app.demo_token,
            "updateContactMoment",
            json!({ "id": moment, "status": "CLOSED" }),
        )
        .await;
        let (events, _) = feed_after(&app, cursor.as_deref()).await;
        assert_eq!(
            kinds(&events),
            [
                "NOTE_CREATED",
                "NOTE_UPDATED",
                "NOTE_DELETED",
                "CONTACT_MOMENT_STARTED",
                "CONTACT_MOMENT_UPDATED"
            ]
        );
        assert!(events.iter().all(|e| e["profileId"] == d.peter.as_str()));
        assert_eq!(
            events[1]["changes"],
            json!({ "noteId": note, "body": { "old": "Called back.", "new": "Called back twice." } })
        );
        assert_eq!(events[3]["changes"]["contactMomentId"], moment.as_str());
        assert_eq!(events[3]["changes"]["subject"], "Refund");
        assert_eq!(
            events[4]["changes"]["status"],
            json!({ "old": "OPEN", "new": "CLOSED" })
        );

        // The history is the same events, newest first, per profile.
        let h = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { profile(id: $id) { history(first: 3) { totalCount nodes { kind } } } }",
            json!({ "id": d.peter }),
        )
        .await;
        let history = &h["profile"]["history"];
        assert_eq!(history["totalCount"], 6);
        assert_eq!(
            kinds(history["nodes"].as_array().unwrap()),
            [
                "CONTACT_MOMENT_UPDATED",
                "CONTACT_MOMENT_STARTED",
                "NOTE_DELETED"
            ]
        );
        // An event is a node.
        let id = events[0]["id"].as_str().unwrap();
        let n = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { node(id: $id) { ... on ProfileEvent { kind profile { name } } } }",
            json!({ "id": id }),
        )
        .await;
        assert_eq!(
            n["node"],
            json!({ "kind": "NOTE_CREATED", "profile": { "name": "Peter B." } })
        );
    }
);

both_backends!(
    a_refused_change_writes_no_event,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let (_, start) = feed_after(&app, None).await;
        // One bad value refuses the whole request: no field written, no event.
        let body = mutate(
            &app,
            &app.demo_token,
            "setProfileFields",
            json!({
                "profileId": d.peter,
                "values": [
                    { "fieldId": d.fields["plan"], "value": "Enterprise" },
                    { "fieldId": d.fields["vip"], "value": "not a boolean" },
                ],
            }),
        )
        .await;
        assert!(body["errors"].is_array(), "{body}");
        // A stale version: CONFLICT, no event.
        let body = mutate(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "name": "Peter", "expectedVersion": 41 }),
        )
        .await;
        assert_eq!(body["errors"][0]["extensions"]["code"], "CONFLICT");
        let (events, _) = feed_after(&app, start.as_deref()).await;
        assert!(events.is_empty(), "{events:?}");
    }
);

both_backends!(
    deleting_a_profile_erases_its_events_but_the_deletion,
    |app: TestApp| async move {
        let d = demo(&app).await;
        mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": d.peter, "name": "Peter Secretname" }),
        )
        .await;
        mutate_ok(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": d.peter, "body": "Secret note text" }),
        )
        .await;
        mutate_ok(
            &app,
            &app.demo_token,
            "setProfileFields",
            json!({ "profileId": d.peter, "values": [{ "fieldId": d.fields["customer_number"], "value": "C-SECRET-77" }] }),
        )
        .await;
        mutate_ok(
            &app,
            &app.demo_token,
            "deleteProfile",
            json!({ "id": d.peter }),
        )
        .await;

        let (events, _) = feed_after(&app, None).await;
        assert_eq!(
            kinds(&events),
            [
                "PROFILE_RENAMED",
                "NOTE_CREATED",
                "FIELDS_CHANGED",
                "PROFILE_DELETED"
            ]
        );
        assert!(
            events.iter().all(|e| e["changes"] == json!({})),
            "{events:#?}"
        );
        // The feed still answers for the deleted profile, by id.
        let d2 = data(
            &app,
            &app.demo_token,
            FEED,
            json!({ "profileId": d.peter, "kinds": ["PROFILE_DELETED"] }),
        )
        .await;
        assert_eq!(d2["events"]["totalCount"], 1);
        // And the table itself holds none of it.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        let rows = entity::profile_events::Entity::find()
            .filter(entity::profile_events::Column::WorkspaceId.eq(d.workspace_id))
            .all(app.conn())
            .await
            .unwrap();
        assert_eq!(rows.len(), 4);
        let text = serde_json::to_string(&rows).unwrap();
        let secrets = ["Secretname", "Secret note text", "C-SECRET-77"];
        for secret in secrets {
            assert!(
                !text.contains(secret),
                "{secret} is still in the log: {text}"
            );
        }
        // Nor the SQLite file: deleted content is zeroed, not left in free pages.
        if let Some(path) = app.db_url.strip_prefix("sqlite://") {
            use sea_orm::ConnectionTrait;
            app.conn()
                .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .unwrap();
            for file in [path.to_owned(), format!("{path}-wal")] {
                let Ok(bytes) = std::fs::read(&file) else {
                    continue;
                };
                for secret in secrets {
                    let found = bytes.windows(secret.len()).any(|w| w == secret.as_bytes());
                    assert!(!found, "{secret} is still in {file}");
                }
            }
        }
    }
);

/// Hold off the numbering of the workspace's events (PostgreSQL: its advisory lock,
/// `LOCK_CLASS` of the migration `m20261211_000010_event_numbering`, 0x5045_5651) until the
/// returned transaction ends, on a connection of the test's own (the server's pool is the
/// server's). On SQLite, where a change numbers its own events, an idle transaction.
async fn hold_numbering(
    app: &TestApp,
    workspace_id: uuid::Uuid,
) -> (sea_orm::DatabaseConnection, sea_orm::DatabaseTransaction) {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let own = sea_orm::Database::connect(app.db_url.as_str())
        .await
        .unwrap();
    let held = own.begin().await.unwrap();
    if app.backend == crate::helpers::Backend::Postgres {
        held.execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_advisory_xact_lock(1346721361, hashtext($1::text))",
            [workspace_id.into()],
        ))
        .await
        .unwrap();
    }
    (own, held)
}

both_backends!(
    events_waiting_for_their_number_lose_a_deleted_profiles_data_too,
    |app: TestApp| async move {
        // On PostgreSQL a change's events wait for their number after its commit. A
        // profile deleted in that moment must not leave its data behind in them: the
        // numbering is held off here (its lock, taken by the test) while a change outside
        // the server records them and the profile is deleted.
        use sea_orm::{ConnectionTrait, DbBackend, Statement};
        let d = demo(&app).await;
        let peter = crate::support::uuid_of(&d.peter);
        let postgres = app.backend == crate::helpers::Backend::Postgres;
        let (own, held) = hold_numbering(&app, d.workspace_id).await;
        use profilegraph_store::events::{EventKind, NewEvent, record};
        let txn = app.db.begin_write().await.unwrap();
        let new = vec![
            NewEvent::new(
                EventKind::ProfileRenamed,
                peter,
                json!({ "name": { "old": "Peter", "new": "Peter Pendingname" } }),
            ),
            NewEvent::new(
                EventKind::NoteCreated,
                peter,
                json!({ "body": "Pending note text" }),
            ),
        ];
        record(&txn, &app.db, d.workspace_id, new).await.unwrap();
        txn.commit().await.unwrap();
        let waiting = |conn: &sea_orm::DatabaseConnection| {
            let conn = conn.clone();
            async move {
                let rows = conn
                    .query_all_raw(Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT changes::text AS changes FROM profile_events_pending",
                    ))
                    .await
                    .unwrap();
                rows.iter()
                    .map(|row| row.try_get::<String>("", "changes").unwrap())
                    .collect::<Vec<_>>()
            }
        };
        if postgres {
            let pending = waiting(&own).await;
            assert_eq!(pending.len(), 2, "{pending:?}");
            assert!(pending.iter().any(|c| c.contains("Pendingname")));
        }
        mutate_ok(
            &app,
            &app.demo_token,
            "deleteProfile",
            json!({ "id": d.peter }),
        )
        .await;
        let secrets = ["Pendingname", "Pending note text"];
        if postgres {
            let pending = waiting(&own).await;
            assert_eq!(
                pending.len(),
                3,
                "the deletion's event waits too: {pending:?}"
            );
            for secret in secrets {
                assert!(
                    pending.iter().all(|c| !c.contains(secret)),
                    "{secret} is still waiting to be numbered: {pending:?}"
                );
            }
        }
        held.commit().await.unwrap();
        // Numbered now (by the server after the deletion, or by its sweep), and still
        // without the data.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let events = loop {
            let (events, _) = feed_after(&app, None).await;
            if events.len() >= 3 || std::time::Instant::now() > deadline {
                break events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(
            kinds(&events),
            ["PROFILE_RENAMED", "NOTE_CREATED", "PROFILE_DELETED"]
        );
        let text = serde_json::to_string(&events).unwrap();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} is in the log: {text}");
        }
        if postgres {
            assert_eq!(waiting(&own).await.len(), 0, "all of them numbered");
        }
    }
);

both_backends!(
    a_merge_takes_the_events_still_waiting_for_their_number,
    |app: TestApp| async move {
        // Events of the merged profile that committed but are not numbered yet (held off
        // here) become the survivor's history like the numbered ones.
        let d = demo(&app).await;
        let twin = mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "Peter Twin" }),
        )
        .await["profile"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let (_own, held) = hold_numbering(&app, d.workspace_id).await;
        use profilegraph_store::events::{EventKind, NewEvent, record};
        let txn = app.db.begin_write().await.unwrap();
        let new = vec![NewEvent::new(
            EventKind::NoteCreated,
            crate::support::uuid_of(&twin),
            json!({ "by": "waiting" }),
        )];
        record(&txn, &app.db, d.workspace_id, new).await.unwrap();
        txn.commit().await.unwrap();
        let merged = data(
            &app,
            &app.demo_token,
            "mutation($input: MergeProfilesInput!) { mergeProfiles(input: $input) { profile { id } } }",
            json!({ "input": { "survivorId": d.peter, "mergedId": twin } }),
        )
        .await;
        assert_eq!(merged["mergeProfiles"]["profile"]["id"], d.peter);
        held.commit().await.unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let waited = loop {
            let (events, _) = feed_after(&app, None).await;
            let found = events.into_iter().find(|e| e["changes"]["by"] == "waiting");
            if found.is_some() || std::time::Instant::now() > deadline {
                break found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        let waited = waited.expect("the waiting event is numbered");
        assert_eq!(waited["profileId"], d.peter, "{waited:#}");
    }
);

both_backends!(
    the_feed_loses_and_repeats_nothing_under_concurrent_writers,
    |app: TestApp| async move {
        let d = demo(&app).await;
        let writers = 6;
        let notes_each = 8;
        let mut tasks = Vec::new();
        for w in 0..writers {
            let client = app.client.clone();
            let url = format!("{}/graphql", app.address);
            let token = app.demo_token.clone();
            let peter = d.peter.clone();
            tasks.push(tokio::spawn(async move {
                for n in 0..notes_each {
                    let body = json!({
                        "query": "mutation($p: ID!, $b: String!) { createNote(input: {profileId: $p, body: $b}) { note { id } } }",
                        "variables": { "p": peter, "b": format!("writer {w} note {n}") },
                    });
                    let response = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .unwrap();
                    let value: Value = response.json().await.unwrap();
                    assert!(value.get("errors").is_none(), "{value}");
                }
            }));
        }
        // A reader polls the feed from its last cursor while the writers commit.
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        let total = writers * notes_each;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while seen.len() < total && std::time::Instant::now() < deadline {
            let (events, next) = feed_after(&app, cursor.as_deref()).await;
            seen.extend(events.into_iter().map(|e| e["seq"].as_i64().unwrap()));
            cursor = next;
        }
        for task in tasks {
            task.await.unwrap();
        }
        let (rest, _) = feed_after(&app, cursor.as_deref()).await;
        seen.extend(rest.into_iter().map(|e| e["seq"].as_i64().unwrap()));
        let expected: Vec<i64> = (1..=i64::try_from(total).unwrap()).collect();
        assert_eq!(seen, expected, "every event once, in seq order");
        let unique: BTreeSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), total);
    }
);

both_backends!(
    old_events_are_pruned_in_batches,
    |app: TestApp| async move {
        let d = demo(&app).await;
        for n in 0..3 {
            mutate_ok(
                &app,
                &app.demo_token,
                "createNote",
                json!({ "profileId": d.peter, "body": format!("note {n}") }),
            )
            .await;
        }
        // The first two are made a year and more old.
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let old = chrono::Utc::now() - chrono::Duration::days(400);
        entity::profile_events::Entity::update_many()
            .col_expr(
                entity::profile_events::Column::OccurredAt,
                Expr::value(chrono::DateTime::<chrono::FixedOffset>::from(old)),
            )
            .filter(entity::profile_events::Column::Seq.lte(2))
            .exec(app.conn())
            .await
            .unwrap();
        let pruned = profilegraph::retention::prune_once(&app.db, 365)
            .await
            .unwrap();
        assert_eq!(pruned, 2);
        let (events, _) = feed_after(&app, None).await;
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [3]);
        assert_eq!(
            profilegraph::retention::prune_once(&app.db, 365)
                .await
                .unwrap(),
            0
        );
    }
);

both_backends!(
    events_written_outside_the_server_are_numbered_in_write_order,
    |app: TestApp| async move {
        // A command-line import writes through its own pool: on PostgreSQL its events are
        // pending until numbered (by the import at its end, or by any server's sweep).
        // Three transactions of its own, the second with two events.
        let d = demo(&app).await;
        let peter = crate::support::uuid_of(&d.peter);
        use profilegraph_store::events::{EventKind, NewEvent, record};
        let batches = [
            vec![EventKind::ProfileRenamed],
            vec![EventKind::ContactDetached, EventKind::ContactAttached],
            vec![EventKind::FieldsChanged],
        ];
        for kinds in &batches {
            let txn = app.db.begin_write().await.unwrap();
            let new = kinds
                .iter()
                .map(|k| NewEvent::new(*k, peter, json!({ "by": "outside" })))
                .collect();
            record(&txn, &app.db, d.workspace_id, new).await.unwrap();
            txn.commit().await.unwrap();
        }
        let written = [
            "PROFILE_RENAMED",
            "CONTACT_DETACHED",
            "CONTACT_ATTACHED",
            "FIELDS_CHANGED",
        ];
        // Never a part of them: a numbering numbers everything committed before it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let events = loop {
            let (events, _) = feed_after(&app, None).await;
            assert!(
                events.is_empty() || events.len() == written.len(),
                "part of the events was readable: {events:?}"
            );
            if !events.is_empty() || std::time::Instant::now() > deadline {
                break events;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(
            kinds(&events),
            written,
            "numbered in the order they were written"
        );
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        // And the next change of the server comes after them.
        mutate_ok(
            &app,
            &app.demo_token,
            "createNote",
            json!({ "profileId": d.peter, "body": "after the import" }),
        )
        .await;
        let (events, _) = feed_after(&app, None).await;
        let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        assert_eq!(events[4]["kind"], "NOTE_CREATED");
    }
);
