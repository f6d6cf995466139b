//! "All profiles": the list, look-up by name or by a contact's identifier or display name,
//! renaming, paging through everything (both ways), sorting, and the paging arguments a
//! client can get wrong.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, SubsecRound, Utc};
use profilegraph_schema::ids::NodeKind;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;
use crate::ops::{self, PROFILE, gid, instant, strings_of};

/// `profiles` with every paging and sorting argument, returning what paging needs.
const PROFILES_PAGE: &str = r#"
query Profiles($first: Int, $after: String, $last: Int, $before: String, $orderBy: ProfileOrder, $search: String) {
  profiles(first: $first, after: $after, last: $last, before: $before, orderBy: $orderBy, search: $search) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name createdAt updatedAt } }
  }
}"#;

/// Names of the profiles a search finds, in list order, checking `totalCount` agrees.
async fn names_found(app: &TestApp, search: &str) -> Vec<String> {
    let (found, total) = ops::search_profiles(app, Some(search)).await;
    assert_eq!(total, found.len() as i64, "totalCount follows the search");
    strings_of(&Value::from(found), "name")
}

both_backends!(
    all_profiles_lists_and_looks_up_by_name_and_contact,
    |app: TestApp| async move {
        let whatsapp = ops::demo_channel(&app, "WHATSAPP").await;
        let email = ops::demo_channel(&app, "EMAIL").await;
        let anna_wa =
            ops::new_contact(&app, &whatsapp["id"], "+31 6 2222 3333", Some("Annie")).await;
        ops::create_profile(&app, "Anna Jansen", &[&anna_wa["id"]]).await;
        let bram_mail = ops::new_contact(&app, &email["id"], "Bram@Wit.example", None).await;
        ops::create_profile(&app, "Bram de Wit", &[&bram_mail["id"]]).await;
        ops::create_profile(&app, "Zeker 100%_Zeker", &[]).await;

        // The list: sorted by name, counted.
        let (all, total) = ops::search_profiles(&app, None).await;
        assert_eq!(total, 4);
        assert_eq!(
            strings_of(&Value::from(all), "name"),
            ["Anna Jansen", "Bram de Wit", "Peter B.", "Zeker 100%_Zeker"]
        );

        // Look-up by part of the name, ignoring case.
        assert_eq!(names_found(&app, "jans").await, ["Anna Jansen"]);
        assert_eq!(names_found(&app, "DE WIT").await, ["Bram de Wit"]);
        assert_eq!(
            names_found(&app, "  jansen ").await,
            ["Anna Jansen"],
            "trimmed"
        );
        // By part of a contact's identifier (as stored: E.164, lower-case e-mail) ...
        assert_eq!(names_found(&app, "2222").await, ["Anna Jansen"]);
        assert_eq!(names_found(&app, "+3162222").await, ["Anna Jansen"]);
        assert_eq!(names_found(&app, "WIT.EXAMPLE").await, ["Bram de Wit"]);
        assert_eq!(names_found(&app, "4820193384710").await, ["Peter B."]);
        // ... or of its display name.
        assert_eq!(names_found(&app, "annie").await, ["Anna Jansen"]);
        // A profile matching by name and by two contacts is listed once.
        assert_eq!(names_found(&app, "peter").await, ["Peter B."]);
        // Several profiles match.
        assert_eq!(names_found(&app, "a").await, ["Anna Jansen", "Bram de Wit"]);
        // Contacts without a profile find nothing: Maria has none.
        assert!(names_found(&app, "maria").await.is_empty());
        assert!(names_found(&app, "nobody at all").await.is_empty());
        // LIKE's wildcards are plain characters in a search.
        assert_eq!(names_found(&app, "%").await, ["Zeker 100%_Zeker"]);
        assert_eq!(names_found(&app, "_").await, ["Zeker 100%_Zeker"]);
        assert_eq!(names_found(&app, "0%_z").await, ["Zeker 100%_Zeker"]);
        // An empty search is no filter.
        assert_eq!(names_found(&app, "   ").await.len(), 4);
    }
);

// Look-up ignores case for names like "Özdemir" too, the way a German or Dutch agent
// types them; on SQLite as well, whose own `LOWER()` only folds A–Z.
both_backends!(
    look_up_ignores_case_beyond_ascii,
    |app: TestApp| async move {
        let whatsapp = ops::demo_channel(&app, "WHATSAPP").await;
        let omer = ops::new_contact(&app, &whatsapp["id"], "+90 532 000 1122", Some("ÖMER")).await;
        ops::create_profile(&app, "Jürgen Özdemir", &[]).await;
        ops::create_profile(&app, "ÉMILE DUPONT", &[]).await;
        ops::create_profile(&app, "Ömer Kaya", &[&omer["id"]]).await;
        assert_eq!(names_found(&app, "jürgen").await, ["Jürgen Özdemir"]);
        assert_eq!(names_found(&app, "JÜRGEN").await, ["Jürgen Özdemir"]);
        assert_eq!(names_found(&app, "özdemir").await, ["Jürgen Özdemir"]);
        assert_eq!(names_found(&app, "émile").await, ["ÉMILE DUPONT"]);
        assert_eq!(names_found(&app, "ömer").await, ["Ömer Kaya"]);
        let data = app
            .demo_data(
                "{ contacts(search: \"ömer\") { totalCount nodes { id } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["contacts"]["totalCount"], 1, "{data}");
        assert_eq!(data["contacts"]["nodes"][0]["id"], omer["id"]);
    }
);

both_backends!(
    renaming_a_profile_bumps_its_version,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let before = ops::profile(&app, &peter["id"]).await;
        assert_eq!(before["version"], 1);

        let renamed = ops::rename_profile(&app, &peter["id"], "  Peter Bakker ", None).await;
        assert_eq!(renamed["id"], peter["id"]);
        assert_eq!(renamed["name"], "Peter Bakker", "the name is trimmed");
        assert_eq!(renamed["version"], 2, "up by one");
        assert_eq!(renamed["createdAt"], before["createdAt"]);
        assert!(instant(&renamed["updatedAt"]) > instant(&before["updatedAt"]));

        // Read back, and found by the new name only.
        let after = ops::profile(&app, &peter["id"]).await;
        assert_eq!(after["name"], "Peter Bakker");
        assert_eq!(after["version"], 2);
        assert_eq!(after["updatedAt"], renamed["updatedAt"]);
        assert_eq!(after["contacts"], before["contacts"], "contacts untouched");
        assert_eq!(names_found(&app, "bakker").await, ["Peter Bakker"]);
        // The old name is still the display name of his Messenger contact.
        assert_eq!(names_found(&app, "Peter B.").await, ["Peter Bakker"]);

        // With the version just read: up by one again.
        let again = ops::rename_profile(&app, &peter["id"], "Peter B.", Some(2)).await;
        assert_eq!(again["version"], 3);
        assert!(instant(&again["updatedAt"]) > instant(&renamed["updatedAt"]));

        // A bad name is refused and nothing changes.
        for name in ["", "   ", &"x".repeat(201), "Peter\u{0007}"] {
            ops::expect_bad_input(
                &app,
                &ops::update_profile_mutation(),
                json!({ "input": { "id": peter["id"], "name": name } }),
                "input.name",
            )
            .await;
        }
        ops::rename_profile(&app, &peter["id"], &"y".repeat(200), None).await;
        let last = ops::profile(&app, &peter["id"]).await;
        assert_eq!(last["version"], 4, "only the good renames counted");

        // Renaming what isn't there.
        let missing = gid(NodeKind::Profile, uuid::Uuid::now_v7());
        ops::expect_error(
            &app,
            &ops::update_profile_mutation(),
            json!({ "input": { "id": missing, "name": "Ghost" } }),
            "NOT_FOUND",
        )
        .await;
    }
);

/// 250 profiles inserted directly, named in pairs ("Customer 000" twice, …) so the name
/// sort has ties, created a second apart, with "now" some days back.
async fn insert_250(app: &TestApp) -> Vec<String> {
    let start = (Utc::now() - Duration::days(20))
        .trunc_subsecs(6)
        .fixed_offset();
    let rows: Vec<(String, DateTime<FixedOffset>, DateTime<FixedOffset>)> = (0..250)
        .map(|i| {
            let at = start + Duration::seconds(i);
            (format!("Customer {:03}", i / 2), at, at)
        })
        .collect();
    ops::insert_profiles(app, &rows)
        .await
        .into_iter()
        .map(|id| gid(NodeKind::Profile, id))
        .collect()
}

/// Read the whole list (with `variables`: `orderBy`, `search`) backwards: `last:
/// page_size`, then `before: startCursor`, until the start. Returns the nodes in list
/// order.
async fn read_backwards(app: &TestApp, variables: Value, page_size: i64) -> Vec<Value> {
    let mut pages: Vec<Vec<Value>> = Vec::new();
    let mut before: Option<String> = None;
    loop {
        let mut vars = variables.clone();
        vars["last"] = json!(page_size);
        vars["before"] = json!(before);
        let data = app.demo_data(PROFILES_PAGE, vars).await;
        let connection = &data["profiles"];
        let info = &connection["pageInfo"];
        let edges = connection["edges"].as_array().unwrap();
        assert_eq!(info["hasNextPage"], before.is_some(), "{info}");
        assert!(edges.len() as i64 <= page_size);
        pages.push(edges.iter().map(|e| e["node"].clone()).collect());
        if info["hasPreviousPage"] == true {
            assert_eq!(
                edges.len() as i64,
                page_size,
                "only the first page is short"
            );
            assert_eq!(info["startCursor"], edges[0]["cursor"]);
            before = Some(info["startCursor"].as_str().unwrap().to_owned());
        } else {
            break;
        }
        assert!(pages.len() < 1_000, "paging backwards does not end");
    }
    pages.into_iter().rev().flatten().collect()
}

both_backends!(
    paging_through_250_profiles_forwards_and_backwards,
    |app: TestApp| async move {
        let peter = ops::demo_peter(&app).await;
        let mut every_id: BTreeSet<String> = insert_250(&app).await.into_iter().collect();
        every_id.insert(peter["id"].as_str().unwrap().to_owned());
        assert_eq!(every_id.len(), 251);

        for page_size in [7, 100] {
            let forwards =
                ops::read_forwards(&app, PROFILES_PAGE, json!({}), &["profiles"], page_size).await;
            let ids = ops::ids_of(&Value::from(forwards.clone()));
            ops::assert_distinct(&ids);
            assert_eq!(
                ids.iter().cloned().collect::<BTreeSet<_>>(),
                every_id,
                "page size {page_size}: none missing, none extra"
            );
            let names = strings_of(&Value::from(forwards.clone()), "name");
            assert!(
                names.windows(2).all(|w| w[0] <= w[1]),
                "sorted by name: {names:?}"
            );
            assert_eq!(names[0], "Customer 000");
            assert_eq!(names[250], "Peter B.");

            let backwards = read_backwards(&app, json!({}), page_size).await;
            assert_eq!(
                ops::ids_of(&Value::from(backwards)),
                ids,
                "page size {page_size}: backwards reads the same list"
            );
        }

        // A page in the middle, both ways from the same cursor.
        let first_ten = app.demo_data(PROFILES_PAGE, json!({ "first": 10 })).await;
        let tenth = &first_ten["profiles"]["edges"][9];
        let next = app
            .demo_data(
                PROFILES_PAGE,
                json!({ "first": 3, "after": tenth["cursor"] }),
            )
            .await;
        let previous = app
            .demo_data(
                PROFILES_PAGE,
                json!({ "last": 3, "before": tenth["cursor"] }),
            )
            .await;
        let all = ops::read_forwards(&app, PROFILES_PAGE, json!({}), &["profiles"], 100).await;
        let all_ids = ops::ids_of(&Value::from(all));
        let nodes = |data: &Value| {
            data["profiles"]["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(nodes(&next), all_ids[10..13]);
        assert_eq!(nodes(&previous), all_ids[6..9]);
        assert_eq!(next["profiles"]["pageInfo"]["hasPreviousPage"], true);
        assert_eq!(next["profiles"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(previous["profiles"]["pageInfo"]["hasPreviousPage"], true);
        assert_eq!(previous["profiles"]["pageInfo"]["hasNextPage"], true);
        assert_eq!(next["profiles"]["totalCount"], 251);

        // A look-up pages the same way: "customer 1" is Customer 100 to 124, two profiles
        // each.
        let all_names =
            ops::read_forwards(&app, PROFILES_PAGE, json!({}), &["profiles"], 100).await;
        let expected: Vec<String> = all_names
            .iter()
            .filter(|p| p["name"].as_str().unwrap().contains("Customer 1"))
            .map(|p| p["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(expected.len(), 50);
        let search = json!({ "search": "customer 1" });
        let found = ops::read_forwards(&app, PROFILES_PAGE, search.clone(), &["profiles"], 9).await;
        assert_eq!(ops::ids_of(&Value::from(found)), expected);
        let found = read_backwards(&app, search, 9).await;
        assert_eq!(ops::ids_of(&Value::from(found)), expected, "backwards too");
    }
);

both_backends!(
    profiles_sort_by_name_creation_and_change_both_ways,
    |app: TestApp| async move {
        // Times with and without fractions, and ties, so neither the keys' text form nor
        // the id tie-break can hide a wrong order.
        let base = (Utc::now() - Duration::days(10))
            .trunc_subsecs(0)
            .fixed_offset();
        let micros = |n: i64| base + Duration::microseconds(n);
        let rows: Vec<(String, DateTime<FixedOffset>, DateTime<FixedOffset>)> = vec![
            ("Hendrik".into(), micros(0), micros(9_000_000)),
            ("Anna".into(), micros(1), micros(500_000)),
            ("Bea".into(), micros(100_000), micros(500_000)),
            ("Anna".into(), micros(1_000_000), micros(1)),
            ("Gijs".into(), micros(1_000_000), micros(0)),
            ("Corrie".into(), micros(1_500_000), micros(7_000_001)),
            ("Dirk".into(), micros(60_000_000), micros(7_000_000)),
            ("Emma".into(), micros(999_999), micros(100)),
            (
                "Fleur".into(),
                micros(3_600_000_000),
                micros(86_400_000_000),
            ),
            ("Anna".into(), micros(1_000_000), micros(1)),
        ];
        ops::insert_profiles(&app, &rows).await;
        // One change through the API, now: the latest change of all.
        let peter = ops::demo_peter(&app).await;
        ops::rename_profile(&app, &peter["id"], "Peter B.", None).await;

        let every_id: BTreeSet<String> =
            ops::read_forwards(&app, PROFILES_PAGE, json!({}), &["profiles"], 100)
                .await
                .iter()
                .map(|p| p["id"].as_str().unwrap().to_owned())
                .collect();
        assert_eq!(every_id.len(), rows.len() + 1);

        for field in ["NAME", "CREATED_AT", "UPDATED_AT"] {
            for direction in ["ASC", "DESC"] {
                let order_by = json!({ "field": field, "direction": direction });
                let list = ops::read_forwards(
                    &app,
                    PROFILES_PAGE,
                    json!({ "orderBy": order_by }),
                    &["profiles"],
                    3,
                )
                .await;
                let ids = ops::ids_of(&Value::from(list.clone()));
                ops::assert_distinct(&ids);
                assert_eq!(
                    ids.iter().cloned().collect::<BTreeSet<_>>(),
                    every_id,
                    "{field} {direction}: complete"
                );
                let in_order = |a: &Value, b: &Value| {
                    let ordering = match field {
                        "NAME" => a["name"].as_str().cmp(&b["name"].as_str()),
                        "CREATED_AT" => instant(&a["createdAt"]).cmp(&instant(&b["createdAt"])),
                        _ => instant(&a["updatedAt"]).cmp(&instant(&b["updatedAt"])),
                    };
                    if direction == "ASC" {
                        ordering.is_le()
                    } else {
                        ordering.is_ge()
                    }
                };
                assert!(
                    list.windows(2).all(|w| in_order(&w[0], &w[1])),
                    "{field} {direction}: {list:#?}"
                );
                let backwards = read_backwards(&app, json!({ "orderBy": order_by }), 4).await;
                assert_eq!(
                    ops::ids_of(&Value::from(backwards)),
                    ids,
                    "{field} {direction}: the same list backwards"
                );
                match (field, direction) {
                    ("NAME", "ASC") => assert_eq!(list[0]["name"], "Anna"),
                    ("NAME", "DESC") => assert_eq!(list[0]["name"], "Peter B."),
                    ("CREATED_AT", "ASC") => assert_eq!(list[0]["name"], "Hendrik"),
                    // The demo made Peter a day or two ago, after all of these.
                    ("CREATED_AT", "DESC") => {
                        assert_eq!(list[0]["name"], "Peter B.");
                        assert_eq!(list[1]["name"], "Fleur");
                    }
                    ("UPDATED_AT", "ASC") => assert_eq!(list[0]["name"], "Gijs"),
                    ("UPDATED_AT", "DESC") => {
                        assert_eq!(list[0]["name"], "Peter B.", "the one changed last")
                    }
                    _ => unreachable!(),
                }
            }
        }

        // The default is by name, ascending.
        let default = ops::read_forwards(&app, PROFILES_PAGE, json!({}), &["profiles"], 5).await;
        let by_name = ops::read_forwards(
            &app,
            PROFILES_PAGE,
            json!({ "orderBy": { "field": "NAME", "direction": "ASC" } }),
            &["profiles"],
            5,
        )
        .await;
        assert_eq!(default, by_name);
    }
);

both_backends!(paging_arguments_are_checked, |app: TestApp| async move {
    let good = app.demo_data(PROFILES_PAGE, json!({ "first": 1 })).await;
    let name_cursor = good["profiles"]["pageInfo"]["endCursor"].clone();
    assert!(name_cursor.is_string());

    for (variables, field) in [
        (json!({ "first": 0 }), "first"),
        (json!({ "first": 101 }), "first"),
        (json!({ "first": -1 }), "first"),
        (json!({ "last": 0 }), "last"),
        (json!({ "last": 101 }), "last"),
        (json!({ "first": 1, "last": 1 }), "last"),
        (json!({ "after": "garbage" }), "after"),
        (json!({ "after": "" }), "after"),
        // Valid base64, but not a cursor.
        (json!({ "after": "eyJ4IjoxfQ" }), "after"),
        (json!({ "before": "garbage" }), "before"),
        (json!({ "last": 2, "after": name_cursor }), "after"),
        // A cursor of the name order doesn't fit the creation order.
        (
            json!({ "after": name_cursor, "orderBy": { "field": "CREATED_AT" } }),
            "after",
        ),
    ] {
        ops::expect_bad_input(&app, PROFILES_PAGE, variables, field).await;
    }

    // The bounds themselves are fine.
    for variables in [
        json!({ "first": 100 }),
        json!({ "last": 1 }),
        json!({ "last": 100 }),
    ] {
        let data = app.demo_data(PROFILES_PAGE, variables).await;
        assert_eq!(data["profiles"]["totalCount"], 1);
    }
    // Also for the nested lists of a profile.
    let peter = ops::demo_peter(&app).await;
    for (list, first) in [("contactMoments", 0), ("contactMoments", 101), ("notes", 0)] {
        ops::expect_bad_input(
                &app,
                &format!("query($id: ID!) {{ profile(id: $id) {{ {PROFILE} {list}(first: {first}) {{ totalCount }} }} }}"),
                json!({ "id": peter["id"] }),
                "first",
            )
            .await;
    }
});

// A first page that asks for `totalCount` counts in its own statement, before the page's
// `LIMIT`; a page past a cursor counts separately. Both must give every match, whatever
// the page size and direction, and 0 when nothing matches.
both_backends!(
    total_count_is_every_match_on_every_page,
    |app: TestApp| async move {
        for n in 1..=5 {
            ops::create_profile(&app, &format!("Window Tester {n}"), &[]).await;
        }
        let page = |variables: Value| {
            let app = &app;
            async move { app.demo_data(PROFILES_PAGE, variables).await["profiles"].clone() }
        };
        let first = page(json!({ "first": 2, "search": "window tester" })).await;
        assert_eq!(first["totalCount"], 5, "{first}");
        assert_eq!(first["edges"].as_array().unwrap().len(), 2);
        let last = page(json!({ "last": 2, "search": "window tester" })).await;
        assert_eq!(last["totalCount"], 5, "{last}");
        let next = page(json!({
            "first": 2,
            "search": "window tester",
            "after": first["pageInfo"]["endCursor"],
        }))
        .await;
        assert_eq!(next["totalCount"], 5, "{next}");
        assert_eq!(next["edges"].as_array().unwrap().len(), 2);
        let none = page(json!({ "first": 2, "search": "no such tester" })).await;
        assert_eq!(none["totalCount"], 0, "{none}");
        assert!(none["edges"].as_array().unwrap().is_empty());
        let all = ops::read_forwards(&app, PROFILES_PAGE, json!({}), &["profiles"], 100).await;
        let one = page(json!({ "first": 1 })).await;
        assert_eq!(one["totalCount"], all.len(), "{one}");
    }
);
