//! The README, tried as a reader would try it, each time in a fresh temporary folder.
//!
//! - The `console` examples (`$ profilegraph …` with their output) run against this
//!   package's `profilegraph` binary with trycmd, which compares what they print with what
//!   the README shows (`[..]` stands for a token or a time).
//! - Every other command the README gives (each line of a `sh` block, and each inline
//!   `cargo …` command) must be one of [`COMMANDS`], which says how that command is
//!   checked: most are run here, a few long ones in a shortened form (see the README's
//!   "The README is tested"). A command added to the README, or changed there, fails this
//!   test until it is in that list; an entry the README no longer has fails it too.
//!
//! trycmd runs a copy of the README, so `TRYCMD=overwrite` changes nothing here: fix the
//! README by hand.
//!
//! `cargo run --release` runs the same `profilegraph` binary as this test, built in release
//! mode: the test uses the debug build that `cargo test` has just made instead of building
//! it again.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

const README: &str = include_str!("../../../README.md");

/// The documented defaults of the settings a shell may have set otherwise: every command
/// the README shows runs with these, as on a reader's machine with none of them set.
const DEFAULT_ENV: &[(&str, &str)] = &[
    ("DATABASE_URL", "sqlite://profilegraph.db"),
    ("PROFILEGRAPH_LISTEN", "127.0.0.1:8080"),
    ("PROFILEGRAPH_NO_DEMO", "false"),
    ("PROFILEGRAPH_PRODUCTION", "false"),
    ("PROFILEGRAPH_LOG", "info,sqlx=warn,sea_orm=warn"),
    ("PROFILEGRAPH_LOG_FORMAT", "text"),
];

/// How a command of the README is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Check {
    /// `cargo run --release`: `serve` on SQLite in a fresh folder, on a free port instead
    /// of 8080, until it printed what the README shows and answered the README's first
    /// query with the token it printed; then SIGTERM, and it exits 0.
    ServeSqlite,
    /// `DATABASE_URL=postgres://… cargo run --release` (and `… cargo run -- migrate`):
    /// `migrate`, then `serve` as above, on a fresh database on the PostgreSQL server of
    /// `TEST_DATABASE_URL` (skipped without it, like the other PostgreSQL tests).
    ServePostgres,
    /// `cargo run -- schema > schema.graphql`: prints exactly the checked-in file.
    Schema,
    /// `cargo run --release -- [OPTIONS] [COMMAND]`, `cargo build --release`: the default
    /// members' one binary is `profilegraph`, the binary the console examples and the
    /// checks above run.
    DefaultBinary,
    /// The benchmark's commands: cargo knows the packages, `cargo run -p
    /// profilegraph-bench` picks the benchmark's binary (`default-run`), and the
    /// benchmark's own tests (`crates/bench/tests/quick.rs`) run `--quick`, shortened to
    /// SQLite and 1 s runs, and `--help`. The full run takes about 15 minutes.
    Bench,
    /// `cargo test …`, `cargo fmt …`, `cargo clippy …`, `bash .ci/run`: what CI runs
    /// (`.ci/run` has them); this test is one of the tests they run.
    Ci,
    /// `cargo test -p profilegraph --test readme`: this test is that test target.
    ThisTest,
    /// `UPDATE_SCHEMA=1 cargo test --test api schema`: the `api` test binary has a
    /// `schema` test that reads `UPDATE_SCHEMA`.
    UpdateSchema,
    /// The fuzzer needs nightly Rust and cargo-fuzz and runs for 10 minutes: not run here;
    /// its target and dictionary exist.
    Fuzz,
    /// Regenerating the entities needs `createdb` and `sea-orm-cli` and rewrites
    /// `crates/entity/src`: not run here.
    Entities,
    /// `cargo tree -p profilegraph-store`: runs, and lists no async-graphql, as the README
    /// says.
    StoreTree,
}

/// Every command the README gives outside its `console` examples, with how it is
/// checked. Spaces are collapsed and trailing `# comments` dropped.
const COMMANDS: &[(&str, Check)] = &[
    ("cargo run --release", Check::ServeSqlite),
    (
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/profilegraph cargo run --release",
        Check::ServePostgres,
    ),
    (
        "cargo run --release -- [OPTIONS] [COMMAND]",
        Check::DefaultBinary,
    ),
    ("cargo run --release --", Check::DefaultBinary),
    ("cargo build --release", Check::DefaultBinary),
    ("cargo run -- schema > schema.graphql", Check::Schema),
    ("cargo test --workspace", Check::Ci),
    (
        "TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo test --workspace",
        Check::Ci,
    ),
    ("cargo fmt --all -- --check", Check::Ci),
    (
        "cargo clippy --workspace --all-targets -- -D warnings",
        Check::Ci,
    ),
    ("bash .ci/run", Check::Ci),
    ("cargo test -p profilegraph --test readme", Check::ThisTest),
    (
        "UPDATE_SCHEMA=1 cargo test --test api schema",
        Check::UpdateSchema,
    ),
    (
        "cargo build --release -p profilegraph -p profilegraph-bench",
        Check::Bench,
    ),
    ("cargo run --release -p profilegraph-bench", Check::Bench),
    (
        "cargo run --release -p profilegraph-bench -- --quick",
        Check::Bench,
    ),
    (
        "cargo run --release -p profilegraph-bench -- --help",
        Check::Bench,
    ),
    ("cargo test -p profilegraph-bench", Check::Bench),
    (
        "cargo build --release -p profilegraph",
        Check::DefaultBinary,
    ),
    (
        "cargo run --release -p profilegraph-bench -- --shapes q4 --no-ceiling --no-live --server-bin ../before/target/release/profilegraph --out /tmp/before/results.json",
        Check::Bench,
    ),
    (
        "cargo run --release -p profilegraph-bench -- --shapes q4 --no-ceiling --compare /tmp/before/results.json --out bench/results-events.json --chart bench/chart-events.svg",
        Check::Bench,
    ),
    (
        "cargo run --release -p profilegraph-bench -- --shapes q4 --runs 1 --no-ceiling --no-live --out bench/results-webhooks.json --chart bench/chart-webhooks.svg",
        Check::Bench,
    ),
    (
        "cargo run --release -p profilegraph-bench -- --backends postgres --anchor postgraphile --no-ceiling --no-live --no-webhooks --postgres-url \"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable\" --out bench/results-postgraphile.json --chart bench/chart-postgraphile.svg",
        Check::Bench,
    ),
    (
        "cd fuzz && cargo +nightly fuzz run -s none -a request -- -max_total_time=600 -dict=request.dict",
        Check::Fuzz,
    ),
    ("cargo install sea-orm-cli@2.0.4", Check::Entities),
    ("cargo tree -p profilegraph-store", Check::StoreTree),
    (
        "createdb -h 127.0.0.1 -U postgres pg_entities",
        Check::Entities,
    ),
    (
        "DATABASE_URL=postgres://postgres@127.0.0.1:5432/pg_entities cargo run -- migrate",
        Check::ServePostgres,
    ),
    (
        "sea-orm-cli generate entity -u postgres://postgres@127.0.0.1:5432/pg_entities --lib --compact-format --with-serde both --date-time-crate chrono --ignore-tables seaql_migrations -o crates/entity/src",
        Check::Entities,
    ),
];

/// The repository's root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A new, empty folder in the temporary directory, removed afterwards.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("profilegraph-readme-{}", Uuid::now_v7()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The README's fenced blocks of `language`, each as its text.
fn blocks<'a>(readme: &'a str, language: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut rest = readme;
    let opening = format!("\n```{language}\n");
    while let Some(start) = rest.find(&opening) {
        let body = &rest[start + opening.len()..];
        let end = body.find("\n```").unwrap_or(body.len());
        out.push(&body[..end]);
        rest = &body[end..];
    }
    out
}

fn collapse_spaces(line: &str) -> String {
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Every command of the README outside `console` blocks: each line of a `sh` block
/// (continued lines joined, `# comments` dropped) and each inline code span that runs
/// cargo or a script, unless it leaves out a part (`cargo test …`).
fn readme_commands(readme: &str) -> BTreeSet<String> {
    let mut commands = BTreeSet::new();
    for block in blocks(readme, "sh") {
        let mut command = String::new();
        for line in block.lines() {
            let line = match line.find(" #") {
                Some(comment) => &line[..comment],
                None if line.trim_start().starts_with('#') => "",
                None => line,
            };
            match line.trim_end().strip_suffix('\\') {
                Some(continued) => {
                    command.push_str(continued);
                    command.push(' ');
                }
                None => {
                    command.push_str(line);
                    let done = collapse_spaces(&command);
                    if !done.is_empty() {
                        commands.insert(done);
                    }
                    command.clear();
                }
            }
        }
    }
    let mut in_fence = false;
    for line in readme.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for span in line.split('`').skip(1).step_by(2) {
            let words: Vec<&str> = span
                .split_whitespace()
                .skip_while(|word| word.contains('=') && !word.starts_with('-'))
                .collect();
            let runnable = !span.contains('…');
            if runnable
                && matches!(words.first(), Some(&"cargo") | Some(&"bash"))
                && words.len() > 1
            {
                commands.insert(collapse_spaces(span));
            }
        }
    }
    commands
}

#[test]
fn every_readme_command_is_known_and_checked() {
    let found = readme_commands(README);
    let known: BTreeSet<String> = COMMANDS.iter().map(|(c, _)| collapse_spaces(c)).collect();
    let unknown: Vec<&String> = found.difference(&known).collect();
    let gone: Vec<&String> = known.difference(&found).collect();
    assert!(
        unknown.is_empty() && gone.is_empty(),
        "the README's commands and the checked list in crates/server/tests/readme.rs differ\n\
         in the README, not checked (add each to COMMANDS with how it is checked): {unknown:#?}\n\
         checked, but no longer in the README (update or remove the entry): {gone:#?}"
    );
    let mut checks: Vec<Check> = Vec::new();
    for &(_, check) in COMMANDS {
        if !checks.contains(&check) {
            checks.push(check);
        }
    }
    for check in checks {
        println!("checking {check:?}");
        match check {
            Check::ServeSqlite => serve_sqlite(),
            Check::ServePostgres => serve_postgres(),
            Check::Schema => schema(),
            Check::DefaultBinary => default_binary(),
            Check::Bench => bench(),
            Check::Ci => ci(),
            Check::ThisTest => this_test(),
            Check::UpdateSchema => update_schema(),
            Check::Fuzz => fuzz(),
            Check::Entities => {}
            Check::StoreTree => store_tree(),
        }
    }
}

/// The `console` examples, run by trycmd in a fresh folder.
#[test]
fn console_examples_print_what_the_readme_shows() {
    let examples: usize = blocks(README, "console")
        .iter()
        .map(|block| block.lines().filter(|l| l.starts_with("$ ")).count())
        .sum();
    assert!(examples >= 5, "the README has its console examples");
    // trycmd runs a file's commands, one after the other, in `<name>.in/` beside it.
    let dir = TempDir::new();
    std::fs::write(dir.0.join("README.md"), README).unwrap();
    std::fs::create_dir(dir.0.join("README.in")).unwrap();
    let cases = trycmd::TestCases::new();
    cases.register_bin(
        "profilegraph",
        trycmd::cargo::cargo_bin!("profilegraph").to_path_buf(),
    );
    for (name, value) in DEFAULT_ENV {
        cases.env(*name, *value);
    }
    cases.case(dir.0.join("README.md"));
    cases.run();
    assert!(
        dir.0.join("README.in/profilegraph.db").is_file(),
        "the examples used the default database, in the folder they ran in"
    );
}

/// `profilegraph` with the documented defaults, in `dir`.
fn profilegraph(dir: &Path) -> Command {
    let mut command = Command::new(trycmd::cargo::cargo_bin!("profilegraph"));
    command.envs(DEFAULT_ENV.iter().copied());
    command.current_dir(dir).stdin(Stdio::null());
    command
}

/// A running `serve`: what it printed, and the process.
struct Serving {
    child: Child,
    stdout: Vec<String>,
    addr: String,
    token: String,
}

impl Drop for Serving {
    fn drop(&mut self) {
        // Only if a failed assertion left it running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Start `serve` with `command` (on a free port) and wait until it has printed the three
/// lines the README shows: where it listens, and the demo's token.
fn serve(mut command: Command) -> Serving {
    let mut child = command
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut stdout = Vec::new();
    while stdout.len() < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        match received.recv_timeout(left) {
            Ok(line) => stdout.push(line),
            Err(_) => panic!("serve printed only {stdout:?} within 60 s"),
        }
    }
    let addr = stdout[0]
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("the first line names the address: {stdout:?}"))
        .to_owned();
    let token = stdout[2].clone();
    Serving {
        child,
        stdout,
        addr,
        token,
    }
}

/// Does `actual` match `expected`, where `[..]` in `expected` stands for any text?
fn matches(expected: &str, actual: &str) -> bool {
    let mut parts = expected.split("[..]");
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = actual.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    for (i, part) in parts.iter().enumerate() {
        if i + 1 == parts.len() {
            return rest.ends_with(part);
        }
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.is_empty()
}

/// The README's output of `cargo run --release`, the `text` block right after it.
fn serve_output_in_readme() -> Vec<String> {
    let after = README
        .split_once("```sh\ncargo run --release\n```")
        .map(|(_, after)| after)
        .expect("the README starts the server with `cargo run --release`");
    let block = blocks(after, "text")
        .first()
        .copied()
        .expect("a text block with its output follows");
    block.lines().map(str::to_owned).collect()
}

/// Check a started server against the README: its output, with the address it was given
/// for 127.0.0.1:8080; a token of the documented form; the README's first query, answered
/// with the demo workspace; and a clean exit on SIGTERM.
fn check_serving(mut serving: Serving) {
    let expected = serve_output_in_readme();
    assert_eq!(expected.len(), 3, "{expected:?}");
    for (expected, actual) in expected.iter().zip(&serving.stdout) {
        let expected = expected.replace("127.0.0.1:8080", &serving.addr);
        assert!(
            matches(&expected, actual),
            "serve printed {actual:?} where the README shows {expected:?}"
        );
    }
    let token = &serving.token;
    assert!(
        token
            .strip_prefix("pgr_")
            .is_some_and(|rest| rest.len() == 38 && rest.bytes().all(|b| b.is_ascii_alphanumeric())),
        "a token of the documented form: {token:?}"
    );

    let query = blocks(README, "graphql")
        .first()
        .copied()
        .expect("the README's first query");
    let answer = post_graphql(&serving.addr, token, query);
    assert_eq!(
        answer["data"]["viewer"]["workspace"]["name"], "Demo Company",
        "{answer}"
    );
    assert_eq!(
        answer["data"]["viewer"]["scopes"],
        json!(["read", "write", "admin"]),
        "{answer}"
    );

    // "serves HTTP until Ctrl-C or SIGTERM"
    let kill = Command::new("kill")
        .args(["-TERM", &serving.child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success(), "kill -TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = serving.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "serve exits 0 on SIGTERM: {status}");
}

/// `POST /graphql` with the token; the JSON answer of a 200.
fn post_graphql(addr: &str, token: &str, query: &str) -> Value {
    let body = serde_json::to_vec(&json!({ "query": query })).unwrap();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    write!(
        stream,
        "POST /graphql HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    stream.write_all(&body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 "), "{response}");
    assert!(
        head.to_ascii_lowercase().contains("content-length:"),
        "{head}"
    );
    serde_json::from_str(body).unwrap()
}

fn serve_sqlite() {
    let dir = TempDir::new();
    check_serving(serve(profilegraph(&dir.0)));
    assert!(
        dir.0.join("profilegraph.db").is_file(),
        "the data is in profilegraph.db in the working directory"
    );
}

/// SQL on the PostgreSQL server of `admin`, the URL of `TEST_DATABASE_URL`.
fn execute_on(admin: &str, sql: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        use sea_orm::ConnectionTrait;
        let conn = sea_orm::Database::connect(admin).await.unwrap();
        conn.execute_unprepared(sql).await.unwrap();
        conn.close().await.unwrap();
    });
}

/// A new database on the server of `TEST_DATABASE_URL`, dropped afterwards.
struct PgDatabase {
    admin: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        execute_on(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

fn serve_postgres() {
    let Ok(admin) = std::env::var("TEST_DATABASE_URL") else {
        println!("TEST_DATABASE_URL is not set: the PostgreSQL commands are not run");
        return;
    };
    let database = PgDatabase {
        name: format!("pgtest_readme_{}", Uuid::now_v7().simple()),
        admin,
    };
    // "The database must exist (`createdb profilegraph`)"
    execute_on(
        &database.admin,
        &format!("CREATE DATABASE {}", database.name),
    );
    let url = match database.admin.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{}", database.name),
        None => panic!("TEST_DATABASE_URL names a database: {}", database.admin),
    };
    let dir = TempDir::new();
    let output = profilegraph(&dir.0)
        .env("DATABASE_URL", &url)
        .arg("migrate")
        .output()
        .unwrap();
    assert!(output.status.success(), "migrate on {url}: {output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "migrations applied\n"
    );

    let mut command = profilegraph(&dir.0);
    command.env("DATABASE_URL", &url);
    check_serving(serve(command));
}

fn schema() {
    let dir = TempDir::new();
    let output = profilegraph(&dir.0).arg("schema").output().unwrap();
    assert!(output.status.success());
    let checked_in = std::fs::read_to_string(root().join("schema.graphql")).unwrap();
    assert!(
        String::from_utf8(output.stdout).unwrap() == checked_in,
        "`profilegraph schema` prints schema.graphql as checked in"
    );
}

/// The store's dependency tree has no GraphQL in it.
fn store_tree() {
    let output = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args(["tree", "-p", "profilegraph-store", "--offline"])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo tree: {output:?}");
    let tree = String::from_utf8_lossy(&output.stdout);
    assert!(tree.contains("profilegraph-store"), "{tree}");
    assert!(tree.contains("sea-orm"), "{tree}");
    assert!(!tree.contains("async-graphql"), "{tree}");
}

/// `cargo metadata` of the workspace, without its dependencies (no build, no network).
fn metadata() -> Value {
    let output = Command::new(option_env!("CARGO").unwrap_or("cargo"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(root())
        .output()
        .unwrap();
    assert!(output.status.success(), "cargo metadata: {output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The package `name` of the workspace and the names of its binaries.
fn package<'a>(metadata: &'a Value, name: &str) -> (&'a Value, Vec<&'a str>) {
    let package = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("the workspace has a package {name}"));
    let bins = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["kind"] == json!(["bin"]))
        .filter_map(|t| t["name"].as_str())
        .collect();
    (package, bins)
}

fn default_binary() {
    let metadata = metadata();
    let defaults = metadata["workspace_default_members"].as_array().unwrap();
    let bins: Vec<&str> = defaults
        .iter()
        .flat_map(|id| {
            let package = metadata["packages"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["id"] == *id)
                .unwrap();
            package["targets"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|t| t["kind"] == json!(["bin"]))
                .filter_map(|t| t["name"].as_str())
        })
        .collect();
    assert_eq!(
        bins,
        ["profilegraph"],
        "`cargo run` at the top runs the one binary of the default members"
    );
}

fn bench() {
    let metadata = metadata();
    let (_, bins) = package(&metadata, "profilegraph");
    assert!(bins.contains(&"profilegraph"), "{bins:?}");
    let (bench, bins) = package(&metadata, "profilegraph-bench");
    assert!(bins.contains(&"profilegraph-bench"), "{bins:?}");
    assert_eq!(
        bench["default_run"], "profilegraph-bench",
        "`cargo run -p profilegraph-bench` picks the benchmark out of {bins:?}"
    );
    let quick = std::fs::read_to_string(root().join("crates/bench/tests/quick.rs")).unwrap();
    for run in ["\"--quick\"", "\"--help\""] {
        assert!(quick.contains(run), "the benchmark's tests run {run}");
    }
}

fn ci() {
    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
    for command in [
        "cargo fmt --all -- --check",
        "cargo clippy --workspace --all-targets -- -D warnings",
        "cargo test --workspace",
        "TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test",
    ] {
        assert!(ci.contains(command), ".ci/run has {command}");
    }
}

fn this_test() {
    let metadata = metadata();
    let (package, _) = package(&metadata, "profilegraph");
    let readme = package["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kind"] == json!(["test"]) && t["name"] == "readme")
        .expect("the package profilegraph has the test target readme");
    assert!(
        Path::new(readme["src_path"].as_str().unwrap()).ends_with("tests/readme.rs"),
        "{readme}"
    );
}

fn update_schema() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    assert!(cargo.contains("name = \"api\""), "a test binary `api`");
    let found = std::fs::read_dir(root().join("tests/api"))
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.unwrap().path()).ok())
        .any(|source| source.contains("UPDATE_SCHEMA") && source.contains("fn schema"));
    assert!(
        found,
        "tests/api has a schema test that reads UPDATE_SCHEMA"
    );
}

fn fuzz() {
    let fuzz = root().join("fuzz");
    assert!(fuzz.join("fuzz_targets/request.rs").is_file());
    assert!(fuzz.join("request.dict").is_file());
    let manifest = std::fs::read_to_string(fuzz.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains("name = \"request\""),
        "a fuzz target `request`"
    );
}

#[test]
fn the_matcher_reads_placeholders() {
    assert!(matches("pgr_[..]", "pgr_abc"));
    assert!(matches("in [..]; a token:", "in 1.2s; a token:"));
    assert!(matches("a[..]b[..]c", "a1b2c"));
    assert!(!matches("a[..]b[..]c", "a1c2b"));
    assert!(!matches("exact", "exact but longer"));
    assert!(matches("exact", "exact"));
}
