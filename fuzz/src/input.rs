//! The fuzzer's input: a few HTTP requests, each with a method, path, headers and body.
//!
//! Bodies are mostly well-formed GraphQL-over-HTTP requests whose query comes from the
//! schema grammar ([`crate::grammar`]), a real query shape of the product (possibly edited
//! byte-wise), or raw text; the rest are arbitrary JSON, raw bytes, form or multipart
//! bodies. Choices are weighted toward what reaches resolvers.

use arbitrary::{Arbitrary, Result, Unstructured};
use serde_json::{Map, Value, json};

use crate::grammar::{Gen, OpKind, Operation};

/// Everything one fuzz input does: one to three requests, in order.
#[derive(Debug)]
pub struct FuzzInput {
    pub steps: Vec<Step>,
}

impl<'a> Arbitrary<'a> for FuzzInput {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let n = u.int_in_range(1..=3u8)?;
        let mut steps = Vec::new();
        for _ in 0..n {
            if u.is_empty() && !steps.is_empty() {
                break;
            }
            steps.push(Step::arbitrary(u)?);
        }
        Ok(FuzzInput { steps })
    }
}

/// One HTTP request.
#[derive(Debug, Arbitrary)]
pub struct Step {
    pub method: Method,
    pub path: Path,
    pub auth: Auth,
    pub content_type: ContentType,
    pub accept: Accept,
    pub request_id: Option<RequestId>,
    pub payload: Payload,
}

/// Percent in 0..100 from the input; 0 once it is used up, so an exhausted input picks the
/// first (most common) choice of every weighted list.
fn percent(u: &mut Unstructured<'_>) -> Result<u8> {
    if u.is_empty() {
        return Ok(0);
    }
    u.int_in_range(0..=99u8)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Post,
    Get,
    Put,
    Delete,
    Options,
    Head,
    Patch,
}

impl<'a> Arbitrary<'a> for Method {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=81 => Method::Post,
            82..=91 => Method::Get,
            92..=93 => Method::Put,
            94 => Method::Delete,
            95..=96 => Method::Options,
            97 => Method::Head,
            _ => Method::Patch,
        })
    }
}

impl Method {
    pub fn as_http(self) -> http::Method {
        match self {
            Method::Post => http::Method::POST,
            Method::Get => http::Method::GET,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
            Method::Options => http::Method::OPTIONS,
            Method::Head => http::Method::HEAD,
            Method::Patch => http::Method::PATCH,
        }
    }
}

#[derive(Debug, Clone)]
pub enum Path {
    Graphql,
    GraphqlSlash,
    GraphqlWithQuery(String),
    HealthLive,
    HealthReady,
    Root,
    Raw(String),
}

impl<'a> Arbitrary<'a> for Path {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=91 => Path::Graphql,
            92 => Path::GraphqlSlash,
            93..=94 => Path::GraphqlWithQuery(String::arbitrary(u)?),
            95 => Path::HealthLive,
            96 => Path::HealthReady,
            97 => Path::Root,
            _ => Path::Raw(String::arbitrary(u)?),
        })
    }
}

impl Path {
    pub fn is_graphql(&self) -> bool {
        matches!(self, Path::Graphql | Path::GraphqlWithQuery(_))
    }

    /// The path and query string (without the GraphQL parameters of a GET).
    pub fn render(&self) -> String {
        match self {
            Path::Graphql => "/graphql".into(),
            Path::GraphqlSlash => "/graphql/".into(),
            Path::GraphqlWithQuery(q) => format!("/graphql?{}", url_encode(q)),
            Path::HealthLive => "/health/live".into(),
            Path::HealthReady => "/health/ready".into(),
            Path::Root => "/".into(),
            Path::Raw(raw) => format!("/{}", url_encode(raw)),
        }
    }
}

/// Who the request claims to be.
#[derive(Debug, Clone)]
pub enum Auth {
    /// The demo workspace's `read,write,admin` token.
    Full,
    /// A `read` token of the demo workspace.
    ReadOnly,
    /// The full token with odd spelling that must still work: `bearer`, extra spaces.
    FullSpelledOddly(u8),
    /// No `Authorization` header.
    Missing,
    /// `Bearer <garbage>`.
    Garbage(String),
    /// The full token with one byte changed.
    Mutated { at: u8, byte: u8 },
    /// Another scheme, or a malformed header.
    Malformed(u8),
    /// Raw header bytes.
    RawHeader(Vec<u8>),
    /// Two `Authorization` headers.
    Twice,
}

impl<'a> Arbitrary<'a> for Auth {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=71 => Auth::Full,
            72..=81 => Auth::ReadOnly,
            82..=83 => Auth::FullSpelledOddly(u8::arbitrary(u)?),
            84..=87 => Auth::Missing,
            88..=90 => Auth::Garbage(String::arbitrary(u)?),
            91..=93 => Auth::Mutated {
                at: u8::arbitrary(u)?,
                byte: u8::arbitrary(u)?,
            },
            94..=96 => Auth::Malformed(u8::arbitrary(u)?),
            97..=98 => Auth::RawHeader(Vec::arbitrary(u)?),
            _ => Auth::Twice,
        })
    }
}

/// What the server should make of a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthClass {
    /// The demo workspace, every scope.
    Full,
    /// The demo workspace, `read` only.
    ReadOnly,
    /// No valid token: nothing may be read or written.
    Invalid,
    /// Not obvious (e.g. two headers): no auth invariant is checked.
    Unknown,
}

#[derive(Debug, Clone)]
pub enum ContentType {
    Json,
    JsonCharset,
    GraphqlResponseJson,
    Missing,
    TextPlain,
    FormUrlencoded,
    ApplicationGraphql,
    JsonUpperCase,
    Raw(Vec<u8>),
}

impl<'a> Arbitrary<'a> for ContentType {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=77 => ContentType::Json,
            78..=81 => ContentType::JsonCharset,
            82..=83 => ContentType::GraphqlResponseJson,
            84..=87 => ContentType::Missing,
            88..=90 => ContentType::TextPlain,
            91..=93 => ContentType::FormUrlencoded,
            94..=95 => ContentType::ApplicationGraphql,
            96 => ContentType::JsonUpperCase,
            _ => ContentType::Raw(Vec::arbitrary(u)?),
        })
    }
}

impl ContentType {
    /// The header value, if one is sent.
    pub fn value(&self) -> Option<Vec<u8>> {
        let s: &str = match self {
            ContentType::Json => "application/json",
            ContentType::JsonCharset => "application/json; charset=utf-8",
            ContentType::GraphqlResponseJson => "application/graphql-response+json",
            ContentType::Missing => return None,
            ContentType::TextPlain => "text/plain",
            ContentType::FormUrlencoded => "application/x-www-form-urlencoded",
            ContentType::ApplicationGraphql => "application/graphql",
            ContentType::JsonUpperCase => "APPLICATION/JSON",
            ContentType::Raw(bytes) => return Some(bytes.clone()),
        };
        Some(s.as_bytes().to_vec())
    }

    /// Whether this is a JSON media type a GraphQL-over-HTTP server must take.
    pub fn is_json(&self) -> bool {
        matches!(
            self,
            ContentType::Json | ContentType::JsonCharset | ContentType::JsonUpperCase
        )
    }

    /// Whether the GraphQL-over-HTTP rules say a POST with it must be refused with 415.
    pub fn must_be_refused(&self) -> bool {
        matches!(
            self,
            ContentType::Missing | ContentType::TextPlain | ContentType::FormUrlencoded
        )
    }
}

#[derive(Debug, Clone)]
pub enum Accept {
    Missing,
    Json,
    GraphqlResponse,
    Any,
    Html,
    Weighted,
    Png,
    Raw(Vec<u8>),
}

impl<'a> Arbitrary<'a> for Accept {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=49 => Accept::Missing,
            50..=64 => Accept::Json,
            65..=79 => Accept::GraphqlResponse,
            80..=86 => Accept::Any,
            87..=89 => Accept::Html,
            90..=93 => Accept::Weighted,
            94..=96 => Accept::Png,
            _ => Accept::Raw(Vec::arbitrary(u)?),
        })
    }
}

impl Accept {
    pub fn value(&self) -> Option<Vec<u8>> {
        let s: &str = match self {
            Accept::Missing => return None,
            Accept::Json => "application/json",
            Accept::GraphqlResponse => "application/graphql-response+json",
            Accept::Any => "*/*",
            Accept::Html => "text/html",
            Accept::Weighted => {
                "application/graphql-response+json;q=0.9, application/json;q=0.8, */*;q=0.1"
            }
            Accept::Png => "image/png",
            Accept::Raw(bytes) => return Some(bytes.clone()),
        };
        Some(s.as_bytes().to_vec())
    }

    /// Whether `Accept` allows neither JSON form (the server must answer 406).
    pub fn unacceptable(&self) -> bool {
        matches!(self, Accept::Html | Accept::Png)
    }
}

/// An `x-request-id` header, which the server echoes into every error.
#[derive(Debug, Clone, Arbitrary)]
pub struct RequestId(pub Vec<u8>);

/// The body (or, for GET, the query string).
#[derive(Debug)]
pub enum Payload {
    Single(GqlBody),
    Batch(Vec<GqlBody>),
    RawJson(Value),
    RawBytes(Vec<u8>),
    Empty,
    Form(GqlBody),
    Multipart {
        body: GqlBody,
        map: MultipartMap,
        file: Vec<u8>,
    },
}

#[derive(Debug, Clone, Copy, Arbitrary)]
pub enum MultipartMap {
    Valid,
    Missing,
    Garbage,
    Unknown,
}

impl<'a> Arbitrary<'a> for Payload {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=83 => Payload::Single(GqlBody::arbitrary(u)?),
            84..=86 => {
                let n = u.int_in_range(0..=12u8)?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(GqlBody::arbitrary(u)?);
                }
                Payload::Batch(items)
            }
            87..=89 => Payload::RawJson(Gen::new(u).arbitrary_json(0)?),
            90..=93 => Payload::RawBytes(Vec::arbitrary(u)?),
            94 => Payload::Empty,
            95..=96 => Payload::Form(GqlBody::arbitrary(u)?),
            _ => Payload::Multipart {
                body: GqlBody::arbitrary(u)?,
                map: MultipartMap::arbitrary(u)?,
                file: Vec::arbitrary(u)?,
            },
        })
    }
}

/// One GraphQL request: `query`, `variables`, `operationName`, `extensions`.
#[derive(Debug)]
pub struct GqlBody {
    pub query: QuerySource,
    pub variables: Vars,
    pub operation_name: OpName,
    pub extensions: Option<Value>,
}

impl<'a> Arbitrary<'a> for GqlBody {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        let query = QuerySource::arbitrary(u)?;
        let variables = match percent(u)? {
            0..=89 => Vars::AsGenerated,
            90..=91 => Vars::Omitted,
            92..=93 => Vars::Null,
            94..=95 => Vars::Garbage(Gen::new(u).arbitrary_json(0)?),
            96..=97 => Vars::Extra(String::arbitrary(u)?, Gen::new(u).arbitrary_json(0)?),
            98 => Vars::AsString,
            _ => Vars::Array,
        };
        let operation_name = match percent(u)? {
            0..=89 => OpName::AsGenerated,
            90..=93 => OpName::Omitted,
            94..=95 => OpName::Null,
            96..=97 => OpName::Wrong(String::arbitrary(u)?),
            _ => OpName::NonString,
        };
        let extensions = if percent(u)? >= 97 {
            Some(Gen::new(u).arbitrary_json(0)?)
        } else {
            None
        };
        Ok(GqlBody {
            query,
            variables,
            operation_name,
            extensions,
        })
    }
}

#[derive(Debug)]
pub enum Vars {
    AsGenerated,
    Omitted,
    Null,
    Garbage(Value),
    Extra(String, Value),
    AsString,
    Array,
}

#[derive(Debug)]
pub enum OpName {
    AsGenerated,
    Omitted,
    Null,
    Wrong(String),
    NonString,
}

/// Where the query text comes from.
#[derive(Debug)]
pub enum QuerySource {
    /// The schema grammar.
    Grammar(Operation),
    /// A real query shape of the product, maybe edited.
    Seed {
        index: u8,
        arg: u8,
        edits: Vec<Edit>,
    },
    /// Any text.
    Raw(String),
    /// No `query` member.
    Missing,
    /// A `query` that is not a string.
    NotAString(Value),
}

impl<'a> Arbitrary<'a> for QuerySource {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Ok(match percent(u)? {
            0..=76 => QuerySource::Grammar(Operation::arbitrary(u)?),
            77..=89 => {
                let index = u8::arbitrary(u)?;
                let arg = u8::arbitrary(u)?;
                let edits = if percent(u)? < 30 {
                    let n = u.int_in_range(1..=4u8)?;
                    let mut edits = Vec::new();
                    for _ in 0..n {
                        edits.push(Edit::arbitrary(u)?);
                    }
                    edits
                } else {
                    Vec::new()
                };
                QuerySource::Seed { index, arg, edits }
            }
            90..=96 => QuerySource::Raw(String::arbitrary(u)?),
            97 => QuerySource::Missing,
            _ => QuerySource::NotAString(Gen::new(u).arbitrary_json(0)?),
        })
    }
}

/// A byte-level edit of a seed query.
#[derive(Debug, Clone, Arbitrary)]
pub enum Edit {
    Delete { at: u16, len: u8 },
    Insert { at: u16, text: String },
    Duplicate { at: u16, len: u8 },
}

impl Edit {
    fn apply(&self, text: &mut String) {
        let boundary = |text: &str, at: u16| {
            if text.is_empty() {
                return 0;
            }
            let mut i = usize::from(at) % (text.len() + 1);
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match self {
            Edit::Delete { at, len } => {
                let start = boundary(text, *at);
                let mut end = (start + usize::from(*len)).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.replace_range(start..end, "");
            }
            Edit::Insert { at, text: insert } => {
                let at = boundary(text, *at);
                text.insert_str(at, insert);
            }
            Edit::Duplicate { at, len } => {
                let start = boundary(text, *at);
                let mut end = (start + usize::from(*len)).min(text.len());
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                let copy = text[start..end].to_owned();
                text.insert_str(end, &copy);
            }
        }
    }
}

/// The README's first query.
const README_VIEWER: &str = "{ viewer { workspace { name slug } agent { name email } scopes } }";

impl QuerySource {
    /// The query text (None when the request has no string query), its variables, its
    /// operation name, and its kind when known.
    fn resolve(
        &self,
    ) -> (
        Option<Value>,
        Map<String, Value>,
        Option<String>,
        Option<OpKind>,
    ) {
        use profilegraph::shapes;
        match self {
            QuerySource::Grammar(op) => (
                Some(Value::String(op.text.clone())),
                op.variables.clone(),
                op.name.clone(),
                Some(op.kind),
            ),
            QuerySource::Seed { index, arg, edits } => {
                let n = *arg;
                let (text, vars, name, kind) = match index % 6 {
                    0 => (
                        shapes::Q1_PROFILE_PAGE,
                        json!({ "id": format!("%%ID:a:Profile:{n}%%") }),
                        "ProfilePage",
                        OpKind::Query,
                    ),
                    1 => (
                        shapes::Q2_LOOKUP,
                        {
                            let terms = ["pe", "maria", "+31", "%", "", "\u{0}", "ß"];
                            json!({ "q": terms[usize::from(n) % terms.len()] })
                        },
                        "Lookup",
                        OpKind::Query,
                    ),
                    2 => (
                        shapes::Q3_EXPORT,
                        if n % 2 == 0 {
                            json!({ "cursor": null })
                        } else {
                            json!({ "cursor": format!("%%CUR:{n}%%") })
                        },
                        "Export",
                        OpKind::Query,
                    ),
                    3 => (
                        shapes::Q4_MOVE_CONTACT,
                        json!({
                            "profileId": format!("%%ID:h:Profile:{n}%%"),
                            "contactId": format!("%%ID:a:Contact:{}%%", n / 2),
                        }),
                        "Move",
                        OpKind::Mutation,
                    ),
                    4 => (
                        shapes::Q4_CREATE_NOTE,
                        json!({ "profileId": format!("%%ID:h:Profile:{n}%%"), "body": "a note" }),
                        "Note",
                        OpKind::Mutation,
                    ),
                    _ => (README_VIEWER, json!({}), "", OpKind::Query),
                };
                let mut text = text.to_owned();
                for edit in edits {
                    edit.apply(&mut text);
                }
                let vars = match vars {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                let name = (!name.is_empty()).then(|| name.to_owned());
                // An edited document may no longer be what it was.
                let kind = edits.is_empty().then_some(kind);
                (Some(Value::String(text)), vars, name, kind)
            }
            QuerySource::Raw(text) => (Some(Value::String(text.clone())), Map::new(), None, None),
            QuerySource::Missing => (None, Map::new(), None, None),
            QuerySource::NotAString(v) => (Some(v.clone()), Map::new(), None, None),
        }
    }
}

impl GqlBody {
    /// The request as a JSON object, and the operation kind when known.
    pub fn to_json(&self) -> (Value, Option<OpKind>) {
        let (query, vars, name, kind) = self.query.resolve();
        let mut obj = Map::new();
        if let Some(query) = query {
            obj.insert("query".into(), query);
        }
        match &self.variables {
            Vars::AsGenerated => {
                if !vars.is_empty() {
                    obj.insert("variables".into(), Value::Object(vars));
                }
            }
            Vars::Omitted => {}
            Vars::Null => {
                obj.insert("variables".into(), Value::Null);
            }
            Vars::Garbage(v) => {
                obj.insert("variables".into(), v.clone());
            }
            Vars::Extra(key, value) => {
                let mut vars = vars;
                vars.insert(key.clone(), value.clone());
                obj.insert("variables".into(), Value::Object(vars));
            }
            Vars::AsString => {
                obj.insert(
                    "variables".into(),
                    Value::String(Value::Object(vars).to_string()),
                );
            }
            Vars::Array => {
                obj.insert(
                    "variables".into(),
                    Value::Array(vars.into_values().collect()),
                );
            }
        }
        match &self.operation_name {
            OpName::AsGenerated => {
                if let Some(name) = name {
                    obj.insert("operationName".into(), Value::String(name));
                }
            }
            OpName::Omitted => {}
            OpName::Null => {
                obj.insert("operationName".into(), Value::Null);
            }
            OpName::Wrong(s) => {
                obj.insert("operationName".into(), Value::String(s.clone()));
            }
            OpName::NonString => {
                obj.insert("operationName".into(), json!(["Q"]));
            }
        }
        if let Some(ext) = &self.extensions {
            obj.insert("extensions".into(), ext.clone());
        }
        // With another operation name the server may run another operation than the one
        // generated (the document can hold a second one), so the kind is no longer known.
        let kind = kind.filter(|_| matches!(self.operation_name, OpName::AsGenerated));
        (Value::Object(obj), kind)
    }

    /// Whether ids in this request may be placeholders to resolve (generated queries only;
    /// raw text stays as the fuzzer wrote it).
    pub fn generated(&self) -> bool {
        matches!(
            self.query,
            QuerySource::Grammar(_) | QuerySource::Seed { .. }
        )
    }
}

/// A (placeholder-resolved) request object as GET query parameters, or as a form body.
pub fn query_string(json: &Value) -> String {
    let mut parts = Vec::new();
    if let Value::Object(obj) = json {
        for (key, value) in obj {
            let text = match value {
                Value::String(s) if key != "variables" && key != "extensions" => s.clone(),
                other => other.to_string(),
            };
            parts.push(format!("{}={}", url_encode(key), url_encode(&text)));
        }
    }
    parts.join("&")
}

/// Percent-encode everything but unreserved characters.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
