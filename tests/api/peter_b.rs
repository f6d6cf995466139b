//! The product story: Peter B. writes in on Facebook Messenger, then on WhatsApp. Each
//! conversation brings in a contact and opens a ticket; from the first ticket the agent
//! creates a profile, from the second they look that profile up and add the contact. The
//! profile page then shows both contacts by channel and both tickets, newest first.

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops::{self, instant, strings_of};

both_backends!(
    peter_b_writes_in_on_messenger_then_whatsapp,
    |app: TestApp| async move {
        // The workspace connects a Messenger page and a WhatsApp number.
        let messenger = ops::create_channel(&app, "FACEBOOK_MESSENGER", "Messenger NL").await;
        let whatsapp = ops::create_channel(&app, "WHATSAPP", "WhatsApp NL").await;
        assert_eq!(messenger["type"], "FACEBOOK_MESSENGER");
        assert_eq!(whatsapp["name"], "WhatsApp NL");

        // 1. Peter writes on Messenger: a contact and a ticket.
        let fb =
            ops::new_contact(&app, &messenger["id"], " fb:7700112233 ", Some("Peter B.")).await;
        assert_eq!(
            fb["identifier"], "fb:7700112233",
            "platform ids are trimmed"
        );
        assert_eq!(fb["channel"]["id"], messenger["id"]);
        assert!(fb["profile"].is_null(), "a new contact has no profile");
        let fb_ticket = ops::start_moment(&app, &fb["id"], "Where is my order #2001?").await;
        assert_eq!(fb_ticket["status"], "OPEN");
        assert_eq!(fb_ticket["channel"]["id"], messenger["id"]);
        assert_eq!(fb_ticket["contact"]["id"], fb["id"]);

        // From that ticket's sidebar: "Add profile" → new profile with this contact.
        let created = ops::create_profile(&app, "Peter Bakker", &[&fb["id"]]).await;
        assert_eq!(created["name"], "Peter Bakker");
        assert_eq!(created["contacts"], json!([{ "id": fb["id"] }]));
        let profile_id = created["id"].clone();
        let version_after_create = created["version"].as_i64().unwrap();
        let sidebar = app
            .demo_data(
                "query($id: ID!) { contactMoment(id: $id) { contact { profile { id name } } } }",
                json!({ "id": fb_ticket["id"] }),
            )
            .await;
        assert_eq!(
            sidebar["contactMoment"]["contact"]["profile"],
            json!({ "id": profile_id, "name": "Peter Bakker" }),
            "the first ticket now shows the profile"
        );

        // 2. Peter writes on WhatsApp, with his number typed the way people type it.
        let wa = ops::new_contact(&app, &whatsapp["id"], "+31 6 1111 2222", Some("Peter")).await;
        assert_eq!(
            wa["identifier"], "+31611112222",
            "phone numbers become E.164"
        );
        assert_eq!(wa["displayName"], "Peter");
        let wa_ticket = ops::start_moment(&app, &wa["id"], "Order #2001 arrived damaged").await;
        assert_eq!(wa_ticket["channel"]["id"], whatsapp["id"]);

        // From the second ticket: look the profile up by part of its name, any case ...
        let (found, total) = ops::search_profiles(&app, Some("peter bak")).await;
        assert_eq!(total, 1, "{found:#?}");
        assert_eq!(found[0]["id"], profile_id);
        // ... (the demo's other "Peter B." is found by the shorter text, so both show)
        let (found, _) = ops::search_profiles(&app, Some("PETER B")).await;
        assert_eq!(
            strings_of(&Value::from(found), "name"),
            ["Peter B.", "Peter Bakker"],
            "sorted by name"
        );
        // ... and add the WhatsApp contact to it.
        let attached = ops::attach_contact(&app, &profile_id, &wa["id"], false).await;
        assert_eq!(attached["contact"]["profile"]["id"], profile_id);
        assert_eq!(
            attached["profile"]["version"].as_i64().unwrap(),
            version_after_create + 1,
            "attaching a contact is a change to the profile"
        );

        // 3. The profile page.
        let page = ops::profile_page(&app, &profile_id).await;
        assert_eq!(page["name"], "Peter Bakker");
        assert_eq!(
            page["contactsByChannel"],
            json!([
                {
                    "channel": { "id": messenger["id"], "type": "FACEBOOK_MESSENGER", "name": "Messenger NL" },
                    "contacts": [{
                        "id": fb["id"], "identifier": "fb:7700112233",
                        "displayName": "Peter B.", "createdAt": fb["createdAt"],
                    }],
                },
                {
                    "channel": { "id": whatsapp["id"], "type": "WHATSAPP", "name": "WhatsApp NL" },
                    "contacts": [{
                        "id": wa["id"], "identifier": "+31611112222",
                        "displayName": "Peter", "createdAt": wa["createdAt"],
                    }],
                },
            ]),
            "grouped by channel, FACEBOOK_MESSENGER before WHATSAPP"
        );
        assert_eq!(
            ops::ids_of(&page["contacts"]),
            [fb["id"].as_str().unwrap(), wa["id"].as_str().unwrap()],
            "the flat list in the same order"
        );
        let timeline = &page["contactMoments"];
        assert_eq!(timeline["totalCount"], 2);
        assert_eq!(timeline["pageInfo"]["hasNextPage"], false);
        assert_eq!(
            ops::ids_of(&timeline["nodes"]),
            [
                wa_ticket["id"].as_str().unwrap(),
                fb_ticket["id"].as_str().unwrap()
            ],
            "newest first: the WhatsApp ticket came second"
        );
        let nodes = timeline["nodes"].as_array().unwrap();
        assert!(instant(&nodes[0]["lastMessageAt"]) > instant(&nodes[1]["lastMessageAt"]));
        assert_eq!(nodes[0]["contact"]["id"], wa["id"]);
        assert_eq!(nodes[0]["channel"]["id"], whatsapp["id"]);
        assert_eq!(nodes[1]["contact"]["id"], fb["id"]);
        assert_eq!(nodes[1]["channel"]["id"], messenger["id"]);
        assert_eq!(nodes[1]["subject"], "Where is my order #2001?");
        assert_eq!(page["notes"]["totalCount"], 0);

        // The demo's own Peter B. is untouched by all this.
        let demo = ops::demo_peter(&app).await;
        assert_eq!(demo["version"], 1);
    }
);

both_backends!(
    identities_are_normalised_and_never_duplicated,
    |app: TestApp| async move {
        let whatsapp = ops::demo_channel(&app, "WHATSAPP").await;
        let email = ops::demo_channel(&app, "EMAIL").await;
        let messenger = ops::demo_channel(&app, "FACEBOOK_MESSENGER").await;
        let contacts_before = contact_total(&app).await;

        // A phone number, however typed, is one E.164 identity.
        let (first, created) =
            ops::create_contact(&app, &whatsapp["id"], "+31 6 1111 2222", None).await;
        assert!(created);
        assert_eq!(first["identifier"], "+31611112222");
        assert_eq!(
            first["displayName"], "+31611112222",
            "without a display name, the identifier is shown"
        );
        for typed in [
            "+31611112222",
            "0031 6 1111 2222",
            "+31-6-1111-2222",
            "(+31) 6.1111.2222",
        ] {
            let (again, created) = ops::create_contact(&app, &whatsapp["id"], typed, None).await;
            assert!(!created, "{typed} is the same identity");
            assert_eq!(again["id"], first["id"], "{typed}");
            assert_eq!(again["identifier"], "+31611112222");
        }

        // An e-mail address is lower-cased and trimmed.
        let (mail, created) = ops::create_contact(
            &app,
            &email["id"],
            "  Peter.Bakker@Example.COM ",
            Some("Peter"),
        )
        .await;
        assert!(created);
        assert_eq!(mail["identifier"], "peter.bakker@example.com");
        let (again, created) =
            ops::create_contact(&app, &email["id"], "PETER.BAKKER@example.com", None).await;
        assert!(!created);
        assert_eq!(again["id"], mail["id"]);
        assert_eq!(
            again["displayName"], "Peter",
            "an existing contact is returned as it is"
        );

        // The demo's identities exist already.
        let (peter_wa, created) =
            ops::create_contact(&app, &whatsapp["id"], "+31 6 1234 5678", None).await;
        assert!(!created);
        assert_eq!(peter_wa["profile"]["name"], "Peter B.");
        let (maria, created) =
            ops::create_contact(&app, &email["id"], "Maria.K@example.com", None).await;
        assert!(!created);
        assert_eq!(maria["displayName"], "Maria K.");

        // The same identifier on another channel is another contact.
        let (on_messenger, created) =
            ops::create_contact(&app, &messenger["id"], "+31611112222", None).await;
        assert!(created, "unique per channel, not across channels");
        assert_ne!(on_messenger["id"], first["id"]);

        assert_eq!(
            contact_total(&app).await,
            contacts_before + 3,
            "three new identities, no duplicates"
        );

        // What is not an identity of its channel is refused, naming the input.
        for (channel, identifier) in [
            (&whatsapp, "0612345678"),
            (&whatsapp, "+31 6 abc"),
            (&email, "peter.example.com"),
            (&email, "peter@localhost"),
            (&messenger, "   "),
        ] {
            ops::expect_bad_input(
                &app,
                &ops::create_contact_mutation(),
                json!({ "input": { "channelId": channel["id"], "identifier": identifier } }),
                "input.identifier",
            )
            .await;
        }
        assert_eq!(contact_total(&app).await, contacts_before + 3);
    }
);

async fn contact_total(app: &TestApp) -> i64 {
    app.demo_data("{ contacts { totalCount } }", json!({}))
        .await["contacts"]["totalCount"]
        .as_i64()
        .unwrap()
}
