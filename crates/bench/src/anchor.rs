//! The anchor: another GraphQL server on the same freshly seeded PostgreSQL database,
//! driven with the same shapes by the same load generator, so that profilegraph's numbers
//! can be read as multiples of a well-known server's on the same machine and the same day.
//!
//! PostGraphile v4 is installed from the npm registry into a cache directory outside the
//! repository (pinned versions, installed once), and started as its own Node.js process
//! as the database's owner: it sees every workspace and has no row-level security to
//! pay for, and asks for the seeded workspace by its id where profilegraph's token
//! implies it. Its operations live in `bench/anchors/postgraphile/`, and return the same
//! data as profilegraph's shapes (the report gives both response sizes).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::BoxFuture;
use sea_orm::ConnectionTrait;
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::Shape;
use crate::error::{Error, Result};
use crate::http::rotated;
use crate::inputs::{Inputs, Move};
use crate::load::{Client, Sample};
use crate::server::{Memory, free_port, memory_of, tail};

/// The PostGraphile release and plugin the benchmark installs.
const POSTGRAPHILE: &str = "postgraphile@4.14.1";
const CONNECTION_FILTER: &str = "postgraphile-plugin-connection-filter@2.3.0";
/// The folder of the installation, under the anchor directory.
const INSTALL_FOLDER: &str = "postgraphile-4.14.1";

/// What the benchmark adds to its own database before PostGraphile starts.
const SETUP_SQL: &str = include_str!("../../../bench/anchors/postgraphile/setup.sql");
const Q1: &str = include_str!("../../../bench/anchors/postgraphile/q1.graphql");
const Q2: &str = include_str!("../../../bench/anchors/postgraphile/q2.graphql");
const Q3: &str = include_str!("../../../bench/anchors/postgraphile/q3.graphql");
const Q4_MOVE: &str = include_str!("../../../bench/anchors/postgraphile/q4-move.graphql");
const Q4_NOTE: &str = include_str!("../../../bench/anchors/postgraphile/q4-note.graphql");

/// `connectionFilterRelations` lets Q2 search a profile's contacts, as profilegraph's
/// search does; PostGraphile's CLI only takes it from this file in its working directory.
const RC_FILE: &str = "module.exports = { options: { graphileBuildOptions: { connectionFilterRelations: true } } };\n";

/// An installed PostGraphile.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The installation's folder (its working directory when it runs).
    dir: PathBuf,
    /// `node_modules/postgraphile/cli.js`.
    cli: PathBuf,
}

/// The default anchor directory: `$XDG_CACHE_HOME/profilegraph-bench`, else
/// `~/.cache/profilegraph-bench`.
fn default_dir() -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("profilegraph-bench"));
    }
    std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .map(|home| {
            PathBuf::from(home)
                .join(".cache")
                .join("profilegraph-bench")
        })
        .ok_or_else(|| {
            Error::Usage(
                "no HOME or XDG_CACHE_HOME for the anchor's cache: pass --anchor-dir".into(),
            )
        })
}

/// Install PostGraphile into `dir` (or the default directory) unless it is there already.
pub fn install(dir: Option<&Path>) -> Result<Installed> {
    let node = Command::new("node").arg("--version").output();
    let npm = Command::new("npm").arg("--version").output();
    match (&node, &npm) {
        (Ok(n), Ok(m)) if n.status.success() && m.status.success() => {}
        _ => {
            return Err(Error::Usage(
                "--anchor postgraphile runs PostGraphile on Node.js: install Node.js 18 or newer \
                 with npm (Debian: apt-get install nodejs npm), or leave out --anchor"
                    .into(),
            ));
        }
    }
    let base = match dir {
        Some(dir) => dir.to_owned(),
        None => default_dir()?,
    };
    let dir = base.join(INSTALL_FOLDER);
    let cli = dir.join("node_modules/postgraphile/cli.js");
    if !cli.is_file()
        || !dir
            .join("node_modules/postgraphile-plugin-connection-filter/package.json")
            .is_file()
    {
        std::fs::create_dir_all(&dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        std::fs::write(
            dir.join("package.json"),
            "{ \"name\": \"profilegraph-bench-anchor\", \"private\": true }\n",
        )
        .map_err(Error::io(format!("writing {}/package.json", dir.display())))?;
        eprintln!(
            "installing {POSTGRAPHILE} and {CONNECTION_FILTER} into {} (npm registry)",
            dir.display()
        );
        let status = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--save-exact"])
            .args([POSTGRAPHILE, CONNECTION_FILTER])
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .status()
            .map_err(Error::io("running npm install"))?;
        if !status.success() || !cli.is_file() {
            return Err(Error::Setup(format!(
                "npm install of {POSTGRAPHILE} into {} failed ({status})",
                dir.display()
            )));
        }
    }
    std::fs::write(dir.join(".postgraphilerc.js"), RC_FILE).map_err(Error::io(format!(
        "writing {}/.postgraphilerc.js",
        dir.display()
    )))?;
    Ok(Installed { dir, cli })
}

/// Add what PostGraphile needs to the benchmark's database (see `setup.sql`).
pub async fn prepare(db: &sea_orm::DatabaseConnection) -> Result<()> {
    db.execute_unprepared(SETUP_SQL).await?;
    Ok(())
}

/// A running PostGraphile; killed when dropped.
pub struct AnchorServer {
    child: Child,
    /// `http://127.0.0.1:PORT/graphql`.
    pub url: String,
    /// Where its output goes.
    pub log: PathBuf,
}

impl AnchorServer {
    /// Start PostGraphile on `database_url` (its query string, e.g. `sslmode`, is dropped:
    /// node-postgres connects without TLS, and the README's command gives profilegraph
    /// `sslmode=disable` so that neither pays for TLS on loopback).
    pub fn start(installed: &Installed, database_url: &str, log: PathBuf) -> Result<Self> {
        let port = free_port()?;
        let url = database_url.split('?').next().unwrap_or(database_url);
        let out = std::fs::File::create(&log)
            .map_err(Error::io(format!("creating {}", log.display())))?;
        let err = out
            .try_clone()
            .map_err(Error::io(format!("opening {}", log.display())))?;
        let child = Command::new("node")
            .arg(&installed.cli)
            .args(["--connection", url, "--host", "127.0.0.1", "--port"])
            .arg(port.to_string())
            .args([
                "--simple-collections",
                "both",
                "--dynamic-json",
                "--append-plugins",
                "postgraphile-plugin-connection-filter",
                "--disable-query-log",
                "--disable-graphiql",
            ])
            .env("NODE_ENV", "production")
            .current_dir(&installed.dir)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(Error::io("starting PostGraphile (node)"))?;
        Ok(AnchorServer {
            child,
            url: format!("http://127.0.0.1:{port}/graphql"),
            log,
        })
    }

    /// Its process id (the Node.js process: PostGraphile runs in one).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its memory.
    pub fn memory(&self) -> Result<Memory> {
        memory_of(self.pid())
    }

    /// Wait until it answers a query, or fail after `timeout` or if it exits.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Setup(format!(
                    "PostGraphile exited ({status}) before it was ready; its log: {}\n{}",
                    self.log.display(),
                    tail(&self.log)
                )));
            }
            if let Ok(response) = client
                .post(&self.url)
                .json(&json!({ "query": "{ __typename }" }))
                .send()
                .await
                && response.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(Error::Setup(format!(
                    "PostGraphile was not ready after {timeout:?}; its log: {}",
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for AnchorServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the anchor's clients share.
pub struct AnchorTarget {
    /// Pooled keep-alive connections.
    pub client: reqwest::Client,
    /// PostGraphile's `/graphql`.
    pub url: String,
    /// The seeded workspace (PostGraphile has no token to imply it).
    pub workspace_id: Uuid,
    /// PostGraphile's cursors of the export pages, in profilegraph's page order.
    pub cursors: Vec<Option<String>>,
}

/// Walk the export pages once through PostGraphile for its cursors (`None`: the first
/// page), as many pages as profilegraph's Q3 walks.
pub async fn walk_cursors(
    client: &reqwest::Client,
    url: &str,
    workspace_id: Uuid,
    pages: usize,
) -> Result<Vec<Option<String>>> {
    let mut cursors = vec![None];
    while cursors.len() < pages {
        let body = json!({
            "query": Q3,
            "variables": { "workspaceId": workspace_id, "cursor": cursors.last().cloned().flatten() },
        });
        let answer: Value = client
            .post(url)
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let info = &answer["data"]["allProfiles"]["pageInfo"];
        match (info["hasNextPage"].as_bool(), info["endCursor"].as_str()) {
            (Some(true), Some(cursor)) => cursors.push(Some(cursor.to_owned())),
            (Some(false), _) => break,
            _ => {
                return Err(Error::Setup(format!(
                    "PostGraphile's export page did not answer as expected: {}",
                    crate::http::clip(&answer.to_string())
                )));
            }
        }
    }
    Ok(cursors)
}

/// The body of the first request of `shape` (the one the report sizes).
pub fn first_request(shape: Shape, target: &AnchorTarget, inputs: &Inputs) -> Value {
    match shape.requests() {
        Shape::Q1 | Shape::Q1Single => {
            json!({ "query": Q1, "variables": { "id": inputs.profiles[0] } })
        }
        Shape::Q2 => json!({
            "query": Q2,
            "variables": { "workspaceId": target.workspace_id, "q": folded(&inputs.terms[0]) },
        }),
        Shape::Q3 => json!({
            "query": Q3,
            "variables": { "workspaceId": target.workspace_id, "cursor": null },
        }),
        Shape::Q4 => Value::Null,
    }
}

/// Send the first request of `shape` and check that PostGraphile answers it with the
/// data the shape asks for; returns the response's size in bytes.
pub async fn validate(
    shape: Shape,
    target: &AnchorTarget,
    inputs: &Inputs,
) -> Result<Option<usize>> {
    let body = first_request(shape, target, inputs);
    if body.is_null() {
        return Ok(None);
    }
    let bytes = target
        .client
        .post(&target.url)
        .json(&body)
        .send()
        .await?
        .error_for_status()?
        .bytes()
        .await?;
    let answer: Value = serde_json::from_slice(&bytes)?;
    let data = &answer["data"];
    let fine = answer.get("errors").is_none()
        && match shape.requests() {
            Shape::Q1 | Shape::Q1Single => data["profileById"]["name"].is_string(),
            Shape::Q2 => data["allProfiles"]["totalCount"]
                .as_u64()
                .is_some_and(|n| n > 0),
            Shape::Q3 => data["allProfiles"]["nodes"]
                .as_array()
                .is_some_and(|nodes| nodes.len() == 100.min(inputs.profiles.len())),
            Shape::Q4 => true,
        };
    if fine {
        Ok(Some(bytes.len()))
    } else {
        Err(Error::Setup(format!(
            "PostGraphile's {} did not answer as expected: {}",
            shape.name(),
            crate::http::clip(&answer.to_string())
        )))
    }
}

/// A search term as profilegraph matches it: folded the way its search columns are.
fn folded(term: &str) -> String {
    term.to_lowercase()
}

/// The anchor's clients for `shape`, each starting at its own place in the inputs, as
/// profilegraph's do.
pub fn clients(
    shape: Shape,
    target: &Arc<AnchorTarget>,
    inputs: &Inputs,
    count: usize,
) -> Vec<Box<dyn Client>> {
    (0..count)
        .map(|index| {
            let work = match shape.requests() {
                Shape::Q1 | Shape::Q1Single => Work::Q1(rotated(&inputs.profiles, index, count)),
                Shape::Q2 => Work::Q2(
                    rotated(&inputs.terms, index, count)
                        .iter()
                        .map(|t| folded(t))
                        .collect(),
                ),
                Shape::Q3 => Work::Q3(rotated(&target.cursors, index, count)),
                Shape::Q4 => Work::Q4 {
                    moves: inputs.moves[index % inputs.moves.len()].clone(),
                    index,
                },
            };
            Box::new(AnchorClient {
                target: Arc::clone(target),
                work,
                step: 0,
            }) as Box<dyn Client>
        })
        .collect()
}

enum Work {
    Q1(Vec<Uuid>),
    Q2(Vec<String>),
    Q3(Vec<Option<String>>),
    Q4 { moves: Vec<Move>, index: usize },
}

struct AnchorClient {
    target: Arc<AnchorTarget>,
    work: Work,
    step: usize,
}

#[derive(Deserialize)]
struct Envelope {
    data: Option<IgnoredAny>,
    errors: Option<Vec<Value>>,
}

impl AnchorClient {
    fn next(&mut self) -> (&'static str, Value, Option<Move>) {
        let step = self.step;
        self.step += 1;
        let workspace = self.target.workspace_id;
        match &mut self.work {
            Work::Q1(ids) => (
                "Q1",
                json!({ "query": Q1, "variables": { "id": ids[step % ids.len()] } }),
                None,
            ),
            Work::Q2(terms) => (
                "Q2",
                json!({ "query": Q2, "variables": { "workspaceId": workspace, "q": terms[step % terms.len()] } }),
                None,
            ),
            Work::Q3(cursors) => (
                "Q3",
                json!({ "query": Q3, "variables": { "workspaceId": workspace, "cursor": cursors[step % cursors.len()] } }),
                None,
            ),
            Work::Q4 { moves, index } => {
                // The same alternation as profilegraph's clients, on the same moves, so
                // both servers write the same rows.
                let m = &moves[(step / 2) % moves.len()];
                let (now_in, next) = m.whereabouts();
                let now = chrono::Utc::now().to_rfc3339();
                if step.is_multiple_of(2) {
                    (
                        "move",
                        json!({ "query": Q4_MOVE, "variables": { "contactId": m.contact, "profileId": next, "now": now } }),
                        Some(m.clone()),
                    )
                } else {
                    (
                        "note",
                        json!({ "query": Q4_NOTE, "variables": {
                            "id": Uuid::now_v7(),
                            "workspaceId": workspace,
                            "profileId": now_in,
                            "body": format!("Bench note {index}-{step}: called back about the order."),
                            "now": now,
                        } }),
                        None,
                    )
                }
            }
        }
    }
}

impl Client for AnchorClient {
    fn step(&mut self) -> BoxFuture<'_, Sample> {
        let (op, body, moved) = self.next();
        let target = Arc::clone(&self.target);
        Box::pin(async move {
            let response = match target.client.post(&target.url).json(&body).send().await {
                Ok(response) => response,
                Err(err) => return Sample::failed(op, None, format!("request failed: {err}")),
            };
            let status = response.status();
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(err) => return Sample::failed(op, None, format!("reading the body: {err}")),
            };
            if !status.is_success() {
                return Sample::failed(
                    op,
                    None,
                    format!(
                        "HTTP {status}: {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                    ),
                );
            }
            match serde_json::from_slice::<Envelope>(&bytes) {
                Ok(Envelope {
                    errors: Some(errors),
                    ..
                }) if !errors.is_empty() => {
                    Sample::failed(op, None, format!("GraphQL errors: {}", Value::from(errors)))
                }
                Ok(Envelope { data: Some(_), .. }) => {
                    if let Some(moved) = moved {
                        moved.flip();
                    }
                    Sample::ok(op, None)
                }
                Ok(_) => Sample::failed(op, None, "a response without data".into()),
                Err(err) => Sample::failed(op, None, format!("not a GraphQL response: {err}")),
            }
        })
    }
}
