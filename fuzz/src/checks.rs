//! The invariants every response must keep. A violation is a bug: the harness panics with
//! the request and the response, which libFuzzer records as a crash.

use http::{HeaderMap, StatusCode, header};
use profilegraph_schema::ErrorCode;
use serde_json::Value;

use crate::grammar::OpKind;
use crate::input::{Accept, AuthClass, Method, Path};

/// Whether clients may see `code` as `extensions.code`: every code of
/// [`ErrorCode::ALL`], the one list of wire codes, but INTERNAL, which is checked
/// separately and is always a violation. Codes the server sends that aren't on that list
/// yet can be allowed with `PROFILEGRAPH_FUZZ_EXTRA_CODES=A,B` ([`World::extra_codes`]).
pub fn is_known_code(code: &str) -> bool {
    ErrorCode::ALL
        .iter()
        .any(|known| *known != ErrorCode::Internal && known.as_str() == code)
}

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
    pub accept: &'a Accept,
    pub auth: AuthClass,
    /// The operation's kind, when the generator knows it for sure.
    pub op: Option<OpKind>,
    pub is_batch: bool,
    /// The Content-Type sent, if any.
    pub sent_content_type: Option<&'a [u8]>,
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

    // A HEAD answer has no body, only the headers a GET would get.
    if ex.method == Method::Head {
        return (bad, None);
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
        if graphql && status == StatusCode::BAD_REQUEST {
            bad.push("a 400 from /graphql has a non-JSON body".into());
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
                if ex.op == Some(OpKind::Mutation)
                    && !ex.is_batch
                    && fields.values().any(|v| !v.is_null()) =>
            {
                bad.push("a mutation succeeded with a read-only token".into());
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

    // 6. GraphQL over HTTP (the MUST rules of the spec, as issue 5 asks).
    if graphql {
        check_http_rules(ex, &responses, &response_type, &mut bad);
    }

    (bad, parsed)
}

/// The GraphQL-over-HTTP rules: 415 for a POST that is not JSON, no mutation over GET
/// (405 with `Allow: POST`), 406 when `Accept` allows no JSON form, the response in the
/// form asked for, no `data` in a 4xx, the status of a refused document per media type,
/// and 429 with `Retry-After` and RATE_LIMITED over the rate limit.
fn check_http_rules(
    ex: &Exchange<'_>,
    responses: &[&Value],
    response_type: &str,
    bad: &mut Vec<String>,
) {
    let status = ex.status;
    let sent_json = ex.sent_content_type.is_some_and(|ct| {
        let ct = String::from_utf8_lossy(ct);
        ct.split(';')
            .next()
            .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
    });
    if ex.method == Method::Post {
        if !sent_json {
            if status != StatusCode::UNSUPPORTED_MEDIA_TYPE {
                bad.push(format!(
                    "a POST with Content-Type {:?} got {status}, not 415",
                    ex.sent_content_type.map(String::from_utf8_lossy)
                ));
            }
            return;
        }
        if ex.accept.unacceptable() && status != StatusCode::NOT_ACCEPTABLE {
            bad.push(format!("Accept {:?} got {status}, not 406", ex.accept));
        }
    }
    if ex.method == Method::Get && ex.op == Some(OpKind::Mutation) {
        if status.is_success() {
            bad.push(format!("a mutation over GET got {status}"));
        }
        if status == StatusCode::METHOD_NOT_ALLOWED {
            let allow = ex
                .headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !allow.contains("POST") {
                bad.push(format!("405 for a mutation over GET with Allow {allow:?}"));
            }
        }
    }
    let json_type = response_type.starts_with("application/json")
        || response_type.starts_with("application/graphql-response+json");
    if json_type {
        let wanted = match ex.accept {
            Accept::Json => Some("application/json"),
            Accept::GraphqlResponse | Accept::Weighted => Some("application/graphql-response+json"),
            _ => None,
        };
        // GET without a readable `query` parameter used to answer 400 as
        // application/json whatever `Accept` said; `AVOID=get-accept` still skips this
        // check for such answers.
        let known = ex.method == Method::Get
            && status == StatusCode::BAD_REQUEST
            && crate::grammar::avoiding("get-accept");
        if let Some(wanted) = wanted
            && !response_type.starts_with(wanted)
            && !known
        {
            bad.push(format!(
                "Accept {:?} answered with {response_type:?}",
                ex.accept
            ));
        }
    }
    // A document refused before it ran (parse and validation failures, the limits,
    // variables that don't coerce, an `operationName` that names nothing) has no `data`,
    // and its status is 400 in application/graphql-response+json and 200 in legacy
    // application/json (the specification's advice for each). A replayed idempotent
    // response keeps the status it was stored with, whatever this request accepts.
    let replayed = ex.headers.contains_key("idempotent-replayed");
    for response in responses {
        if status.is_client_error() && response.get("data").is_some() {
            bad.push(format!("a {status} carries `data`"));
        }
        let refused = response["errors"][0]["extensions"]["code"]
            == ErrorCode::GraphqlValidationFailed.as_str();
        if refused && !replayed {
            if response.get("data").is_some() {
                bad.push("a refused document carries `data`".into());
            }
            let wanted = if response_type.starts_with("application/graphql-response+json") {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::OK
            };
            if json_type && status != wanted {
                bad.push(format!(
                    "a refused document got {status} as {response_type:?}, not {wanted}"
                ));
            }
        }
    }
    if status == StatusCode::TOO_MANY_REQUESTS {
        if ex.headers.get(header::RETRY_AFTER).is_none() {
            bad.push("429 without Retry-After".into());
        }
        let limited = responses.iter().any(|r| {
            r.get("errors")
                .and_then(Value::as_array)
                .is_some_and(|errors| {
                    errors
                        .iter()
                        .any(|e| e["extensions"]["code"] == ErrorCode::RateLimited.as_str())
                })
        });
        if !limited {
            bad.push("429 without a RATE_LIMITED error".into());
        }
    }
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
                Some(code) if code == ErrorCode::Internal.as_str() => {
                    bad.push(format!("INTERNAL error: {error}"));
                }
                Some(code)
                    if is_known_code(code) || world.extra_codes.iter().any(|c| c == code) => {}
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
