//! The ground everything else stands on: the demo seed, health checks, authentication, the
//! database's own rules (unique identities, what a profile's deletion takes along), token
//! storage, and restarts.

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use entity::{
    agents, api_tokens, channels, contact_moments, contacts, custom_fields, notes,
    profile_field_values, profiles, workspaces,
};
use profilegraph::app;
use profilegraph::config::Config;
use profilegraph_store::tokens::{self, Scopes};
use reqwest::StatusCode;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection,
    EntityTrait, PaginatorTrait, QueryFilter, SqlErr, Statement,
};
use serde_json::json;
use uuid::Uuid;

use crate::both_backends;
use crate::helpers::{Backend, TestApp};

both_backends!(demo_is_seeded_on_first_start, |app: TestApp| async move {
    // Over HTTP, with the token the first start printed.
    let data = app
        .demo_data(
            "{ viewer { workspace { name slug } agent { name email } scopes } }",
            json!({}),
        )
        .await;
    assert_eq!(
        data["viewer"],
        json!({
            "workspace": { "name": "Demo Company", "slug": "demo-company" },
            "agent": { "name": "Anna de Vries", "email": "anna@demo.example" },
            "scopes": ["read", "write", "admin"],
        })
    );

    // In the database.
    let conn = app.conn();
    let ws = app.demo_workspace().await;
    assert_eq!(workspaces::Entity::find().count(conn).await.unwrap(), 1);
    assert_eq!(agents::Entity::find().count(conn).await.unwrap(), 1);

    let channel_names: BTreeMap<String, String> = channels::Entity::find()
        .filter(channels::Column::WorkspaceId.eq(ws.id))
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.channel_type, c.name))
        .collect();
    assert_eq!(
        channel_names,
        BTreeMap::from([
            ("EMAIL".to_owned(), "Support e-mail".to_owned()),
            (
                "FACEBOOK_MESSENGER".to_owned(),
                "Facebook Messenger".to_owned()
            ),
            ("WHATSAPP".to_owned(), "Support WhatsApp".to_owned()),
        ])
    );

    let all_profiles = profiles::Entity::find().all(conn).await.unwrap();
    assert_eq!(all_profiles.len(), 1, "one profile: {all_profiles:?}");
    let peter = &all_profiles[0];
    assert_eq!(peter.name, "Peter B.");
    assert_eq!(peter.workspace_id, ws.id);

    let peters_contacts: BTreeSet<String> = contacts::Entity::find()
        .filter(contacts::Column::ProfileId.eq(peter.id))
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.identifier)
        .collect();
    assert_eq!(
        peters_contacts,
        BTreeSet::from(["fb:4820193384710".to_owned(), "+31612345678".to_owned()])
    );

    let maria = contacts::Entity::find()
        .filter(contacts::Column::Identifier.eq("maria.k@example.com"))
        .one(conn)
        .await
        .unwrap()
        .expect("Maria's e-mail contact exists");
    assert_eq!(maria.display_name, "Maria K.");
    assert_eq!(maria.profile_id, None, "Maria has no profile yet");
    assert_eq!(contacts::Entity::find().count(conn).await.unwrap(), 3);

    let moments = contact_moments::Entity::find().all(conn).await.unwrap();
    assert_eq!(moments.len(), 5);
    assert_eq!(
        moments.iter().filter(|m| m.contact_id == maria.id).count(),
        1
    );
    assert!(moments.iter().all(|m| m.workspace_id == ws.id));

    let all_notes = notes::Entity::find().all(conn).await.unwrap();
    assert_eq!(all_notes.len(), 1);
    assert_eq!(all_notes[0].profile_id, peter.id);
    let anna = agents::Entity::find().one(conn).await.unwrap().unwrap();
    assert_eq!(all_notes[0].author_id, Some(anna.id));

    let field_keys: BTreeMap<Uuid, String> = custom_fields::Entity::find()
        .filter(custom_fields::Column::WorkspaceId.eq(ws.id))
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.id, f.key))
        .collect();
    assert_eq!(
        field_keys.values().cloned().collect::<BTreeSet<_>>(),
        BTreeSet::from(["birthday", "customer_number", "plan", "vip"].map(str::to_owned))
    );
    let values: BTreeMap<String, serde_json::Value> = profile_field_values::Entity::find()
        .filter(profile_field_values::Column::ProfileId.eq(peter.id))
        .all(conn)
        .await
        .unwrap()
        .into_iter()
        .map(|v| (field_keys[&v.field_id].clone(), v.value))
        .collect();
    assert_eq!(
        values,
        BTreeMap::from([
            ("customer_number".to_owned(), json!("C-10042")),
            ("plan".to_owned(), json!("Pro")),
            ("vip".to_owned(), json!(true)),
        ])
    );
});

both_backends!(
    health_checks_and_authentication,
    |app: TestApp| async move {
        let live = app.get("/health/live").await;
        assert_eq!(live.status(), StatusCode::OK);
        assert_eq!(live.text().await.unwrap(), "ok");
        let ready = app.get("/health/ready").await;
        assert_eq!(ready.status(), StatusCode::OK);
        assert_eq!(ready.text().await.unwrap(), "ok");

        // GraphiQL loads without a token.
        let graphiql = app.get("/graphql").await;
        assert_eq!(graphiql.status(), StatusCode::OK);
        assert!(graphiql.text().await.unwrap().contains("graphiql"));

        let unknown_but_well_formed = tokens::generate();
        for token in [
            None,
            Some(""),
            Some("not-a-token"),
            Some("pgr_0000000000000000000000000000000000000000"),
            Some(unknown_but_well_formed.as_str()),
        ] {
            let (status, body) = app.graphql(token, "{ __typename }", json!({})).await;
            assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "token {token:?}: {body:#}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "token {token:?}: {body:#}"
            );
            assert!(body.get("data").is_none_or(|d| d.is_null()), "{body:#}");
        }

        // The scheme name is case-insensitive; anything but Bearer is refused.
        let response = app
            .client
            .post(format!("{}/graphql", app.address))
            .header("Authorization", format!("Basic {}", app.demo_token))
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(response.headers().contains_key("www-authenticate"));

        let (status, body) = app
            .graphql(Some(&app.demo_token), "{ __typename }", json!({}))
            .await;
        assert_eq!(status, StatusCode::OK, "{body:#}");
        assert!(body.get("errors").is_none(), "{body:#}");
        let root = body["data"]["__typename"]
            .as_str()
            .unwrap_or_else(|| panic!("__typename is a string: {body:#}"));
        assert!(
            profilegraph_schema::sdl().contains(&format!("query: {root}")),
            "`{root}` is the query root of the SDL"
        );
    }
);

/// A new contact row in workspace `ws` on `channel`.
fn contact_row(ws: Uuid, channel: Uuid, identifier: &str) -> contacts::ActiveModel {
    let now = Utc::now().into();
    contacts::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        channel_id: Set(channel),
        identifier: Set(identifier.to_owned()),
        display_name: Set("Someone".to_owned()),
        search_text: Set(profilegraph_store::search::contact_text(
            identifier, "Someone",
        )),
        match_key: Set(profilegraph_store::suggestions::match_key(identifier)),
        profile_id: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

async fn channel_of_type(conn: &DatabaseConnection, ws: Uuid, kind: &str) -> channels::Model {
    channels::Entity::find()
        .filter(channels::Column::WorkspaceId.eq(ws))
        .filter(channels::Column::ChannelType.eq(kind))
        .one(conn)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("the demo has a {kind} channel"))
}

both_backends!(
    duplicate_contact_identity_is_refused,
    |app: TestApp| async move {
        let conn = app.conn();
        let ws = app.demo_workspace().await.id;
        let whatsapp = channel_of_type(conn, ws, "WHATSAPP").await;
        let email = channel_of_type(conn, ws, "EMAIL").await;

        contact_row(ws, whatsapp.id, "+31600000001")
            .insert(conn)
            .await
            .expect("the first contact is stored");
        let err = contact_row(ws, whatsapp.id, "+31600000001")
            .insert(conn)
            .await
            .expect_err("the same identity on the same channel is refused");
        assert!(
            matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "a unique-constraint violation, got {err:?}"
        );
        // Also for an identity the seed made.
        let err = contact_row(ws, whatsapp.id, "+31612345678")
            .insert(conn)
            .await
            .expect_err("Peter's WhatsApp identity exists already");
        assert!(
            matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
            "a unique-constraint violation, got {err:?}"
        );

        // Unique per (workspace, channel, identifier): another channel or workspace is fine.
        contact_row(ws, email.id, "+31600000001")
            .insert(conn)
            .await
            .expect("the same identifier on another channel is another contact");
        let other = profilegraph_store::workspaces::create_workspace(conn, "Other Company")
            .await
            .unwrap();
        let other_now = Utc::now().into();
        let other_channel = channels::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(other.id),
            channel_type: Set("WHATSAPP".to_owned()),
            name: Set("WhatsApp".to_owned()),
            created_at: Set(other_now),
            updated_at: Set(other_now),
        }
        .insert(conn)
        .await
        .unwrap();
        contact_row(other.id, other_channel.id, "+31600000001")
            .insert(conn)
            .await
            .expect("another workspace may have the same identity");

        let count = contacts::Entity::find()
            .filter(contacts::Column::Identifier.eq("+31600000001"))
            .count(conn)
            .await
            .unwrap();
        assert_eq!(count, 3, "one per (workspace, channel)");
    }
);

both_backends!(
    deleting_a_profile_detaches_its_contacts,
    |app: TestApp| async move {
        let conn = app.conn();
        let peter = profiles::Entity::find()
            .filter(profiles::Column::Name.eq("Peter B."))
            .one(conn)
            .await
            .unwrap()
            .expect("the demo profile");
        let contact_ids: Vec<Uuid> = contacts::Entity::find()
            .filter(contacts::Column::ProfileId.eq(peter.id))
            .all(conn)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        assert_eq!(contact_ids.len(), 2);
        let moments_before = contact_moments::Entity::find()
            .filter(contact_moments::Column::ContactId.is_in(contact_ids.clone()))
            .count(conn)
            .await
            .unwrap();
        assert_eq!(moments_before, 4);
        let fields_before = custom_fields::Entity::find().count(conn).await.unwrap();

        let deleted = profiles::Entity::delete_by_id(peter.id)
            .exec(conn)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected, 1);

        assert!(
            profiles::Entity::find_by_id(peter.id)
                .one(conn)
                .await
                .unwrap()
                .is_none()
        );
        let contacts_after = contacts::Entity::find()
            .filter(contacts::Column::Id.is_in(contact_ids.clone()))
            .all(conn)
            .await
            .unwrap();
        assert_eq!(contacts_after.len(), 2, "the contacts stay");
        assert!(
            contacts_after.iter().all(|c| c.profile_id.is_none()),
            "and are detached: {contacts_after:?}"
        );
        let moments_after = contact_moments::Entity::find()
            .filter(contact_moments::Column::ContactId.is_in(contact_ids))
            .count(conn)
            .await
            .unwrap();
        assert_eq!(moments_after, moments_before, "with their contact moments");
        assert_eq!(
            notes::Entity::find()
                .filter(notes::Column::ProfileId.eq(peter.id))
                .count(conn)
                .await
                .unwrap(),
            0,
            "the notes go with the profile"
        );
        assert_eq!(
            profile_field_values::Entity::find()
                .filter(profile_field_values::Column::ProfileId.eq(peter.id))
                .count(conn)
                .await
                .unwrap(),
            0,
            "the field values go with the profile"
        );
        assert_eq!(
            custom_fields::Entity::find().count(conn).await.unwrap(),
            fields_before,
            "the field definitions stay"
        );
        assert_eq!(contacts::Entity::find().count(conn).await.unwrap(), 3);
        assert_eq!(
            contact_moments::Entity::find().count(conn).await.unwrap(),
            5
        );
    }
);

both_backends!(
    only_the_hash_of_a_token_is_stored,
    |app: TestApp| async move {
        let conn = app.conn();
        let ws = app.demo_workspace().await;
        let scopes: Scopes = "read".parse().unwrap();
        let token = tokens::create(conn, ws.id, None, "storage check", &scopes, None)
            .await
            .unwrap();
        let plaintext = token.plaintext.clone();
        assert!(tokens::is_well_formed(&plaintext));
        // The secret part alone must not be stored either.
        let secret = plaintext.trim_start_matches("pgr_").to_owned();

        // It is a working token.
        let data = {
            let (status, body) = app
                .graphql(Some(&plaintext), "{ viewer { scopes } }", json!({}))
                .await;
            assert_eq!(status, StatusCode::OK, "{body:#}");
            body["data"].clone()
        };
        assert_eq!(data["viewer"]["scopes"], json!(["read"]));

        let row = api_tokens::Entity::find_by_id(token.row.id)
            .one(conn)
            .await
            .unwrap()
            .expect("the token's row");
        assert_eq!(row.token_hash, tokens::hash(&plaintext));
        assert_ne!(row.token_hash, plaintext);
        assert!(plaintext.starts_with(&row.display_prefix));
        assert!(row.display_prefix.len() < plaintext.len());

        // No column of any token row holds the token, as the entity sees the rows ...
        for row in api_tokens::Entity::find().all(conn).await.unwrap() {
            let text = serde_json::to_string(&row).unwrap();
            assert!(!text.contains(&plaintext), "stored token in {text}");
            assert!(!text.contains(&secret), "stored secret in {text}");
            assert!(
                !text.contains(&app.demo_token),
                "stored demo token in {text}"
            );
        }

        // ... and as the database has them, whatever columns there are.
        match app.backend {
            Backend::Postgres => {
                let rows = conn
                    .query_all_raw(Statement::from_string(
                        conn.get_database_backend(),
                        "SELECT CAST(t AS text) AS row_text FROM api_tokens t",
                    ))
                    .await
                    .unwrap();
                assert_eq!(rows.len(), 2, "the demo token and this one");
                let texts: Vec<String> = rows
                    .into_iter()
                    .map(|row| row.try_get("", "row_text").unwrap())
                    .collect();
                // The search does look where the rows are: the hash is found.
                assert!(
                    texts.iter().any(|t| t.contains(&row.token_hash)),
                    "{texts:?}"
                );
                for text in texts {
                    assert!(!text.contains(&plaintext), "stored token in {text}");
                    assert!(!text.contains(&secret), "stored secret in {text}");
                    assert!(
                        !text.contains(&app.demo_token),
                        "stored demo token in {text}"
                    );
                }
            }
            Backend::Sqlite => {
                // Every byte SQLite wrote: the file and, in WAL mode, the log beside it.
                let path = app.db_url.trim_start_matches("sqlite://").to_owned();
                let mut bytes = std::fs::read(&path).unwrap();
                if let Ok(wal) = std::fs::read(format!("{path}-wal")) {
                    bytes.extend_from_slice(&wal);
                }
                let contains = |needle: &str| {
                    bytes
                        .windows(needle.len())
                        .any(|window| window == needle.as_bytes())
                };
                // The search does look where the rows are: the hash is found.
                assert!(contains(&row.token_hash), "the hash is in the files");
                assert!(!contains(&plaintext), "the token is in the database files");
                assert!(!contains(&secret), "the secret is in the database files");
                assert!(
                    !contains(&app.demo_token),
                    "the demo token is in the database files"
                );
            }
        }
    }
);

both_backends!(
    a_second_start_does_not_seed_again,
    |app: TestApp| async move {
        let mut config = Config::for_database(app.db_url.clone());
        config.no_demo = false;
        let second = app::prepare(&config).await.unwrap();
        assert!(
            second.demo_token.is_none(),
            "the demo is seeded on a brand-new database only"
        );
        let conn = second.state.db.pool().unwrap();
        assert_eq!(workspaces::Entity::find().count(conn).await.unwrap(), 1);
        assert_eq!(profiles::Entity::find().count(conn).await.unwrap(), 1);
        assert_eq!(api_tokens::Entity::find().count(conn).await.unwrap(), 1);

        // The first start's token still works.
        let data = app
            .demo_data("{ viewer { workspace { slug } } }", json!({}))
            .await;
        assert_eq!(data["viewer"]["workspace"]["slug"], "demo-company");
    }
);
