//! The `profilegraph` binary as an operator uses it: every subcommand's help, creating a
//! workspace and a token on a fresh SQLite file, the errors for bad input, the schema
//! printout, and `serve` printing the demo token once.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use profilegraph_store::tokens;
use profilegraph_store::workspaces;
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_profilegraph");

/// A SQLite file of its own for one test, removed (with `-wal`/`-shm`) afterwards.
struct TempDb {
    path: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let dir = std::env::temp_dir().join("profilegraph-cli-tests");
        std::fs::create_dir_all(&dir).unwrap();
        TempDb {
            path: dir.join(format!("{}.db", Uuid::now_v7())),
        }
    }

    fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm", ".webhook-key"] {
            let mut file = self.path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// The binary with a clean environment: none of the settings of the shell that runs the
/// tests leak in, and it runs in the temp dir so a default `profilegraph.db` never lands in
/// the source tree.
fn profilegraph() -> Command {
    let mut command = Command::new(BIN);
    for var in [
        "DATABASE_URL",
        "PROFILEGRAPH_LISTEN",
        "PROFILEGRAPH_NO_DEMO",
        "PROFILEGRAPH_LOG",
        "PROFILEGRAPH_LOG_FORMAT",
        "PROFILEGRAPH_DB_MAX_CONNECTIONS",
        "PROFILEGRAPH_DB_ACQUIRE_TIMEOUT",
    ] {
        command.env_remove(var);
    }
    command.current_dir(std::env::temp_dir());
    command.stdin(Stdio::null());
    command
}

fn run(db: Option<&TempDb>, args: &[&str]) -> Output {
    let mut command = profilegraph();
    if let Some(db) = db {
        command.arg("--database-url").arg(db.url());
    }
    command.args(args).output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// Run and require success; returns stdout.
fn run_ok(db: Option<&TempDb>, args: &[&str]) -> String {
    let output = run(db, args);
    assert!(
        output.status.success(),
        "`profilegraph {}` failed with {}\nstdout: {}\nstderr: {}",
        args.join(" "),
        output.status,
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

/// `pgr_` followed by 38 ASCII letters and digits.
fn looks_like_a_token(s: &str) -> bool {
    s.strip_prefix("pgr_")
        .is_some_and(|rest| rest.len() == 38 && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The last line of `out`, which must be a token.
fn token_on_last_line(out: &str) -> String {
    let last = out.lines().last().unwrap_or_default();
    assert!(
        looks_like_a_token(last),
        "the last stdout line is a token alone: {out:?}"
    );
    assert!(tokens::is_well_formed(last), "its checksum is right");
    last.to_owned()
}

#[test]
fn help_works_for_every_subcommand() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--help"],
            &[
                "serve",
                "migrate",
                "schema",
                "workspace",
                "token",
                "demo",
                "--database-url",
                "DATABASE_URL",
                "--listen",
                "PROFILEGRAPH_LISTEN",
                "--no-demo",
                "--log",
                "--log-format",
            ],
        ),
        (&["help"], &["serve", "token"]),
        (&["serve", "--help"], &["Run the HTTP server"]),
        (&["migrate", "--help"], &["migrations"]),
        (&["schema", "--help"], &["SDL"]),
        (&["workspace", "--help"], &["create"]),
        (&["workspace", "create", "--help"], &["--name"]),
        (&["token", "--help"], &["create"]),
        (
            &["token", "create", "--help"],
            &["--workspace", "--scopes", "--name", "--expires-in-days"],
        ),
        (&["demo", "--help"], &["demo"]),
        (&["token", "list", "--help"], &["--workspace"]),
        (&["token", "revoke", "--help"], &["--workspace", "--prefix"]),
        (&["seed", "--help"], &["--size", "--name"]),
    ];
    for (args, expected) in cases {
        let out = run_ok(None, args);
        assert!(out.contains("Usage:"), "{args:?}: {out}");
        for word in *expected {
            assert!(out.contains(word), "{args:?} mentions {word}: {out}");
        }
    }
    let version = run_ok(None, &["--version"]);
    assert!(version.starts_with("profilegraph "), "{version}");
}

#[tokio::test(flavor = "multi_thread")]
async fn workspace_and_token_create() {
    let db = TempDb::new();

    let out = run_ok(Some(&db), &["workspace", "create", "--name", "Acme Shoes"]);
    assert_eq!(out, "acme-shoes\n", "the slug alone on stdout");
    let out = run_ok(Some(&db), &["workspace", "create", "--name", "Acme Shoes"]);
    assert_eq!(out, "acme-shoes-2\n", "a taken slug gets a number");

    let output = run(
        Some(&db),
        &[
            "token",
            "create",
            "--workspace",
            "acme-shoes",
            "--scopes",
            "read,write",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let token = token_on_last_line(&stdout(&output));
    assert!(
        stderr(&output).contains("not shown again"),
        "the operator is told to store it: {}",
        stderr(&output)
    );

    let expiring = token_on_last_line(&run_ok(
        Some(&db),
        &[
            "token",
            "create",
            "--workspace",
            "acme-shoes-2",
            "--scopes",
            "read",
            "--name",
            "shop",
            "--expires-in-days",
            "7",
        ],
    ));
    assert_ne!(token, expiring);

    // The tokens work, for the right workspace and scopes.
    let conn = sea_orm::Database::connect(db.url()).await.unwrap();
    let acme = workspaces::find_by_slug(&conn, "acme-shoes")
        .await
        .unwrap()
        .expect("the workspace exists");
    assert_eq!(acme.name, "Acme Shoes");
    let viewer = tokens::authenticate(&conn, &token).await.unwrap();
    assert_eq!(viewer.workspace_id, acme.id);
    assert_eq!(viewer.scopes.to_string(), "read,write");
    assert_eq!(viewer.agent_id, None);

    let acme2 = workspaces::find_by_slug(&conn, "acme-shoes-2")
        .await
        .unwrap()
        .expect("the second workspace exists");
    let viewer = tokens::authenticate(&conn, &expiring).await.unwrap();
    assert_eq!(viewer.workspace_id, acme2.id);
    assert_eq!(viewer.scopes.to_string(), "read");
    use sea_orm::EntityTrait;
    let row = entity::api_tokens::Entity::find_by_id(viewer.token_id)
        .one(&conn)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.name, "shop");
    let expires_in = row.expires_at.expect("an expiry").to_utc() - chrono::Utc::now();
    assert!(
        expires_in > chrono::Duration::days(6) && expires_in <= chrono::Duration::days(7),
        "expires in 7 days: {expires_in}"
    );

    // `token list` shows the prefix, name and scopes, never the secret.
    let listed = run_ok(Some(&db), &["token", "list", "--workspace", "acme-shoes-2"]);
    assert!(listed.contains(&row.display_prefix), "{listed}");
    assert!(
        listed.contains("shop") && listed.contains("read"),
        "{listed}"
    );
    assert!(
        !listed.contains(&expiring),
        "the secret is never shown: {listed}"
    );

    // `token revoke` stops it at once; the other token keeps working.
    let out = run_ok(
        Some(&db),
        &[
            "token",
            "revoke",
            "--workspace",
            "acme-shoes-2",
            "--prefix",
            &row.display_prefix,
        ],
    );
    assert!(out.contains("revoked"), "{out}");
    assert!(tokens::authenticate(&conn, &expiring).await.is_err());
    assert!(tokens::authenticate(&conn, &token).await.is_ok());
    let listed = run_ok(Some(&db), &["token", "list", "--workspace", "acme-shoes-2"]);
    assert!(
        listed
            .lines()
            .nth(1)
            .is_some_and(|line| !line.trim_end().ends_with('-')),
        "the revoked time is listed: {listed}"
    );
    // A prefix of another workspace's token, or none at all, is refused.
    let refused = run(
        Some(&db),
        &[
            "token",
            "revoke",
            "--workspace",
            "acme-shoes",
            "--prefix",
            &row.display_prefix,
        ],
    );
    assert!(!refused.status.success());
}

#[test]
fn an_unknown_workspace_is_refused() {
    let db = TempDb::new();
    let output = run(
        Some(&db),
        &["token", "create", "--workspace", "nope", "--scopes", "read"],
    );
    assert!(!output.status.success());
    assert!(stdout(&output).trim().is_empty(), "no token is printed");
    assert!(
        stderr(&output).contains("no workspace with slug `nope`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_bad_scope_is_refused() {
    let db = TempDb::new();
    run_ok(Some(&db), &["workspace", "create", "--name", "Acme Shoes"]);
    for (scopes, message) in [
        ("read,root", "unknown scope `root`"),
        ("", "at least one scope"),
    ] {
        let output = run(
            Some(&db),
            &[
                "token",
                "create",
                "--workspace",
                "acme-shoes",
                "--scopes",
                scopes,
            ],
        );
        assert!(!output.status.success(), "scopes {scopes:?}");
        assert!(stdout(&output).trim().is_empty(), "no token is printed");
        assert!(
            stderr(&output).contains(message),
            "scopes {scopes:?}: {}",
            stderr(&output)
        );
    }
}

#[test]
fn a_bad_database_url_is_refused() {
    let output = profilegraph()
        .args([
            "--database-url",
            "mysql://localhost/x",
            "workspace",
            "create",
            "--name",
            "X",
        ])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("DATABASE_URL must start with sqlite:// or postgres://"),
        "{}",
        stderr(&output)
    );
}

/// A wildcard CORS origin is refused before the server starts, from the flag or the
/// environment, saying why and what to give instead.
#[test]
fn a_wildcard_cors_origin_is_refused_at_start() {
    let db = TempDb::new();
    for via_env in [false, true] {
        let mut command = profilegraph();
        command
            .args(["--database-url", &db.url(), "--listen", "127.0.0.1:0"])
            .arg("serve");
        if via_env {
            command.env("PROFILEGRAPH_CORS_ORIGINS", "https://app.example.com,*");
        } else {
            command.args(["--cors-origins", "*"]);
        }
        let output = command.output().unwrap();
        assert!(!output.status.success());
        let err = stderr(&output);
        assert!(err.contains("wildcard origins are refused"), "{err}");
        assert!(err.contains("https://app.example.com"), "{err}");
        assert!(stdout(&output).is_empty(), "the server never started");
    }
}

/// A failed command says why in one plain `error:` line on stderr (no log line with a
/// timestamp and colour codes as well) and exits non-zero; stdout stays empty.
#[test]
fn an_error_is_one_plain_line_on_stderr() {
    let db = TempDb::new();
    // (arguments, what the line says, whether the command line itself was wrong: then
    // clap adds its hint where to find help under the one error line)
    let cases: &[(&[&str], &str, bool)] = &[
        (
            &["--listen", "nope", "migrate"],
            "error: invalid value 'nope' for '--listen <LISTEN>'",
            true,
        ),
        (&["token", "list"], "error: the following required", true),
        (
            &[
                "--database-url",
                &db.url(),
                "token",
                "list",
                "--workspace",
                "nope",
            ],
            "error: no workspace with slug `nope`",
            false,
        ),
        (
            &[
                "--database-url",
                "postgres://postgres@127.0.0.1:1/unreachable",
                "--db-acquire-timeout-secs",
                "1",
                "migrate",
            ],
            "error: database: ",
            false,
        ),
    ];
    for &(args, line, usage) in cases {
        let output = run(None, args);
        let err = stderr(&output);
        assert!(!output.status.success(), "{args:?} fails");
        assert!(stdout(&output).is_empty(), "{args:?}: nothing on stdout");
        assert!(err.starts_with(line), "{args:?}: {err:?}");
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{args:?}: one error line in {err:?}"
        );
        assert!(
            !err.contains('\x1b'),
            "{args:?}: no escape codes in {err:?}"
        );
        if usage {
            assert_eq!(output.status.code(), Some(2), "{args:?}");
        } else {
            assert_eq!(err.lines().count(), 1, "{args:?}: only that line: {err:?}");
            assert_eq!(output.status.code(), Some(1), "{args:?}");
        }
    }
}

#[test]
fn schema_prints_the_sdl() {
    let out = run_ok(None, &["schema"]);
    assert!(out.contains("type Query"), "{out}");
    assert!(out.contains("schema {"), "{out}");
    assert_eq!(out, profilegraph_schema::sdl());
}

#[test]
fn migrate_and_demo() {
    let db = TempDb::new();
    let out = run_ok(Some(&db), &["migrate"]);
    assert_eq!(out.trim(), "migrations applied");
    // Migrating again is a no-op.
    run_ok(Some(&db), &["migrate"]);
    token_on_last_line(&run_ok(Some(&db), &["demo"]));
}

/// A plain HTTP/1.1 GET, enough for the health checks; returns the status line.
fn http_get_status(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.lines().next().unwrap_or_default().to_owned()
}

/// Start `serve` on a random port; returns the address it printed and the rest of stdout
/// once it was stopped.
fn serve_once(db: &TempDb) -> (String, String) {
    let mut child = profilegraph()
        .args(["--database-url", &db.url(), "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("the first line names the address: {first:?}"))
        .to_owned();
    let status = http_get_status(&addr, "/health/ready");
    let _ = child.kill();
    let _ = child.wait();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    assert_eq!(status, "HTTP/1.1 200 OK", "ready on {addr}");
    (addr, rest)
}

#[test]
fn serve_prints_the_demo_token_on_the_first_start_only() {
    let db = TempDb::new();
    let (_, rest) = serve_once(&db);
    token_on_last_line(&rest);
    let (_, rest) = serve_once(&db);
    assert!(
        !rest.contains("pgr_"),
        "a second start prints no token: {rest:?}"
    );
}
