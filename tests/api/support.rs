//! Small helpers the API tests share: global ids, tokens, mutations by name, error checks,
//! the demo workspace's ids, introspection, and snapshots of the database.

use std::collections::BTreeMap;

use entity::{
    agents, channels, contact_moments, contacts, custom_fields, notes, profile_field_values,
    profiles, workspaces,
};
use profilegraph_schema::ids::{self, NodeKind};
use profilegraph_store::tokens::{self, Scopes};
use reqwest::StatusCode;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;

/// The global id of a row.
pub fn gid(kind: NodeKind, id: Uuid) -> String {
    ids::encode(kind, id).0
}

/// The kind inside a global id.
pub fn kind_of(id: &str) -> NodeKind {
    ids::decode(id)
        .unwrap_or_else(|| panic!("`{id}` is not a global id"))
        .0
}

/// The row id inside a global id.
pub fn uuid_of(id: &str) -> Uuid {
    ids::decode(id)
        .unwrap_or_else(|| panic!("`{id}` is not a global id"))
        .1
}

/// The row id behind a global id of `kind`, given as a JSON string.
pub fn uuid_as(kind: NodeKind, global_id: &Value) -> Uuid {
    let text = global_id
        .as_str()
        .unwrap_or_else(|| panic!("a global id is a string: {global_id}"));
    match ids::decode(text) {
        Some((found, uuid)) if found == kind => uuid,
        other => panic!("{text} is not a {kind:?} id: {other:?}"),
    }
}

/// A well-formed global id of `kind` that names no row.
pub fn random_id(kind: NodeKind) -> String {
    gid(kind, Uuid::now_v7())
}

/// A well-formed id of the same type as `id` that names no row.
pub fn random_like(id: &str) -> String {
    random_id(kind_of(id))
}

/// Mint a token for `workspace_id` with `scopes` (e.g. `"read"`, `"write,admin"`).
pub async fn token(
    app: &TestApp,
    workspace_id: Uuid,
    agent_id: Option<Uuid>,
    scopes: &str,
) -> String {
    let scopes: Scopes = scopes.parse().unwrap();
    tokens::create(app.conn(), workspace_id, agent_id, "test", &scopes, None)
        .await
        .unwrap()
        .plaintext
}

/// Add an agent to a workspace, straight into the database (the API has no agent
/// mutations).
pub async fn agent(app: &TestApp, workspace_id: Uuid, name: &str, email: &str) -> Uuid {
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    agents::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace_id),
        name: Set(name.to_owned()),
        email: Set(email.to_owned()),
        created_at: Set(chrono::Utc::now().into()),
    }
    .insert(app.conn())
    .await
    .unwrap()
    .id
}

/// `POST /graphql` that must be answered 200 (errors, if any, are in the body).
pub async fn call(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let (status, body) = app.graphql(Some(token), query, variables).await;
    assert_eq!(status, StatusCode::OK, "{body:#}\nquery: {query}");
    body
}

/// Run `query` and return its `data`, failing on any error.
pub async fn data(app: &TestApp, token: &str, query: &str, variables: Value) -> Value {
    let body = call(app, token, query, variables).await;
    assert!(
        body.get("errors").is_none(),
        "the query failed: {body:#}\nquery: {query}"
    );
    body["data"].clone()
}

/// The selection each mutation's payload is read with.
fn payload_selection(mutation: &str) -> &'static str {
    match mutation {
        "createProfile" | "updateProfile" | "setProfileFields" => {
            "{ profile { id name version updatedAt } }"
        }
        "upsertProfile" => "{ profile { id name externalId version updatedAt } created }",
        "deleteProfile" => "{ deletedProfileId }",
        "mergeProfiles" => "{ dryRun profile { id } movedContacts { id } }",
        "createContact" => "{ contact { id identifier displayName } created }",
        "attachContact" | "detachContact" => {
            "{ profile { id version } contact { id profile { id } } }"
        }
        "createNote" | "updateNote" => {
            "{ note { id body createdAt updatedAt author { id name } profile { id } } }"
        }
        "deleteNote" => "{ deletedNoteId }",
        "startContactMoment" | "updateContactMoment" => {
            "{ contactMoment { id subject status closedAt } }"
        }
        "createChannel" | "updateChannel" => "{ channel { id type name } }",
        "createCustomField" | "updateCustomField" | "archiveCustomField" => {
            "{ customField { id key label type options required position archived \
             rules { minLength maxLength pattern min max } } }"
        }
        "createWebhookEndpoint" | "updateWebhookEndpoint" | "rotateWebhookSecret" => {
            "{ endpoint { id url enabled } secret }"
        }
        "deleteWebhookEndpoint" => "{ deletedId }",
        "redeliverWebhook" => "{ delivery { id status } }",
        other => panic!("no payload selection for mutation `{other}`; add one"),
    }
}

/// The document of mutation `name` with one `$input` (every mutation takes one).
pub fn mutation_doc(name: &str) -> String {
    let mut chars = name.chars();
    let input_type = match chars.next() {
        Some(first) => format!("{}{}Input", first.to_ascii_uppercase(), chars.as_str()),
        None => panic!("empty mutation name"),
    };
    format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {} }}",
        payload_selection(name)
    )
}

/// Run mutation `name` with `input`; the whole response body (it must be a 200).
pub async fn mutate(app: &TestApp, token: &str, name: &str, input: Value) -> Value {
    call(app, token, &mutation_doc(name), json!({ "input": input })).await
}

/// Run mutation `name` with `input` and return its payload, failing on any error.
pub async fn mutate_ok(app: &TestApp, token: &str, name: &str, input: Value) -> Value {
    data(app, token, &mutation_doc(name), json!({ "input": input })).await[name].clone()
}

/// The only error of `body`, checked to carry `code` (and a request id); returns it.
pub fn single_error<'a>(body: &'a Value, code: &str) -> &'a Value {
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected a {code} error, got {body:#}"));
    assert_eq!(errors.len(), 1, "one error expected: {body:#}");
    let error = &errors[0];
    assert_eq!(error["extensions"]["code"], code, "{body:#}");
    assert!(
        error["extensions"]["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "every error carries a request id: {body:#}"
    );
    error
}

/// Check `body` is one BAD_USER_INPUT error naming `field`.
pub fn assert_bad_input(body: &Value, field: &str) {
    let error = single_error(body, "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], field, "{body:#}");
}

/// `body` without the per-request parts (`requestId`), so two answers can be compared.
pub fn without_request_ids(mut body: Value) -> Value {
    if let Some(errors) = body.get_mut("errors").and_then(Value::as_array_mut) {
        for error in errors {
            if let Some(extensions) = error.get_mut("extensions").and_then(Value::as_object_mut) {
                extensions.remove("requestId");
            }
        }
    }
    body
}

/// The demo workspace's ids, as the API shows them.
#[derive(Debug, Clone)]
pub struct Demo {
    /// The workspace row id.
    pub workspace_id: Uuid,
    /// Anna's row id.
    pub agent_id: Uuid,
    /// Peter B.'s global id.
    pub peter: String,
    /// Peter's contacts by identifier.
    pub peter_contacts: BTreeMap<String, String>,
    /// Maria's e-mail contact (without a profile).
    pub maria: String,
    /// The channels by type (`EMAIL`, `WHATSAPP`, `FACEBOOK_MESSENGER`).
    pub channels: BTreeMap<String, String>,
    /// The custom fields by key.
    pub fields: BTreeMap<String, String>,
    /// Peter's note.
    pub note: String,
    /// Every contact moment.
    pub moments: Vec<String>,
}

/// Read the demo workspace's ids through the API.
pub async fn demo(app: &TestApp) -> Demo {
    let d = data(
        app,
        &app.demo_token,
        "{ viewer { workspace { id } agent { id } }
           channels { id type }
           customFields(includeArchived: true) { id key }
           profiles(first: 10) { nodes { id name contacts { id identifier }
                                          notes(first: 10) { nodes { id } } } }
           contacts(first: 10, withoutProfile: true) { nodes { id identifier } }
           contactMoments(first: 100) { nodes { id } } }",
        json!({}),
    )
    .await;
    let str_of = |v: &Value| v.as_str().unwrap().to_owned();
    let by = |list: &Value, key: &str| -> BTreeMap<String, String> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|item| (str_of(&item[key]), str_of(&item["id"])))
            .collect()
    };
    let peter = &d["profiles"]["nodes"][0];
    assert_eq!(peter["name"], "Peter B.", "{d:#}");
    let maria = &d["contacts"]["nodes"][0];
    assert_eq!(maria["identifier"], "maria.k@example.com", "{d:#}");
    Demo {
        workspace_id: uuid_of(d["viewer"]["workspace"]["id"].as_str().unwrap()),
        agent_id: uuid_of(d["viewer"]["agent"]["id"].as_str().unwrap()),
        peter: str_of(&peter["id"]),
        peter_contacts: by(&peter["contacts"], "identifier"),
        maria: str_of(&maria["id"]),
        channels: by(&d["channels"], "type"),
        fields: by(&d["customFields"], "key"),
        note: str_of(&peter["notes"]["nodes"][0]["id"]),
        moments: d["contactMoments"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| str_of(&m["id"]))
            .collect(),
    }
}

/// The introspection fragment that unwraps a type reference (lists and non-nulls).
pub const TYPE_REF: &str = "fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } }
}";

/// The named type at the bottom of an introspected type reference.
pub fn named_type(type_ref: &Value) -> &str {
    let mut t = type_ref;
    while t["name"].is_null() {
        t = &t["ofType"];
        assert!(!t.is_null(), "a type reference ends in a named type");
    }
    t["name"].as_str().unwrap()
}

/// The root mutation fields of the served schema, by name, with their descriptions.
pub async fn mutation_descriptions(app: &TestApp) -> BTreeMap<String, String> {
    let d = data(
        app,
        &app.demo_token,
        "{ __schema { mutationType { fields { name description } } } }",
        json!({}),
    )
    .await;
    d["__schema"]["mutationType"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["description"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Every row of one table as JSON, sorted by id.
macro_rules! rows {
    ($conn:expr, $entity:ident) => {{
        let mut rows: Vec<Value> = $entity::Entity::find()
            .all($conn)
            .await
            .unwrap()
            .iter()
            .map(|row| serde_json::to_value(row).unwrap())
            .collect();
        rows.sort_by_key(|row| row["id"].to_string());
        Value::Array(rows)
    }};
}

/// Every row of every table but `api_tokens` (whose `last_used_at` moves with each
/// request): compare two snapshots to prove a request wrote nothing.
pub async fn snapshot(conn: &DatabaseConnection) -> Value {
    json!({
        "workspaces": rows!(conn, workspaces),
        "agents": rows!(conn, agents),
        "channels": rows!(conn, channels),
        "contacts": rows!(conn, contacts),
        "profiles": rows!(conn, profiles),
        "custom_fields": rows!(conn, custom_fields),
        "profile_field_values": rows!(conn, profile_field_values),
        "notes": rows!(conn, notes),
        "contact_moments": rows!(conn, contact_moments),
    })
}

/// A webhook endpoint of the token's workspace (on a loopback port nobody listens on) and
/// one delivery of it: the ids the webhook mutations take.
pub struct Hooks {
    /// The endpoint.
    pub endpoint: String,
    /// A delivery of it.
    pub delivery: String,
}

/// Register an endpoint as `token` and make one delivery for it (the event of a note on
/// `profile`).
pub async fn hooks(app: &TestApp, token: &str, profile: &str) -> Hooks {
    let created = mutate_ok(
        app,
        token,
        "createWebhookEndpoint",
        json!({ "url": "http://127.0.0.1:9/hook" }),
    )
    .await;
    let endpoint = created["endpoint"]["id"].as_str().unwrap().to_owned();
    mutate_ok(
        app,
        token,
        "createNote",
        json!({ "profileId": profile, "body": "For the webhook" }),
    )
    .await;
    // The worker makes the delivery within moments; deriving here too makes it sooner
    // (the two never make it twice).
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    let delivery = loop {
        profilegraph_store::webhooks::deliveries::derive(
            &app.db,
            &profilegraph_store::webhooks::Clock::real(),
        )
        .await
        .unwrap();
        let d = data(
            app,
            token,
            "query($id: ID!) { webhookEndpoint(id: $id) { deliveries(first: 1) { nodes { id } } } }",
            json!({ "id": endpoint }),
        )
        .await;
        if let Some(id) = d["webhookEndpoint"]["deliveries"]["nodes"][0]["id"].as_str() {
            break id.to_owned();
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery: {d:#}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    Hooks { endpoint, delivery }
}
