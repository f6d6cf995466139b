//! Tenancy as a sweep: an id of another workspace behaves exactly like an id that does not
//! exist, for every query and mutation that takes an id, and changes nothing anywhere.
//!
//! The list of id-taking arguments is read from the served schema, so an argument added
//! later fails this test until the sweep covers it.

use std::collections::{BTreeMap, BTreeSet};

use entity::{channels, contact_moments, contacts, custom_fields, profiles};
use profilegraph_schema::ids::NodeKind;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{
    Demo, TYPE_REF, agent, call, data, demo, gid, mutate_ok, mutation_doc, named_type, random_like,
    single_error, snapshot, token, without_request_ids,
};

/// Workspace B: its token and the global ids of its rows.
struct Other {
    token: String,
    workspace: String,
    agent: String,
    channel: String,
    field: String,
    contact: String,
    profile: String,
    note: String,
    moment: String,
    event: String,
    /// Its webhook endpoint and a delivery (not nodes: `node` doesn't show them).
    hooks: crate::support::Hooks,
}

impl Other {
    /// Every id of B, one per kind.
    fn ids(&self) -> Vec<&str> {
        vec![
            &self.workspace,
            &self.agent,
            &self.channel,
            &self.field,
            &self.contact,
            &self.profile,
            &self.note,
            &self.moment,
            &self.event,
        ]
    }
}

/// Make workspace B with one of everything, through the API with B's own admin token.
async fn other_workspace(app: &TestApp) -> Other {
    let ws = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
        .await
        .unwrap();
    let agent_id = agent(app, ws.id, "Olga Other", "olga@other.example").await;
    let token = token(app, ws.id, Some(agent_id), "read,write,admin").await;
    let id_of = |v: &Value, path: &[&str]| -> String {
        let mut v = v;
        for key in path {
            v = &v[*key];
        }
        v.as_str()
            .unwrap_or_else(|| panic!("no id at {path:?}"))
            .to_owned()
    };
    let run = |name: &'static str, input: Value| {
        let token = token.clone();
        async move { mutate_ok(app, &token, name, input).await }
    };
    let channel = id_of(
        &run(
            "createChannel",
            json!({ "type": "WHATSAPP", "name": "Other WhatsApp" }),
        )
        .await,
        &["channel", "id"],
    );
    // The same key as a demo field: keys are unique per workspace only.
    let field = id_of(
        &run(
            "createCustomField",
            json!({ "key": "customer_number", "label": "Other number", "type": "TEXT" }),
        )
        .await,
        &["customField", "id"],
    );
    let contact = id_of(
        &run(
            "createContact",
            json!({ "channelId": channel, "identifier": "+49 151 1234 5678",
                    "displayName": "Bruno Other" }),
        )
        .await,
        &["contact", "id"],
    );
    let profile = id_of(
        &run(
            "createProfile",
            json!({ "name": "Bruno Other", "contactIds": [contact],
                    "fields": [{ "fieldId": field, "value": "O-1" }] }),
        )
        .await,
        &["profile", "id"],
    );
    let note = id_of(
        &run(
            "createNote",
            json!({ "profileId": profile, "body": "Other's secret note" }),
        )
        .await,
        &["note", "id"],
    );
    let moment = id_of(
        &run(
            "startContactMoment",
            json!({ "contactId": contact, "subject": "Other's ticket" }),
        )
        .await,
        &["contactMoment", "id"],
    );
    // B's changes above wrote B's events.
    let events = crate::support::data(
        app,
        &token,
        "{ events(first: 1) { nodes { id } } }",
        json!({}),
    )
    .await;
    let event = events["events"]["nodes"][0]["id"]
        .as_str()
        .expect("B has events")
        .to_owned();
    let hooks = crate::support::hooks(app, &token, &profile).await;
    Other {
        token,
        hooks,
        workspace: gid(NodeKind::Workspace, ws.id),
        agent: gid(NodeKind::Agent, agent_id),
        channel,
        field,
        contact,
        profile,
        note,
        moment,
        event,
    }
}

/// Every argument (or input field inside an argument) of type `ID` or `[ID]` of every
/// object type of the served schema, as `Type.field(arg.inputField)`.
async fn id_arguments(app: &TestApp) -> BTreeSet<String> {
    let query = format!(
        "{{ __schema {{ types {{ kind name
            fields {{ name args {{ name type {{ ...TypeRef }} }} }}
            inputFields {{ name type {{ ...TypeRef }} }} }} }} }}\n{TYPE_REF}"
    );
    let d = data(app, &app.demo_token, &query, json!({})).await;
    let types = d["__schema"]["types"].as_array().unwrap();
    let inputs: BTreeMap<&str, &Vec<Value>> = types
        .iter()
        .filter(|t| t["kind"] == "INPUT_OBJECT")
        .map(|t| {
            (
                t["name"].as_str().unwrap(),
                t["inputFields"].as_array().unwrap(),
            )
        })
        .collect();

    fn walk(
        inputs: &BTreeMap<&str, &Vec<Value>>,
        type_ref: &Value,
        path: String,
        seen: &mut Vec<String>,
        out: &mut BTreeSet<String>,
    ) {
        let name = named_type(type_ref);
        if name == "ID" {
            out.insert(path);
        } else if let Some(fields) = inputs.get(name) {
            if seen.iter().any(|s| s == name) {
                return;
            }
            seen.push(name.to_owned());
            for field in fields.iter() {
                let field_name = field["name"].as_str().unwrap();
                walk(
                    inputs,
                    &field["type"],
                    format!("{path}.{field_name}"),
                    seen,
                    out,
                );
            }
            seen.pop();
        }
    }

    let mut out = BTreeSet::new();
    for ty in types.iter().filter(|t| t["kind"] == "OBJECT") {
        let type_name = ty["name"].as_str().unwrap();
        if type_name.starts_with("__") {
            continue;
        }
        for field in ty["fields"].as_array().unwrap() {
            let field_name = field["name"].as_str().unwrap();
            for arg in field["args"].as_array().unwrap() {
                let mut found = BTreeSet::new();
                walk(
                    &inputs,
                    &arg["type"],
                    arg["name"].as_str().unwrap().to_owned(),
                    &mut Vec::new(),
                    &mut found,
                );
                out.extend(
                    found
                        .into_iter()
                        .map(|path| format!("{type_name}.{field_name}({path})")),
                );
            }
        }
    }
    out
}

/// One call that takes an id, tried with B's id and with an id that doesn't exist.
struct Probe {
    /// The argument the id goes into, as `id_arguments` names it.
    path: &'static str,
    /// B's id to try.
    other_id: String,
    doc: String,
    vars: Box<dyn Fn(&str) -> Value>,
}

fn query(
    path: &'static str,
    other_id: &str,
    doc: &str,
    vars: impl Fn(&str) -> Value + 'static,
) -> Probe {
    Probe {
        path,
        other_id: other_id.to_owned(),
        doc: doc.to_owned(),
        vars: Box::new(vars),
    }
}

fn mutation(path: &'static str, other_id: &str, input: impl Fn(&str) -> Value + 'static) -> Probe {
    let name = path
        .strip_prefix("Mutation.")
        .and_then(|rest| rest.split_once('('))
        .map(|(name, _)| name)
        .unwrap_or_else(|| panic!("`{path}` is not a mutation argument"));
    Probe {
        path,
        other_id: other_id.to_owned(),
        doc: mutation_doc(name),
        vars: Box::new(move |id| json!({ "input": input(id) })),
    }
}

/// Every call that takes an id, with B's ids, the rest filled with the demo's ids.
fn probes(a: &Demo, b: &Other, second: &str) -> Vec<Probe> {
    let mut probes = Vec::new();
    // Every kind of node, alone and among others.
    for id in b.ids() {
        probes.push(query(
            "Query.node(id)",
            id,
            "query($id: ID!) { node(id: $id) { __typename id } }",
            |id| json!({ "id": id }),
        ));
        let peter = a.peter.clone();
        probes.push(query(
            "Query.nodes(ids)",
            id,
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            move |id| json!({ "ids": [peter, id] }),
        ));
    }
    for (path, id, doc) in [
        (
            "Query.profile(id)",
            &b.profile,
            "query($id: ID!) { profile(id: $id) { id name } }",
        ),
        (
            "Query.contact(id)",
            &b.contact,
            "query($id: ID!) { contact(id: $id) { id identifier } }",
        ),
        (
            "Query.channel(id)",
            &b.channel,
            "query($id: ID!) { channel(id: $id) { id name } }",
        ),
        (
            "Query.contactMoment(id)",
            &b.moment,
            "query($id: ID!) { contactMoment(id: $id) { id subject } }",
        ),
        (
            "Query.contacts(channelId)",
            &b.channel,
            "query($id: ID) { contacts(first: 100, channelId: $id) { totalCount nodes { id } } }",
        ),
        (
            "Query.contactMoments(channelId)",
            &b.channel,
            "query($id: ID) { contactMoments(first: 100, channelId: $id) { totalCount nodes { id } } }",
        ),
        (
            "Query.events(profileId)",
            &b.profile,
            "query($id: ID) { events(first: 100, profileId: $id) { totalCount nodes { id kind } } }",
        ),
    ] {
        probes.push(query(path, id, doc, |id| json!({ "id": id })));
    }
    let peter = a.peter.clone();
    probes.push(query(
        "Profile.contactMoments(channelId)",
        &b.channel,
        "query($p: ID!, $id: ID) {
           profile(id: $p) { contactMoments(first: 100, channelId: $id) { totalCount nodes { id } } }
         }",
        move |id| json!({ "p": peter, "id": id }),
    ));

    // Mutations: B's id in one place, the demo's (or B's own) ids elsewhere.
    let s = |v: &String| v.clone();
    let (peter, maria) = (s(&a.peter), s(&a.maria));
    let peter_wa = s(&a.peter_contacts["+31612345678"]);
    let a_field = s(&a.fields["customer_number"]);
    let (b_contact, b_field) = (s(&b.contact), s(&b.field));

    probes.push(mutation(
        "Mutation.createProfile(input.contactIds)",
        &b.contact,
        |id| json!({ "name": "Stolen", "contactIds": [id], "moveContacts": true }),
    ));
    probes.push(mutation(
        "Mutation.createProfile(input.fields.fieldId)",
        &b.field,
        |id| json!({ "name": "Stolen", "fields": [{ "fieldId": id, "value": "x" }] }),
    ));
    probes.push(mutation(
        "Mutation.upsertProfile(input.contacts.channelId)",
        &b.channel,
        |id| {
            json!({ "externalId": "crm-stolen", "name": "Stolen", "moveContacts": true,
                    "contacts": [{ "channelId": id, "identifier": "+49 151 9999 9999" }] })
        },
    ));
    probes.push(mutation(
        "Mutation.upsertProfile(input.fields.fieldId)",
        &b.field,
        |id| {
            json!({ "externalId": "crm-stolen", "name": "Stolen",
                    "fields": [{ "fieldId": id, "value": "x" }] })
        },
    ));
    probes.push(mutation(
        "Mutation.updateProfile(input.id)",
        &b.profile,
        |id| json!({ "id": id, "name": "Renamed" }),
    ));
    {
        let a_field = a_field.clone();
        probes.push(mutation(
            "Mutation.setProfileFields(input.profileId)",
            &b.profile,
            move |id| json!({ "profileId": id, "values": [{ "fieldId": a_field, "value": "x" }] }),
        ));
        let b_field = b_field.clone();
        probes.push(mutation(
            "Mutation.setProfileFields(input.profileId)",
            &b.profile,
            move |id| json!({ "profileId": id, "values": [{ "fieldId": b_field, "value": "x" }] }),
        ));
        let peter = peter.clone();
        probes.push(mutation(
            "Mutation.setProfileFields(input.values.fieldId)",
            &b.field,
            move |id| json!({ "profileId": peter, "values": [{ "fieldId": id, "value": "x" }] }),
        ));
    }
    // A merge with B's profile on either side, or B's field in a choice (between two
    // profiles of the demo's, so only the field is foreign).
    {
        let p = peter.clone();
        probes.push(mutation(
            "Mutation.mergeProfiles(input.survivorId)",
            &b.profile,
            move |id| json!({ "survivorId": id, "mergedId": p }),
        ));
        let p = peter.clone();
        probes.push(mutation(
            "Mutation.mergeProfiles(input.mergedId)",
            &b.profile,
            move |id| json!({ "survivorId": p, "mergedId": id }),
        ));
        let p = peter.clone();
        probes.push(mutation(
            "Mutation.mergeProfiles(input.mergedId)",
            &b.profile,
            move |id| json!({ "survivorId": p, "mergedId": id, "dryRun": true }),
        ));
        let (p, second) = (peter.clone(), second.to_owned());
        probes.push(mutation(
            "Mutation.mergeProfiles(input.fieldChoices.fieldId)",
            &b.field,
            move |id| {
                json!({ "survivorId": p, "mergedId": second,
                              "fieldChoices": [{ "fieldId": id, "keep": "MERGED" }] })
            },
        ));
    }
    probes.push(mutation(
        "Mutation.deleteProfile(input.id)",
        &b.profile,
        |id| json!({ "id": id }),
    ));
    probes.push(mutation(
        "Mutation.createContact(input.channelId)",
        &b.channel,
        |id| json!({ "channelId": id, "identifier": "+49 151 9999 9999" }),
    ));
    {
        let maria = maria.clone();
        probes.push(mutation(
            "Mutation.attachContact(input.profileId)",
            &b.profile,
            move |id| json!({ "profileId": id, "contactId": maria, "move": true }),
        ));
        let b_contact = b_contact.clone();
        probes.push(mutation(
            "Mutation.attachContact(input.profileId)",
            &b.profile,
            move |id| json!({ "profileId": id, "contactId": b_contact, "move": true }),
        ));
        let peter = peter.clone();
        probes.push(mutation(
            "Mutation.attachContact(input.contactId)",
            &b.contact,
            move |id| json!({ "profileId": peter, "contactId": id, "move": true }),
        ));
    }
    {
        let peter_wa = peter_wa.clone();
        probes.push(mutation(
            "Mutation.detachContact(input.profileId)",
            &b.profile,
            move |id| json!({ "profileId": id, "contactId": peter_wa }),
        ));
        let b_contact = b_contact.clone();
        probes.push(mutation(
            "Mutation.detachContact(input.profileId)",
            &b.profile,
            move |id| json!({ "profileId": id, "contactId": b_contact }),
        ));
        let peter = peter.clone();
        probes.push(mutation(
            "Mutation.detachContact(input.contactId)",
            &b.contact,
            move |id| json!({ "profileId": peter, "contactId": id }),
        ));
    }
    probes.push(mutation(
        "Mutation.createNote(input.profileId)",
        &b.profile,
        |id| json!({ "profileId": id, "body": "Planted" }),
    ));
    probes.push(mutation(
        "Mutation.updateNote(input.id)",
        &b.note,
        |id| json!({ "id": id, "body": "Overwritten" }),
    ));
    probes.push(mutation(
        "Mutation.deleteNote(input.id)",
        &b.note,
        |id| json!({ "id": id }),
    ));
    probes.push(mutation(
        "Mutation.startContactMoment(input.contactId)",
        &b.contact,
        |id| json!({ "contactId": id, "subject": "Planted" }),
    ));
    probes.push(mutation(
        "Mutation.updateContactMoment(input.id)",
        &b.moment,
        |id| json!({ "id": id, "status": "CLOSED", "subject": "Closed by a stranger" }),
    ));
    probes.push(mutation(
        "Mutation.updateChannel(input.id)",
        &b.channel,
        |id| json!({ "id": id, "name": "Renamed" }),
    ));
    probes.push(mutation(
        "Mutation.updateCustomField(input.id)",
        &b.field,
        |id| json!({ "id": id, "label": "Renamed", "required": true, "archived": true }),
    ));
    probes.push(mutation(
        "Mutation.archiveCustomField(input.id)",
        &b.field,
        |id| json!({ "id": id }),
    ));
    probes.push(query(
        "Query.webhookEndpoint(id)",
        &b.hooks.endpoint,
        "query($id: ID!) { webhookEndpoint(id: $id) { id url } }",
        |id| json!({ "id": id }),
    ));
    probes.push(mutation(
        "Mutation.updateWebhookEndpoint(input.id)",
        &b.hooks.endpoint,
        |id| json!({ "id": id, "enabled": false, "url": "http://127.0.0.1:9/stolen" }),
    ));
    probes.push(mutation(
        "Mutation.rotateWebhookSecret(input.id)",
        &b.hooks.endpoint,
        |id| json!({ "id": id }),
    ));
    probes.push(mutation(
        "Mutation.deleteWebhookEndpoint(input.id)",
        &b.hooks.endpoint,
        |id| json!({ "id": id }),
    ));
    probes.push(mutation(
        "Mutation.redeliverWebhook(input.deliveryId)",
        &b.hooks.delivery,
        |id| json!({ "deliveryId": id }),
    ));
    probes
}

/// Every string under an `id` key anywhere in `value`.
fn ids_in(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key == "id"
                    && let Some(id) = v.as_str()
                {
                    out.insert(id.to_owned());
                }
                ids_in(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| ids_in(v, out)),
        _ => {}
    }
}

both_backends!(
    another_workspaces_ids_behave_like_ids_that_do_not_exist,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let b = other_workspace(&app).await;

        // B's ids are real: B's own token finds every one of them.
        for id in b.ids() {
            let d = data(
                &app,
                &b.token,
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
            assert_eq!(d["node"]["id"], id, "B sees its own {id}");
        }
        let d = data(
            &app,
            &b.token,
            "query($c: ID, $p: ID!) {
               contacts(channelId: $c) { totalCount }
               contactMoments(channelId: $c) { totalCount }
               profile(id: $p) { contactMoments(channelId: $c) { totalCount } }
             }",
            json!({ "c": b.channel, "p": b.profile }),
        )
        .await;
        assert_eq!(d["contacts"]["totalCount"], 1, "{d:#}");
        assert_eq!(d["contactMoments"]["totalCount"], 1, "{d:#}");
        assert_eq!(d["profile"]["contactMoments"]["totalCount"], 1, "{d:#}");

        // A second profile of the demo's, for a merge whose only foreign id is a field.
        let second = mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "Second Demo" }),
        )
        .await;
        let probes = probes(&a, &b, second["profile"]["id"].as_str().unwrap());

        // The sweep covers every id-taking argument the schema has, and nothing else.
        // Subscriptions run over WebSocket only: their sweep is in `live`
        // (`another_workspace_hears_nothing` subscribes to this workspace's profile with
        // another's token).
        let served: BTreeSet<String> = id_arguments(&app)
            .await
            .into_iter()
            .filter(|path| !path.starts_with("Subscription."))
            .collect();
        let covered: BTreeSet<String> = probes.iter().map(|p| p.path.to_owned()).collect();
        let missing: Vec<&String> = served.difference(&covered).collect();
        assert!(
            missing.is_empty(),
            "these arguments take an id but are not swept with another workspace's ids; \
             add them to `probes`: {missing:#?}"
        );
        let stale: Vec<&String> = covered.difference(&served).collect();
        assert!(stale.is_empty(), "swept but not in the schema: {stale:#?}");

        let before = snapshot(app.conn()).await;
        for probe in &probes {
            let kind = crate::support::kind_of(&probe.other_id);
            let random = random_like(&probe.other_id);
            let with_other = call(
                &app,
                &app.demo_token,
                &probe.doc,
                (probe.vars)(&probe.other_id),
            )
            .await;
            let with_random = call(&app, &app.demo_token, &probe.doc, (probe.vars)(&random)).await;
            let what = format!("{} with another workspace's {kind:?}", probe.path);
            if probe.path.starts_with("Mutation.") {
                single_error(&with_other, "NOT_FOUND");
                assert!(with_other["data"].is_null(), "{what}: {with_other:#}");
            } else {
                assert!(with_other.get("errors").is_none(), "{what}: {with_other:#}");
            }
            let printed = serde_json::to_string(&with_other).unwrap();
            assert!(
                !printed.contains(&probe.other_id),
                "{what}: the answer shows the id: {printed}"
            );
            assert_eq!(
                without_request_ids(with_other),
                without_request_ids(with_random),
                "{what} answers differently than an id that does not exist"
            );
        }
        assert_eq!(
            snapshot(app.conn()).await,
            before,
            "a refused call wrote something"
        );
    }
);

both_backends!(
    lists_show_only_the_own_workspace,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let b = other_workspace(&app).await;
        let b_ids: BTreeSet<String> = b.ids().into_iter().map(str::to_owned).collect();

        let lists = "query($p: ID!) {
          profiles(first: 100) { totalCount nodes { id name } }
          found: profiles(first: 100, search: \"Bruno\") { totalCount nodes { id } }
          contacts(first: 100) { totalCount nodes { id channel { id } profile { id } } }
          foundContacts: contacts(first: 100, search: \"Bruno\") { totalCount nodes { id } }
          channels { id }
          customFields(includeArchived: true) { id key }
          contactMoments(first: 100) { totalCount nodes { id channel { id } contact { id } } }
          events(first: 100) { totalCount nodes { id profile { id } } }
          profile(id: $p) {
            history(first: 100) { totalCount nodes { id } }
            notes(first: 100) { totalCount nodes { id author { id } } }
            fields { field { id } }
            contacts { id }
            contactMoments(first: 100) { totalCount nodes { id } }
          }
          viewer { workspace { id } agent { id } }
        }";
        let seen_by_a = data(&app, &app.demo_token, lists, json!({ "p": a.peter })).await;
        let mut a_ids = BTreeSet::new();
        ids_in(&seen_by_a, &mut a_ids);
        let leaked: Vec<&String> = a_ids.intersection(&b_ids).collect();
        assert!(leaked.is_empty(), "A sees B's {leaked:?}: {seen_by_a:#}");
        assert_eq!(seen_by_a["found"]["totalCount"], 0, "{seen_by_a:#}");
        assert_eq!(seen_by_a["foundContacts"]["totalCount"], 0, "{seen_by_a:#}");

        // The totals are A's own rows, counted in the database.
        let ws = a.workspace_id;
        let conn = app.conn();
        let count_profiles = profiles::Entity::find()
            .filter(profiles::Column::WorkspaceId.eq(ws))
            .count(conn)
            .await
            .unwrap();
        let count_contacts = contacts::Entity::find()
            .filter(contacts::Column::WorkspaceId.eq(ws))
            .count(conn)
            .await
            .unwrap();
        let count_moments = contact_moments::Entity::find()
            .filter(contact_moments::Column::WorkspaceId.eq(ws))
            .count(conn)
            .await
            .unwrap();
        let count_channels = channels::Entity::find()
            .filter(channels::Column::WorkspaceId.eq(ws))
            .count(conn)
            .await
            .unwrap();
        let count_fields = custom_fields::Entity::find()
            .filter(custom_fields::Column::WorkspaceId.eq(ws))
            .count(conn)
            .await
            .unwrap();
        assert_eq!(seen_by_a["profiles"]["totalCount"], count_profiles);
        assert_eq!(seen_by_a["contacts"]["totalCount"], count_contacts);
        assert_eq!(seen_by_a["contactMoments"]["totalCount"], count_moments);
        assert_eq!(
            seen_by_a["channels"].as_array().unwrap().len() as u64,
            count_channels
        );
        assert_eq!(
            seen_by_a["customFields"].as_array().unwrap().len() as u64,
            count_fields
        );
        // The same key in both workspaces: A sees its own field only.
        let keys: Vec<&str> = seen_by_a["customFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys.iter().filter(|k| **k == "customer_number").count(),
            1,
            "{keys:?}"
        );

        // And B sees its own, and none of A's.
        let seen_by_b = data(&app, &b.token, lists, json!({ "p": b.profile })).await;
        let mut seen_b_ids = BTreeSet::new();
        ids_in(&seen_by_b, &mut seen_b_ids);
        assert!(
            seen_b_ids.is_superset(&b_ids),
            "B sees all of its own: {seen_by_b:#}"
        );
        let leaked: Vec<&String> = seen_b_ids.intersection(&a_ids).collect();
        assert!(leaked.is_empty(), "B sees A's {leaked:?}");
        assert_eq!(seen_by_b["found"]["totalCount"], 1);
        assert_eq!(seen_by_b["profiles"]["totalCount"], 1);

        // A's own rows are all there for A (the check above is not vacuous).
        assert!(a_ids.contains(&a.peter) && a_ids.contains(&a.maria) && a_ids.contains(&a.note));
    }
);
