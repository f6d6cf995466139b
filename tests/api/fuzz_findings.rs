//! Reproducers of bugs the request fuzz target (`fuzz/`, see its README) found, kept as
//! regression tests once fixed.

use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::support::mutate;

/// No error of `body` is INTERNAL.
fn assert_no_internal(body: &Value) {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    assert!(
        errors.iter().all(|e| e["extensions"]["code"] != "INTERNAL"),
        "INTERNAL error: {body:#}"
    );
}

/// A field at position `i32::MAX`, then a field without a position: the server computed
/// `MAX(position) + 1` in SQL, which no longer fit the `i32` column, and answered INTERNAL
/// (SQLite: "out of range integral type conversion attempted" while decoding `next`).
/// Positions are now 0 to 1,000,000, so "after the others" always fits.
async fn field_after_the_largest_position(app: TestApp) {
    let token = app.demo_token.clone();
    let body = mutate(
        &app,
        &token,
        "createCustomField",
        json!({ "key": "last", "label": "Last", "type": "TEXT", "position": i32::MAX }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body:#}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.position",
        "{body:#}"
    );
    let body = mutate(
        &app,
        &token,
        "createCustomField",
        json!({ "key": "last", "label": "Last", "type": "TEXT", "position": 1_000_000 }),
    )
    .await;
    assert!(body.get("errors").is_none(), "{body:#}");
    let body = mutate(
        &app,
        &token,
        "createCustomField",
        json!({ "key": "next", "label": "Next", "type": "TEXT" }),
    )
    .await;
    assert_no_internal(&body);
}

crate::both_backends!(
    field_after_the_largest_position_on_both,
    field_after_the_largest_position
);
