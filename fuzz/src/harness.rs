//! One app per process, and what each fuzz input does with it.
//!
//! The app is the real router (`profilegraph::http::router`) on a SQLite file in a temp
//! directory, migrated and seeded like `serve` does on a brand-new database, plus a second
//! workspace (a second demo seed, its data renamed to marker texts) whose ids the inputs use
//! as "ids of another tenant", and a read-only token of the demo workspace. Requests go
//! through `tower::ServiceExt::oneshot`: no socket, but every layer and handler.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderValue, Request, StatusCode, header};
use profilegraph::config::Config;
use profilegraph::{app, demo, http as server_http, telemetry};
use profilegraph_store::tokens;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::checks::{self, Exchange, World};
use crate::grammar::{NODE_KINDS, OpKind};
use crate::input::{Auth, AuthClass, FuzzInput, Method, Payload, Step, query_string};

/// Ids by node kind.
type IdPool = BTreeMap<String, Vec<String>>;

/// Texts that only the other workspace's data holds.
const FOREIGN_MARKERS: &[&str] = &["zqforeign", "demo-company-2"];

/// How long one request may take before the harness calls it a hang (the server's own
/// request timeout is 10 s).
const HANG: Duration = Duration::from_secs(30);

/// Ids and cursors that responses handed out.
#[derive(Default)]
struct Harvest {
    ids: IdPool,
    cursors: Vec<String>,
}

impl Harvest {
    /// Collect every global id (`id`, `…Id`) and cursor in a response.
    fn collect(&mut self, value: &Value) {
        match value {
            Value::Object(map) => {
                for (key, v) in map {
                    if let Value::String(s) = v {
                        if key == "id" || key.ends_with("Id") {
                            if let Some((kind, _)) = decode_id(s) {
                                let list = self.ids.entry(kind).or_default();
                                if !list.contains(s) {
                                    list.push(s.clone());
                                }
                            }
                        } else if matches!(key.as_str(), "cursor" | "endCursor" | "startCursor")
                            && !self.cursors.contains(s)
                        {
                            self.cursors.push(s.clone());
                        }
                    } else {
                        self.collect(v);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.collect(v)),
            _ => {}
        }
    }

    /// Fold another harvest in, keeping at most `cap` of each list (newest win).
    fn merge(&mut self, other: Harvest, cap: usize) {
        for (kind, ids) in other.ids {
            let list = self.ids.entry(kind).or_default();
            for id in ids {
                if !list.contains(&id) {
                    list.push(id);
                }
            }
            if list.len() > cap {
                list.drain(..list.len() - cap);
            }
        }
        for c in other.cursors {
            if !self.cursors.contains(&c) {
                self.cursors.push(c);
            }
        }
        if self.cursors.len() > cap * 2 {
            self.cursors.drain(..self.cursors.len() - cap * 2);
        }
    }
}

/// `(kind, uuid text)` of a global id.
fn decode_id(id: &str) -> Option<(String, String)> {
    let raw = URL_SAFE_NO_PAD.decode(id.trim_end_matches('=')).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (kind, uuid) = text.split_once(':')?;
    NODE_KINDS
        .contains(&kind)
        .then(|| (kind.to_owned(), uuid.to_owned()))
}

fn encode_id(kind: &str, uuid: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{uuid}"))
}

/// The app and what the inputs draw on.
pub struct Harness {
    rt: tokio::runtime::Runtime,
    router: Router,
    token_full: String,
    token_read: String,
    token_foreign: String,
    own: IdPool,
    own_ids: Vec<String>,
    own_cursors: Vec<String>,
    foreign: IdPool,
    foreign_ids: Vec<String>,
    foreign_snapshot: Value,
    harvested: Mutex<Harvest>,
    inputs: Mutex<u64>,
    verbose: bool,
    extra_codes: Vec<String>,
    dir: PathBuf,
}

/// The harness of this process, set up on first use.
pub fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(Harness::new)
}

/// Run one input (the fuzz target's body).
pub fn run(input: &FuzzInput) {
    harness().run_input(input);
}

fn env_flag(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("cannot build the tokio runtime: {e}"));
        let base = std::env::temp_dir().join("profilegraph-fuzz");
        remove_stale_dirs(&base);
        let dir = base.join(std::process::id().to_string());
        // A leftover of an earlier process with the same pid is stale by definition.
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let url = format!("sqlite://{}", dir.join("fuzz.db").display());
        let mut config = Config::for_database(url);
        config.no_demo = false;
        // Rate limits off by default (thousands of requests a minute would soon get
        // nothing but 429); PROFILEGRAPH_FUZZ_RATE_LIMIT=<cost per token and minute> turns
        // them on to fuzz the limiter too.
        let rate_limit = std::env::var("PROFILEGRAPH_FUZZ_RATE_LIMIT")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            // Setting up (ids, snapshot of the other workspace) costs about 30,000.
            .map(|r| r.max(100_000));
        config.rate_limit_per_token = rate_limit.unwrap_or(1 << 50);
        config.rate_limit_per_workspace = rate_limit.map_or(1 << 50, |r| r.saturating_mul(3));
        // PROFILEGRAPH_FUZZ_PRODUCTION=1: the production profile (masked errors, no
        // GraphiQL, introspection only with a token); the demo is then seeded here.
        config.production = env_flag("PROFILEGRAPH_FUZZ_PRODUCTION");
        if let Ok(filter) = std::env::var("PROFILEGRAPH_FUZZ_LOG") {
            config.log = filter;
            telemetry::init(&config);
        }
        let (router, token_full, token_read, token_foreign) = rt.block_on(async {
            let prepared = app::prepare(&config)
                .await
                .unwrap_or_else(|e| panic!("cannot prepare the app: {e}"));
            let db = prepared.state.db.clone();
            let token_full = match prepared.demo_token {
                Some(token) => token,
                // Production never seeds the demo itself.
                None => {
                    demo::seed(&db)
                        .await
                        .unwrap_or_else(|e| panic!("cannot seed the demo workspace: {e}"))
                        .token
                }
            };
            // The second tenant: another demo workspace (`demo-company-2`).
            let foreign = demo::seed(&db)
                .await
                .unwrap_or_else(|e| panic!("cannot seed the second workspace: {e}"));
            let ws = profilegraph_store::workspaces::find_by_slug(&db.conn, "demo-company")
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("the demo workspace exists"));
            let scopes = "read"
                .parse()
                .unwrap_or_else(|e| panic!("`read` is a scope: {e}"));
            let read = tokens::create(&db.conn, ws.id, None, "fuzz-read", &scopes, None)
                .await
                .unwrap_or_else(|e| panic!("cannot create a read token: {e}"));
            (
                server_http::router(prepared.state),
                token_full,
                read.plaintext,
                foreign.token,
            )
        });
        let mut h = Harness {
            rt,
            router,
            token_full,
            token_read,
            token_foreign,
            own: IdPool::new(),
            own_ids: Vec::new(),
            own_cursors: Vec::new(),
            foreign: IdPool::new(),
            foreign_ids: Vec::new(),
            foreign_snapshot: Value::Null,
            harvested: Mutex::new(Harvest::default()),
            inputs: Mutex::new(0),
            verbose: env_flag("PROFILEGRAPH_FUZZ_VERBOSE"),
            extra_codes: std::env::var("PROFILEGRAPH_FUZZ_EXTRA_CODES")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
                .unwrap_or_default(),
            dir,
        };
        h.mark_foreign_data();
        let own = h.gather(&h.token_full.clone());
        h.own_ids = own.ids.values().flatten().cloned().collect();
        h.own = own.ids;
        h.own_cursors = own.cursors;
        let foreign = h.gather(&h.token_foreign.clone());
        h.foreign_ids = foreign.ids.values().flatten().cloned().collect();
        h.foreign = foreign.ids;
        h.foreign_snapshot = h.snapshot_foreign().unwrap_or_else(|| {
            panic!("setup query rate-limited; raise PROFILEGRAPH_FUZZ_RATE_LIMIT")
        });
        for id in &h.foreign_ids {
            assert!(!h.own_ids.contains(id), "the two workspaces share id {id}");
        }
        eprintln!(
            "profilegraph-fuzz: app ready in {} ({} own ids, {} foreign ids)",
            h.dir.display(),
            h.own_ids.len(),
            h.foreign_ids.len(),
        );
        h
    }

    /// POST a setup query with `token`; panics unless it succeeds without errors.
    fn setup_query(&self, token: &str, query: &str, variables: Value) -> Value {
        match self.try_setup_query(token, query, variables) {
            Some(data) => data,
            None => panic!("setup query rate-limited; raise PROFILEGRAPH_FUZZ_RATE_LIMIT"),
        }
    }

    /// Like [`Self::setup_query`], but `None` when the rate limit refuses it.
    fn try_setup_query(&self, token: &str, query: &str, variables: Value) -> Option<Value> {
        let body = json!({ "query": query, "variables": variables }).to_string();
        let request = Request::post("/graphql")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .body(Body::from(body))
            .unwrap_or_else(|e| panic!("setup request: {e}"));
        let (status, _, bytes) = self.send(request);
        let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
            panic!(
                "setup query answered {status} with non-JSON {:?}: {e}",
                String::from_utf8_lossy(&bytes)
            )
        });
        if status == StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        if status != StatusCode::OK || json.get("errors").is_some() {
            panic!("setup query failed ({status}): {json:#}\nquery: {query}");
        }
        Some(json["data"].clone())
    }

    /// Rename the second workspace's rows to marker texts, so a leak of them is visible.
    fn mark_foreign_data(&self) {
        let token = self.token_foreign.clone();
        let data = self.setup_query(
            &token,
            "{ profiles(first: 5) { edges { node { id } } } channels { id type } }",
            json!({}),
        );
        let profile = data["profiles"]["edges"][0]["node"]["id"].clone();
        let channels = data["channels"].as_array().cloned().unwrap_or_default();
        let first_channel = channels[0]["id"].clone();
        let email = channels
            .iter()
            .find(|c| c["type"] == "EMAIL")
            .map_or(first_channel.clone(), |c| c["id"].clone());
        self.setup_query(
            &token,
            r#"mutation($p: ID!, $c: ID!, $e: ID!) {
              updateProfile(input: {id: $p, name: "zqforeign profile"}) { profile { id } }
              createNote(input: {profileId: $p, body: "zqforeign note"}) { note { id } }
              updateChannel(input: {id: $c, name: "zqforeign channel"}) { channel { id } }
              createContact(input: {channelId: $e, identifier: "zqforeign@example.com", displayName: "zqforeign contact"}) { contact { id } }
              createCustomField(input: {key: "zqforeign", label: "zqforeign field", type: TEXT}) { customField { id } }
            }"#,
            json!({ "p": profile, "c": first_channel, "e": email }),
        );
    }

    /// Every id (and some cursors) a token's workspace holds.
    fn gather(&self, token: &str) -> Harvest {
        let mut harvest = Harvest::default();
        let data = self.setup_query(
            token,
            "{ viewer { workspace { id } agent { id } }
               channels { id }
               customFields(includeArchived: true) { id }
               contacts(first: 100) { edges { cursor node { id } } }
               contactMoments(first: 100) { edges { cursor node { id } } }
               profiles(first: 100) { edges { cursor node { id } } } }",
            json!({}),
        );
        harvest.collect(&data);
        for profile in harvest.ids.get("Profile").cloned().unwrap_or_default() {
            let data = self.setup_query(
                token,
                "query($id: ID!) { profile(id: $id) {
                   notes(first: 100) { edges { cursor node { id } } }
                   contactMoments(first: 100) { edges { cursor node { id } } } } }",
                json!({ "id": profile }),
            );
            harvest.collect(&data);
        }
        harvest
    }

    /// Everything of the second workspace, to see that no input changed it. One request
    /// (it runs after many inputs), small pages so it stays within the complexity limit:
    /// the workspace holds a handful of rows, and `totalCount` catches any growth.
    fn snapshot_foreign(&self) -> Option<Value> {
        let token = self.token_foreign.clone();
        self.try_setup_query(
            &token,
            "{ viewer { workspace { id name slug } }
               channels { id name type createdAt }
               customFields(includeArchived: true) { id key label type options archived required position
                 rules { minLength maxLength pattern min max } }
               contacts(first: 50) { totalCount edges { node { id identifier displayName updatedAt profile { id } } } }
               contactMoments(first: 50) { totalCount edges { node { id status subject closedAt lastMessageAt contact { id } channel { id } } } }
               profiles(first: 10) { totalCount edges { node { id name version updatedAt fields { field { id } value }
                 notes(first: 20) { totalCount edges { node { id body updatedAt author { id } } } } } } } }",
            json!({}),
        )
    }

    fn send(&self, request: Request<Body>) -> (StatusCode, http::HeaderMap, Vec<u8>) {
        let router = self.router.clone();
        self.rt.block_on(async move {
            let started = Instant::now();
            let response = match tokio::time::timeout(HANG, router.oneshot(request)).await {
                Ok(Ok(response)) => response,
                Ok(Err(never)) => match never {},
                Err(_) => panic!("a request hung for {HANG:?}"),
            };
            let (parts, body) = response.into_parts();
            let bytes =
                match tokio::time::timeout(HANG, axum::body::to_bytes(body, usize::MAX)).await {
                    Ok(Ok(bytes)) => bytes.to_vec(),
                    Ok(Err(e)) => panic!("cannot read a response body: {e}"),
                    Err(_) => panic!("a response body hung for {HANG:?}"),
                };
            let took = started.elapsed();
            if took > Duration::from_secs(5) {
                eprintln!("profilegraph-fuzz: slow request: {took:?}");
            }
            (parts.status, parts.headers, bytes)
        })
    }

    /// Replace id and cursor placeholders (see [`crate::grammar`]) with real values.
    fn resolve(&self, text: &str, local: &Harvest, global: &Harvest) -> String {
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        while let Some(start) = rest.find("%%") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            if let Some(end) = after.find("%%")
                && let Some(value) = self.placeholder(&after[..end], local, global)
            {
                out.push_str(&value);
                rest = &after[end + 2..];
                continue;
            }
            out.push_str("%%");
            rest = after;
        }
        out.push_str(rest);
        out
    }

    fn placeholder(&self, token: &str, local: &Harvest, global: &Harvest) -> Option<String> {
        let parts: Vec<&str> = token.split(':').collect();
        match parts.as_slice() {
            ["ID", source, kind, n] => {
                Some(self.pick_id(source, kind, n.parse().ok()?, local, global))
            }
            ["IDX", kind, n, other] => {
                let id = self.pick_id("a", kind, n.parse().ok()?, local, global);
                let (_, uuid) = decode_id(&id)?;
                Some(encode_id(other, &uuid))
            }
            ["CUR", n] => {
                let n: usize = n.parse().ok()?;
                let all: Vec<&String> = local
                    .cursors
                    .iter()
                    .chain(&global.cursors)
                    .chain(&self.own_cursors)
                    .collect();
                Some(if all.is_empty() {
                    URL_SAFE_NO_PAD.encode(format!("[\"x\",\"{}\"]", uuid::Uuid::nil()))
                } else {
                    all[n % all.len()].clone()
                })
            }
            _ => None,
        }
    }

    fn pick_id(
        &self,
        source: &str,
        kind: &str,
        n: usize,
        local: &Harvest,
        global: &Harvest,
    ) -> String {
        fn of<'p>(pool: &'p IdPool, kind: &str) -> Vec<&'p String> {
            if kind == "*" {
                pool.values().flatten().collect()
            } else {
                pool.get(kind)
                    .map(|v| v.iter().collect())
                    .unwrap_or_default()
            }
        }
        let mut list = match source {
            "h" => {
                let mut list = of(&local.ids, kind);
                list.extend(of(&global.ids, kind));
                list
            }
            "b" => of(&self.foreign, kind),
            _ => of(&self.own, kind),
        };
        if list.is_empty() {
            list = of(&self.own, kind);
        }
        if list.is_empty() {
            let kind = if kind == "*" { "Profile" } else { kind };
            return encode_id(kind, &uuid::Uuid::from_u128(n as u128).to_string());
        }
        list[n % list.len()].clone()
    }

    fn resolve_value(&self, value: Value, local: &Harvest, global: &Harvest) -> Value {
        match value {
            Value::String(s) if s.contains("%%") => Value::String(self.resolve(&s, local, global)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|v| self.resolve_value(v, local, global))
                    .collect(),
            ),
            Value::Object(map) => Value::Object(
                map.into_iter()
                    .map(|(k, v)| (k, self.resolve_value(v, local, global)))
                    .collect(),
            ),
            other => other,
        }
    }

    fn run_input(&self, input: &FuzzInput) {
        let global = {
            let guard = self
                .harvested
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Harvest {
                ids: guard.ids.clone(),
                cursors: guard.cursors.clone(),
            }
        };
        let mut local = Harvest::default();
        let mut touched_foreign = false;
        for step in &input.steps {
            touched_foreign |= self.run_step(step, &mut local, &global);
        }
        let count = {
            let mut n = self
                .inputs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *n += 1;
            *n
        };
        // The other workspace must be as it was: after any input that sent its ids to a
        // write, and every 500 inputs anyway.
        if touched_foreign || count % 500 == 0 {
            // Under a low rate limit the snapshot may be refused: then this check waits
            // for a later input.
            if let Some(now) = self.snapshot_foreign()
                && now != self.foreign_snapshot
            {
                panic!(
                    "INVARIANT VIOLATED: the other workspace's data changed\n\
                     before: {:#}\nafter: {now:#}\ninput: {input:#?}",
                    self.foreign_snapshot
                );
            }
        }
        self.harvested
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .merge(local, 64);
    }

    /// Send one request and check the answer; returns whether it may have written with
    /// the other workspace's ids.
    fn run_step(&self, step: &Step, local: &mut Harvest, global: &Harvest) -> bool {
        let method = step.method;
        let mut uri = step.path.render();
        let mut content_type = step.content_type.value();
        let mut op = None;
        let mut is_batch = false;
        let mut used_foreign = false;
        // Whether a GET carries the operation in its query string (a GET body is ignored).
        let mut query_in_uri = false;
        let mut resolve = |json: Value, generated: bool| -> Value {
            if !generated {
                return json;
            }
            used_foreign |= json.to_string().contains("%%ID:b:");
            self.resolve_value(json, local, global)
        };
        let body: Vec<u8> = match &step.payload {
            Payload::Single(gql) => {
                let (json, kind) = gql.to_json();
                op = kind;
                let json = resolve(json, gql.generated());
                if matches!(method, Method::Get | Method::Head) {
                    query_in_uri = true;
                    let qs = query_string(&json);
                    uri.push(if uri.contains('?') { '&' } else { '?' });
                    uri.push_str(&qs);
                    Vec::new()
                } else {
                    json.to_string().into_bytes()
                }
            }
            Payload::Batch(items) => {
                is_batch = true;
                let items: Vec<Value> = items
                    .iter()
                    .map(|gql| {
                        let (json, _) = gql.to_json();
                        resolve(json, gql.generated())
                    })
                    .collect();
                Value::Array(items).to_string().into_bytes()
            }
            Payload::RawJson(v) => v.to_string().into_bytes(),
            Payload::RawBytes(bytes) => bytes.clone(),
            Payload::Empty => Vec::new(),
            Payload::Form(gql) => {
                let (json, kind) = gql.to_json();
                op = kind;
                let form = query_string(&resolve(json, gql.generated()));
                if matches!(method, Method::Get | Method::Head) {
                    query_in_uri = true;
                    // A GET form puts its fields in the query string.
                    uri.push(if uri.contains('?') { '&' } else { '?' });
                    uri.push_str(&form);
                    Vec::new()
                } else {
                    form.into_bytes()
                }
            }
            Payload::Multipart { body, map, file } => {
                let (json, kind) = body.to_json();
                op = kind;
                let operations = resolve(json, body.generated()).to_string();
                let map = match map {
                    crate::input::MultipartMap::Valid => Some(r#"{"0": ["variables.file"]}"#),
                    crate::input::MultipartMap::Garbage => Some(r#"{"0": ["query"], "1": 5}"#),
                    crate::input::MultipartMap::Unknown => Some(r#"{"9": ["variables.x.y.z"]}"#),
                    crate::input::MultipartMap::Missing => None,
                };
                content_type = Some(b"multipart/form-data; boundary=fuzzboundary".to_vec());
                let mut out = Vec::new();
                out.extend_from_slice(b"--fuzzboundary\r\nContent-Disposition: form-data; name=\"operations\"\r\n\r\n");
                out.extend_from_slice(operations.as_bytes());
                if let Some(map) = map {
                    out.extend_from_slice(b"\r\n--fuzzboundary\r\nContent-Disposition: form-data; name=\"map\"\r\n\r\n");
                    out.extend_from_slice(map.as_bytes());
                }
                out.extend_from_slice(b"\r\n--fuzzboundary\r\nContent-Disposition: form-data; name=\"0\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\n");
                out.extend_from_slice(file);
                out.extend_from_slice(b"\r\n--fuzzboundary--\r\n");
                out
            }
        };

        if matches!(method, Method::Get | Method::Head) && !query_in_uri {
            op = None;
        }
        let Ok(mut builder) = Request::builder()
            .method(method.as_http())
            .uri(uri.as_str())
            .body(())
            .map(|r| r.into_parts().0)
        else {
            return false;
        };
        let headers = &mut builder.headers;
        let mut insert = |name: header::HeaderName, value: &[u8]| {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                headers.append(name, value);
            }
        };
        let full = self.token_full.as_str();
        let auth = match &step.auth {
            Auth::Full => {
                insert(header::AUTHORIZATION, format!("Bearer {full}").as_bytes());
                AuthClass::Full
            }
            Auth::ReadOnly => {
                insert(
                    header::AUTHORIZATION,
                    format!("Bearer {}", self.token_read).as_bytes(),
                );
                AuthClass::ReadOnly
            }
            Auth::FullSpelledOddly(v) => {
                let value = match v % 4 {
                    0 => format!("bearer {full}"),
                    1 => format!("Bearer   {full}  "),
                    2 => format!("BEARER {full}"),
                    _ => format!("\tBearer {full}"),
                };
                insert(header::AUTHORIZATION, value.as_bytes());
                AuthClass::Full
            }
            Auth::Missing => AuthClass::Invalid,
            Auth::Garbage(s) => {
                insert(header::AUTHORIZATION, format!("Bearer {s}").as_bytes());
                AuthClass::Invalid
            }
            Auth::Mutated { at, byte } => {
                let mut token = full.as_bytes().to_vec();
                let i = usize::from(*at) % token.len();
                token[i] = if token[i] == *byte {
                    byte.wrapping_add(1)
                } else {
                    *byte
                };
                let mut value = b"Bearer ".to_vec();
                value.extend_from_slice(&token);
                insert(header::AUTHORIZATION, &value);
                AuthClass::Invalid
            }
            Auth::Malformed(v) => {
                let value = match v % 8 {
                    0 => "Basic dXNlcjpwYXNz".to_owned(),
                    1 => "Bearer".to_owned(),
                    2 => "Bearer ".to_owned(),
                    3 => format!("Token {full}"),
                    4 => full.to_owned(),
                    5 => format!("Bearer{full}"),
                    6 => format!("Bearer {full} extra"),
                    _ => format!("Bearer {full},Bearer {full}"),
                };
                insert(header::AUTHORIZATION, value.as_bytes());
                AuthClass::Invalid
            }
            Auth::RawHeader(bytes) => {
                insert(header::AUTHORIZATION, bytes);
                AuthClass::Invalid
            }
            Auth::Twice => {
                insert(header::AUTHORIZATION, format!("Bearer {full}").as_bytes());
                insert(header::AUTHORIZATION, b"Bearer nope");
                AuthClass::Unknown
            }
        };
        if let Some(ct) = &content_type {
            insert(header::CONTENT_TYPE, ct);
        }
        if let Some(accept) = step.accept.value() {
            insert(header::ACCEPT, &accept);
        }
        if let Some(id) = &step.request_id {
            insert(header::HeaderName::from_static("x-request-id"), &id.0);
        }

        // Everything sent, lower-cased, to tell an echo from a leak.
        let mut sent = uri.clone();
        for (name, value) in &builder.headers {
            sent.push('\n');
            sent.push_str(name.as_str());
            sent.push_str(": ");
            sent.push_str(&String::from_utf8_lossy(value.as_bytes()));
        }
        sent.push('\n');
        sent.push_str(&String::from_utf8_lossy(&body));
        let sent_lower = sent.to_lowercase();

        // The Content-Type actually sent (a value that is not a valid header is dropped).
        let sent_content_type = builder
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes().to_vec());
        let request = Request::from_parts(builder, Body::from(body.clone()));
        let (status, response_headers, response_body) = self.send(request);

        let exchange = Exchange {
            method,
            path: &step.path,
            accept: &step.accept,
            auth,
            op,
            is_batch,
            sent_content_type: sent_content_type.as_deref(),
            sent_lower: &sent_lower,
            status,
            headers: &response_headers,
            body: &response_body,
        };
        let world = World {
            own_ids: &self.own_ids,
            foreign_ids: &self.foreign_ids,
            foreign_markers: FOREIGN_MARKERS,
            extra_codes: &self.extra_codes,
        };
        let (violations, parsed) = checks::check(&exchange, &world);
        let report = || {
            let mut headers = String::new();
            for (name, value) in &response_headers {
                headers.push_str(&format!("{name}: {value:?}\n"));
            }
            format!(
                "--- request ({auth:?}, op {op:?}) ---\n{method:?} {sent}\n--- response ---\n{status}\n{headers}\n{}",
                truncate(&String::from_utf8_lossy(&response_body), 8000)
            )
        };
        if self.verbose {
            eprintln!("{}\n", report());
        }
        if !violations.is_empty() {
            panic!(
                "INVARIANT VIOLATED:\n- {}\n{}",
                violations.join("\n- "),
                truncate(&report(), 20_000)
            );
        }
        if matches!(auth, AuthClass::Full | AuthClass::ReadOnly)
            && let Some(json) = parsed
        {
            local.collect(&json);
        }
        used_foreign && method == Method::Post && op != Some(OpKind::Query)
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &s[..end], s.len())
}

/// Remove the databases of earlier fuzz processes that are gone.
fn remove_stale_dirs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let alive =
            cfg!(target_os = "linux") && std::path::Path::new(&format!("/proc/{pid}")).exists();
        if !alive && cfg!(target_os = "linux") {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
