//! Contact moments: a profile's timeline across all its contacts (newest first, filtered by
//! status and channel, paged), opening a ticket by id, closing and reopening it, and the
//! workspace-wide list.

use std::collections::BTreeSet;

use chrono::{Duration, SubsecRound, Utc};
use profilegraph_schema::ids::NodeKind;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops::{self, MOMENT, MomentRow, gid, instant};

/// A profile's timeline, with paging and filters.
const TIMELINE: &str = r#"
query Timeline($id: ID!, $first: Int, $after: String, $status: [ContactMomentStatus!], $channelId: ID) {
  profile(id: $id) {
    contactMoments(first: $first, after: $after, status: $status, channelId: $channelId) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage endCursor }
      edges { cursor node { id subject status channel { id } contact { id } lastMessageAt } }
    }
  }
}"#;

/// The workspace's contact moments, with paging and filters.
const WORKSPACE_MOMENTS: &str = r#"
query Moments($first: Int, $after: String, $status: [ContactMomentStatus!], $channelId: ID) {
  contactMoments(first: $first, after: $after, status: $status, channelId: $channelId) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage endCursor }
    edges { cursor node { id subject status channel { id } contact { id } lastMessageAt } }
  }
}"#;

/// A profile with contacts on three channels and 30 tickets between them, with ties in
/// time; other contacts' tickets interleaved in time.
struct Fixture {
    profile: Value,
    /// The profile's contacts: e-mail (a new channel), WhatsApp, Messenger.
    contacts: Vec<Value>,
    /// The channels of those contacts, in the same order.
    channels: Vec<Value>,
    /// The ids of the profile's tickets.
    tickets: BTreeSet<String>,
}

async fn fixture(app: &TestApp) -> Fixture {
    let sales = ops::create_channel(app, "EMAIL", "Sales e-mail").await;
    let whatsapp = ops::demo_channel(app, "WHATSAPP").await;
    let messenger = ops::demo_channel(app, "FACEBOOK_MESSENGER").await;
    let contacts = vec![
        ops::new_contact(app, &sales["id"], "tess@example.com", Some("Tess")).await,
        ops::new_contact(app, &whatsapp["id"], "+31 6 7777 8888", Some("Tess")).await,
        ops::new_contact(app, &messenger["id"], "fb:555000111", Some("Tess T.")).await,
    ];
    let channels = vec![sales, whatsapp, messenger];
    let ids: Vec<&Value> = contacts.iter().map(|c| &c["id"]).collect();
    let profile = ops::create_profile(app, "Tess Timmer", &ids).await;

    let start = (Utc::now() - Duration::days(3))
        .trunc_subsecs(6)
        .fixed_offset();
    let statuses = ["OPEN", "ASSIGNED", "CLOSED", "OPEN", "CLOSED"];
    let rows: Vec<MomentRow> = (0..30)
        .map(|i: i64| MomentRow {
            contact: &contacts[(i % 3) as usize]["id"],
            channel: &channels[(i % 3) as usize]["id"],
            subject: format!("Tess #{i}"),
            status: statuses[(i % 5) as usize],
            // Pairs share an instant; the steps alternate whole and fractional seconds.
            last_message_at: start + Duration::milliseconds((i / 2) * 1_500),
        })
        .collect();
    let tickets = ops::insert_moments(app, &rows).await.into_iter().collect();

    // Someone else's tickets, at the same times.
    let maria = ops::demo_maria(app).await;
    let other: Vec<MomentRow> = (0..6)
        .map(|i: i64| MomentRow {
            contact: &maria["id"],
            channel: &maria["channel"]["id"],
            subject: format!("Maria #{i}"),
            status: "OPEN",
            last_message_at: start + Duration::milliseconds(i * 3_000),
        })
        .collect();
    ops::insert_moments(app, &other).await;

    Fixture {
        profile,
        contacts,
        channels,
        tickets,
    }
}

/// Every item of a list read in pages is newest first.
fn assert_newest_first(nodes: &[Value]) {
    assert!(
        nodes
            .windows(2)
            .all(|w| instant(&w[0]["lastMessageAt"]) >= instant(&w[1]["lastMessageAt"])),
        "newest first: {nodes:#?}"
    );
}

/// `id` of each node, as a set, checking none repeats.
fn id_set(nodes: &[Value]) -> BTreeSet<String> {
    let ids = ops::ids_of(&Value::from(nodes.to_vec()));
    ops::assert_distinct(&ids);
    ids.into_iter().collect()
}

both_backends!(
    a_profiles_timeline_spans_its_contacts_and_filters,
    |app: TestApp| async move {
        let fx = fixture(&app).await;
        let id = &fx.profile["id"];

        // Unfiltered: all 30, newest first, read in pages of 4 and in one page.
        let all = ops::read_forwards(
            &app,
            TIMELINE,
            json!({ "id": id }),
            &["profile", "contactMoments"],
            4,
        )
        .await;
        assert_eq!(
            id_set(&all),
            fx.tickets,
            "every ticket of every contact, none else"
        );
        assert_newest_first(&all);
        let one_page = ops::read_forwards(
            &app,
            TIMELINE,
            json!({ "id": id }),
            &["profile", "contactMoments"],
            100,
        )
        .await;
        assert_eq!(
            ops::ids_of(&Value::from(one_page)),
            ops::ids_of(&Value::from(all.clone()))
        );
        let contacts_seen: BTreeSet<&str> = all
            .iter()
            .map(|m| m["contact"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(contacts_seen.len(), 3, "tickets of all three contacts");

        // Filters, each checked against the unfiltered timeline.
        let whatsapp = &fx.channels[1]["id"];
        let sales = &fx.channels[0]["id"];
        let filters = [
            json!({ "status": ["OPEN"] }),
            json!({ "status": ["CLOSED"] }),
            json!({ "status": ["OPEN", "ASSIGNED"] }),
            json!({ "status": ["ASSIGNED", "OPEN", "ASSIGNED"] }),
            json!({ "channelId": whatsapp }),
            json!({ "channelId": sales, "status": ["OPEN"] }),
            json!({ "channelId": whatsapp, "status": ["ASSIGNED", "CLOSED"] }),
            // Peter's Messenger… is Tess's too: the channel, not the contact, filters.
            json!({ "channelId": fx.channels[2]["id"], "status": ["CLOSED"] }),
            // A channel none of her tickets ran on.
            json!({ "channelId": gid(NodeKind::Channel, uuid::Uuid::now_v7()) }),
        ];
        for filter in filters {
            let wanted = |m: &Value| {
                let status_ok = filter["status"]
                    .as_array()
                    .is_none_or(|statuses| statuses.contains(&m["status"]));
                let channel_ok =
                    filter["channelId"].is_null() || m["channel"]["id"] == filter["channelId"];
                status_ok && channel_ok
            };
            let expected: Vec<String> = all
                .iter()
                .filter(|m| wanted(m))
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            let mut variables = filter.clone();
            variables["id"] = id.clone();
            let found =
                ops::read_forwards(&app, TIMELINE, variables, &["profile", "contactMoments"], 3)
                    .await;
            assert!(found.iter().all(wanted), "{filter}: {found:#?}");
            assert_newest_first(&found);
            assert_eq!(
                ops::ids_of(&Value::from(found)),
                expected,
                "{filter}: the matching part of the timeline, in its order"
            );
        }
        // One contact's own tickets page the same way.
        for contact in &fx.contacts {
            let own = ops::read_forwards(
                &app,
                "query($id: ID!, $first: Int, $after: String) { contact(id: $id) {
                   contactMoments(first: $first, after: $after) {
                     totalCount
                     pageInfo { hasNextPage hasPreviousPage endCursor }
                     edges { cursor node { id lastMessageAt } }
                   } } }",
                json!({ "id": contact["id"] }),
                &["contact", "contactMoments"],
                3,
            )
            .await;
            let expected: Vec<String> = all
                .iter()
                .filter(|m| m["contact"]["id"] == contact["id"])
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(expected.len(), 10);
            assert_eq!(ops::ids_of(&Value::from(own)), expected);
        }
        let open = ops::read_forwards(
            &app,
            TIMELINE,
            json!({ "id": id, "status": ["OPEN"] }),
            &["profile", "contactMoments"],
            100,
        )
        .await;
        assert_eq!(
            open.len(),
            12,
            "30 tickets, statuses cycling OPEN ASSIGNED CLOSED OPEN CLOSED"
        );

        // Several profiles' timelines in one request agree with each one alone.
        let data = app
            .demo_data(
                "{ profiles(first: 100) { nodes { id contactMoments(first: 5, status: [OPEN, CLOSED]) {
                     totalCount nodes { id } } } } }",
                json!({}),
            )
            .await;
        let listed = data["profiles"]["nodes"].as_array().unwrap();
        assert_eq!(listed.len(), 2, "Peter and Tess");
        for profile in listed {
            let alone = app
                .demo_data(
                    TIMELINE,
                    json!({ "id": profile["id"], "first": 5, "status": ["CLOSED", "OPEN"] }),
                )
                .await;
            let alone = &alone["profile"]["contactMoments"];
            assert_eq!(profile["contactMoments"]["totalCount"], alone["totalCount"]);
            let alone_ids: Vec<&Value> = alone["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| &e["node"]["id"])
                .collect();
            let batched_ids: Vec<&Value> = profile["contactMoments"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| &n["id"])
                .collect();
            assert_eq!(batched_ids, alone_ids);
        }

        // A bad page or filter argument is refused.
        for (arguments, field) in [
            (json!({ "first": 0 }), "first"),
            (json!({ "first": 101 }), "first"),
            (json!({ "after": "garbage" }), "after"),
            (json!({ "channelId": "garbage" }), "channelId"),
        ] {
            let mut variables = arguments;
            variables["id"] = id.clone();
            ops::expect_bad_input(&app, TIMELINE, variables, field).await;
        }
    }
);

both_backends!(a_ticket_opens_by_its_id, |app: TestApp| async move {
    let peter = ops::demo_peter(&app).await;
    let page = ops::profile_page(&app, &peter["id"]).await;
    let newest = &page["contactMoments"]["nodes"][0];
    assert_eq!(newest["subject"], "Return label request");

    let by_id = app
            .demo_data(
                &format!("query($id: ID!) {{ contactMoment(id: $id) {{ {MOMENT} contact {{ identifier profile {{ id }} }} }} }}"),
                json!({ "id": newest["id"] }),
            )
            .await;
    let ticket = &by_id["contactMoment"];
    assert_eq!(ticket["id"], newest["id"]);
    assert_eq!(ticket["subject"], "Return label request");
    assert_eq!(ticket["status"], "OPEN");
    assert_eq!(ticket["contact"]["identifier"], "+31612345678");
    assert_eq!(ticket["contact"]["profile"]["id"], peter["id"]);

    let by_node = app
            .demo_data(
                &format!("query($id: ID!) {{ node(id: $id) {{ __typename id ... on ContactMoment {{ {MOMENT} }} }} }}"),
                json!({ "id": newest["id"] }),
            )
            .await;
    assert_eq!(by_node["node"]["__typename"], "ContactMoment");
    for key in [
        "id",
        "subject",
        "status",
        "channel",
        "createdAt",
        "closedAt",
        "lastMessageAt",
    ] {
        assert_eq!(by_node["node"][key], ticket[key], "{key}");
    }

    let by_nodes = app
        .demo_data(
            "query($ids: [ID!]!) { nodes(ids: $ids) { __typename id } }",
            json!({ "ids": [newest["id"], peter["id"], "garbage"] }),
        )
        .await;
    assert_eq!(
        by_nodes["nodes"],
        json!([
            { "__typename": "ContactMoment", "id": newest["id"] },
            { "__typename": "Profile", "id": peter["id"] },
            null,
        ])
    );

    // What isn't a ticket of this workspace is null.
    for id in [
        gid(NodeKind::ContactMoment, uuid::Uuid::now_v7()),
        peter["id"].as_str().unwrap().to_owned(),
        "garbage".to_owned(),
    ] {
        let data = app
                .demo_data(
                    "query($id: ID!) { contactMoment(id: $id) { id } node(id: $id) { ... on ContactMoment { id } } }",
                    json!({ "id": id }),
                )
                .await;
        assert!(data["contactMoment"].is_null(), "{id}: {data}");
        assert!(
            data["node"].is_null() || data["node"] == json!({}),
            "{id}: not a ticket: {data}"
        );
    }
});

/// How many OPEN tickets a profile's timeline holds.
async fn open_count(app: &TestApp, profile_id: &Value) -> i64 {
    app.demo_data(TIMELINE, json!({ "id": profile_id, "status": ["OPEN"] }))
        .await["profile"]["contactMoments"]["totalCount"]
        .as_i64()
        .unwrap()
}

both_backends!(
    closing_stamps_closed_at_and_reopening_clears_it,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let contact_id = &peter["contacts"][1]["id"];
        let open_before = open_count(&app, &peter["id"]).await;
        let ticket = ops::start_moment(&app, contact_id, "Refund for #1042").await;
        assert_eq!(open_count(&app, &peter["id"]).await, open_before + 1);
        let id = ticket["id"].clone();

        let before_close = Utc::now();
        let closed = ops::update_moment(&app, json!({ "id": id, "status": "CLOSED" })).await;
        assert_eq!(closed["status"], "CLOSED");
        let closed_at = instant(&closed["closedAt"]);
        assert!(closed_at >= instant(&ticket["createdAt"]));
        assert!(closed_at >= before_close - Duration::seconds(1) && closed_at <= Utc::now());
        assert_eq!(closed["subject"], "Refund for #1042", "the subject stays");
        assert_eq!(closed["lastMessageAt"], ticket["lastMessageAt"]);
        assert_eq!(closed["createdAt"], ticket["createdAt"]);
        assert_eq!(open_count(&app, &peter["id"]).await, open_before);

        // Closing what is closed keeps the first closing time; so does a new subject.
        let again = ops::update_moment(&app, json!({ "id": id, "status": "CLOSED" })).await;
        assert_eq!(again["closedAt"], closed["closedAt"]);
        let renamed =
            ops::update_moment(&app, json!({ "id": id, "subject": " Refund sent " })).await;
        assert_eq!(renamed["subject"], "Refund sent");
        assert_eq!(renamed["status"], "CLOSED");
        assert_eq!(renamed["closedAt"], closed["closedAt"]);

        // Reopening clears it, to OPEN or to ASSIGNED.
        let reopened = ops::update_moment(&app, json!({ "id": id, "status": "OPEN" })).await;
        assert_eq!(reopened["status"], "OPEN");
        assert!(reopened["closedAt"].is_null());
        assert_eq!(open_count(&app, &peter["id"]).await, open_before + 1);
        let closed_again = ops::update_moment(&app, json!({ "id": id, "status": "CLOSED" })).await;
        assert!(instant(&closed_again["closedAt"]) >= closed_at);
        let assigned = ops::update_moment(&app, json!({ "id": id, "status": "ASSIGNED" })).await;
        assert_eq!(assigned["status"], "ASSIGNED");
        assert!(assigned["closedAt"].is_null());

        // Read back as stored.
        let stored = app
            .demo_data(
                &format!("query($id: ID!) {{ contactMoment(id: $id) {{ {MOMENT} }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(stored["contactMoment"], assigned);

        // Refusals.
        ops::expect_bad_input(
            &app,
            &ops::update_moment_mutation(),
            json!({ "input": { "id": id, "subject": " " } }),
            "input.subject",
        )
        .await;
        ops::expect_error(
            &app,
            &ops::update_moment_mutation(),
            json!({ "input": { "id": gid(NodeKind::ContactMoment, uuid::Uuid::now_v7()), "status": "CLOSED" } }),
            "NOT_FOUND",
        )
        .await;
        let unchanged = app
            .demo_data(
                &format!("query($id: ID!) {{ contactMoment(id: $id) {{ {MOMENT} }} }}"),
                json!({ "id": id }),
            )
            .await;
        assert_eq!(unchanged["contactMoment"], assigned);
    }
);

both_backends!(
    the_workspace_lists_every_contact_moment,
    |app: TestApp| async move {
        let fx = fixture(&app).await;
        // 5 from the demo, 30 of Tess, 6 more of Maria.
        let all =
            ops::read_forwards(&app, WORKSPACE_MOMENTS, json!({}), &["contactMoments"], 7).await;
        assert_eq!(all.len(), 41);
        let ids = id_set(&all);
        assert!(fx.tickets.is_subset(&ids));
        assert_newest_first(&all);

        // A new ticket is the newest.
        let ticket = ops::start_moment(&app, &fx.contacts[0]["id"], "Invoice copy").await;
        let first = app
            .demo_data(WORKSPACE_MOMENTS, json!({ "first": 1 }))
            .await;
        assert_eq!(
            first["contactMoments"]["edges"][0]["node"]["id"],
            ticket["id"]
        );
        assert_eq!(first["contactMoments"]["totalCount"], 42);
        let all =
            ops::read_forwards(&app, WORKSPACE_MOMENTS, json!({}), &["contactMoments"], 100).await;

        for filter in [
            json!({ "status": ["OPEN"] }),
            json!({ "status": ["ASSIGNED", "CLOSED"] }),
            json!({ "channelId": fx.channels[1]["id"] }),
            json!({ "channelId": fx.channels[0]["id"], "status": ["OPEN"] }),
        ] {
            let wanted = |m: &Value| {
                filter["status"]
                    .as_array()
                    .is_none_or(|statuses| statuses.contains(&m["status"]))
                    && (filter["channelId"].is_null() || m["channel"]["id"] == filter["channelId"])
            };
            let expected: Vec<String> = all
                .iter()
                .filter(|m| wanted(m))
                .map(|m| m["id"].as_str().unwrap().to_owned())
                .collect();
            assert!(!expected.is_empty(), "{filter} matches something");
            let found = ops::read_forwards(
                &app,
                WORKSPACE_MOMENTS,
                filter.clone(),
                &["contactMoments"],
                5,
            )
            .await;
            assert_eq!(ops::ids_of(&Value::from(found)), expected, "{filter}");
        }
        for (arguments, field) in [
            (json!({ "first": 0 }), "first"),
            (json!({ "first": 101 }), "first"),
            (json!({ "after": "garbage" }), "after"),
        ] {
            ops::expect_bad_input(&app, WORKSPACE_MOMENTS, arguments, field).await;
        }
    }
);
