//! Suggestions: the profile a contact probably belongs to, and the profiles that are
//! probably the same person, each with its reasons; never the contact's own profile,
//! never another workspace's.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::support::{Demo, assert_bad_input, call, data, demo, mutate_ok, token};

const FOR_CONTACT: &str = "query($id: ID!, $first: Int) {
  contact(id: $id) { profileSuggestions(first: $first) { profile { id name } score reasons } }
}";

const FOR_PROFILE: &str = "query($id: ID!, $first: Int) {
  profile(id: $id) { duplicateSuggestions(first: $first) { profile { id name } score reasons } }
}";

/// The suggestions for a contact, with the demo token.
async fn for_contact(app: &TestApp, contact: &str) -> Vec<Value> {
    let d = data(
        app,
        &app.demo_token,
        FOR_CONTACT,
        json!({ "id": contact, "first": 20 }),
    )
    .await;
    d["contact"]["profileSuggestions"]
        .as_array()
        .unwrap()
        .clone()
}

/// The duplicates suggested for a profile.
async fn for_profile(app: &TestApp, profile: &str) -> Vec<Value> {
    let d = data(
        app,
        &app.demo_token,
        FOR_PROFILE,
        json!({ "id": profile, "first": 20 }),
    )
    .await;
    d["profile"]["duplicateSuggestions"]
        .as_array()
        .unwrap()
        .clone()
}

/// The names of the suggested profiles, best first.
fn names(found: &[Value]) -> Vec<&str> {
    found
        .iter()
        .map(|s| s["profile"]["name"].as_str().unwrap())
        .collect()
}

/// The suggestion of the profile called `name`.
fn of<'a>(found: &'a [Value], name: &str) -> &'a Value {
    found
        .iter()
        .find(|s| s["profile"]["name"] == name)
        .unwrap_or_else(|| panic!("{name} is not suggested: {found:#?}"))
}

async fn channel(app: &TestApp, channel_type: &str, name: &str) -> String {
    mutate_ok(
        app,
        &app.demo_token,
        "createChannel",
        json!({ "type": channel_type, "name": name }),
    )
    .await["channel"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn contact(app: &TestApp, channel: &str, identifier: &str, name: &str) -> String {
    mutate_ok(
        app,
        &app.demo_token,
        "createContact",
        json!({ "channelId": channel, "identifier": identifier, "displayName": name }),
    )
    .await["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn profile(app: &TestApp, name: &str, contacts: &[&str]) -> String {
    mutate_ok(
        app,
        &app.demo_token,
        "createProfile",
        json!({ "name": name, "contactIds": contacts }),
    )
    .await["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Profiles to be found: the demo's Peter B., and three more.
async fn people(app: &TestApp, a: &Demo) -> [String; 3] {
    let wa = &a.channels["WHATSAPP"];
    let jose = contact(app, wa, "+34 600 111 222", "José").await;
    [
        profile(app, "José Núñez", &[&jose]).await,
        profile(app, "Peter Bakker", &[]).await,
        profile(app, "Anna Visser", &[]).await,
    ]
}

both_backends!(
    the_same_phone_or_email_on_another_channel_is_suggested,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let sms = channel(&app, "SMS", "SMS").await;
        let chat = channel(&app, "LIVE_CHAT", "Website chat").await;
        // Peter's WhatsApp number writes in by SMS.
        let texted = contact(&app, &sms, "+31 6 1234 5678", "+31 6 1234 5678").await;
        let found = for_contact(&app, &texted).await;
        assert_eq!(names(&found), ["Peter B."], "{found:#?}");
        assert_eq!(found[0]["profile"]["id"], a.peter);
        assert_eq!(found[0]["reasons"], json!(["SAME_PHONE"]));
        assert!(found[0]["score"].as_f64().unwrap() >= 0.85, "{found:#?}");

        // Maria's e-mail address, typed into the website chat in other case.
        let maria = profile(&app, "Maria Kuipers", &[&a.maria]).await;
        let chatted = contact(&app, &chat, "Maria.K@Example.com", "Visitor 1042").await;
        let found = for_contact(&app, &chatted).await;
        assert_eq!(names(&found), ["Maria Kuipers"], "{found:#?}");
        assert_eq!(found[0]["profile"]["id"], maria);
        assert_eq!(found[0]["reasons"], json!(["SAME_EMAIL"]));

        // An e-mail address and a name together count for more than either alone.
        let both = contact(&app, &chat, "maria.k@example.com", "Maria Kuipers").await;
        let found = for_contact(&app, &both).await;
        assert_eq!(found[0]["reasons"], json!(["SAME_EMAIL", "SIMILAR_NAME"]));
        assert!(found[0]["score"].as_f64().unwrap() > 0.95, "{found:#?}");

        // The profiles of the same person find each other the same way.
        let dupes = for_profile(&app, &a.peter).await;
        assert!(
            dupes.is_empty(),
            "no other profile has Peter's contacts yet: {dupes:#?}"
        );
        let texter = profile(&app, "Unknown texter", &[&texted]).await;
        let dupes = for_profile(&app, &a.peter).await;
        assert_eq!(names(&dupes), ["Unknown texter"]);
        assert_eq!(dupes[0]["reasons"], json!(["SAME_PHONE"]));
        let back = for_profile(&app, &texter).await;
        assert_eq!(names(&back), ["Peter B."]);
    }
);

both_backends!(
    names_match_whatever_their_case_accents_order_and_small_typos,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let [jose, bakker, _anna] = people(&app, &a).await;
        let wa = a.channels["WHATSAPP"].clone();
        for (i, (display_name, expected)) in [
            ("jose nunez", "José Núñez"),
            ("JOSÉ NÚÑEZ", "José Núñez"),
            ("Núñez, José", "José Núñez"),
            ("Bakker, Peter", "Peter Bakker"),
            ("peter bakker", "Peter Bakker"),
            ("Peter Bakkre", "Peter Bakker"),
            ("Petr Bakker", "Peter Bakker"),
            ("Peter Bakkker", "Peter Bakker"),
            ("peter b", "Peter B."),
            ("Anna Vissr", "Anna Visser"),
        ]
        .into_iter()
        .enumerate()
        {
            let c = contact(&app, &wa, &format!("+3162000{i:04}"), display_name).await;
            let found = for_contact(&app, &c).await;
            assert_eq!(
                found.first().map(|s| s["profile"]["name"].clone()),
                Some(json!(expected)),
                "{display_name}: {found:#?}"
            );
            assert_eq!(
                found[0]["reasons"],
                json!(["SIMILAR_NAME"]),
                "{display_name}"
            );
            let score = found[0]["score"].as_f64().unwrap();
            assert!((0.5..=1.0).contains(&score), "{display_name}: {score}");
        }
        // Exactly the same name scores higher than a typo of it.
        let exact = contact(&app, &wa, "+31630000001", "Peter Bakker").await;
        let typo = contact(&app, &wa, "+31630000002", "Peter Bakkre").await;
        let exact = for_contact(&app, &exact).await[0]["score"]
            .as_f64()
            .unwrap();
        let typo = for_contact(&app, &typo).await[0]["score"].as_f64().unwrap();
        assert!(exact > typo, "{exact} vs {typo}");

        // Other people with a name in common are not suggested.
        for (i, display_name) in ["Peter Visser", "Maria Bakker", "Jan Núñez", "Anna"]
            .into_iter()
            .enumerate()
        {
            let c = contact(&app, &wa, &format!("+3164000{i:04}"), display_name).await;
            let found = for_contact(&app, &c).await;
            assert!(found.is_empty(), "{display_name}: {found:#?}");
        }

        // Duplicates by name, in both directions.
        let reversed = profile(&app, "Bakker, Peter", &[]).await;
        let dupes = for_profile(&app, &bakker).await;
        assert_eq!(names(&dupes), ["Bakker, Peter"]);
        assert_eq!(dupes[0]["profile"]["id"], reversed);
        assert_eq!(dupes[0]["reasons"], json!(["SIMILAR_NAME"]));
        assert_eq!(names(&for_profile(&app, &reversed).await), ["Peter Bakker"]);
        assert!(for_profile(&app, &jose).await.is_empty());

        // A rename moves the name's keys with it.
        mutate_ok(
            &app,
            &app.demo_token,
            "updateProfile",
            json!({ "id": reversed, "name": "Pieternella de Wit" }),
        )
        .await;
        assert!(for_profile(&app, &bakker).await.is_empty());
        let c = contact(&app, &wa, "+31650000001", "Pieternela de Wit").await;
        assert_eq!(names(&for_contact(&app, &c).await), ["Pieternella de Wit"]);
    }
);

both_backends!(
    the_own_profile_and_other_workspaces_are_never_suggested,
    |app: TestApp| async move {
        let a = demo(&app).await;
        let [_, bakker, _] = people(&app, &a).await;
        let wa = a.channels["WHATSAPP"].clone();
        // A contact of Peter Bakker called Peter Bakker: his profile is not suggested.
        let own = contact(&app, &wa, "+31660000001", "Peter Bakker").await;
        mutate_ok(
            &app,
            &app.demo_token,
            "attachContact",
            json!({ "profileId": bakker, "contactId": own }),
        )
        .await;
        assert!(for_contact(&app, &own).await.is_empty());
        // Peter B.'s WhatsApp contact ("Peter") doesn't get Peter B. suggested either.
        let peter_wa = &a.peter_contacts["+31612345678"];
        assert!(
            !for_contact(&app, peter_wa)
                .await
                .iter()
                .any(|s| s["profile"]["id"] == a.peter)
        );

        // Another workspace with the same person: its profiles never show here, and
        // ours never show there.
        let ws = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
            .await
            .unwrap();
        let other = token(&app, ws.id, None, "read,write,admin").await;
        let run = |name: &'static str, input: Value| {
            let other = other.clone();
            let app = &app;
            async move { crate::support::mutate_ok(app, &other, name, input).await }
        };
        let their_wa = run(
            "createChannel",
            json!({ "type": "WHATSAPP", "name": "Their WhatsApp" }),
        )
        .await["channel"]["id"]
            .clone();
        let their_sms = run(
            "createChannel",
            json!({ "type": "SMS", "name": "Their SMS" }),
        )
        .await["channel"]["id"]
            .clone();
        let theirs = run(
            "createContact",
            json!({ "channelId": their_wa, "identifier": "+31612345678", "displayName": "Peter Bakker" }),
        )
        .await["contact"]["id"]
            .clone();
        run(
            "createProfile",
            json!({ "name": "Peter Bakker", "contactIds": [theirs] }),
        )
        .await;
        let sms = channel(&app, "SMS", "SMS").await;
        let ours = contact(&app, &sms, "+31612345678", "Peter Bakker").await;
        let found = for_contact(&app, &ours).await;
        assert_eq!(names(&found), ["Peter B.", "Peter Bakker"], "{found:#?}");
        assert_eq!(of(&found, "Peter B.")["reasons"], json!(["SAME_PHONE"]));
        assert_eq!(of(&found, "Peter Bakker")["profile"]["id"], bakker);
        let their_new = run(
            "createContact",
            json!({ "channelId": their_sms, "identifier": "+31612345678", "displayName": "Peter Bakker" }),
        )
        .await["contact"]["id"]
            .clone();
        let d = data(
            &app,
            &other,
            FOR_CONTACT,
            json!({ "id": their_new, "first": 20 }),
        )
        .await;
        let theirs_found = d["contact"]["profileSuggestions"].as_array().unwrap();
        assert_eq!(theirs_found.len(), 1, "{d:#}");
        assert_ne!(theirs_found[0]["profile"]["id"], json!(bakker));
        assert_eq!(
            theirs_found[0]["reasons"],
            json!(["SAME_PHONE", "SIMILAR_NAME"])
        );

        // `first` is bounded, and limits.
        for first in [0, 21, -1] {
            let body = call(
                &app,
                &app.demo_token,
                FOR_CONTACT,
                json!({ "id": ours, "first": first }),
            )
            .await;
            assert_bad_input(&body, "first");
        }
        let d = data(
            &app,
            &app.demo_token,
            FOR_CONTACT,
            json!({ "id": ours, "first": 1 }),
        )
        .await;
        assert_eq!(
            d["contact"]["profileSuggestions"].as_array().unwrap().len(),
            1
        );
        // `first` may be left out.
        let d = data(
            &app,
            &app.demo_token,
            "query($id: ID!) { contact(id: $id) { profileSuggestions { score } } }",
            json!({ "id": ours }),
        )
        .await;
        assert_eq!(
            d["contact"]["profileSuggestions"].as_array().unwrap().len(),
            2
        );
    }
);

both_backends!(
    the_labelled_duplicates_are_found_to_the_targets,
    |app: TestApp| async move {
        // A small seeded workspace, and the labelled cases among its people.
        let seeded = profilegraph::seed::generate(
            &app.db,
            "Quality Co",
            profilegraph::seed::Size::per_profile(300),
            false,
        )
        .await
        .unwrap();
        let cases = profilegraph::quality::seed_labelled(&app.db, seeded.workspace_id, 200, 7)
            .await
            .unwrap();
        assert_eq!(cases.len(), 200);
        assert!(
            cases.iter().any(|c| c.truth.is_none()),
            "near misses included"
        );
        let quality = profilegraph::quality::evaluate(&app.db, seeded.workspace_id, &cases)
            .await
            .unwrap();
        assert!(
            quality.precision_at_1 >= 0.95 && quality.recall_at_5 >= 0.95,
            "{quality:#?}"
        );
    }
);
