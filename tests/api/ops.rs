//! The GraphQL operations the workflow tests share (peter_b, profiles, contacts, moments,
//! deletion, conflicts), so each test reads as the steps an agent or a partner takes.
//!
//! Everything goes through the real router over HTTP with the demo token. The few helpers
//! that write rows directly (`insert_*`) exist for what the API can't do on purpose: many
//! rows at once, or rows with chosen timestamps.

use chrono::{DateTime, FixedOffset};
use entity::{contact_moments, profiles};
use profilegraph_schema::ids::NodeKind;
use reqwest::StatusCode;
use sea_orm::{ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::TestApp;

/// The fields of a channel the tests look at.
pub const CHANNEL: &str = "id type name";
/// The fields of a contact the tests look at.
pub const CONTACT: &str = "id identifier displayName channel { id type name } profile { id name version } createdAt updatedAt";
/// The fields of a profile the tests look at (without its lists).
pub const PROFILE: &str = "id name version createdAt updatedAt";
/// The fields of a contact moment the tests look at.
pub const MOMENT: &str =
    "id subject status channel { id } contact { id } createdAt closedAt lastMessageAt";

/// The profile page: name, contacts (flat and by channel), and the timeline.
pub const PROFILE_PAGE: &str = r#"
query ProfilePage($id: ID!) {
  profile(id: $id) {
    id name version createdAt updatedAt
    contacts { id identifier channel { id } }
    contactsByChannel {
      channel { id type name }
      contacts { id identifier displayName createdAt }
    }
    contactMoments(first: 100) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage }
      nodes { id subject status channel { id } contact { id } lastMessageAt }
    }
    notes(first: 100) { totalCount nodes { id } }
  }
}"#;

pub use crate::support::{gid, uuid_as};

/// An RFC 3339 instant read from a response.
pub fn instant(value: &Value) -> DateTime<FixedOffset> {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("an instant is a string: {value}"));
    DateTime::parse_from_rfc3339(text).unwrap_or_else(|e| panic!("{text} is not RFC 3339: {e}"))
}

/// The `id` of each element of a JSON array of objects.
pub fn ids_of(items: &Value) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("a list: {items}"))
        .iter()
        .map(|item| {
            item["id"]
                .as_str()
                .unwrap_or_else(|| panic!("an id: {item}"))
                .to_owned()
        })
        .collect()
}

/// The value of `field` of each element of a JSON array of objects, as text.
pub fn strings_of(items: &Value, field: &str) -> Vec<String> {
    items
        .as_array()
        .unwrap_or_else(|| panic!("a list: {items}"))
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("`{field}` is text in {item}"))
                .to_owned()
        })
        .collect()
}

/// Run an operation that must fail with `code`; return its (only) error.
///
/// Checks what every error promises: status 200 (the operation ran), no value for the
/// failed field, a `requestId`, and the code.
pub async fn expect_error(app: &TestApp, query: &str, variables: Value, code: &str) -> Value {
    let (status, body) = app
        .graphql(Some(&app.demo_token), query, variables.clone())
        .await;
    assert_eq!(status, StatusCode::OK, "{body:#}");
    let errors = body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("expected a {code} error for {variables}, got {body:#}"));
    assert_eq!(errors.len(), 1, "one error: {body:#}");
    let error = errors[0].clone();
    assert_eq!(error["extensions"]["code"], code, "{body:#}");
    assert!(
        error["extensions"]["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "every error carries the request id: {body:#}"
    );
    // The failed field has no value. (async-graphql leaves a failed non-null field out of
    // its parent object rather than nulling the parent, so "absent" counts as well.)
    let path = error["path"]
        .as_array()
        .unwrap_or_else(|| panic!("the error names its path: {body:#}"));
    let failed = path.iter().fold(&body["data"], |value, step| match step {
        Value::String(key) => &value[key.as_str()],
        Value::Number(index) => &value[index.as_u64().unwrap() as usize],
        _ => panic!("a path step is a key or an index: {step}"),
    });
    assert!(failed.is_null(), "the failed field has no value: {body:#}");
    error
}

/// Like [`expect_error`] for BAD_USER_INPUT, also checking the field it names.
pub async fn expect_bad_input(app: &TestApp, query: &str, variables: Value, field: &str) {
    let error = expect_error(app, query, variables, "BAD_USER_INPUT").await;
    assert_eq!(error["extensions"]["field"], field, "{error:#}");
}

/// The demo channel of a type (`"WHATSAPP"`, `"EMAIL"`, `"FACEBOOK_MESSENGER"`).
pub async fn demo_channel(app: &TestApp, channel_type: &str) -> Value {
    let data = app
        .demo_data(&format!("{{ channels {{ {CHANNEL} }} }}"), json!({}))
        .await;
    let matching: Vec<&Value> = data["channels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["type"] == channel_type)
        .collect();
    assert_eq!(matching.len(), 1, "one demo {channel_type} channel: {data}");
    matching[0].clone()
}

/// `createChannel`.
pub async fn create_channel(app: &TestApp, channel_type: &str, name: &str) -> Value {
    let data = app
        .demo_data(
            &format!(
                "mutation($input: CreateChannelInput!) {{ createChannel(input: $input) {{ channel {{ {CHANNEL} }} }} }}"
            ),
            json!({ "input": { "type": channel_type, "name": name } }),
        )
        .await;
    data["createChannel"]["channel"].clone()
}

/// The `createContact` mutation.
pub fn create_contact_mutation() -> String {
    format!(
        "mutation($input: CreateContactInput!) {{ createContact(input: $input) {{ created contact {{ {CONTACT} }} }} }}"
    )
}

/// `createContact`: the contact and whether it was new.
pub async fn create_contact(
    app: &TestApp,
    channel_id: &Value,
    identifier: &str,
    display_name: Option<&str>,
) -> (Value, bool) {
    let data = app
        .demo_data(
            &create_contact_mutation(),
            json!({ "input": {
                "channelId": channel_id,
                "identifier": identifier,
                "displayName": display_name,
            } }),
        )
        .await;
    let payload = &data["createContact"];
    let created = payload["created"]
        .as_bool()
        .unwrap_or_else(|| panic!("`created` is a boolean: {payload}"));
    (payload["contact"].clone(), created)
}

/// `createContact` for an identity that must be new.
pub async fn new_contact(
    app: &TestApp,
    channel_id: &Value,
    identifier: &str,
    display_name: Option<&str>,
) -> Value {
    let (contact, created) = create_contact(app, channel_id, identifier, display_name).await;
    assert!(created, "{identifier} is a new identity: {contact}");
    contact
}

/// The `startContactMoment` mutation.
pub fn start_moment_mutation() -> String {
    format!(
        "mutation($input: StartContactMomentInput!) {{ startContactMoment(input: $input) {{ contactMoment {{ {MOMENT} }} }} }}"
    )
}

/// `startContactMoment`: a new ticket with a contact.
pub async fn start_moment(app: &TestApp, contact_id: &Value, subject: &str) -> Value {
    let data = app
        .demo_data(
            &start_moment_mutation(),
            json!({ "input": { "contactId": contact_id, "subject": subject } }),
        )
        .await;
    data["startContactMoment"]["contactMoment"].clone()
}

/// The `updateContactMoment` mutation.
pub fn update_moment_mutation() -> String {
    format!(
        "mutation($input: UpdateContactMomentInput!) {{ updateContactMoment(input: $input) {{ contactMoment {{ {MOMENT} }} }} }}"
    )
}

/// `updateContactMoment` with `input` (its `id` and what to change).
pub async fn update_moment(app: &TestApp, input: Value) -> Value {
    let data = app
        .demo_data(&update_moment_mutation(), json!({ "input": input }))
        .await;
    data["updateContactMoment"]["contactMoment"].clone()
}

/// The `createProfile` mutation.
pub fn create_profile_mutation() -> String {
    format!(
        "mutation($input: CreateProfileInput!) {{ createProfile(input: $input) {{ profile {{ {PROFILE} contacts {{ id }} }} }} }}"
    )
}

/// `createProfile` with a name and contacts.
pub async fn create_profile(app: &TestApp, name: &str, contact_ids: &[&Value]) -> Value {
    let data = app
        .demo_data(
            &create_profile_mutation(),
            json!({ "input": { "name": name, "contactIds": contact_ids } }),
        )
        .await;
    data["createProfile"]["profile"].clone()
}

/// The `updateProfile` mutation.
pub fn update_profile_mutation() -> String {
    format!(
        "mutation($input: UpdateProfileInput!) {{ updateProfile(input: $input) {{ profile {{ {PROFILE} }} }} }}"
    )
}

/// `updateProfile`: rename, optionally only from `expected_version`.
pub async fn rename_profile(
    app: &TestApp,
    id: &Value,
    name: &str,
    expected_version: Option<i64>,
) -> Value {
    let data = app
        .demo_data(
            &update_profile_mutation(),
            json!({ "input": { "id": id, "name": name, "expectedVersion": expected_version } }),
        )
        .await;
    data["updateProfile"]["profile"].clone()
}

/// The `attachContact` mutation.
pub fn attach_mutation() -> String {
    format!(
        "mutation($input: AttachContactInput!) {{ attachContact(input: $input) {{ profile {{ {PROFILE} contacts {{ id }} }} contact {{ {CONTACT} }} }} }}"
    )
}

/// The variables of `attachContact`.
pub fn attach_input(profile_id: &Value, contact_id: &Value, move_it: bool) -> Value {
    json!({ "input": { "profileId": profile_id, "contactId": contact_id, "move": move_it } })
}

/// `attachContact`: the payload (`profile` and `contact`).
pub async fn attach_contact(
    app: &TestApp,
    profile_id: &Value,
    contact_id: &Value,
    move_it: bool,
) -> Value {
    let data = app
        .demo_data(
            &attach_mutation(),
            attach_input(profile_id, contact_id, move_it),
        )
        .await;
    data["attachContact"].clone()
}

/// The `detachContact` mutation.
pub fn detach_mutation() -> String {
    format!(
        "mutation($input: DetachContactInput!) {{ detachContact(input: $input) {{ profile {{ {PROFILE} contacts {{ id }} }} contact {{ {CONTACT} }} }} }}"
    )
}

/// The variables of `detachContact`.
pub fn detach_input(profile_id: &Value, contact_id: &Value) -> Value {
    json!({ "input": { "profileId": profile_id, "contactId": contact_id } })
}

/// The `deleteProfile` mutation.
pub const DELETE_PROFILE: &str =
    "mutation($input: DeleteProfileInput!) { deleteProfile(input: $input) { deletedProfileId } }";

/// `profile(id)` with its fields and contacts; null when there is none.
pub async fn profile(app: &TestApp, id: &Value) -> Value {
    let data = app
        .demo_data(
            &format!("query($id: ID!) {{ profile(id: $id) {{ {PROFILE} contacts {{ id }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    data["profile"].clone()
}

/// The profile page (see [`PROFILE_PAGE`]); null when there is no such profile.
pub async fn profile_page(app: &TestApp, id: &Value) -> Value {
    app.demo_data(PROFILE_PAGE, json!({ "id": id })).await["profile"].clone()
}

/// `contact(id)` with its fields and all its contact moments; null when there is none.
pub async fn contact(app: &TestApp, id: &Value) -> Value {
    let data = app
        .demo_data(
            &format!(
                "query($id: ID!) {{ contact(id: $id) {{ {CONTACT} contactMoments(first: 100) {{ totalCount nodes {{ id }} }} }} }}"
            ),
            json!({ "id": id }),
        )
        .await;
    data["contact"].clone()
}

/// `profiles(search:)`: the profiles found (first 100) and the total count.
pub async fn search_profiles(app: &TestApp, search: Option<&str>) -> (Vec<Value>, i64) {
    let data = app
        .demo_data(
            &format!(
                "query($search: String) {{ profiles(first: 100, search: $search) {{ totalCount nodes {{ {PROFILE} }} }} }}"
            ),
            json!({ "search": search }),
        )
        .await;
    let nodes = data["profiles"]["nodes"].as_array().unwrap().clone();
    let total = data["profiles"]["totalCount"].as_i64().unwrap();
    (nodes, total)
}

/// How many profiles the workspace has, by `profiles { totalCount }`.
pub async fn profile_count(app: &TestApp) -> i64 {
    search_profiles(app, None).await.1
}

/// The demo profile "Peter B." with its contacts (Messenger first, then WhatsApp), found
/// by his Messenger id.
pub async fn demo_peter(app: &TestApp) -> Value {
    let data = app
        .demo_data(
            &format!(
                "{{ profiles(search: \"fb:4820193384710\") {{ nodes {{ {PROFILE} contacts {{ {CONTACT} }} }} }} }}"
            ),
            json!({}),
        )
        .await;
    let found = data["profiles"]["nodes"].as_array().unwrap();
    assert_eq!(
        found.len(),
        1,
        "one profile with Peter's Messenger id: {data:#}"
    );
    let peter = found[0].clone();
    assert_eq!(peter["name"], "Peter B.");
    assert_eq!(
        strings_of(&peter["contacts"], "identifier"),
        ["fb:4820193384710", "+31612345678"],
        "the demo's two contacts of Peter"
    );
    peter
}

/// Maria's e-mail contact from the demo, which has no profile.
pub async fn demo_maria(app: &TestApp) -> Value {
    let data = app
        .demo_data(
            &format!("{{ contacts(search: \"maria.k@\") {{ nodes {{ {CONTACT} }} }} }}"),
            json!({}),
        )
        .await;
    let found = data["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(found.len(), 1, "one contact of Maria: {data:#}");
    assert!(found[0]["profile"].is_null(), "Maria has no profile yet");
    found[0].clone()
}

/// Insert profiles directly (many at once, with chosen times): `(name, created, updated)`.
/// Returns their ids, in the order given.
pub async fn insert_profiles(
    app: &TestApp,
    rows: &[(String, DateTime<FixedOffset>, DateTime<FixedOffset>)],
) -> Vec<Uuid> {
    let workspace_id = app.demo_workspace().await.id;
    let models: Vec<profiles::ActiveModel> = rows
        .iter()
        .map(|(name, created_at, updated_at)| profiles::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(workspace_id),
            name: Set(name.clone()),
            search_name: Set(profilegraph_store::search::profile_name(name)),
            external_id: Set(None),
            version: Set(1),
            created_at: Set(*created_at),
            updated_at: Set(*updated_at),
        })
        .collect();
    let ids = models.iter().map(|m| *m.id.as_ref()).collect::<Vec<Uuid>>();
    for chunk in models.chunks(100) {
        profiles::Entity::insert_many(chunk.to_vec())
            .exec(app.conn())
            .await
            .unwrap();
    }
    ids
}

/// A contact moment to insert directly, with a chosen last-message time.
pub struct MomentRow<'a> {
    /// The contact (global id).
    pub contact: &'a Value,
    /// The contact's channel (global id).
    pub channel: &'a Value,
    /// The subject.
    pub subject: String,
    /// OPEN, ASSIGNED or CLOSED.
    pub status: &'static str,
    /// When the last message came; also its creation (and closing) time.
    pub last_message_at: DateTime<FixedOffset>,
}

/// Insert contact moments directly; returns their global ids in the order given.
pub async fn insert_moments(app: &TestApp, rows: &[MomentRow<'_>]) -> Vec<String> {
    let workspace_id = app.demo_workspace().await.id;
    let models: Vec<contact_moments::ActiveModel> = rows
        .iter()
        .map(|row| contact_moments::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(workspace_id),
            contact_id: Set(uuid_as(NodeKind::Contact, row.contact)),
            channel_id: Set(uuid_as(NodeKind::Channel, row.channel)),
            subject: Set(row.subject.clone()),
            status: Set(row.status.to_owned()),
            created_at: Set(row.last_message_at),
            closed_at: Set((row.status == "CLOSED").then_some(row.last_message_at)),
            last_message_at: Set(row.last_message_at),
        })
        .collect();
    let ids = models
        .iter()
        .map(|m| gid(NodeKind::ContactMoment, *m.id.as_ref()))
        .collect();
    for chunk in models.chunks(100) {
        contact_moments::Entity::insert_many(chunk.to_vec())
            .exec(app.conn())
            .await
            .unwrap();
    }
    ids
}

/// Walk a connection to its end with `first: page_size` and `after`, checking `pageInfo`
/// and `totalCount` on every page. `query` takes `$first` and `$after` (plus `variables`)
/// and `path` leads from `data` to the connection, which must select
/// `totalCount pageInfo { hasNextPage hasPreviousPage endCursor } edges { cursor node { … } }`.
/// Returns the nodes in the order read.
pub async fn read_forwards(
    app: &TestApp,
    query: &str,
    variables: Value,
    path: &[&str],
    page_size: i64,
) -> Vec<Value> {
    let mut nodes = Vec::new();
    let mut after: Option<String> = None;
    let mut expected_total: Option<i64> = None;
    loop {
        let mut vars = variables.clone();
        vars["first"] = json!(page_size);
        vars["after"] = json!(after);
        let data = app.demo_data(query, vars).await;
        let connection = path.iter().fold(&data, |v, key| &v[*key]);
        let edges = connection["edges"].as_array().unwrap();
        let info = &connection["pageInfo"];
        let total = connection["totalCount"].as_i64().unwrap();
        assert_eq!(
            *expected_total.get_or_insert(total),
            total,
            "totalCount is the same on every page"
        );
        assert_eq!(info["hasPreviousPage"], after.is_some(), "{info}");
        assert!(
            edges.len() as i64 <= page_size,
            "a page holds at most `first`"
        );
        for edge in edges {
            nodes.push(edge["node"].clone());
        }
        if info["hasNextPage"] == true {
            assert_eq!(edges.len() as i64, page_size, "only the last page is short");
            assert_eq!(
                info["endCursor"],
                edges.last().unwrap()["cursor"],
                "endCursor is the last edge's cursor"
            );
            after = Some(info["endCursor"].as_str().unwrap().to_owned());
        } else {
            assert_eq!(info["hasNextPage"], false, "{info}");
            assert_eq!(
                nodes.len() as i64,
                total,
                "the pages hold exactly totalCount items"
            );
            return nodes;
        }
        assert!(
            nodes.len() <= 10_000,
            "paging does not end: {} nodes read",
            nodes.len()
        );
    }
}

/// Assert that `ids` holds no id twice.
pub fn assert_distinct(ids: &[String]) {
    let mut seen = std::collections::HashSet::new();
    for id in ids {
        assert!(seen.insert(id), "{id} is listed twice");
    }
}
