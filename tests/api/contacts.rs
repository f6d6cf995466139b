//! A profile's contacts: the "+" beside one opens a new ticket with it on its channel, the
//! "×" detaches it (it stays, with its tickets), and the workspace's contact list filters.

use std::collections::BTreeSet;

use profilegraph_schema::ids::NodeKind;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops::{self, gid, instant};

/// How many contact moments the workspace has.
async fn moment_total(app: &TestApp) -> i64 {
    app.demo_data("{ contactMoments { totalCount } }", json!({}))
        .await["contactMoments"]["totalCount"]
        .as_i64()
        .unwrap()
}

both_backends!(
    plus_opens_a_ticket_on_the_contacts_channel,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        for contact in peter["contacts"].as_array().unwrap() {
            let before = ops::contact(&app, &contact["id"]).await;
            let earlier = before["contactMoments"]["totalCount"].as_i64().unwrap();
            assert_eq!(
                earlier, 2,
                "the demo gave each of Peter's contacts two tickets"
            );

            let ticket = ops::start_moment(&app, &contact["id"], "  Follow-up on #1042 ").await;
            assert_eq!(ticket["status"], "OPEN");
            assert_eq!(ticket["subject"], "Follow-up on #1042");
            assert_eq!(
                ticket["channel"]["id"], contact["channel"]["id"],
                "on the contact's own channel ({})",
                contact["channel"]["type"]
            );
            assert_eq!(ticket["contact"]["id"], contact["id"]);
            assert!(ticket["closedAt"].is_null());
            assert_eq!(ticket["lastMessageAt"], ticket["createdAt"]);

            // The contact's tickets and the profile's timeline start with it.
            let after = ops::contact(&app, &contact["id"]).await;
            assert_eq!(after["contactMoments"]["totalCount"], earlier + 1);
            assert_eq!(after["contactMoments"]["nodes"][0]["id"], ticket["id"]);
            let page = ops::profile_page(&app, &peter["id"]).await;
            assert_eq!(page["contactMoments"]["nodes"][0]["id"], ticket["id"]);
            // The ticket opens by its id.
            let opened = app
                .demo_data(
                    &format!(
                        "query($id: ID!) {{ contactMoment(id: $id) {{ {} }} }}",
                        ops::MOMENT
                    ),
                    json!({ "id": ticket["id"] }),
                )
                .await;
            assert_eq!(opened["contactMoment"], ticket);
        }
        let page = ops::profile_page(&app, &peter["id"]).await;
        assert_eq!(page["contactMoments"]["totalCount"], 6);
        assert_eq!(
            page["version"], peter["version"],
            "a new ticket doesn't change the profile"
        );

        // What can't be opened isn't, and nothing is written.
        let total = moment_total(&app).await;
        let contact_id = &peter["contacts"][0]["id"];
        for (input, field) in [
            (
                json!({ "contactId": contact_id, "subject": "" }),
                "input.subject",
            ),
            (
                json!({ "contactId": contact_id, "subject": "  " }),
                "input.subject",
            ),
            (
                json!({ "contactId": contact_id, "subject": "x".repeat(501) }),
                "input.subject",
            ),
            (
                json!({ "contactId": "garbage", "subject": "Hi" }),
                "input.contactId",
            ),
        ] {
            ops::expect_bad_input(
                &app,
                &ops::start_moment_mutation(),
                json!({ "input": input }),
                field,
            )
            .await;
        }
        for missing in [
            gid(NodeKind::Contact, uuid::Uuid::now_v7()),
            // A profile's id is not a contact's.
            peter["id"].as_str().unwrap().to_owned(),
        ] {
            ops::expect_error(
                &app,
                &ops::start_moment_mutation(),
                json!({ "input": { "contactId": missing, "subject": "Hi" } }),
                "NOT_FOUND",
            )
            .await;
        }
        assert_eq!(moment_total(&app).await, total);
    }
);

both_backends!(
    cross_detaches_a_contact_that_keeps_its_tickets,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let fb = peter["contacts"][0].clone();
        let wa = peter["contacts"][1].clone();
        assert_eq!(wa["channel"]["type"], "WHATSAPP");
        let wa_before = ops::contact(&app, &wa["id"]).await;
        let page_before = ops::profile_page(&app, &peter["id"]).await;
        assert_eq!(page_before["contactMoments"]["totalCount"], 4);
        let workspace_moments = moment_total(&app).await;

        let data = app
            .demo_data(
                &ops::detach_mutation(),
                ops::detach_input(&peter["id"], &wa["id"]),
            )
            .await;
        let payload = &data["detachContact"];
        assert_eq!(payload["profile"]["id"], peter["id"]);
        assert_eq!(payload["profile"]["version"], 2, "a change to the profile");
        assert!(instant(&payload["profile"]["updatedAt"]) > instant(&peter["updatedAt"]));
        assert_eq!(payload["profile"]["contacts"], json!([{ "id": fb["id"] }]));
        assert_eq!(payload["contact"]["id"], wa["id"]);
        assert!(payload["contact"]["profile"].is_null());
        assert!(instant(&payload["contact"]["updatedAt"]) > instant(&wa["updatedAt"]));

        // The contact stays, with its tickets.
        let wa_after = ops::contact(&app, &wa["id"]).await;
        assert!(wa_after["profile"].is_null());
        assert_eq!(wa_after["identifier"], wa_before["identifier"]);
        assert_eq!(wa_after["contactMoments"], wa_before["contactMoments"]);
        assert_eq!(wa_after["contactMoments"]["totalCount"], 2);
        assert_eq!(moment_total(&app).await, workspace_moments);

        // The profile page no longer lists it, nor its tickets.
        let page = ops::profile_page(&app, &peter["id"]).await;
        assert_eq!(ops::ids_of(&page["contacts"]), [fb["id"].as_str().unwrap()]);
        assert_eq!(page["contactsByChannel"].as_array().unwrap().len(), 1);
        assert_eq!(
            page["contactsByChannel"][0]["channel"]["type"],
            "FACEBOOK_MESSENGER"
        );
        assert_eq!(page["contactMoments"]["totalCount"], 2);
        assert!(
            page["contactMoments"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["contact"]["id"] == fb["id"]),
            "only the Messenger tickets remain: {page:#}"
        );
        assert_eq!(page["version"], 2);
        let unattached = contact_ids(&app, json!({ "withoutProfile": true })).await;
        assert!(unattached.contains(wa["id"].as_str().unwrap()));

        // Detaching what isn't in the profile is NOT_FOUND, and changes nothing.
        let maria = ops::demo_maria(&app).await;
        let other = ops::create_profile(&app, "Someone Else", &[]).await;
        for (profile_id, contact_id) in [
            (&peter["id"], &wa["id"]),    // already detached
            (&peter["id"], &maria["id"]), // never in a profile
            (&other["id"], &fb["id"]),    // in another profile
            (
                &peter["id"],
                &Value::from(gid(NodeKind::Contact, uuid::Uuid::now_v7())),
            ),
        ] {
            ops::expect_error(
                &app,
                &ops::detach_mutation(),
                ops::detach_input(profile_id, contact_id),
                "NOT_FOUND",
            )
            .await;
        }
        let peter_now = ops::profile(&app, &peter["id"]).await;
        assert_eq!(peter_now["version"], 2, "unchanged by the refusals");
        assert_eq!(peter_now["contacts"], json!([{ "id": fb["id"] }]));
        assert_eq!(
            ops::profile(&app, &other["id"]).await["version"],
            other["version"]
        );
        assert_eq!(
            ops::contact(&app, &fb["id"]).await["profile"]["id"],
            peter["id"]
        );
    }
);

/// The ids `contacts(…)` lists with `filter` (first 100), checking `totalCount` agrees and
/// the order is newest first.
async fn contact_ids(app: &TestApp, filter: Value) -> BTreeSet<String> {
    let data = app
        .demo_data(
            "query($search: String, $channelId: ID, $withoutProfile: Boolean) {
               contacts(first: 100, search: $search, channelId: $channelId, withoutProfile: $withoutProfile) {
                 totalCount nodes { id createdAt }
               }
             }",
            filter.clone(),
        )
        .await;
    let nodes = data["contacts"]["nodes"].as_array().unwrap();
    assert_eq!(
        data["contacts"]["totalCount"],
        nodes.len(),
        "totalCount follows the filter {filter}"
    );
    assert!(
        nodes
            .windows(2)
            .all(|w| instant(&w[0]["createdAt"]) >= instant(&w[1]["createdAt"])),
        "newest first: {nodes:#?}"
    );
    let ids = ops::ids_of(&data["contacts"]["nodes"]);
    ops::assert_distinct(&ids);
    ids.into_iter().collect()
}

both_backends!(
    contacts_filter_by_profile_search_and_channel,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let maria = ops::demo_maria(&app).await;
        let whatsapp = ops::demo_channel(&app, "WHATSAPP").await;
        let demo_email = ops::demo_channel(&app, "EMAIL").await;
        let sales = ops::create_channel(&app, "EMAIL", "Sales e-mail").await;
        let jan = ops::new_contact(&app, &sales["id"], "jan@example.com", Some("Jan")).await;
        let janneke =
            ops::new_contact(&app, &sales["id"], "JANNEKE@example.com", Some("Janneke")).await;
        ops::create_profile(&app, "Janneke Visser", &[&janneke["id"]]).await;
        let jan_willem =
            ops::new_contact(&app, &whatsapp["id"], "+31 6 5555 0000", Some("Jan Willem")).await;

        let id = |c: &Value| c["id"].as_str().unwrap().to_owned();
        let set = |contacts: &[&Value]| contacts.iter().map(|c| id(c)).collect::<BTreeSet<_>>();
        let (peter_fb, peter_wa) = (&peter["contacts"][0], &peter["contacts"][1]);

        let cases = [
            (
                json!({}),
                set(&[peter_fb, peter_wa, &maria, &jan, &janneke, &jan_willem]),
            ),
            (
                json!({ "withoutProfile": true }),
                set(&[&maria, &jan, &jan_willem]),
            ),
            (
                json!({ "withoutProfile": false }),
                set(&[peter_fb, peter_wa, &janneke]),
            ),
            (
                json!({ "search": "jan" }),
                set(&[&jan, &janneke, &jan_willem]),
            ),
            (
                json!({ "search": "JAN", "withoutProfile": true }),
                set(&[&jan, &jan_willem]),
            ),
            (json!({ "search": "willem" }), set(&[&jan_willem])),
            (
                json!({ "search": "@EXAMPLE.com" }),
                set(&[&maria, &jan, &janneke]),
            ),
            (json!({ "search": "+316555" }), set(&[&jan_willem])),
            (json!({ "search": "%" }), set(&[])),
            (
                json!({ "search": "  " }),
                set(&[peter_fb, peter_wa, &maria, &jan, &janneke, &jan_willem]),
            ),
            (json!({ "channelId": sales["id"] }), set(&[&jan, &janneke])),
            (json!({ "channelId": demo_email["id"] }), set(&[&maria])),
            (
                json!({ "channelId": whatsapp["id"] }),
                set(&[peter_wa, &jan_willem]),
            ),
            (
                json!({ "channelId": whatsapp["id"], "withoutProfile": false }),
                set(&[peter_wa]),
            ),
            (
                json!({ "channelId": sales["id"], "search": "janneke", "withoutProfile": false }),
                set(&[&janneke]),
            ),
            (
                json!({ "channelId": sales["id"], "search": "janneke", "withoutProfile": true }),
                set(&[]),
            ),
            (
                json!({ "channelId": gid(NodeKind::Channel, uuid::Uuid::now_v7()) }),
                set(&[]),
            ),
        ];
        for (filter, expected) in cases {
            assert_eq!(
                contact_ids(&app, filter.clone()).await,
                expected,
                "filter {filter}"
            );
        }

        // Paging a filtered list is complete.
        let paged = ops::read_forwards(
            &app,
            "query($first: Int, $after: String, $search: String) {
               contacts(first: $first, after: $after, search: $search) {
                 totalCount
                 pageInfo { hasNextPage hasPreviousPage endCursor }
                 edges { cursor node { id } }
               }
             }",
            json!({ "search": "e" }),
            &["contacts"],
            2,
        )
        .await;
        let paged_ids = ops::ids_of(&Value::from(paged));
        ops::assert_distinct(&paged_ids);
        assert_eq!(
            paged_ids.into_iter().collect::<BTreeSet<_>>(),
            contact_ids(&app, json!({ "search": "e" })).await
        );
    }
);

both_backends!(
    contacts_by_channel_are_grouped_and_sorted,
    |app: TestApp| async move {
        let support_mail = ops::demo_channel(&app, "EMAIL").await;
        let support_wa = ops::demo_channel(&app, "WHATSAPP").await;
        let billing_mail = ops::create_channel(&app, "EMAIL", "Billing e-mail").await;
        let benelux_wa = ops::create_channel(&app, "WHATSAPP", "Benelux WhatsApp").await;
        let sms = ops::create_channel(&app, "SMS", "SMS line").await;
        let chat = ops::create_channel(&app, "LIVE_CHAT", "Website chat").await;

        // Greta reaches out through all of them, over time.
        let greta_wa = ops::new_contact(&app, &support_wa["id"], "+31 6 1000 0001", None).await;
        let greta_mail_a =
            ops::new_contact(&app, &support_mail["id"], "greta@example.com", None).await;
        let greta_benelux =
            ops::new_contact(&app, &benelux_wa["id"], "+32 470 00 00 01", None).await;
        let greta_billing =
            ops::new_contact(&app, &billing_mail["id"], "greta@example.com", None).await;
        let greta_sms = ops::new_contact(&app, &sms["id"], "+31 6 1000 0001", None).await;
        let greta_mail_b =
            ops::new_contact(&app, &support_mail["id"], "g.groen@example.com", None).await;
        let greta_chat = ops::new_contact(&app, &chat["id"], "visitor-8812", Some("Greta")).await;

        // Grouped in a scrambled order.
        let greta = ops::create_profile(
            &app,
            "Greta Groen",
            &[&greta_chat["id"], &greta_mail_b["id"], &greta_wa["id"]],
        )
        .await;
        for contact in [&greta_sms, &greta_billing, &greta_mail_a, &greta_benelux] {
            ops::attach_contact(&app, &greta["id"], &contact["id"], false).await;
        }

        let group = |channel: &Value, contacts: &[&Value]| {
            json!({
                "channel": channel["id"],
                "contacts": contacts.iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
            })
        };
        let groups_of = |page: &Value| -> Vec<Value> {
            page["contactsByChannel"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| {
                    json!({
                        "channel": g["channel"]["id"],
                        "contacts": g["contacts"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect::<Vec<_>>(),
                    })
                })
                .collect()
        };
        // By channel type, then channel name; within a channel, oldest first.
        let page = ops::profile_page(&app, &greta["id"]).await;
        assert_eq!(
            groups_of(&page),
            [
                group(&billing_mail, &[&greta_billing]),
                group(&support_mail, &[&greta_mail_a, &greta_mail_b]),
                group(&chat, &[&greta_chat]),
                group(&sms, &[&greta_sms]),
                group(&benelux_wa, &[&greta_benelux]),
                group(&support_wa, &[&greta_wa]),
            ]
        );
        // The flat list is the same order; the `channels` list sorts the same way.
        let flattened: Vec<Value> = groups_of(&page)
            .iter()
            .flat_map(|g| g["contacts"].as_array().unwrap().clone())
            .collect();
        assert_eq!(
            Value::from(flattened),
            Value::from(ops::ids_of(&page["contacts"]))
        );
        let channels = app.demo_data("{ channels { id } }", json!({})).await;
        let channel_order = ops::ids_of(&channels["channels"]);
        let group_channels: Vec<String> = groups_of(&page)
            .iter()
            .map(|g| g["channel"].as_str().unwrap().to_owned())
            .collect();
        let positions: Vec<usize> = group_channels
            .iter()
            .map(|c| channel_order.iter().position(|o| o == c).unwrap())
            .collect();
        assert!(
            positions.windows(2).all(|w| w[0] < w[1]),
            "as in `channels`: {positions:?}"
        );

        // Renaming a channel moves its group.
        app.demo_data(
            "mutation($input: UpdateChannelInput!) { updateChannel(input: $input) { channel { name } } }",
            json!({ "input": { "id": billing_mail["id"], "name": "Web e-mail" } }),
        )
        .await;
        let page = ops::profile_page(&app, &greta["id"]).await;
        let names: Vec<&str> = page["contactsByChannel"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["channel"]["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "Support e-mail",
                "Web e-mail",
                "Website chat",
                "SMS line",
                "Benelux WhatsApp",
                "Support WhatsApp"
            ]
        );
    }
);
