//! PostgreSQL's row-level security: the second wall behind the code's workspace filters.
//!
//! These tests go around the code on purpose: raw SQL with no `workspace_id` filter, run
//! through the same walled handle a GraphQL request gets, must still see and touch only
//! the request's workspace.

use profilegraph_store::Db;
use profilegraph_store::db::APP_ROLE;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::helpers::{Backend, TestApp, spawn_app};
use crate::support::demo;

/// A fresh PostgreSQL app, or `None` (with a note) when PostgreSQL isn't configured.
async fn postgres_app() -> Option<TestApp> {
    let app = spawn_app(Backend::Postgres).await;
    if app.is_none() {
        println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
    }
    app
}

async fn scalar_i64(conn: &impl ConnectionTrait, sql: &str) -> Result<i64, sea_orm::DbErr> {
    let row = conn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .expect("one row");
    row.try_get_by_index::<i64>(0)
}

/// A second workspace with one profile, written as the owner (outside the wall).
async fn other_workspace(app: &TestApp) -> Uuid {
    let ws = profilegraph_store::workspaces::create_workspace(app.conn(), "Other Co")
        .await
        .unwrap();
    app.conn()
        .execute_unprepared(&format!(
            "INSERT INTO profiles (id, workspace_id, name, version, created_at, updated_at) \
             VALUES ('{}', '{}', 'Olga Other', 1, now(), now())",
            Uuid::now_v7(),
            ws.id
        ))
        .await
        .unwrap();
    ws.id
}

#[tokio::test(flavor = "multi_thread")]
async fn every_tenant_table_has_a_policy_and_the_app_role_cannot_bypass_it() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let conn = app.conn();
    // Every table with a workspace_id column, and workspaces itself.
    let unprotected = scalar_i64(
        conn,
        "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind = 'r' \
           AND (c.relname = 'workspaces' OR EXISTS (SELECT 1 FROM pg_attribute a \
                WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)) \
           AND NOT (c.relrowsecurity AND EXISTS (SELECT 1 FROM pg_policies p \
                WHERE p.schemaname = n.nspname AND p.tablename = c.relname))",
    )
    .await
    .unwrap();
    assert_eq!(unprotected, 0, "a tenant table without row-level security");
    let protected = scalar_i64(
        conn,
        "SELECT count(*) FROM pg_policies WHERE schemaname = current_schema() \
         AND policyname = 'workspace_isolation'",
    )
    .await
    .unwrap();
    assert_eq!(
        protected, 19,
        "workspaces and the eighteen tables that hold workspace_id"
    );
    // PostgreSQL skips policies for superusers, BYPASSRLS roles and table owners (unless
    // forced): the app role must be none of them.
    let exempt = scalar_i64(
        conn,
        &format!(
            "SELECT count(*) FROM pg_roles r WHERE r.rolname = '{APP_ROLE}' \
             AND (r.rolsuper OR r.rolbypassrls OR EXISTS (SELECT 1 FROM pg_class c \
                  WHERE c.relowner = r.oid))"
        ),
    )
    .await
    .unwrap();
    let exists = scalar_i64(
        conn,
        &format!("SELECT count(*) FROM pg_roles WHERE rolname = '{APP_ROLE}'"),
    )
    .await
    .unwrap();
    assert_eq!((exists, exempt), (1, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_walled_request_sees_and_writes_only_its_own_workspace_even_without_filters() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let demo = demo(&app).await;
    let other = other_workspace(&app).await;
    let owner_sees = scalar_i64(app.conn(), "SELECT count(*) FROM profiles")
        .await
        .unwrap();
    let demo_profiles = scalar_i64(
        app.conn(),
        &format!(
            "SELECT count(*) FROM profiles WHERE workspace_id = '{}'",
            demo.workspace_id
        ),
    )
    .await
    .unwrap();
    assert_eq!(owner_sees, demo_profiles + 1);

    let walled = app.db.walled(demo.workspace_id);
    // No WHERE clause at all: the database adds the workspace.
    assert_eq!(
        scalar_i64(&walled.conn, "SELECT count(*) FROM profiles")
            .await
            .unwrap(),
        demo_profiles
    );
    assert_eq!(
        scalar_i64(&walled.conn, "SELECT count(*) FROM workspaces")
            .await
            .unwrap(),
        1
    );
    // Another workspace's rows can't be changed or deleted: they aren't there.
    let touched = walled
        .conn
        .execute_unprepared(&format!(
            "UPDATE profiles SET name = 'hacked' WHERE workspace_id = '{other}'"
        ))
        .await
        .unwrap();
    assert_eq!(touched.rows_affected(), 0);
    let deleted = walled
        .conn
        .execute_unprepared("DELETE FROM notes WHERE workspace_id <> workspace_id OR true")
        .await
        .unwrap();
    assert!(deleted.rows_affected() > 0, "the demo's own notes go");
    walled.finish().await.unwrap();
    assert_eq!(
        scalar_i64(
            app.conn(),
            &format!("SELECT count(*) FROM profiles WHERE workspace_id = '{other}' AND name = 'Olga Other'")
        )
        .await
        .unwrap(),
        1,
        "the other workspace's profile is untouched"
    );

    // Writing a row into another workspace is refused by the policy's CHECK.
    let walled = app.db.walled(demo.workspace_id);
    let err = walled
        .conn
        .execute_unprepared(&format!(
            "INSERT INTO profiles (id, workspace_id, name, version, created_at, updated_at) \
             VALUES ('{}', '{other}', 'Planted', 1, now(), now())",
            Uuid::now_v7()
        ))
        .await
        .expect_err("the policy refuses a row of another workspace");
    assert!(
        err.to_string().contains("row-level security"),
        "unexpected error: {err}"
    );
    drop(walled);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_role_without_a_workspace_sees_nothing() {
    let Some(app) = postgres_app().await else {
        return;
    };
    demo(&app).await;
    // The wall fails closed: the role alone, with no workspace named, sees no rows.
    let pool = app.db.pool().expect("the app's pool");
    let txn = sea_orm::TransactionTrait::begin(pool).await.unwrap();
    txn.execute_unprepared(&format!("SET LOCAL ROLE {APP_ROLE}"))
        .await
        .unwrap();
    for table in ["profiles", "contacts", "notes", "api_tokens", "workspaces"] {
        let seen = scalar_i64(&txn, &format!("SELECT count(*) FROM {table}"))
            .await
            .unwrap();
        assert_eq!(seen, 0, "{table} without app.workspace_id");
    }
    txn.rollback().await.unwrap();
}

/// The demo workspace through GraphQL still works with the wall up (it runs on every
/// request of every other test too); this checks a write and the read after it, with the
/// wall up on PostgreSQL (`BEGIN` with the role and workspace settings, and `COMMIT`).
#[tokio::test(flavor = "multi_thread")]
async fn graphql_requests_run_behind_the_wall() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let demo = demo(&app).await;
    let db: &Db = &app.db;
    assert!(db.pool().is_some());
    let body = crate::support::data(
        &app,
        &app.demo_token,
        "mutation($p: ID!) { createNote(input: { profileId: $p, body: \"behind the wall\" }) { note { body } } }",
        serde_json::json!({ "p": demo.peter }),
    )
    .await;
    assert_eq!(body["createNote"]["note"]["body"], "behind the wall");
    let saved = scalar_i64(
        app.conn(),
        "SELECT count(*) FROM notes WHERE body = 'behind the wall'",
    )
    .await
    .unwrap();
    assert_eq!(saved, 1, "the request's transaction committed");
}

/// PostgreSQL aborts a transaction at its first failed statement, and COMMIT then quietly
/// rolls back. So a request whose statement failed ends with that error, never with a
/// success for writes that were in fact undone.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_statement_undoes_the_request_and_says_so() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let demo = demo(&app).await;
    let walled = app.db.walled(demo.workspace_id);
    walled
        .conn
        .execute_unprepared("UPDATE profiles SET name = 'Renamed'")
        .await
        .unwrap();
    walled
        .conn
        .execute_unprepared("SELECT 1 / 0")
        .await
        .expect_err("division by zero");
    let err = walled.finish().await.expect_err("the request failed");
    assert!(matches!(err, profilegraph_store::StoreError::Database(_)));
    let renamed = scalar_i64(
        app.conn(),
        "SELECT count(*) FROM profiles WHERE name = 'Renamed'",
    )
    .await
    .unwrap();
    assert_eq!(renamed, 0, "the update before the failure was rolled back");

    // A request that runs no statement opens no transaction at all.
    let idle = app.db.walled(demo.workspace_id);
    idle.finish().await.unwrap();
}

/// Changes inside a request's transaction. The first one is the transaction itself (no
/// savepoint to pay for), later ones are savepoints. Either way a failed change takes back
/// only itself, a change dropped half-way (an early return) is undone before the next
/// statement, and the request goes on and commits what it kept.
#[tokio::test(flavor = "multi_thread")]
async fn a_failed_or_abandoned_change_takes_back_only_itself() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let demo = demo(&app).await;
    let named = |name: &str| format!("SELECT count(*) FROM profiles WHERE name = '{name}'");

    let walled = app.db.walled(demo.workspace_id);
    // The first change fails: the transaction it began goes back whole.
    let first = walled.begin_write().await.unwrap();
    first
        .execute_unprepared("UPDATE profiles SET name = 'First'")
        .await
        .unwrap();
    first
        .execute_unprepared("SELECT 1 / 0")
        .await
        .expect_err("division by zero");
    first.rollback().await.unwrap();
    // The next one begins a new transaction, and is kept.
    let kept = walled.begin_write().await.unwrap();
    kept.execute_unprepared(
        "UPDATE profiles SET name = 'Kept' WHERE id = (SELECT id FROM profiles ORDER BY id LIMIT 1)",
    )
    .await
    .unwrap();
    kept.commit().await.unwrap();
    // A later change fails inside its savepoint.
    let failing = walled.begin_write().await.unwrap();
    failing
        .execute_unprepared("UPDATE profiles SET name = 'Failed'")
        .await
        .unwrap();
    failing
        .execute_unprepared("SELECT 1 / 0")
        .await
        .expect_err("division by zero");
    failing.rollback().await.unwrap();
    // And one is dropped between its statements.
    {
        let dropped = walled.begin_write().await.unwrap();
        dropped
            .execute_unprepared("UPDATE profiles SET name = 'Dropped'")
            .await
            .unwrap();
    }
    assert_eq!(scalar_i64(&walled.conn, &named("Kept")).await.unwrap(), 1);
    assert_eq!(
        scalar_i64(&walled.conn, &named("Dropped")).await.unwrap(),
        0
    );
    walled.finish().await.unwrap();
    for (name, expected) in [("First", 0), ("Kept", 1), ("Failed", 0), ("Dropped", 0)] {
        let found = scalar_i64(app.conn(), &named(name)).await.unwrap();
        assert_eq!(found, expected, "profiles named {name} after the commit");
    }

    // A first change dropped half-way takes its whole transaction with it; the request's
    // next statement begins a new one.
    let walled = app.db.walled(demo.workspace_id);
    {
        let dropped = walled.begin_write().await.unwrap();
        dropped
            .execute_unprepared("UPDATE profiles SET name = 'Abandoned'")
            .await
            .unwrap();
    }
    assert_eq!(
        scalar_i64(&walled.conn, &named("Abandoned")).await.unwrap(),
        0
    );
    walled.finish().await.unwrap();
    assert_eq!(
        scalar_i64(app.conn(), &named("Abandoned")).await.unwrap(),
        0
    );
}

/// A request that only read doesn't wait for a `COMMIT`: its transaction is dropped, and
/// the `ROLLBACK` goes out with the pool's check of the connection it is given back. The
/// connection must still come back clean, with no transaction left open.
#[tokio::test(flavor = "multi_thread")]
async fn a_request_that_only_read_leaves_no_transaction_open() {
    let Some(app) = postgres_app().await else {
        return;
    };
    let demo = demo(&app).await;
    let open = "SELECT count(*) FROM pg_stat_activity \
                WHERE datname = current_database() AND state LIKE 'idle in transaction%'";
    let walled = app.db.walled(demo.workspace_id);
    let profiles = scalar_i64(&walled.conn, "SELECT count(*) FROM profiles")
        .await
        .unwrap();
    assert!(profiles > 0);
    assert_eq!(
        scalar_i64(app.conn(), open).await.unwrap(),
        1,
        "the read's transaction"
    );
    walled.finish().await.unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let left = scalar_i64(app.conn(), open).await.unwrap();
        if left == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{left} transactions still open after the read finished"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

// The schema carries no database handle: only a request's context does. Executed without
// one (a path that forgot `execute_pinned`), it must refuse, not read through the pool
// around the wall, even with a viewer at hand.
crate::both_backends!(
    the_schema_without_a_request_context_fails_closed,
    |app: TestApp| async move {
        let query = "{ profiles(first: 5) { nodes { name } } }";
        // Through the front door the same query reads the demo's profiles.
        let data = app.demo_data(query, serde_json::json!({})).await;
        assert!(data.to_string().contains("Peter B."), "{data}");

        let config = profilegraph::config::Config::for_database(app.db_url.clone());
        let schema = profilegraph::app::schema(&config);
        let token = profilegraph_store::tokens::authenticate(app.conn(), &app.demo_token)
            .await
            .unwrap();
        for request in [
            async_graphql::Request::new(query),
            async_graphql::Request::new(query).data(token.clone()),
            async_graphql::Request::new(query).data(app.db.clone()),
        ] {
            let response = schema.execute(request).await;
            assert_eq!(response.data, async_graphql::Value::Null, "no data at all");
            assert!(!response.errors.is_empty());
            for error in &response.errors {
                let code = error
                    .extensions
                    .as_ref()
                    .and_then(|e| e.get("code"))
                    .cloned();
                assert_eq!(
                    code,
                    Some(async_graphql::Value::from("INTERNAL")),
                    "{error:?}"
                );
            }
            let body = serde_json::to_string(&response).unwrap();
            assert!(!body.contains("Peter"), "{body}");
        }
    }
);
