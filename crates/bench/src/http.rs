//! The server side of the benchmark: clients that send the query shapes over HTTP.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use profilegraph::shapes::{
    Q1_PROFILE_PAGE, Q2_LOOKUP, Q3_EXPORT, Q4_CREATE_NOTE, Q4_MOVE_CONTACT,
};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::{Value, json};

use crate::cli::Shape;
use crate::inputs::{Inputs, Move, contact_gid, profile_gid};
use crate::load::{Client, Sample};

/// What every client of one server shares.
pub struct Target {
    /// Pooled keep-alive connections.
    pub client: reqwest::Client,
    /// `http://127.0.0.1:PORT/graphql`.
    pub url: String,
    /// `Bearer <token>`.
    pub authorization: String,
}

/// The clients for `shape`, each starting at its own place in the inputs.
pub fn clients(
    shape: Shape,
    target: &Arc<Target>,
    inputs: &Inputs,
    count: usize,
) -> Vec<Box<dyn Client>> {
    (0..count)
        .map(|index| {
            let work = match shape {
                Shape::Q1 | Shape::Q1Single => Work::Q1(rotated(&inputs.profiles, index, count)),
                Shape::Q2 => Work::Q2(rotated(&inputs.terms, index, count)),
                Shape::Q3 => Work::Q3(rotated(&inputs.cursors, index, count)),
                Shape::Q4 => Work::Q4 {
                    moves: inputs.moves[index % inputs.moves.len()].clone(),
                    index,
                },
            };
            Box::new(HttpClient {
                target: Arc::clone(target),
                work,
                step: 0,
            }) as Box<dyn Client>
        })
        .collect()
}

/// `items` starting at client `index`'s share, so that the clients ask for different
/// rows at any moment.
pub fn rotated<T: Clone>(items: &[T], index: usize, count: usize) -> Vec<T> {
    let start = items.len() * index / count.max(1);
    items[start..]
        .iter()
        .chain(&items[..start])
        .cloned()
        .collect()
}

enum Work {
    Q1(Vec<uuid::Uuid>),
    Q2(Vec<String>),
    Q3(Vec<Option<String>>),
    Q4 { moves: Vec<Move>, index: usize },
}

struct HttpClient {
    target: Arc<Target>,
    work: Work,
    step: usize,
}

/// Just enough of a GraphQL response to tell success from failure without building
/// the whole document in memory.
#[derive(Deserialize)]
struct Envelope {
    data: Option<IgnoredAny>,
    errors: Option<Vec<Value>>,
}

impl HttpClient {
    /// The next operation, its request body, and the move it makes (flipped once the
    /// server confirms it).
    fn next(&mut self) -> (&'static str, Value, Option<Move>) {
        let step = self.step;
        self.step += 1;
        match &mut self.work {
            Work::Q1(ids) => (
                "Q1",
                json!({ "query": Q1_PROFILE_PAGE, "variables": { "id": profile_gid(ids[step % ids.len()]) } }),
                None,
            ),
            Work::Q2(terms) => (
                "Q2",
                json!({ "query": Q2_LOOKUP, "variables": { "q": terms[step % terms.len()] } }),
                None,
            ),
            Work::Q3(cursors) => (
                "Q3",
                json!({ "query": Q3_EXPORT, "variables": { "cursor": cursors[step % cursors.len()] } }),
                None,
            ),
            Work::Q4 { moves, index } => {
                // Even steps move a contact to its other profile; odd steps leave a note on
                // the profile it is in now. Each client walks its own moves in turn.
                let m = &moves[(step / 2) % moves.len()];
                let (now_in, next) = m.whereabouts();
                if step.is_multiple_of(2) {
                    (
                        "move",
                        json!({ "query": Q4_MOVE_CONTACT, "variables": { "profileId": profile_gid(next), "contactId": contact_gid(m.contact) } }),
                        Some(m.clone()),
                    )
                } else {
                    (
                        "note",
                        json!({ "query": Q4_CREATE_NOTE, "variables": { "profileId": profile_gid(now_in), "body": format!("Bench note {index}-{step}: called back about the order.") } }),
                        None,
                    )
                }
            }
        }
    }
}

impl Client for HttpClient {
    fn step(&mut self) -> BoxFuture<'_, Sample> {
        let (op, body, moved) = self.next();
        let target = Arc::clone(&self.target);
        Box::pin(async move {
            let response = match target
                .client
                .post(&target.url)
                .header(reqwest::header::AUTHORIZATION, &target.authorization)
                .json(&body)
                .send()
                .await
            {
                Ok(response) => response,
                Err(err) => return Sample::failed(op, None, format!("request failed: {err}")),
            };
            let status = response.status();
            let statements = response
                .headers()
                .get("x-sql-statements")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let bytes = match response.bytes().await {
                Ok(bytes) => bytes,
                Err(err) => {
                    return Sample::failed(op, statements, format!("reading the body: {err}"));
                }
            };
            if !status.is_success() {
                return Sample::failed(
                    op,
                    statements,
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
                }) if !errors.is_empty() => Sample::failed(
                    op,
                    statements,
                    format!("GraphQL errors: {}", Value::from(errors)),
                ),
                Ok(Envelope { data: Some(_), .. }) if statements.is_some() => {
                    if let Some(moved) = moved {
                        moved.flip();
                    }
                    Sample::ok(op, statements)
                }
                Ok(Envelope { data: Some(_), .. }) => Sample::failed(
                    op,
                    None,
                    "no x-sql-statements header: is PROFILEGRAPH_SQL_STATS on?".into(),
                ),
                Ok(_) => Sample::failed(op, statements, "a response without data".into()),
                Err(err) => {
                    Sample::failed(op, statements, format!("not a GraphQL response: {err}"))
                }
            }
        })
    }
}

/// At most the first 500 bytes of `text` (cut at a character boundary), for error messages.
pub fn clip(text: &str) -> &str {
    let mut end = text.len().min(500);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
