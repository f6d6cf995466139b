//! A grammar of GraphQL operations over the real schema, driven by the fuzzer's bytes.
//!
//! Most generated documents are valid, so the fuzzer gets past parsing and validation into
//! the resolvers and the SQL behind them; a few percent of choices are deliberately wrong
//! (a missing required argument, a value of the wrong type, an unknown field, a depth or
//! alias count over the limits) to exercise the refusals.
//!
//! Ids and cursors are written as placeholders (see [`crate::pools`]) and replaced with real
//! ones just before the request is sent: ids of the demo workspace, ids a previous
//! response handed out, ids of the *other* workspace (which must behave as missing), or
//! forged ones. The generator itself stays a pure function of the input bytes.

use arbitrary::{Arbitrary, Result, Unstructured};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use serde_json::{Map, Value};

use crate::model::{Field, InputValue, Kind, Model, TypeRef};

/// The kinds of node a global id can name, as the server spells them.
pub const NODE_KINDS: [&str; 8] = [
    "Workspace",
    "Agent",
    "Channel",
    "Contact",
    "Profile",
    "CustomField",
    "Note",
    "ContactMoment",
];

/// Which kind of operation a generated document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpKind {
    Query,
    Mutation,
    Subscription,
}

/// A generated operation: the document, its variables and its name.
#[derive(Debug, Clone)]
pub struct Operation {
    pub text: String,
    pub variables: Map<String, Value>,
    pub name: Option<String>,
    pub kind: OpKind,
}

impl<'a> Arbitrary<'a> for Operation {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        Gen::new(u).operation()
    }
}

/// A value as both GraphQL literal and JSON variable value.
#[derive(Debug, Clone)]
pub enum Gv {
    Null,
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
    Enum(String),
    List(Vec<Gv>),
    Obj(Vec<(String, Gv)>),
    /// `$name` (literal only).
    Var(String),
    /// Any JSON value (as a literal: objects and lists of literals).
    Json(Value),
}

impl Gv {
    /// The value in GraphQL literal syntax.
    pub fn literal(&self) -> String {
        match self {
            Gv::Null => "null".into(),
            Gv::Int(i) => i.to_string(),
            Gv::Float(f) => float_literal(*f),
            Gv::Str(s) => graphql_string(s),
            Gv::Bool(b) => b.to_string(),
            Gv::Enum(e) => e.clone(),
            Gv::List(items) => {
                let inner: Vec<String> = items.iter().map(Gv::literal).collect();
                format!("[{}]", inner.join(", "))
            }
            Gv::Obj(fields) => {
                let inner: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v.literal()))
                    .collect();
                format!("{{{}}}", inner.join(", "))
            }
            Gv::Var(name) => format!("${name}"),
            Gv::Json(v) => json_literal(v),
        }
    }

    /// The value as JSON, for the `variables` map.
    pub fn json(&self) -> Value {
        match self {
            Gv::Null | Gv::Var(_) => Value::Null,
            Gv::Int(i) => Value::from(*i),
            Gv::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Gv::Str(s) | Gv::Enum(s) => Value::String(s.clone()),
            Gv::Bool(b) => Value::Bool(*b),
            Gv::List(items) => Value::Array(items.iter().map(Gv::json).collect()),
            Gv::Obj(fields) => {
                Value::Object(fields.iter().map(|(k, v)| (k.clone(), v.json())).collect())
            }
            Gv::Json(v) => v.clone(),
        }
    }
}

fn float_literal(f: f64) -> String {
    let s = format!("{f:?}");
    if s.contains(['.', 'e', 'E']) || s.contains("inf") || s.contains("NaN") {
        s
    } else {
        format!("{s}.0")
    }
}

/// A GraphQL string literal. JSON string escaping is valid GraphQL string escaping.
fn graphql_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn json_literal(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => graphql_string(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(json_literal).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    // Object literal keys must be names; anything else makes the document
                    // invalid, which is fine now and then.
                    format!("{k}: {}", json_literal(v))
                })
                .collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// Texts for names, labels, subjects and note bodies.
const TEXTS: &[&str] = &[
    "Peter B.",
    "Maria K.",
    "x",
    "",
    " ",
    "  padded  ",
    "Zoë Ünïcødé",
    "名前",
    "emoji 🎉👩‍👩‍👧",
    "line\nbreak",
    "tab\there",
    "nul\u{0}byte",
    "\u{202e}rtl override",
    "e\u{301}\u{301}\u{301} combining",
    "\u{feff}bom",
    "' OR '1'='1",
    "\"; DROP TABLE profiles; --",
    "%_\\",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "\u{7f}\u{80}\u{9f}",
    "\u{10ffff}",
];

/// Search terms, which become LIKE patterns on the server.
const SEARCHES: &[&str] = &[
    "pe",
    "PETER",
    "peter b.",
    "maria",
    "+316",
    "fb:",
    "example.com",
    "",
    " ",
    "%",
    "_",
    "\\",
    "%%",
    "\\%",
    "'",
    "\"",
    "*",
    "[a-z]",
    "ñ",
    "İ",
    "ß",
    "ẞ",
    "Σ",
    "ς",
    "ﬃ",
    "\u{0}",
    "\u{1}",
    "🎉",
    "' OR 1=1 --",
    "a%b_c\\d",
];

/// Contact identifiers for each kind of channel.
const IDENTIFIERS: &[&str] = &[
    "maria.k@example.com",
    "MARIA.K@EXAMPLE.COM",
    " maria.k@example.com ",
    "new.person@example.com",
    "+31612345678",
    "+31 6 1234 5678",
    "0612345678",
    "+999999999999999999999",
    "+",
    "fb:4820193384710",
    "fb:",
    "tg:@someone",
    "a@b",
    "@",
    "x@y.z",
    "ü@ä.de",
    "",
    " ",
    "nul\u{0}@example.com",
];

/// Regular expressions for field rules.
const PATTERNS: &[&str] = &[
    "^C-[0-9]+$",
    "^a+$",
    "(",
    "[",
    "a{1000000}",
    "(a*)*b",
    "(?i)x",
    "\\p{L}+",
    "",
    ".{0,10}",
    "\\",
    "a{2,1}",
    "(?<name>x)",
    "\\bword\\b",
    "^(?:x|y)$",
    "[[:alpha:]]",
    "(?=lookahead)",
    "\\1",
];

/// Custom field keys.
const KEYS: &[&str] = &[
    "customer_number",
    "plan",
    "vip",
    "birthday",
    "new_key",
    "tags",
    "Bad Key",
    "",
    "_x",
    "1abc",
    "a_very_long_key_that_is_exactly_sixty_four_characters_long_xxxxx",
    "a_very_long_key_that_is_sixty_five_characters_long_xxxxxxxxxxxxxx",
];

/// Select options.
const OPTIONS: &[&str] = &["Free", "Pro", "Enterprise", "", "pro", "Nope", " Pro "];

/// Date-times.
const DATETIMES: &[&str] = &[
    "2024-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "1970-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59.999999999Z",
    "not a date",
    "",
];

/// Values for custom fields of every type, right and wrong.
fn field_values() -> Vec<Value> {
    use serde_json::json;
    vec![
        json!("C-10042"),
        json!("Pro"),
        json!("Free"),
        json!("Enterprise"),
        json!("Nope"),
        json!(true),
        json!(false),
        json!(42),
        json!(-1.5),
        json!(1e308),
        json!(0),
        json!(18446744073709551615u64),
        json!("2024-02-29"),
        json!("2023-02-29"),
        json!("2024-13-01"),
        json!("0000-01-01"),
        json!("not a date"),
        json!("x@example.com"),
        json!("X@EXAMPLE.COM"),
        json!("+31612345678"),
        json!("+31 6 12345678"),
        json!("https://example.com/a?b=c"),
        json!("javascript:alert(1)"),
        json!("ftp://example.com"),
        json!(["Free", "Pro"]),
        json!(["Pro", "Pro"]),
        json!(["Nope"]),
        json!([]),
        json!({}),
        json!({"a": [1, {"b": null}]}),
        json!(null),
        json!(""),
        json!("nul\u{0}"),
        (0..40).fold(json!(1), |inner, _| json!([inner])),
    ]
}

/// Whether `PROFILEGRAPH_FUZZ_AVOID` (a comma-separated list) names a known bug whose
/// inputs the generator should stop producing, so a run can look past it.
///
/// - `position-overflow`: custom field positions stay within ±1,000,000 (a field at
///   position `i32::MAX` makes every later `createCustomField` without `position` fail
///   with INTERNAL).
/// - `get-accept`: (a check, not an input) GET `/graphql` without a readable `query`
///   parameter answers 400 as `application/json` even when `Accept` asks for
///   `application/graphql-response+json`.
pub fn avoiding(bug: &str) -> bool {
    static AVOID: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    AVOID
        .get_or_init(|| {
            std::env::var("PROFILEGRAPH_FUZZ_AVOID")
                .map(|v| v.split(',').map(|s| s.trim().to_owned()).collect())
                .unwrap_or_default()
        })
        .iter()
        .any(|b| b == bug)
}

/// Generates one operation.
pub struct Gen<'u, 'a> {
    u: &'u mut Unstructured<'a>,
    model: &'static Model,
    var_defs: Vec<String>,
    vars: Map<String, Value>,
    fragments: Vec<String>,
    max_depth: usize,
    /// Percent chance of each deliberate mistake; 0 for most documents, so that most are
    /// valid and reach the resolvers.
    fault_rate: u8,
    /// Fields left before every selection becomes `__typename`.
    budget: usize,
    counter: usize,
    /// Aliases used so far (the server allows 30 per document).
    aliases: usize,
    /// Root fields chosen so far, to alias only repeats.
    root_names: Vec<String>,
}

const HARD_MAX_DEPTH: usize = 20;

impl<'u, 'a> Gen<'u, 'a> {
    pub fn new(u: &'u mut Unstructured<'a>) -> Self {
        Gen {
            u,
            model: Model::get(),
            var_defs: Vec::new(),
            vars: Map::new(),
            fragments: Vec::new(),
            max_depth: 3,
            fault_rate: 0,
            budget: 200,
            counter: 0,
            aliases: 0,
            root_names: Vec::new(),
        }
    }

    /// True with probability `pct` percent; false once the input is used up.
    fn chance(&mut self, pct: u8) -> Result<bool> {
        if self.u.is_empty() {
            return Ok(false);
        }
        Ok(self.u.int_in_range(0..=99u8)? < pct)
    }

    /// A deliberate mistake here?
    fn fault(&mut self) -> Result<bool> {
        if self.fault_rate == 0 {
            return Ok(false);
        }
        self.chance(self.fault_rate)
    }

    fn range(&mut self, lo: usize, hi: usize) -> Result<usize> {
        self.u.int_in_range(lo..=hi)
    }

    fn pick<'s, T>(&mut self, items: &'s [T]) -> Result<&'s T> {
        self.u.choose(items)
    }

    /// An alias `{prefix}{n}: `, or `None` once a valid document could hold no more.
    fn alias(&mut self, prefix: &str) -> Result<Option<String>> {
        if self.aliases >= 28 && !self.fault()? {
            return Ok(None);
        }
        self.aliases += 1;
        Ok(Some(format!("{prefix}{}: ", self.next_id())))
    }

    fn next_id(&mut self) -> usize {
        self.counter += 1;
        self.counter
    }

    /// A whole operation.
    pub fn operation(mut self) -> Result<Operation> {
        let kind = match self.u.int_in_range(0..=99u8)? {
            0..=57 => OpKind::Query,
            58..=98 => OpKind::Mutation,
            _ => OpKind::Subscription,
        };
        self.fault_rate = if self.chance(80)? {
            0
        } else {
            self.u.int_in_range(1..=8u8)?
        };
        self.max_depth = if self.chance(4)? {
            self.range(10, 16)?
        } else {
            self.range(1, 5)?
        };
        let roots = if self.chance(3)? {
            // Around the server's limit of 20 root fields.
            self.range(18, 24)?
        } else {
            self.range(1, 3)?
        };
        let root_type = if kind == OpKind::Mutation {
            "Mutation"
        } else {
            "Query"
        };
        let mut selections = Vec::new();
        for _ in 0..roots {
            let selection = self.root_field(root_type)?;
            if !selection.is_empty() {
                selections.push(selection);
            }
        }
        let body = format!("{{ {} }}", selections.join(" "));
        let name = if self.chance(55)? {
            let names: &[&str] = if self.fault()? {
                &["Ünïcode", "1a", "a-b"]
            } else {
                &["Q", "M", "ProfilePage", "Op", "A_1", "query", "mutation"]
            };
            Some((*self.pick(names)?).to_owned())
        } else {
            None
        };
        let keyword = match kind {
            OpKind::Query => "query",
            OpKind::Mutation => "mutation",
            OpKind::Subscription => "subscription",
        };
        let mut text = if kind == OpKind::Query
            && name.is_none()
            && self.var_defs.is_empty()
            && self.chance(50)?
        {
            body
        } else {
            let defs = if self.var_defs.is_empty() {
                String::new()
            } else {
                format!("({})", self.var_defs.join(", "))
            };
            let directive = if self.fault()? {
                " @skip(if: true)"
            } else {
                ""
            };
            format!(
                "{keyword} {}{defs}{directive} {body}",
                name.clone().unwrap_or_default()
            )
        };
        for fragment in &self.fragments {
            text.push('\n');
            text.push_str(fragment);
        }
        if self.chance(2)? {
            // A second operation in the same document: the request must then name one.
            text.push_str("\nquery Other { viewer { scopes } }");
        }
        Ok(Operation {
            text,
            variables: self.vars,
            name,
            kind,
        })
    }

    fn root_field(&mut self, root_type: &str) -> Result<String> {
        let (name, text) = if root_type == "Query" && self.chance(3)? {
            let text = *self.pick(&[
                "__typename",
                "__schema { queryType { name } types { name kind fields { name args { name } } } }",
                "__type(name: \"Profile\") { name fields { name type { name ofType { name } } } }",
                "__type(name: \"Nope\") { name }",
                "__schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } }",
            ])?;
            let name = text.split([' ', '(']).next().unwrap_or_default().to_owned();
            (name, text.to_owned())
        } else {
            let fields = self.model.fields_of(root_type);
            let field = self.pick(fields)?;
            (field.name.clone(), String::new())
        };
        // The same root field twice (with other arguments) conflicts unless aliased.
        let repeat = self.root_names.contains(&name);
        self.root_names.push(name.clone());
        let alias = if repeat && !self.fault()? {
            match self.alias("r")? {
                Some(alias) => alias,
                None => return Ok(String::new()),
            }
        } else {
            String::new()
        };
        if !text.is_empty() {
            return Ok(format!("{alias}{text}"));
        }
        let fields = self.model.fields_of(root_type);
        let Some(field) = fields.iter().find(|f| f.name == name) else {
            return Ok(format!("{alias}__typename"));
        };
        let field = field.clone();
        let aliased = !alias.is_empty();
        Ok(format!(
            "{alias}{}",
            self.field(root_type, &field, 1, aliased)?
        ))
    }

    /// One field with its arguments, directives and sub-selection.
    fn field(
        &mut self,
        parent: &str,
        field: &Field,
        depth: usize,
        aliased: bool,
    ) -> Result<String> {
        self.budget = self.budget.saturating_sub(1);
        let mut out = String::new();
        if !aliased
            && self.chance(3)?
            && let Some(alias) = self.alias("f")?
        {
            out.push_str(&alias);
        }
        out.push_str(&field.name);
        let mut args = Vec::new();
        for arg in &field.args {
            let include = if arg.required() {
                !self.fault()?
            } else {
                self.chance(40)?
            };
            if include {
                let ctx = Ctx {
                    parent: parent.to_owned(),
                    field: field.name.clone(),
                    name: arg.name.clone(),
                };
                let value = self.arg_value(&arg.ty, &ctx, true)?;
                args.push(format!("{}: {}", arg.name, value.literal()));
            }
        }
        if self.fault()? {
            args.push(format!(
                "{}: 1",
                self.pick(&["bogus", "id", "first", "input"])?
            ));
        }
        if !args.is_empty() {
            out.push_str(&format!("({})", args.join(", ")));
        }
        out.push_str(&self.directives()?);
        let ty = field.ty.named().to_owned();
        if self.model.is_composite(&ty) {
            if !self.fault()? {
                out.push(' ');
                out.push_str(&self.selection_set(&ty, depth + 1)?);
            }
        } else if self.fault()? {
            out.push_str(" { id }");
        }
        Ok(out)
    }

    fn directives(&mut self) -> Result<String> {
        if !self.chance(6)? {
            return Ok(String::new());
        }
        if !self.fault()? {
            // One valid directive.
            return Ok(match self.range(0, 3)? {
                0 => " @include(if: true)".to_owned(),
                1 => " @skip(if: false)".to_owned(),
                2 => format!(" @skip(if: {})", self.bool_var()?),
                _ => format!(" @include(if: {})", self.bool_var()?),
            });
        }
        let count = if self.chance(30)? {
            self.range(6, 9)?
        } else {
            self.range(1, 2)?
        };
        let mut out = String::new();
        for _ in 0..count {
            let d = match self.range(0, 5)? {
                0 => "@include(if: true)".to_owned(),
                1 => "@skip(if: false)".to_owned(),
                2 => format!("@skip(if: {})", self.bool_var()?),
                3 => "@include(if: false)".to_owned(),
                4 => "@specifiedBy(url: \"x\")".to_owned(),
                _ => "@unknown".to_owned(),
            };
            out.push(' ');
            out.push_str(&d);
        }
        Ok(out)
    }

    fn bool_var(&mut self) -> Result<String> {
        let name = format!("b{}", self.next_id());
        self.var_defs.push(format!("${name}: Boolean!"));
        let value = bool::arbitrary(self.u)?;
        self.vars.insert(name.clone(), Value::Bool(value));
        Ok(format!("${name}"))
    }

    /// `{ ... }` for a composite type.
    fn selection_set(&mut self, ty: &str, depth: usize) -> Result<String> {
        if depth > HARD_MAX_DEPTH || self.budget == 0 {
            return Ok("{ __typename }".into());
        }
        let count = self.range(1, 4)?;
        let mut items: Vec<String> = Vec::new();
        let mut keys: Vec<String> = Vec::new();
        for _ in 0..count {
            let mut item = self.selection(ty, depth)?;
            // The same field twice (with other arguments) conflicts unless aliased.
            let key: String = item
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default()
                .to_owned();
            let aliased = item
                .split(['(', ' ', '{'])
                .next()
                .is_some_and(|head| head.ends_with(':'));
            if !key.is_empty() && !item.starts_with("...") && !aliased {
                if keys.contains(&key) && !self.fault()? {
                    match self.alias("k")? {
                        Some(alias) => item = format!("{alias}{item}"),
                        // No alias left: leave the repeat out.
                        None => continue,
                    }
                }
                keys.push(key);
            }
            items.push(item);
        }
        Ok(format!("{{ {} }}", items.join(" ")))
    }

    fn selection(&mut self, ty: &str, depth: usize) -> Result<String> {
        let kind = self.model.kind(ty);
        let possible = self.model.possible.get(ty).cloned().unwrap_or_default();
        if matches!(kind, Kind::Interface | Kind::Union)
            && !possible.is_empty()
            && self.chance(50)?
        {
            let target = self.pick(&possible)?.clone();
            return Ok(format!(
                "... on {target} {}",
                self.selection_set(&target, depth)?
            ));
        }
        if self.chance(5)? {
            return Ok("__typename".into());
        }
        if self.chance(2)? {
            // A named fragment on this type (or, now and then, on the wrong one).
            let on = if self.fault()? { "Agent" } else { ty }.to_owned();
            let name = format!("F{}", self.next_id());
            let body = self.selection_set(&on, depth)?;
            self.fragments
                .push(format!("fragment {name} on {on} {body}"));
            return Ok(format!("...{name}"));
        }
        if self.fault()? {
            return Ok(
                (*self.pick(&["nope", "password", "Profile", "id(first: 1)", "sqlx"])?).to_owned(),
            );
        }
        let fields = self.model.fields_of(ty);
        if fields.is_empty() {
            return Ok("__typename".into());
        }
        let leaves: Vec<&Field> = fields
            .iter()
            .filter(|f| !self.model.is_composite(f.ty.named()))
            .collect();
        let field = if depth >= self.max_depth && !leaves.is_empty() {
            (*self.pick(&leaves)?).clone()
        } else {
            self.pick(fields)?.clone()
        };
        self.field(ty, &field, depth, false)
    }

    /// An argument value: a literal, or now and then a variable.
    fn arg_value(&mut self, ty: &TypeRef, ctx: &Ctx, allow_var: bool) -> Result<Gv> {
        if allow_var && self.chance(25)? {
            let name = format!("v{}", self.next_id());
            let declared = if self.fault()? {
                (*self.pick(&["String", "Int!", "[ID!]", "ID", "JSON", "Nope!", "Boolean"])?)
                    .to_owned()
            } else {
                ty.render()
            };
            self.var_defs.push(format!("${name}: {declared}"));
            if !self.fault()? {
                let value = self.value(ty, ctx, false)?;
                self.vars.insert(name.clone(), value.json());
            }
            return Ok(Gv::Var(name));
        }
        self.value(ty, ctx, allow_var)
    }

    /// A value of `ty`, mostly right.
    fn value(&mut self, ty: &TypeRef, ctx: &Ctx, allow_var: bool) -> Result<Gv> {
        if !ty.non_null() && self.chance(8)? {
            return Ok(Gv::Null);
        }
        if ty.non_null() && self.fault()? {
            return Ok(Gv::Null);
        }
        if self.fault()? {
            return self.wrong_value();
        }
        match ty {
            TypeRef::List { of, .. } => {
                if self.chance(4)? {
                    // A single value where a list is expected: input coercion wraps it.
                    return self.value(of, ctx, allow_var);
                }
                let n = if self.chance(2)? {
                    self.range(99, 260)?
                } else {
                    self.range(0, 3)?
                };
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(self.value(of, ctx, allow_var && n < 10)?);
                }
                Ok(Gv::List(items))
            }
            TypeRef::Named { name, .. } => self.named_value(name, ctx, allow_var),
        }
    }

    fn named_value(&mut self, name: &str, ctx: &Ctx, allow_var: bool) -> Result<Gv> {
        match name {
            "ID" => self.id_value(ctx),
            "String" => self.string_value(ctx),
            "Int" => self.int_value(ctx),
            "Float" => Ok(Gv::Float(self.float()?)),
            "Boolean" => Ok(Gv::Bool(bool::arbitrary(self.u)?)),
            "DateTime" => Ok(Gv::Str((*self.pick(DATETIMES)?).to_owned())),
            "JSON" => Ok(Gv::Json(self.json_value()?)),
            _ => match self.model.kind(name) {
                Kind::Enum => {
                    let values = self.model.enums.get(name).cloned().unwrap_or_default();
                    if values.is_empty() || self.fault()? {
                        Ok(Gv::Enum(
                            (*self.pick(&["NOPE", "email", "Open", "true", "null"])?).to_owned(),
                        ))
                    } else {
                        Ok(Gv::Enum(self.pick(&values)?.clone()))
                    }
                }
                Kind::Input => self.input_object(name, allow_var),
                _ => self.string_value(ctx),
            },
        }
    }

    fn input_object(&mut self, name: &str, allow_var: bool) -> Result<Gv> {
        let fields: Vec<InputValue> = self.model.inputs.get(name).cloned().unwrap_or_default();
        let mut out = Vec::new();
        for field in &fields {
            let include = if field.required() {
                !self.fault()?
            } else {
                self.chance(45)?
            };
            if include {
                let ctx = Ctx {
                    parent: name.to_owned(),
                    field: String::new(),
                    name: field.name.clone(),
                };
                let value = if allow_var {
                    self.arg_value(&field.ty, &ctx, true)?
                } else {
                    self.value(&field.ty, &ctx, false)?
                };
                out.push((field.name.clone(), value));
            }
        }
        if self.fault()? {
            out.push(("bogus".into(), Gv::Int(1)));
        }
        if self.fault()? && !out.is_empty() {
            let dup = out[0].clone();
            out.push(dup);
        }
        Ok(Gv::Obj(out))
    }

    /// A value of some other type; never an id placeholder.
    fn wrong_value(&mut self) -> Result<Gv> {
        Ok(match self.range(0, 8)? {
            0 => Gv::Int(1),
            1 => Gv::Str("x".into()),
            2 => Gv::Bool(true),
            3 => Gv::Float(1.5),
            4 => Gv::List(vec![]),
            5 => Gv::Obj(vec![]),
            6 => Gv::Enum("FOO".into()),
            7 => Gv::Int(i64::from(i32::MAX) + 1),
            _ => Gv::Null,
        })
    }

    fn int_value(&mut self, ctx: &Ctx) -> Result<Gv> {
        if self.fault()? {
            return Ok(Gv::Int(*self.pick(&[
                i64::from(i32::MAX) + 1,
                i64::from(i32::MIN) - 1,
                i64::MAX,
                10_000_000_000,
            ])?));
        }
        let pool: &[i32] = match ctx.name.as_str() {
            "first" | "last" if self.chance(85)? => &[1, 2, 3, 5, 20, 100],
            "first" | "last" => &[0, -1, 101, 1000, i32::MAX, i32::MIN],
            "position" => &[0, 1, 2, -1, 1000, i32::MAX, i32::MIN],
            "expectedVersion" => &[1, 2, 3, 0, -1, i32::MAX],
            "minLength" | "maxLength" => &[0, 1, 3, 10, 1000, 1001, 10_000, 10_001, -1, i32::MAX],
            _ => &[0, 1, -1, 42, i32::MAX, i32::MIN],
        };
        let value = if self.chance(90)? {
            *self.pick(pool)?
        } else {
            i32::arbitrary(self.u)?
        };
        if ctx.name == "position" && avoiding("position-overflow") {
            return Ok(Gv::Int(i64::from(value.clamp(-1_000_000, 1_000_000))));
        }
        Ok(Gv::Int(i64::from(value)))
    }

    fn float(&mut self) -> Result<f64> {
        if self.chance(85)? {
            return Ok(*self.pick(&[0.0, 1.5, -1.5, 1e300, -1e300, 1e-300, 42.0, -0.0, 3.0])?);
        }
        let f = f64::arbitrary(self.u)?;
        Ok(if f.is_finite() { f } else { 0.5 })
    }

    fn json_value(&mut self) -> Result<Value> {
        if self.chance(85)? {
            return Ok(self.pick(&field_values())?.clone());
        }
        self.arbitrary_json(0)
    }

    /// Any JSON value, from the fuzzer's bytes.
    pub fn arbitrary_json(&mut self, depth: usize) -> Result<Value> {
        let top = if depth >= 4 { 4 } else { 6 };
        Ok(match self.range(0, top)? {
            0 => Value::Null,
            1 => Value::Bool(bool::arbitrary(self.u)?),
            2 => Value::from(i64::arbitrary(self.u)?),
            3 => {
                let f = f64::arbitrary(self.u)?;
                serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)
            }
            4 => Value::String(String::arbitrary(self.u)?),
            5 => {
                let n = self.range(0, 4)?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.arbitrary_json(depth + 1)?);
                }
                Value::Array(items)
            }
            _ => {
                let n = self.range(0, 4)?;
                let mut map = Map::new();
                for _ in 0..n {
                    let key = String::arbitrary(self.u)?;
                    map.insert(key, self.arbitrary_json(depth + 1)?);
                }
                Value::Object(map)
            }
        })
    }

    fn string_value(&mut self, ctx: &Ctx) -> Result<Gv> {
        if self.chance(4)? {
            return Ok(Gv::Str(String::arbitrary(self.u)?));
        }
        if self.chance(1)? {
            let n = *self.pick(&[201usize, 501, 1001, 10_001, 70_000])?;
            return Ok(Gv::Str("a".repeat(n)));
        }
        let s = match ctx.name.as_str() {
            "after" | "before" => return self.cursor_value(),
            "search" => (*self.pick(SEARCHES)?).to_owned(),
            "identifier" => (*self.pick(IDENTIFIERS)?).to_owned(),
            "pattern" => (*self.pick(PATTERNS)?).to_owned(),
            "key" => (*self.pick(KEYS)?).to_owned(),
            "options" => (*self.pick(OPTIONS)?).to_owned(),
            "name" if ctx.field == "__type" => "Profile".to_owned(),
            _ => (*self.pick(TEXTS)?).to_owned(),
        };
        Ok(Gv::Str(s))
    }

    /// A cursor: a real one from an earlier page, or a forged one.
    fn cursor_value(&mut self) -> Result<Gv> {
        let n = self.range(0, 255)?;
        Ok(Gv::Str(match self.range(0, 9)? {
            0..=4 => format!("%%CUR:{n}%%"),
            5 | 6 => {
                let key = *self.pick(&[
                    "Peter B.",
                    "peter b.",
                    "",
                    "\u{0}",
                    "2024-01-01T00:00:00Z",
                    "2024-01-01T00:00:00+02:00",
                    "not a date",
                    "9999-12-31T23:59:59Z",
                    "zzzzzz",
                    "%",
                ])?;
                let uuid = uuid::Uuid::from_bytes(<[u8; 16]>::arbitrary(self.u)?);
                let json = match self.range(0, 3)? {
                    0 => serde_json::json!([key, "not-a-uuid"]),
                    1 => serde_json::json!({"key": key, "id": uuid}),
                    _ => serde_json::json!([key, uuid]),
                };
                URL_SAFE_NO_PAD.encode(json.to_string())
            }
            7 => URL_SAFE_NO_PAD.encode(Vec::<u8>::arbitrary(self.u)?),
            8 => {
                (*self.pick(&["", "0", "-1", "YXJyYXljb25uZWN0aW9uOjA=", "====", "!!"])?).to_owned()
            }
            _ => String::arbitrary(self.u)?,
        }))
    }

    /// An id: mostly a placeholder for a real one of the kind the argument expects.
    fn id_value(&mut self, ctx: &Ctx) -> Result<Gv> {
        let hint = ctx.kind_hint();
        let n = self.range(0, 255)?;
        let s = match self.range(0, 99)? {
            0..=44 => format!("%%ID:a:{hint}:{n}%%"),
            45..=59 => format!("%%ID:h:{hint}:{n}%%"),
            60..=67 => format!("%%ID:a:*:{n}%%"),
            68..=77 => format!("%%ID:b:{hint}:{n}%%"),
            78..=79 => format!("%%ID:b:*:{n}%%"),
            80..=83 => {
                // A real row's uuid under another type's tag.
                let other = *self.pick(&NODE_KINDS)?;
                format!("%%IDX:{hint}:{n}:{other}%%")
            }
            84..=91 => self.forged_id()?,
            92..=93 => return Ok(Gv::Int(i64::from(i32::arbitrary(self.u)?))),
            _ => {
                if self.chance(50)? {
                    String::arbitrary(self.u)?
                } else {
                    (*self.pick(&["", " ", "null", "0", "UHJvZmlsZTo=", "UHJvZmlsZQ", "%"])?)
                        .to_owned()
                }
            }
        };
        Ok(Gv::Str(s))
    }

    fn forged_id(&mut self) -> Result<String> {
        let tag = *self.pick(&[
            "Profile",
            "Contact",
            "Channel",
            "Note",
            "CustomField",
            "ContactMoment",
            "Agent",
            "Workspace",
            "profile",
            "",
            "Nope",
            "Profile:Profile",
        ])?;
        let bytes = <[u8; 16]>::arbitrary(self.u)?;
        let uuid = uuid::Uuid::from_bytes(bytes);
        let body = match self.range(0, 7)? {
            0 => format!("{tag}:{}", uuid::Uuid::nil()),
            1 => format!("{tag}:{}", uuid.simple()),
            2 => format!("{tag}:{}", uuid.urn()),
            3 => format!("{tag}:{{{uuid}}}"),
            4 => format!("{tag}:{}", uuid.to_string().to_uppercase()),
            5 => format!("{tag}:not-a-uuid"),
            6 => format!("{tag}:{uuid}:{uuid}"),
            _ => format!("{tag}:{uuid}"),
        };
        Ok(match self.range(0, 5)? {
            0 => STANDARD.encode(&body),
            1 => URL_SAFE.encode(&body),
            2 => format!(" {} ", URL_SAFE_NO_PAD.encode(&body)),
            3 => body,
            _ => URL_SAFE_NO_PAD.encode(&body),
        })
    }
}

/// Where a value goes: the parent type (or input type), the field, the argument.
#[derive(Debug, Clone)]
struct Ctx {
    parent: String,
    field: String,
    name: String,
}

impl Ctx {
    /// The node kind an id here should have, or `*` for any.
    fn kind_hint(&self) -> &'static str {
        let from_arg = self
            .name
            .strip_suffix("Ids")
            .or_else(|| self.name.strip_suffix("Id"));
        let haystack = match from_arg {
            Some("field") => return "CustomField",
            Some(prefix) => prefix.to_lowercase(),
            None if self.field == "node" || self.field == "nodes" => return "*",
            None => format!("{} {}", self.field, self.parent).to_lowercase(),
        };
        NODE_KINDS
            .iter()
            .filter(|kind| haystack.contains(&kind.to_lowercase()))
            .max_by_key(|kind| kind.len())
            .copied()
            .unwrap_or("*")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_hints() {
        let ctx = |parent: &str, field: &str, name: &str| Ctx {
            parent: parent.into(),
            field: field.into(),
            name: name.into(),
        };
        assert_eq!(ctx("Query", "profile", "id").kind_hint(), "Profile");
        assert_eq!(ctx("Query", "node", "id").kind_hint(), "*");
        assert_eq!(
            ctx("CreateProfileInput", "", "contactIds").kind_hint(),
            "Contact"
        );
        assert_eq!(
            ctx("FieldValueInput", "", "fieldId").kind_hint(),
            "CustomField"
        );
        assert_eq!(
            ctx("UpdateContactMomentInput", "", "id").kind_hint(),
            "ContactMoment"
        );
        assert_eq!(
            ctx("Query", "contactMoment", "id").kind_hint(),
            "ContactMoment"
        );
        assert_eq!(ctx("DeleteNoteInput", "", "id").kind_hint(), "Note");
    }

    #[test]
    fn generates_from_any_bytes() {
        for seed in 0..200u32 {
            let bytes: Vec<u8> = (0..512u32)
                .map(|i| (i.wrapping_mul(2_654_435_761).wrapping_add(seed * 97) >> 7) as u8)
                .collect();
            let mut u = Unstructured::new(&bytes);
            let op = Operation::arbitrary(&mut u).expect("generates");
            assert!(!op.text.is_empty());
        }
    }
}
