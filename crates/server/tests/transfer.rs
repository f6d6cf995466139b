//! `profilegraph export` and `profilegraph import`, driven as an operator runs them, on
//! SQLite and (with `TEST_DATABASE_URL`) PostgreSQL: the files in `tests/data/` with their
//! awkward cases, bad rows reported by line and column, skip and abort, dry runs, a second
//! import that changes nothing, and the round trip export → import into an empty
//! workspace → export.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use profilegraph_store::Db;
use profilegraph_store::channels::{self, ChannelType};
use profilegraph_store::fields::{self, CustomFieldType, FieldKey, NewField, Rules};
use profilegraph_store::text::{Label, Name};
use sea_orm::{ActiveValue::Set, ConnectionTrait, Database};
use serde_json::Value;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_profilegraph");

fn data_file(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
        .display()
        .to_string()
}

/// A fresh database of one backend, removed afterwards.
struct TestDb {
    url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Postgres { admin: String, name: String },
}

impl TestDb {
    async fn new(postgres: bool) -> Option<TestDb> {
        if postgres {
            let admin = std::env::var("TEST_DATABASE_URL").ok()?;
            let name = format!("pgcli_{}", Uuid::now_v7().simple());
            let conn = Database::connect(&admin).await.unwrap();
            conn.execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .unwrap();
            let base = admin.rsplit_once('/').unwrap().0;
            Some(TestDb {
                url: format!("{base}/{name}"),
                cleanup: Cleanup::Postgres { admin, name },
            })
        } else {
            let dir = std::env::temp_dir().join("profilegraph-transfer-tests");
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("{}.db", Uuid::now_v7()));
            Some(TestDb {
                url: format!("sqlite://{}", path.display()),
                cleanup: Cleanup::File(path),
            })
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut command = Command::new(BIN);
        for var in [
            "DATABASE_URL",
            "PROFILEGRAPH_LOG",
            "PROFILEGRAPH_LOG_FORMAT",
        ] {
            command.env_remove(var);
        }
        command
            .current_dir(std::env::temp_dir())
            .stdin(Stdio::null())
            .arg("--database-url")
            .arg(&self.url)
            .args(args)
            .output()
            .unwrap()
    }

    async fn db(&self) -> Db {
        Db::new(Database::connect(&self.url).await.unwrap())
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(path) => {
                for suffix in ["", "-wal", "-shm", ".webhook-key"] {
                    let mut file = path.clone().into_os_string();
                    file.push(suffix);
                    let _ = std::fs::remove_file(file);
                }
            }
            Cleanup::Postgres { admin, name } => {
                let (admin, name) = (admin.clone(), name.clone());
                let _ = std::thread::spawn(move || {
                    let runtime = tokio::runtime::Runtime::new().unwrap();
                    runtime.block_on(async {
                        if let Ok(conn) = Database::connect(&admin).await {
                            let _ = conn
                                .execute_unprepared(&format!(
                                    "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                                ))
                                .await;
                        }
                    });
                })
                .join();
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

/// Run and require the exit status `ok`; returns (stdout, stderr).
fn expect(db: &TestDb, args: &[&str], ok: bool) -> (String, String) {
    let out = db.run(args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.success(),
        ok,
        "`profilegraph {}`: {}\nstdout: {stdout}\nstderr: {stderr}",
        args.join(" "),
        out.status
    );
    assert!(
        !stderr.contains("import ["),
        "no progress bar off a terminal"
    );
    (stdout, stderr)
}

/// A workspace set up like a company that starts: channels, fields and an agent, no
/// profiles. Returns its slug.
async fn empty_workspace(db: &TestDb, name: &str) -> String {
    let db = db.db().await;
    let ws = profilegraph_store::workspaces::create_workspace(&db.conn, name)
        .await
        .unwrap();
    for (channel_type, name) in [
        (ChannelType::Email, "Support e-mail"),
        (ChannelType::Whatsapp, "Support WhatsApp"),
    ] {
        channels::create(&db, ws.id, channel_type, Name::parse(name, "n").unwrap())
            .await
            .unwrap();
    }
    for (key, field_type, options) in [
        ("customer_number", CustomFieldType::Text, vec![]),
        (
            "plan",
            CustomFieldType::Select,
            vec!["Free".to_owned(), "Pro".into(), "Enterprise".into()],
        ),
        ("vip", CustomFieldType::Boolean, vec![]),
        ("lifetime_value", CustomFieldType::Number, vec![]),
        (
            "interests",
            CustomFieldType::MultiSelect,
            vec!["Shoes".to_owned(), "Bags".into(), "Sale".into()],
        ),
        ("bio", CustomFieldType::Textarea, vec![]),
    ] {
        fields::create(
            &db,
            ws.id,
            NewField {
                key: FieldKey::parse(key, "key").unwrap(),
                label: Label::parse(key, "label").unwrap(),
                field_type,
                options,
                rules: Rules::default(),
                required: false,
                position: None,
            },
        )
        .await
        .unwrap();
    }
    profilegraph_store::bulk::load_rows(
        &db,
        vec![entity::agents::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(ws.id),
            name: Set("Anna".into()),
            email: Set("anna@acme.example".into()),
            created_at: Set(profilegraph_store::now()),
        }],
    )
    .await
    .unwrap();
    ws.slug
}

/// The JSONL export of `slug`, each line parsed, ids left out.
fn exported(db: &TestDb, slug: &str) -> Vec<Value> {
    let (out, _) = expect(db, &["export", "--workspace", slug], true);
    out.lines()
        .map(|line| {
            let mut v: Value = serde_json::from_str(line).unwrap();
            v.as_object_mut().unwrap().remove("id");
            v
        })
        .collect()
}

fn by_external_id<'a>(records: &'a [Value], id: &str) -> &'a Value {
    records
        .iter()
        .find(|r| r["externalId"] == id)
        .unwrap_or_else(|| panic!("no {id} in {records:#?}"))
}

macro_rules! both {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;

            #[tokio::test(flavor = "multi_thread")]
            async fn sqlite() {
                let db = TestDb::new(false).await.unwrap();
                expect(&db, &["migrate"], true);
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread")]
            async fn postgres() {
                let Some(db) = TestDb::new(true).await else {
                    println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
                    return;
                };
                expect(&db, &["migrate"], true);
                ($body)(db).await;
            }
        }
    };
}

both!(
    a_spreadsheet_goes_in_bad_rows_are_named_and_a_second_run_changes_nothing,
    |db: TestDb| async move {
        let slug = empty_workspace(&db, "Acme Shoes").await;
        let csv = data_file("people.csv");
        let import = ["import", "--workspace", &slug, "--format", "csv", &csv];
        let (out, err) = expect(&db, &import, false);
        assert_eq!(
            out.trim(),
            "created 4, updated 0, unchanged 0, failed 3",
            "{err}"
        );
        for expected in [
            "line 6, contact:Support WhatsApp: `not-a-number` is not a phone number",
            "line 7, field:plan: plan: `Platinum` is not one of the options: Free, Pro, Enterprise",
            "line 8, externalId: `crm-1` is the external id of line 2 already",
            "error: 3 rows failed; the others went in",
        ] {
            assert!(err.contains(expected), "`{expected}` in:\n{err}");
        }

        let records = exported(&db, &slug);
        assert_eq!(records.len(), 4, "{records:#?}");
        let peter = by_external_id(&records, "crm-1");
        assert_eq!(peter["name"], "Bakker, Peter");
        assert_eq!(
            peter["fields"]["bio"],
            "Likes \"fast\" shipping,\nprefers mail"
        );
        assert_eq!(
            peter["fields"]["interests"],
            serde_json::json!(["Shoes", "Sale"])
        );
        assert_eq!(peter["fields"]["vip"], true);
        assert_eq!(peter["fields"]["lifetime_value"], 1234.5);
        let identifiers: Vec<&str> = peter["contacts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["identifier"].as_str().unwrap())
            .collect();
        assert_eq!(
            identifiers,
            ["peter@example.com", "p.bakker@example.com", "+31612345678"]
        );
        assert_eq!(by_external_id(&records, "crm-7")["name"], "Zoë Özdemir");
        assert_eq!(
            by_external_id(&records, "crm-2")["contacts"][0]["identifier"],
            "maria@example.com"
        );
        let jan = records.iter().find(|r| r["name"] == "Jan Jansen").unwrap();
        assert_eq!(jan["externalId"], Value::Null);

        // Again: every good row is found and already as it says.
        let (out, _) = expect(&db, &import, false);
        assert_eq!(out.trim(), "created 0, updated 0, unchanged 4, failed 3");
        assert_eq!(exported(&db, &slug), records);

        // A header naming a field the workspace lacks: said once, nothing written.
        let unknown = data_file("unknown-column.csv");
        let (out, err) = expect(
            &db,
            &["import", "--workspace", &slug, "--format", "csv", &unknown],
            false,
        );
        assert!(
        err.contains("line 1, field:shoe_size: this workspace has no custom field with the key `shoe_size`"),
        "{err}"
    );
        assert!(out.contains("created 0"), "{out}");
    }
);

both!(abort_and_dry_run_write_nothing, |db: TestDb| async move {
    let slug = empty_workspace(&db, "Acme Shoes").await;
    let csv = data_file("people.csv");
    let (out, err) = expect(
        &db,
        &[
            "import",
            "--workspace",
            &slug,
            "--format",
            "csv",
            "--on-error",
            "abort",
            &csv,
        ],
        false,
    );
    assert_eq!(
        out.trim(),
        "nothing written (--on-error abort): created 4, updated 0, unchanged 0, failed 3"
    );
    assert!(
        err.contains("line 7, field:plan"),
        "every bad row is still named: {err}"
    );
    assert!(exported(&db, &slug).is_empty(), "abort wrote something");

    let (out, _) = expect(
        &db,
        &[
            "import",
            "--workspace",
            &slug,
            "--format",
            "csv",
            "--dry-run",
            &csv,
        ],
        false,
    );
    assert_eq!(
        out.trim(),
        "dry run, nothing written: would have created 4, updated 0, unchanged 0, failed 3"
    );
    assert!(exported(&db, &slug).is_empty(), "a dry run wrote something");

    // A file without bad rows, dry and for real.
    let good = std::env::temp_dir().join(format!("good-{}.jsonl", Uuid::now_v7()));
    std::fs::write(
        &good,
        "{\"externalId\":\"a-1\",\"name\":\"Ann\"}\n{\"externalId\":\"a-2\",\"name\":\"Bob\"}\n",
    )
    .unwrap();
    let good = good.display().to_string();
    let (out, _) = expect(
        &db,
        &["import", "--workspace", &slug, "--dry-run", &good],
        true,
    );
    assert_eq!(
        out.trim(),
        "dry run, nothing written: would have created 2, updated 0, unchanged 0, failed 0"
    );
    assert!(exported(&db, &slug).is_empty());
    let (out, _) = expect(
        &db,
        &["import", "--workspace", &slug, "--on-error", "abort", &good],
        true,
    );
    assert_eq!(out.trim(), "created 2, updated 0, unchanged 0, failed 0");
    assert_eq!(exported(&db, &slug).len(), 2);
    let _ = std::fs::remove_file(&good);
});

both!(
    jsonl_with_notes_channels_made_on_request_and_the_round_trip,
    |db: TestDb| async move {
        let slug = empty_workspace(&db, "Acme Shoes").await;
        let jsonl = data_file("people.jsonl");
        let (out, err) = expect(&db, &["import", "--workspace", &slug, &jsonl], false);
        assert_eq!(
            out.trim(),
            "created 3, updated 0, unchanged 0, failed 4",
            "{err}"
        );
        for expected in [
            "line 4, fields.shoe_size: this workspace has no custom field with the key `shoe_size`",
            "line 5: not a profile as JSON",
            "line 6, contacts[0].channel: there is no channel `Telegram` in this workspace; create it first, or pass --create-channels",
            "line 7, notes[0].createdAt: `yesterday` is not an RFC 3339 time",
            "1 notes name an author who is not an agent of",
        ] {
            assert!(err.contains(expected), "`{expected}` in:\n{err}");
        }
        let (out, _) = expect(
            &db,
            &["import", "--workspace", &slug, "--create-channels", &jsonl],
            false,
        );
        assert_eq!(
            out.trim(),
            "created 1, updated 0, unchanged 3, failed 3; 1 channels created"
        );
        let records = exported(&db, &slug);
        let peter = by_external_id(&records, "crm-1");
        let notes = peter["notes"].as_array().unwrap();
        assert_eq!(notes.len(), 2, "{peter:#}");
        assert_eq!(notes[0]["author"], Value::Null, "the unknown author");
        assert_eq!(notes[1]["author"], "anna@acme.example");
        assert_eq!(
            notes[1]["body"],
            "Called about \"order\" #1042,\nwill call back."
        );
        assert_eq!(notes[1]["createdAt"], "2026-03-01T10:00:00.123456Z");
        let only = records
            .iter()
            .find(|r| r["name"] == "Only Contacts")
            .unwrap();
        assert_eq!(only["contacts"][0]["identifier"], "+31611112222");

        // Round trip: into an empty workspace (channels made there), and out again: the same
        // file, ids aside. Then CSV the same way, byte for byte.
        let (first, _) = expect(&db, &["export", "--workspace", &slug], true);
        let file = std::env::temp_dir().join(format!("trip-{}.jsonl", Uuid::now_v7()));
        std::fs::write(&file, &first).unwrap();
        let file = file.display().to_string();
        let target = empty_workspace(&db, "Acme Twin").await;
        expect(
            &db,
            &["import", "--workspace", &target, "--create-channels", &file],
            true,
        );
        assert_eq!(exported(&db, &target), exported(&db, &slug));
        let (again, _) = expect(&db, &["import", "--workspace", &target, &file], true);
        assert_eq!(again.trim(), "created 0, updated 0, unchanged 4, failed 0");

        let csv = std::env::temp_dir().join(format!("trip-{}.csv", Uuid::now_v7()));
        let csv = csv.display().to_string();
        expect(
            &db,
            &[
                "export",
                "--workspace",
                &slug,
                "--format",
                "csv",
                "--excel",
                "-o",
                &csv,
            ],
            true,
        );
        let bytes = std::fs::read(&csv).unwrap();
        assert!(bytes.starts_with("\u{feff}externalId,name,".as_bytes()));
        assert!(text(&bytes).contains("\r\n"));
        // CSV names a channel only by its name: the workspace has its channels already.
        let third = empty_workspace(&db, "Acme Triplet").await;
        {
            let store = db.db().await;
            let ws = profilegraph_store::workspaces::find_by_slug(&store.conn, &third)
                .await
                .unwrap()
                .unwrap();
            channels::create(
                &store,
                ws.id,
                ChannelType::Telegram,
                Name::parse("Telegram", "n").unwrap(),
            )
            .await
            .unwrap();
        }
        let (out, _) = expect(
            &db,
            &["import", "--workspace", &third, "--format", "csv", &csv],
            true,
        );
        assert!(out.starts_with("created 4,"), "{out}");
        let (a, _) = expect(
            &db,
            &["export", "--workspace", &slug, "--format", "csv"],
            true,
        );
        let (b, _) = expect(
            &db,
            &["export", "--workspace", &third, "--format", "csv"],
            true,
        );
        assert_eq!(a, b);
        for f in [&file, &csv] {
            let _ = std::fs::remove_file(f);
        }

        // --updated-since: everything was changed today.
        let (all, _) = expect(
            &db,
            &[
                "export",
                "--workspace",
                &slug,
                "--updated-since",
                "2000-01-01T00:00:00Z",
            ],
            true,
        );
        assert_eq!(all.lines().count(), 4);
        let (none, _) = expect(
            &db,
            &[
                "export",
                "--workspace",
                &slug,
                "--updated-since",
                "2999-01-01T00:00:00Z",
            ],
            true,
        );
        assert_eq!(none, "");
        let (_, err) = expect(
            &db,
            &[
                "export",
                "--workspace",
                &slug,
                "--updated-since",
                "yesterday",
            ],
            false,
        );
        assert!(
            err.contains("--updated-since: `yesterday` is not an RFC 3339 time"),
            "{err}"
        );
    }
);

both!(
    rows_that_depend_on_each_other_go_in_one_after_the_other,
    |db: TestDb| async move {
        let slug = empty_workspace(&db, "Pipeline Co").await;
        let email = |identifier: String| serde_json::json!([{ "channel": { "type": "EMAIL", "name": "Support e-mail" }, "identifier": identifier }]);
        // Rows that share nothing, enough to fill PostgreSQL's pipeline several times.
        let mut lines: Vec<Value> = (0..40)
            .map(|i| {
                serde_json::json!({ "externalId": format!("ind-{i}"), "name": format!("Person {i}"),
                    "contacts": email(format!("person{i}@example.com")) })
            })
            .collect();
        // A profile, then a row matched only by its contact: it renames that profile.
        lines.insert(
            5,
            serde_json::json!({ "externalId": "dep-1", "name": "First Name",
                "contacts": email("shared@example.com".into()) }),
        );
        lines.insert(
            6,
            serde_json::json!({ "name": "Second Name", "fields": { "plan": "Pro" },
                "contacts": email("shared@example.com".into()) }),
        );
        // The same bare name twice: one profile, the second row brings its field.
        lines.insert(7, serde_json::json!({ "name": "Solo Person" }));
        lines.insert(
            8,
            serde_json::json!({ "name": "Solo Person", "fields": { "vip": true } }),
        );
        let file = std::env::temp_dir().join(format!("pipeline-{}.jsonl", Uuid::now_v7()));
        let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(&file, text).unwrap();
        let file = file.to_str().unwrap().to_owned();

        let (out, err) = expect(&db, &["import", "--workspace", &slug, &file], true);
        assert_eq!(
            out.trim(),
            "created 42, updated 2, unchanged 0, failed 0",
            "{err}"
        );
        let records = exported(&db, &slug);
        assert_eq!(records.len(), 42, "{records:#?}");
        let dep = by_external_id(&records, "dep-1");
        assert_eq!(dep["name"], "Second Name");
        assert_eq!(dep["fields"]["plan"], "Pro");
        let solo: Vec<&Value> = records
            .iter()
            .filter(|r| r["name"] == "Solo Person")
            .collect();
        assert_eq!(solo.len(), 1, "{solo:#?}");
        assert_eq!(solo[0]["fields"]["vip"], true);
        for i in 0..40 {
            assert_eq!(
                by_external_id(&records, &format!("ind-{i}"))["name"],
                format!("Person {i}")
            );
        }
        std::fs::remove_file(&file).unwrap();
    }
);

/// PostgreSQL plans an import's look-ups by the statistics it last gathered; left alone it
/// believes a workspace that was empty still is, and reads all its contacts for each
/// identifier. A large import refreshes them (`ANALYZE`, counted apart from autovacuum's).
#[tokio::test(flavor = "multi_thread")]
async fn a_large_import_leaves_postgres_statistics_that_know_the_workspace() {
    let Some(db) = TestDb::new(true).await else {
        println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
        return;
    };
    expect(&db, &["migrate"], true);
    let slug = empty_workspace(&db, "Big Co").await;
    let rows = 1_200;
    let text: String = (0..rows)
        .map(|i| {
            format!(
                "{}\n",
                serde_json::json!({ "externalId": format!("big-{i}"), "name": format!("Person {i}"),
                    "contacts": [{ "channel": { "type": "EMAIL", "name": "Support e-mail" },
                        "identifier": format!("person{i}@example.com") }] })
            )
        })
        .collect();
    let file = std::env::temp_dir().join(format!("big-{}.jsonl", Uuid::now_v7()));
    std::fs::write(&file, text).unwrap();
    let (out, err) = expect(
        &db,
        &["import", "--workspace", &slug, file.to_str().unwrap()],
        true,
    );
    assert_eq!(
        out.trim(),
        format!("created {rows}, updated 0, unchanged 0, failed 0"),
        "{err}"
    );
    std::fs::remove_file(&file).unwrap();

    let conn = Database::connect(&db.url).await.unwrap();
    let query = |sql: String| {
        let conn = conn.clone();
        async move {
            conn.query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .unwrap()
            .unwrap()
        }
    };
    for table in ["profiles", "contacts"] {
        let analyzed: i64 = query(format!(
            "SELECT analyze_count FROM pg_stat_user_tables WHERE relname = '{table}'"
        ))
        .await
        .try_get("", "analyze_count")
        .unwrap();
        assert!(analyzed >= 1, "{table} analysed by the import: {analyzed}");
    }
    let plan: Value = query(format!(
        "EXPLAIN (FORMAT JSON) SELECT * FROM contacts WHERE workspace_id = \
         (SELECT id FROM workspaces WHERE slug = '{slug}')"
    ))
    .await
    .try_get("", "QUERY PLAN")
    .unwrap();
    // The statistics are refreshed once 1,000 rows went in (and at the end only when as
    // many again followed): the planner knows at least those, where without a refresh it
    // expects a handful.
    let estimate = plan[0]["Plan"]["Plan Rows"].as_f64().unwrap();
    assert!(
        estimate >= 1_000.0,
        "the planner expects {estimate} of the workspace's {rows} contacts"
    );
}
