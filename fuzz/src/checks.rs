//! The invariants every response must keep. A violation is a bug: the harness panics with
//! the request and the response, which libFuzzer records as a crash.

use http::{HeaderMap, StatusCode, header};
use serde_json::Value;

use crate::grammar::OpKind;
use crate::input::{Accept, AuthClass, ContentType, Method, Path};

/// The `extensions.code` values clients may see (`profilegraph_schema::ErrorCode`, minus
/// INTERNAL, which is checked separately and is always a violation). Codes added later can
/// be allowed with `PROFILEGRAPH_FUZZ_EXTRA_CODES=A,B` until this list is updated.
pub const KNOWN_CODES: &[&str] = &[
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "NOT_FOUND",
    "BAD_USER_INPUT",
    "CONFLICT",
    "RATE_LIMITED",
    "SERVICE_UNAVAILABLE",
];

/// Words that must never reach a client unless the client sent them itself: database and
/// driver text, paths, panics.
pub const LEAK_WORDS: &[&str] = &[
    "sql",
    "postgres",
    "/root",
    "/home/",
    "panicked",
    "database is locked",
    "constraint",
    "no such table",
    "no such column",
    "syntax error",
    ".rs:",
    "dberr",
    "sea_orm",
    "sea-orm",
    "stack backtrace",
    "connectionacquire",
];

/// What was sent and what came back.
pub struct Exchange<'a> {
    pub method: Method,
    pub path: &'a Path,
    pub content_type: &'a ContentType,
    pub accept: &'a Accept,
    pub auth: AuthClass,
    /// The operation's kind, when the generator knows it for sure.
    pub op: Option<OpKind>,
    pub is_batch: bool,
    pub is_multipart: bool,
    /// Everything sent (URI, header values, body), lower-cased: a word the client sent
    /// may come back in an error ("unknown field `sqlx`") without being a leak.
    pub sent_lower: &'a str,
    pub status: StatusCode,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// What the checks need to know about the world.
pub struct World<'a> {
    /// Global ids of the demo workspace's rows (the caller's own data).
    pub own_ids: &'a [String],
    /// Global ids of the other workspace's rows: never in the caller's data.
    pub foreign_ids: &'a [String],
    /// Texts only the other workspace's data holds.
    pub foreign_markers: &'a [&'a str],
    pub extra_codes: &'a [String],
    /// Also check the GraphQL-over-HTTP rules of issue 5 (415, 405, 406, 4xx on request
    /// errors), which the server does not keep yet.
    pub strict: bool,
}

/// Every violated invariant, in words; empty when the exchange is fine.
pub fn check(ex: &Exchange<'_>, world: &World<'_>) -> (Vec<String>, Option<Value>) {
    let mut bad = Vec::new();
    let status = ex.status;
    let graphql = ex.path.is_graphql();

    // 1. No 5xx but 503 (database unavailable, pool exhausted, request timeout).
    if status.is_server_error() && status != StatusCode::SERVICE_UNAVAILABLE {
        bad.push(format!("server error status {status}"));
    }

    // 2. JSON where JSON is due.
    let response_type = ex
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let json_type = response_type.starts_with("application/json")
        || response_type.starts_with("application/graphql-response+json");
    let is_html = response_type.starts_with("text/html");
    let parsed: Option<Value> = serde_json::from_slice(ex.body).ok();
    let must_be_json = json_type
        || status == StatusCode::UNAUTHORIZED
        || (graphql && ex.method == Method::Post && status == StatusCode::OK);
    if must_be_json && parsed.is_none() {
        bad.push(format!(
            "body is not JSON (status {status}, content-type {response_type:?})"
        ));
    }
    if parsed.is_none() && !ex.body.is_empty() {
        let allowed = status.is_client_error()
            || status == StatusCode::SERVICE_UNAVAILABLE
            || (status == StatusCode::OK && (is_html || !graphql));
        if !allowed {
            bad.push(format!("non-JSON body with status {status}"));
        }
        if world.strict && graphql && status == StatusCode::BAD_REQUEST {
            bad.push("strict: a 400 from /graphql has a non-JSON body".into());
        }
        if !is_html {
            leak_check(&String::from_utf8_lossy(ex.body), ex.sent_lower, &mut bad);
        }
    }

    // 3. The shape of GraphQL responses, the error codes, and no leaks in errors.
    let mut responses: Vec<&Value> = Vec::new();
    if let Some(json) = &parsed
        && graphql
    {
        match json {
            Value::Array(items) if ex.is_batch => responses.extend(items.iter()),
            other => responses.push(other),
        }
    }
    for response in &responses {
        check_shape(response, world, ex.sent_lower, &mut bad);
    }

    // 4. Credentials: no data without a valid token; no writes with a read token.
    for response in &responses {
        let data = response.get("data").filter(|d| !d.is_null());
        match (ex.auth, data) {
            (AuthClass::Invalid, Some(data)) => {
                let text = data.to_string();
                if !ex.sent_lower.contains("__") {
                    bad.push("data returned without a valid token".into());
                } else if world.own_ids.iter().any(|id| text.contains(id.as_str()))
                    || text.contains("Demo Company")
                {
                    bad.push("workspace data returned without a valid token".into());
                }
            }
            (AuthClass::ReadOnly, Some(Value::Object(fields)))
                if ex.op == Some(OpKind::Mutation) && !ex.is_batch =>
            {
                if fields.values().any(|v| !v.is_null()) {
                    bad.push("a mutation succeeded with a read-only token".into());
                }
            }
            _ => {}
        }
    }

    // 5. Tenancy: nothing of the other workspace in the caller's data.
    for response in &responses {
        if let Some(data) = response.get("data").filter(|d| !d.is_null()) {
            let text = data.to_string();
            for id in world.foreign_ids {
                if text.contains(id.as_str()) {
                    bad.push(format!("the other workspace's id {id} is in the data"));
                }
            }
            for marker in world.foreign_markers {
                if text.contains(marker) && !ex.sent_lower.contains(&marker.to_lowercase()) {
                    bad.push(format!(
                        "the other workspace's data ({marker}) is in the data"
                    ));
                }
            }
        }
    }

    // 6. GraphQL over HTTP (issue 5), once the server keeps it.
    if world.strict && graphql {
        if ex.method == Method::Post && ex.content_type.must_be_refused() && !ex.is_multipart {
            if status != StatusCode::UNSUPPORTED_MEDIA_TYPE {
                bad.push(format!("strict: a non-JSON POST got {status}, not 415"));
            }
        } else if ex.method == Method::Get && ex.op == Some(OpKind::Mutation) {
            let allow = ex
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if status != StatusCode::METHOD_NOT_ALLOWED || !allow.contains("POST") {
                bad.push(format!(
                    "strict: a mutation over GET got {status} (Allow {allow:?}), not 405 with Allow: POST"
                ));
            }
        } else if ex.method == Method::Post
            && ex.accept.unacceptable()
            && ex.content_type.is_json()
            && status != StatusCode::NOT_ACCEPTABLE
        {
            bad.push(format!(
                "strict: Accept {:?} got {status}, not 406",
                ex.accept
            ));
        }
        if ex.method == Method::Post
            && matches!(ex.accept, Accept::GraphqlResponse)
            && status == StatusCode::OK
            && !ex.is_batch
        {
            for response in &responses {
                let request_error = response.get("data").is_none_or(Value::is_null)
                    && response
                        .get("errors")
                        .and_then(Value::as_array)
                        .is_some_and(|errors| errors.iter().all(|e| e.get("path").is_none()));
                if request_error {
                    bad.push("strict: a request error was answered with 200".into());
                }
            }
        }
    }

    (bad, parsed)
}

fn check_shape(response: &Value, world: &World<'_>, sent_lower: &str, bad: &mut Vec<String>) {
    let Value::Object(obj) = response else {
        bad.push("a GraphQL response that is not an object".into());
        return;
    };
    for key in obj.keys() {
        if !matches!(key.as_str(), "data" | "errors" | "extensions") {
            bad.push(format!("unexpected top-level member {key:?}"));
        }
    }
    if !obj.contains_key("data") && !obj.contains_key("errors") {
        bad.push("a response with neither data nor errors".into());
    }
    if let Some(data) = obj.get("data")
        && !(data.is_null() || data.is_object())
    {
        bad.push("data is neither null nor an object".into());
    }
    let Some(errors) = obj.get("errors") else {
        return;
    };
    let Some(errors) = errors.as_array() else {
        bad.push("errors is not a list".into());
        return;
    };
    if errors.is_empty() {
        bad.push("errors is an empty list".into());
    }
    for error in errors {
        if !error.get("message").is_some_and(Value::is_string) {
            bad.push(format!("an error without a string message: {error}"));
        }
        let Some(ext) = error.get("extensions") else {
            continue;
        };
        let Some(ext) = ext.as_object() else {
            bad.push(format!("extensions is not an object: {error}"));
            continue;
        };
        if let Some(code) = ext.get("code") {
            match code.as_str() {
                Some("INTERNAL") => bad.push(format!("INTERNAL error: {error}")),
                Some(code)
                    if KNOWN_CODES.contains(&code)
                        || world.extra_codes.iter().any(|c| c == code) => {}
                Some(code) => bad.push(format!("unknown error code {code:?}")),
                None => bad.push(format!("a code that is not a string: {code}")),
            }
        }
    }
    leak_check(&Value::Array(errors.clone()).to_string(), sent_lower, bad);
}

/// Flag words of [`LEAK_WORDS`] in `text` that the client did not send.
fn leak_check(text: &str, sent_lower: &str, bad: &mut Vec<String>) {
    let lower = text.to_lowercase();
    for word in LEAK_WORDS {
        if lower.contains(word) && !sent_lower.contains(word) {
            bad.push(format!(
                "leak: {word:?} in an error the client did not provoke"
            ));
        }
    }
}
