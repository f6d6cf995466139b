//! Custom profile fields: defining them (admin), and setting, reading and clearing their
//! values on a profile, each checked on the server against the field's type and rules.
//! A bad value names its field and leaves the whole request unwritten.

use std::collections::BTreeMap;

use entity::profile_field_values;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{
    assert_bad_input, data, demo, mutate, mutate_ok, single_error, snapshot, uuid_of,
};

/// One field of every type, with rules where the type has them.
fn every_type() -> Vec<Value> {
    vec![
        json!({ "key": "t_text", "label": "Reference", "type": "TEXT",
                "rules": { "pattern": "[A-Z]{2}-[0-9]+", "maxLength": 10 } }),
        json!({ "key": "t_textarea", "label": "About", "type": "TEXTAREA",
                "rules": { "minLength": 2, "maxLength": 50 } }),
        json!({ "key": "t_number", "label": "Score", "type": "NUMBER",
                "rules": { "min": 0, "max": 100 } }),
        json!({ "key": "t_date", "label": "Customer since", "type": "DATE" }),
        json!({ "key": "t_boolean", "label": "Newsletter", "type": "BOOLEAN" }),
        json!({ "key": "t_select", "label": "Tier", "type": "SELECT",
                "options": ["Bronze", "Silver", "Gold"] }),
        json!({ "key": "t_multi", "label": "Interests", "type": "MULTI_SELECT",
                "options": ["news", "offers", "events"] }),
        json!({ "key": "t_email", "label": "Work e-mail", "type": "EMAIL" }),
        json!({ "key": "t_phone", "label": "Mobile", "type": "PHONE" }),
        json!({ "key": "t_url", "label": "Website", "type": "URL" }),
    ]
}

/// A good value of each field, as sent and as stored (normalised).
fn good_values() -> Vec<(&'static str, Value, Value)> {
    vec![
        ("t_text", json!("  AB-12 "), json!("AB-12")),
        (
            "t_textarea",
            json!("line one\nline two"),
            json!("line one\nline two"),
        ),
        ("t_number", json!(42.5), json!(42.5)),
        ("t_date", json!("2026-02-28"), json!("2026-02-28")),
        ("t_boolean", json!(false), json!(false)),
        ("t_select", json!("Gold"), json!("Gold")),
        (
            "t_multi",
            json!(["offers", "news"]),
            json!(["offers", "news"]),
        ),
        (
            "t_email",
            json!(" Jane.Doe@Example.COM "),
            json!("jane.doe@example.com"),
        ),
        ("t_phone", json!("+31 6 1234 5678"), json!("+31612345678")),
        (
            "t_url",
            json!("https://example.com/a?b=c"),
            json!("https://example.com/a?b=c"),
        ),
    ]
}

/// Bad values of each field, and what is wrong with them.
fn bad_values() -> Vec<(&'static str, Value, &'static str)> {
    vec![
        ("t_text", json!(12), "a number for TEXT"),
        ("t_text", json!("ab-12"), "pattern mismatch"),
        ("t_text", json!("AB-12345678"), "longer than maxLength 10"),
        ("t_text", json!("   "), "empty after trimming"),
        ("t_textarea", json!(true), "a boolean for TEXTAREA"),
        ("t_textarea", json!("x"), "shorter than minLength 2"),
        (
            "t_textarea",
            json!("y".repeat(51)),
            "longer than maxLength 50",
        ),
        ("t_number", json!("42"), "a string for NUMBER"),
        ("t_number", json!(100.5), "above max 100"),
        ("t_number", json!(-1), "below min 0"),
        ("t_date", json!("2026-02-30"), "no such day"),
        ("t_date", json!("28-02-2026"), "not YYYY-MM-DD"),
        ("t_date", json!("2026-2-28"), "not zero-padded"),
        ("t_date", json!(20260228), "a number for DATE"),
        ("t_boolean", json!("true"), "a string for BOOLEAN"),
        ("t_boolean", json!(1), "a number for BOOLEAN"),
        ("t_select", json!("Platinum"), "not an option"),
        ("t_select", json!("gold"), "an option in the wrong case"),
        ("t_select", json!(["Gold"]), "an array for SELECT"),
        ("t_multi", json!(["news", "news"]), "an option chosen twice"),
        ("t_multi", json!(["news", "nope"]), "not an option"),
        ("t_multi", json!("news"), "a string for MULTI_SELECT"),
        ("t_multi", json!([]), "no option at all"),
        ("t_email", json!("not-an-email"), "no @"),
        ("t_email", json!("jane@localhost"), "no dotted domain"),
        ("t_email", json!(42), "a number for EMAIL"),
        ("t_phone", json!("0612345678"), "not international"),
        ("t_phone", json!("call me"), "not a number"),
        ("t_phone", json!("+12"), "too short"),
        ("t_url", json!("ftp://example.com"), "not http(s)"),
        ("t_url", json!("example.com"), "no scheme"),
        (
            "t_url",
            json!("https://exa mple.com"),
            "a space in the host",
        ),
        ("t_url", json!("https://"), "no host"),
    ]
}

const PROFILE_FIELDS: &str = "query($id: ID!) {
  profile(id: $id) {
    version
    fields { field { id key type position archived } value }
  }
}";

/// A profile's version and its `fields` list, as `(key, type, value)` in list order.
async fn read_fields(app: &TestApp, profile: &str) -> (i64, Vec<(String, String, Value)>) {
    let d = data(
        app,
        &app.demo_token,
        PROFILE_FIELDS,
        json!({ "id": profile }),
    )
    .await;
    let profile = &d["profile"];
    let fields = profile["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["field"]["key"].as_str().unwrap().to_owned(),
                f["field"]["type"].as_str().unwrap().to_owned(),
                f["value"].clone(),
            )
        })
        .collect();
    (profile["version"].as_i64().unwrap(), fields)
}

/// A profile's values by key (null where unset).
async fn values_by_key(app: &TestApp, profile: &str) -> BTreeMap<String, Value> {
    read_fields(app, profile)
        .await
        .1
        .into_iter()
        .map(|(key, _, value)| (key, value))
        .collect()
}

/// Define the fields of `every_type` (as the demo admin); their ids by key.
async fn define_every_type(app: &TestApp) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    for input in every_type() {
        let field = mutate_ok(app, &app.demo_token, "createCustomField", input.clone()).await
            ["customField"]
            .clone();
        assert_eq!(field["key"], input["key"]);
        assert_eq!(field["type"], input["type"]);
        assert_eq!(field["archived"], false);
        assert_eq!(field["required"], false);
        assert_eq!(
            field["options"],
            input.get("options").cloned().unwrap_or(json!([]))
        );
        for (rule, expected) in input
            .get("rules")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            assert_eq!(
                field["rules"][rule].as_f64(),
                expected.as_f64(),
                "{rule} of {field:#}"
            );
            if let Some(pattern) = expected.as_str() {
                assert_eq!(field["rules"][rule], pattern);
            }
        }
        ids.insert(
            input["key"].as_str().unwrap().to_owned(),
            field["id"].as_str().unwrap().to_owned(),
        );
    }
    ids
}

async fn new_profile(app: &TestApp, name: &str) -> String {
    mutate_ok(
        app,
        &app.demo_token,
        "createProfile",
        json!({ "name": name }),
    )
    .await["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `setProfileFields` on `profile` with `(field id, value)` pairs; the response body.
async fn set_fields(app: &TestApp, profile: &str, values: &[(&str, Value)]) -> Value {
    let values: Vec<Value> = values
        .iter()
        .map(|(field, value)| json!({ "fieldId": field, "value": value }))
        .collect();
    mutate(
        app,
        &app.demo_token,
        "setProfileFields",
        json!({ "profileId": profile, "values": values }),
    )
    .await
}

both_backends!(
    every_field_type_takes_a_good_value_in_its_normalised_form,
    |app: TestApp| async move {
        let fields = define_every_type(&app).await;
        let profile = new_profile(&app, "Jane Doe").await;
        let (version, before) = read_fields(&app, &profile).await;
        assert!(
            before.iter().all(|(_, _, value)| value.is_null()),
            "a new profile has no values: {before:?}"
        );

        // Every type in one request.
        let good = good_values();
        let pairs: Vec<(&str, Value)> = good
            .iter()
            .map(|(key, sent, _)| (fields[*key].as_str(), sent.clone()))
            .collect();
        let body = set_fields(&app, &profile, &pairs).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(
            body["data"]["setProfileFields"]["profile"]["version"],
            version + 1,
            "one request, one version: {body:#}"
        );

        let (_, after) = read_fields(&app, &profile).await;
        let after: BTreeMap<String, (String, Value)> = after
            .into_iter()
            .map(|(key, ty, value)| (key, (ty, value)))
            .collect();
        for (input, (key, _, stored)) in every_type().iter().zip(&good) {
            assert_eq!(
                after[*key],
                (input["type"].as_str().unwrap().to_owned(), stored.clone()),
                "{key} reads back normalised"
            );
        }
        // The demo's own fields were left alone.
        for key in ["customer_number", "plan", "vip", "birthday"] {
            assert!(after[key].1.is_null(), "{key}: {:?}", after[key]);
        }
        assert_eq!(
            profile_field_values::Entity::find()
                .filter(profile_field_values::Column::ProfileId.eq(uuid_of(&profile)))
                .count(app.conn())
                .await
                .unwrap(),
            10,
            "one stored value per field"
        );

        // An integer is a number too; setting again replaces the value.
        let body = set_fields(&app, &profile, &[(&fields["t_number"], json!(7))]).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(values_by_key(&app, &profile).await["t_number"], json!(7));

        // Null clears a field, and only that field.
        let body = set_fields(&app, &profile, &[(&fields["t_text"], Value::Null)]).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let values = values_by_key(&app, &profile).await;
        assert!(values["t_text"].is_null(), "cleared: {values:?}");
        assert_eq!(values["t_email"], json!("jane.doe@example.com"));
        assert_eq!(
            profile_field_values::Entity::find()
                .filter(profile_field_values::Column::ProfileId.eq(uuid_of(&profile)))
                .count(app.conn())
                .await
                .unwrap(),
            9,
            "the cleared value's row is gone"
        );
        // A value omitted altogether clears it too.
        let body = mutate(
            &app,
            &app.demo_token,
            "setProfileFields",
            json!({ "profileId": profile, "values": [{ "fieldId": fields["t_url"] }] }),
        )
        .await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert!(values_by_key(&app, &profile).await["t_url"].is_null());

        // createProfile takes values too, checked the same way.
        let created = mutate_ok(
            &app,
            &app.demo_token,
            "createProfile",
            json!({ "name": "John Roe", "fields": [
                { "fieldId": fields["t_phone"], "value": "0031-6-12345678" },
                { "fieldId": fields["t_multi"], "value": ["events"] },
            ] }),
        )
        .await;
        let john = created["profile"]["id"].as_str().unwrap().to_owned();
        let values = values_by_key(&app, &john).await;
        assert_eq!(values["t_phone"], json!("+31612345678"));
        assert_eq!(values["t_multi"], json!(["events"]));
    }
);

both_backends!(
    a_bad_value_names_its_field_and_writes_nothing,
    |app: TestApp| async move {
        let fields = define_every_type(&app).await;
        let demo = demo(&app).await;
        let profile = new_profile(&app, "Jane Doe").await;
        // Some values to keep.
        let good = good_values();
        let pairs: Vec<(&str, Value)> = good
            .iter()
            .map(|(key, sent, _)| (fields[*key].as_str(), sent.clone()))
            .collect();
        let body = set_fields(&app, &profile, &pairs).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let (version, values) = read_fields(&app, &profile).await;
        let rows = snapshot(app.conn()).await;
        let customer_number = demo.fields["customer_number"].as_str();
        let vip = demo.fields["vip"].as_str();

        for (key, bad, why) in bad_values() {
            // A good value before the bad one, and one after it: neither may be written.
            let body = set_fields(
                &app,
                &profile,
                &[
                    (customer_number, json!("C-99999")),
                    (&fields[key], bad.clone()),
                    (vip, json!(true)),
                ],
            )
            .await;
            let error = single_error(&body, "BAD_USER_INPUT");
            assert_eq!(
                error["extensions"]["field"], key,
                "{key} = {bad} ({why}): {body:#}"
            );
            assert!(
                body["data"].is_null(),
                "no payload for a refused request: {body:#}"
            );
            assert_eq!(
                read_fields(&app, &profile).await,
                (version, values.clone()),
                "{key} = {bad} ({why}) changed the profile"
            );
        }

        // The same through createProfile: no profile is made.
        for (key, bad, why) in [
            ("t_date", json!("2026-02-30"), "no such day"),
            ("t_email", json!("nope"), "no @"),
        ] {
            let body = mutate(
                &app,
                &app.demo_token,
                "createProfile",
                json!({ "name": "Never Made", "fields": [
                    { "fieldId": fields["t_text"], "value": "ZZ-1" },
                    { "fieldId": fields[key], "value": bad },
                ] }),
            )
            .await;
            let error = single_error(&body, "BAD_USER_INPUT");
            assert_eq!(error["extensions"]["field"], key, "{why}: {body:#}");
        }
        assert_eq!(
            snapshot(app.conn()).await,
            rows,
            "no refused request wrote anything"
        );
    }
);

both_backends!(a_field_listed_twice_is_refused, |app: TestApp| async move {
    let demo = demo(&app).await;
    let plan = demo.fields["plan"].as_str();
    let rows = snapshot(app.conn()).await;
    let body = set_fields(
        &app,
        &demo.peter,
        &[(plan, json!("Free")), (plan, json!("Enterprise"))],
    )
    .await;
    assert_bad_input(&body, "input.values");
    let body = mutate(
        &app,
        &app.demo_token,
        "createProfile",
        json!({ "name": "Twice", "fields": [
                { "fieldId": plan, "value": "Free" },
                { "fieldId": plan, "value": null },
            ] }),
    )
    .await;
    assert_bad_input(&body, "input.fields");
    assert_eq!(snapshot(app.conn()).await, rows, "nothing was written");
    assert_eq!(values_by_key(&app, &demo.peter).await["plan"], "Pro");
});

both_backends!(
    an_archived_field_is_hidden_and_cannot_be_set,
    |app: TestApp| async move {
        let demo = demo(&app).await;
        let plan = demo.fields["plan"].clone();
        let archived = mutate_ok(
            &app,
            &app.demo_token,
            "archiveCustomField",
            json!({ "id": plan }),
        )
        .await;
        assert_eq!(archived["customField"]["archived"], true);

        // Gone from the profile and from the default list ...
        let values = values_by_key(&app, &demo.peter).await;
        assert!(!values.contains_key("plan"), "{values:?}");
        assert_eq!(values["customer_number"], "C-10042", "others stay");
        let keys = |d: &Value| -> Vec<String> {
            d["customFields"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["key"].as_str().unwrap().to_owned())
                .collect()
        };
        let listed = data(
            &app,
            &app.demo_token,
            "{ customFields { key archived } }",
            json!({}),
        )
        .await;
        assert_eq!(keys(&listed), ["customer_number", "vip", "birthday"]);
        // ... but listed when archived ones are asked for.
        let all = data(
            &app,
            &app.demo_token,
            "{ customFields(includeArchived: true) { key archived } }",
            json!({}),
        )
        .await;
        assert_eq!(keys(&all), ["customer_number", "plan", "vip", "birthday"]);
        assert_eq!(all["customFields"][1]["archived"], true);

        // It can't be set or cleared, and the request writes nothing else either.
        let rows = snapshot(app.conn()).await;
        let vip = demo.fields["vip"].as_str();
        for value in [json!("Free"), Value::Null] {
            let body = set_fields(
                &app,
                &demo.peter,
                &[(vip, json!(false)), (&plan, value.clone())],
            )
            .await;
            assert_bad_input(&body, "plan");
        }
        assert_eq!(snapshot(app.conn()).await, rows);

        // Restored, it is back with its kept value.
        let restored = mutate_ok(
            &app,
            &app.demo_token,
            "updateCustomField",
            json!({ "id": plan, "archived": false }),
        )
        .await;
        assert_eq!(restored["customField"]["archived"], false);
        assert_eq!(values_by_key(&app, &demo.peter).await["plan"], "Pro");
    }
);

both_backends!(
    a_required_field_cannot_be_cleared,
    |app: TestApp| async move {
        let demo = demo(&app).await;
        let customer_number = demo.fields["customer_number"].clone();
        let updated = mutate_ok(
            &app,
            &app.demo_token,
            "updateCustomField",
            json!({ "id": customer_number, "required": true }),
        )
        .await;
        assert_eq!(updated["customField"]["required"], true);
        let rows = snapshot(app.conn()).await;
        let body = set_fields(
            &app,
            &demo.peter,
            &[
                (&demo.fields["vip"], json!(false)),
                (&customer_number, Value::Null),
            ],
        )
        .await;
        assert_bad_input(&body, "customer_number");
        assert_eq!(snapshot(app.conn()).await, rows);
        let values = values_by_key(&app, &demo.peter).await;
        assert_eq!(values["customer_number"], "C-10042");
        assert_eq!(values["vip"], true);

        // It can still be changed to another good value.
        let body = set_fields(&app, &demo.peter, &[(&customer_number, json!("C-2"))]).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        assert_eq!(
            values_by_key(&app, &demo.peter).await["customer_number"],
            "C-2"
        );

        // A new required field starts out required.
        let field = mutate_ok(
            &app,
            &app.demo_token,
            "createCustomField",
            json!({ "key": "tax_id", "label": "Tax id", "type": "TEXT", "required": true }),
        )
        .await;
        assert_eq!(field["customField"]["required"], true);
        let tax_id = field["customField"]["id"].as_str().unwrap().to_owned();
        let body = set_fields(&app, &demo.peter, &[(&tax_id, json!("NL123"))]).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let body = set_fields(&app, &demo.peter, &[(&tax_id, Value::Null)]).await;
        assert_bad_input(&body, "tax_id");
    }
);

both_backends!(
    bad_field_definitions_are_refused,
    |app: TestApp| async move {
        let rows = snapshot(app.conn()).await;
        let text = |key: &str| json!({ "key": key, "label": "A field", "type": "TEXT" });
        let long_key = format!("a{}", "b".repeat(64));
        assert_eq!(long_key.len(), 65);
        for (input, field, why) in [
            (text("Bad-Key"), "input.key", "upper case and a dash"),
            (text("1abc"), "input.key", "starts with a digit"),
            (text(&long_key), "input.key", "65 characters"),
            (text(""), "input.key", "empty"),
            (text("_abc"), "input.key", "starts with an underscore"),
            (
                json!({ "key": "tier", "label": "Tier", "type": "SELECT" }),
                "input.options",
                "SELECT without options",
            ),
            (
                json!({ "key": "tags", "label": "Tags", "type": "MULTI_SELECT", "options": [] }),
                "input.options",
                "MULTI_SELECT with no options",
            ),
            (
                json!({ "key": "tier", "label": "Tier", "type": "SELECT",
                        "options": ["A", "A"] }),
                "input.options",
                "an option twice",
            ),
            (
                json!({ "key": "nick", "label": "Nick", "type": "TEXT", "options": ["x"] }),
                "input.options",
                "options on TEXT",
            ),
            (
                json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                        "rules": { "pattern": "([a-z" } }),
                "input.rules",
                "a regex that doesn't compile",
            ),
            (
                json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                        "rules": { "pattern": "a)|(b" } }),
                "input.rules",
                "a pattern that only compiles inside the server's anchors",
            ),
            (
                json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                        "rules": { "pattern": "(?x) [a-z]+ # letters" } }),
                "input.rules",
                "a pattern whose comment would swallow the server's anchors",
            ),
            (
                json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                        "rules": { "pattern": "a\u{0}b" } }),
                "input.rules",
                "a NUL in the pattern",
            ),
            (
                json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                        "rules": { "maxLength": 1001 } }),
                "input.rules",
                "a maxLength above what TEXT holds",
            ),
            (
                json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                        "rules": { "minLength": 1001 } }),
                "input.rules",
                "a minLength no TEXT value can reach",
            ),
            (
                json!({ "key": "about", "label": "About", "type": "TEXTAREA",
                        "rules": { "maxLength": 10001 } }),
                "input.rules",
                "a maxLength above what TEXTAREA holds",
            ),
            (
                json!({ "key": "score", "label": "Score", "type": "NUMBER",
                        "rules": { "min": 10, "max": 1 } }),
                "input.rules",
                "min above max",
            ),
            (
                json!({ "key": "score", "label": "Score", "type": "NUMBER",
                        "rules": { "maxLength": 3 } }),
                "input.rules",
                "a length rule on NUMBER",
            ),
            (
                json!({ "key": "ok_key", "label": "  ", "type": "TEXT" }),
                "input.label",
                "an empty label",
            ),
        ] {
            let body = mutate(&app, &app.demo_token, "createCustomField", input.clone()).await;
            let error = single_error(&body, "BAD_USER_INPUT");
            assert_eq!(error["extensions"]["field"], field, "{why}: {body:#}");
        }

        // A key already in use is a conflict.
        let body = mutate(
            &app,
            &app.demo_token,
            "createCustomField",
            text("customer_number"),
        )
        .await;
        single_error(&body, "CONFLICT");
        assert_eq!(snapshot(app.conn()).await, rows, "nothing was defined");

        // The longest key is fine.
        let key = format!("a{}", "b".repeat(63));
        let field = mutate_ok(&app, &app.demo_token, "createCustomField", text(&key)).await;
        assert_eq!(field["customField"]["key"], key.as_str());

        // A rule as long as the type allows is fine, and holds what it says.
        let demo = demo(&app).await;
        for (ty, longest) in [("TEXT", 1_000), ("TEXTAREA", 10_000)] {
            let key = format!("longest_{}", ty.to_lowercase());
            let field = mutate_ok(
                &app,
                &app.demo_token,
                "createCustomField",
                json!({ "key": key, "label": "Longest", "type": ty,
                        "rules": { "maxLength": longest } }),
            )
            .await["customField"]
                .clone();
            assert_eq!(field["rules"]["maxLength"], longest);
            let id = field["id"].as_str().unwrap();
            let body = set_fields(&app, &demo.peter, &[(id, json!("x".repeat(longest)))]).await;
            assert!(body.get("errors").is_none(), "{ty}: {body:#}");
            let body = set_fields(&app, &demo.peter, &[(id, json!("x".repeat(longest + 1)))]).await;
            assert_bad_input(&body, &key);
        }
        // A pattern that compiles where the server uses it works.
        let field = mutate_ok(
            &app,
            &app.demo_token,
            "createCustomField",
            json!({ "key": "ref", "label": "Ref", "type": "TEXT",
                    "rules": { "pattern": "(?i)[a-z]{2}|[0-9]{3}" } }),
        )
        .await["customField"]
            .clone();
        let id = field["id"].as_str().unwrap();
        for good in ["Ab", "123"] {
            let body = set_fields(&app, &demo.peter, &[(id, json!(good))]).await;
            assert!(body.get("errors").is_none(), "{good}: {body:#}");
        }
        for bad in ["Abc", "1234", "ab1"] {
            let body = set_fields(&app, &demo.peter, &[(id, json!(bad))]).await;
            assert_bad_input(&body, "ref");
        }
    }
);

both_backends!(
    update_custom_field_changes_label_options_and_position,
    |app: TestApp| async move {
        let fields = define_every_type(&app).await;
        let demo = demo(&app).await;
        let profile = new_profile(&app, "Jane Doe").await;

        // Every non-archived field, in position order, null where unset.
        let all = data(
            &app,
            &app.demo_token,
            "{ customFields { key position } }",
            json!({}),
        )
        .await;
        let defined: Vec<(String, i64)> = all["customFields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["key"].as_str().unwrap().to_owned(),
                    f["position"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(defined.len(), 14, "the demo's 4 and the 10 new ones");
        assert!(
            defined.windows(2).all(|w| w[0].1 < w[1].1),
            "new fields go after the others: {defined:?}"
        );
        let (_, listed) = read_fields(&app, &profile).await;
        assert_eq!(
            listed.iter().map(|(k, _, _)| k.clone()).collect::<Vec<_>>(),
            defined.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>()
        );
        assert!(listed.iter().all(|(_, _, v)| v.is_null()));

        // Change label, options and position.
        let select = fields["t_select"].clone();
        let updated = mutate_ok(
            &app,
            &app.demo_token,
            "updateCustomField",
            json!({ "id": select, "label": "Loyalty tier",
                    "options": ["Bronze", "Silver", "Gold", "Platinum"], "position": -1 }),
        )
        .await["customField"]
            .clone();
        assert_eq!(updated["label"], "Loyalty tier");
        assert_eq!(
            updated["options"],
            json!(["Bronze", "Silver", "Gold", "Platinum"])
        );
        assert_eq!(updated["position"], -1);
        assert_eq!(updated["key"], "t_select", "the key never changes");
        assert_eq!(updated["type"], "SELECT", "the type never changes");

        // It now comes first, and the new option can be chosen.
        let body = set_fields(&app, &profile, &[(&select, json!("Platinum"))]).await;
        assert!(body.get("errors").is_none(), "{body:#}");
        let d = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { profile(id: $id) { fields { field { key label } value } } }",
            json!({ "id": profile }),
        )
        .await;
        assert_eq!(
            d["profile"]["fields"][0],
            json!({ "field": { "key": "t_select", "label": "Loyalty tier" }, "value": "Platinum" })
        );
        assert_eq!(d["profile"]["fields"].as_array().unwrap().len(), 14);

        // Moving a demo field to the end.
        let moved = mutate_ok(
            &app,
            &app.demo_token,
            "updateCustomField",
            json!({ "id": demo.fields["customer_number"], "position": 1000 }),
        )
        .await;
        assert_eq!(moved["customField"]["position"], 1000);
        let (_, listed) = read_fields(&app, &demo.peter).await;
        let last = listed.last().unwrap();
        assert_eq!(
            (last.0.as_str(), &last.2),
            ("customer_number", &json!("C-10042"))
        );

        // Options are still checked on update.
        let rows = snapshot(app.conn()).await;
        for (input, field) in [
            (json!({ "id": select, "options": [] }), "input.options"),
            (
                json!({ "id": select, "options": ["A", "A"] }),
                "input.options",
            ),
            (
                json!({ "id": fields["t_text"], "options": ["x"] }),
                "input.options",
            ),
            (
                json!({ "id": fields["t_text"], "rules": { "pattern": "(" } }),
                "input.rules",
            ),
            (
                json!({ "id": fields["t_text"], "rules": { "maxLength": 5000 } }),
                "input.rules",
            ),
            (json!({ "id": select, "label": "" }), "input.label"),
        ] {
            let body = mutate(&app, &app.demo_token, "updateCustomField", input).await;
            assert_bad_input(&body, field);
        }
        assert_eq!(snapshot(app.conn()).await, rows);
    }
);
