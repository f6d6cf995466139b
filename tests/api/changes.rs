//! A change's transaction on SQLite (`store::db::Db::begin_write`): its `BEGIN` goes out
//! with its first statement, and what it defers (its events) with its next statement or
//! its `COMMIT`, in the same call. Whatever fails on the way, nothing of the change is
//! left half-written, the connection goes back clean, and the next writer gets its turn.

use profilegraph_store::stats::counted;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use crate::helpers::{Backend, TestApp, spawn_app};

async fn sqlite_app() -> TestApp {
    spawn_app(Backend::Sqlite)
        .await
        .expect("SQLite always runs")
}

/// Profiles named `name`, as `conn` (the pool, or a change in progress) sees them.
async fn named(conn: &impl ConnectionTrait, name: &str) -> i64 {
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT count(*) FROM profiles WHERE name = ?",
            [name.into()],
        ))
        .await
        .unwrap()
        .expect("one row");
    row.try_get_by_index::<i64>(0).unwrap()
}

fn rename(to: &str) -> Statement {
    Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "UPDATE profiles SET name = ? WHERE id = (SELECT id FROM profiles ORDER BY id LIMIT 1)",
        [to.into()],
    )
}

fn failing() -> Statement {
    // A name is NOT NULL.
    Statement::from_string(DbBackend::Sqlite, "UPDATE profiles SET name = NULL")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_sends_its_begin_and_its_deferred_statements_with_others() {
    let app = sqlite_app().await;
    let db = app.db.clone();
    let ((), calls) = counted(async {
        let txn = db.begin_write().await.unwrap();
        txn.execute_raw(rename("Once")).await.unwrap();
        txn.defer(rename("Twice")).await.unwrap();
        txn.commit().await.unwrap();
    })
    .await;
    assert_eq!(
        calls, 2,
        "BEGIN with the first statement, the deferred one with COMMIT"
    );
    assert_eq!(
        named(app.conn(), "Twice").await,
        1,
        "the deferred statement ran"
    );

    // A deferred statement goes out before the next one, which sees what it did.
    let txn = app.db.begin_write().await.unwrap();
    txn.execute_raw(rename("Third")).await.unwrap();
    txn.defer(rename("Fourth")).await.unwrap();
    assert_eq!(named(&txn, "Fourth").await, 1);
    txn.commit().await.unwrap();

    // A change that sent nothing commits nothing; one that only deferred sends it all in
    // one call.
    let ((), calls) = counted(async {
        db.begin_write().await.unwrap().commit().await.unwrap();
        let txn = db.begin_write().await.unwrap();
        txn.defer(rename("Deferred only")).await.unwrap();
        txn.commit().await.unwrap();
    })
    .await;
    assert_eq!(calls, 1);
    assert_eq!(named(app.conn(), "Deferred only").await, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_dropped_or_rolled_back_change_leaves_nothing_and_the_next_writes() {
    let app = sqlite_app().await;

    // The first statement fails after its BEGIN ran.
    let txn = app.db.begin_write().await.unwrap();
    txn.execute_raw(failing()).await.expect_err("NOT NULL");
    txn.rollback().await.unwrap();

    // A statement fails after another went through.
    let txn = app.db.begin_write().await.unwrap();
    txn.execute_raw(rename("Failed")).await.unwrap();
    txn.execute_raw(failing()).await.expect_err("NOT NULL");
    txn.rollback().await.unwrap();
    assert_eq!(named(app.conn(), "Failed").await, 0);

    // A deferred statement fails with the COMMIT: the commit fails, the change is gone.
    let txn = app.db.begin_write().await.unwrap();
    txn.execute_raw(rename("Not committed")).await.unwrap();
    txn.defer(failing()).await.unwrap();
    txn.commit()
        .await
        .expect_err("the deferred statement failed");
    assert_eq!(named(app.conn(), "Not committed").await, 0);

    // A change dropped between its statements (an early return) is rolled back before
    // its connection and the turn go back: the next writer waits for it, then writes.
    {
        let dropped = app.db.begin_write().await.unwrap();
        dropped.execute_raw(rename("Dropped")).await.unwrap();
        dropped.defer(rename("Dropped too")).await.unwrap();
    }
    let txn = app.db.begin_write().await.unwrap();
    txn.execute_raw(rename("Kept")).await.unwrap();
    txn.commit().await.unwrap();
    for (name, expected) in [
        ("Dropped", 0),
        ("Dropped too", 0),
        ("Not committed", 0),
        ("Kept", 1),
    ] {
        assert_eq!(
            named(app.conn(), name).await,
            expected,
            "profiles named {name}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_savepoint_takes_back_only_itself() {
    let app = sqlite_app().await;
    let txn = app.db.begin_write().await.unwrap();
    txn.execute_raw(rename("Outer")).await.unwrap();

    let inner = txn.begin().await.unwrap();
    inner.execute_raw(rename("Inner, failed")).await.unwrap();
    inner.execute_raw(failing()).await.expect_err("NOT NULL");
    inner.rollback().await.unwrap();
    // The statement after a savepoint's end (which waits for it) answers for itself.
    assert_eq!(named(&txn, "Outer").await, 1);

    {
        let dropped = txn.begin().await.unwrap();
        dropped.execute_raw(rename("Inner, dropped")).await.unwrap();
    }

    let kept = txn.begin().await.unwrap();
    kept.defer(rename("Inner, kept")).await.unwrap();
    kept.commit().await.unwrap();
    txn.commit().await.unwrap();

    for (name, expected) in [
        ("Outer", 0),
        ("Inner, failed", 0),
        ("Inner, dropped", 0),
        ("Inner, kept", 1),
    ] {
        assert_eq!(
            named(app.conn(), name).await,
            expected,
            "profiles named {name}"
        );
    }
}
