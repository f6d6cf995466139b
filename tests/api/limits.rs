//! Operation limits, rate limits and the production profile: each attack is sent and the
//! answer checked. Limits answer before any resolver or SQL runs, which the statement
//! count shows: only the token look-up ran.

use std::fmt::Write as _;

use profilegraph::shapes::Q3_EXPORT;
use profilegraph_store::tokens::{self, Scopes};
use profilegraph_store::workspaces::create_workspace;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app_with};

/// POST `query` with the demo token; status, body and statements run.
async fn send(
    app: &TestApp,
    token: &str,
    query: &str,
) -> (StatusCode, Value, u64, reqwest::header::HeaderMap) {
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let statements = crate::helpers::sql_statements(&headers).unwrap_or(u64::MAX);
    (status, response.json().await.unwrap(), statements, headers)
}

/// Assert `query` is refused as invalid before anything ran, mentioning `needle`.
async fn refused(app: &TestApp, query: &str, needle: &str) {
    // Warm the token up so its once-a-minute `last_used_at` write doesn't count.
    send(app, &app.demo_token, "{ viewer { scopes } }").await;
    // Legacy application/json: 200, the body says it.
    let (status, body, statements, _) = send(app, &app.demo_token, query).await;
    assert_eq!(status, StatusCode::OK, "{needle}: {body}");
    assert!(body.get("data").is_none(), "{needle}: {body}");
    // application/graphql-response+json: the status says it too.
    let response = app
        .client
        .post(format!("{}/graphql", app.address))
        .bearer_auth(&app.demo_token)
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{needle}");
    let error = &body["errors"][0];
    assert_eq!(
        error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
    let message = error["message"].as_str().unwrap().to_lowercase();
    assert!(
        message.contains(needle),
        "expected `{needle}` in {message:?}"
    );
    assert_eq!(statements, 1, "{needle}: only the token look-up ran");
}

/// A document refused before it ran, answered in legacy application/json: 200, errors
/// and no data.
fn assert_refused(status: StatusCode, body: &Value) {
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("data").is_none(), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
        "{body}"
    );
}

fn nested(depth: usize) -> String {
    // node → Profile → contacts → profile → contacts → … : depth grows by 2 each round.
    let mut query = String::from("{ profiles(first: 1) { nodes { ");
    for _ in 0..depth {
        query.push_str("contacts { profile { ");
    }
    query.push_str("name");
    for _ in 0..depth {
        query.push_str(" } }");
    }
    query.push_str(" } } }");
    query
}

both_backends!(
    operation_limits_refuse_before_running,
    |app: TestApp| async move {
        // Depth: 12 levels pass, deeper ones don't.
        let (status, body, _, _) = send(&app, &app.demo_token, &nested(4)).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        refused(&app, &nested(6), "deep").await;

        // Complexity: one export page passes; five in one document don't.
        let (status, body) = app
            .graphql(Some(&app.demo_token), Q3_EXPORT, json!({ "cursor": null }))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("errors").is_none(), "{body}");
        let page = "profiles(first: 100) { edges { node { name contacts { identifier contactMoments(first: 10) { edges { node { subject } } } } notes(first: 10) { edges { node { body } } } } } }";
        let five: String = (0..5).map(|i| format!("p{i}: {page} ")).collect();
        refused(&app, &format!("{{ {five} }}"), "complex").await;

        // Directives: at most 5 on a field.
        let six = "@include(if: true) ".repeat(6);
        refused(
            &app,
            &format!("{{ viewer {six} {{ scopes }} }}"),
            "directive",
        )
        .await;

        // Aliases: at most 30; root fields: at most 20.
        let aliases: String = (0..31)
            .map(|i| format!("a{i}: viewer {{ scopes }} "))
            .collect();
        refused(&app, &format!("{{ {aliases} }}"), "aliases").await;
        let roots = "viewer { scopes } channels { name } ".repeat(11);
        refused(&app, &format!("{{ {roots} }}"), "root fields").await;
    }
);

both_backends!(
    nested_fragments_and_lists_cannot_overflow_the_stack,
    |app: TestApp| async move {
        // RUSTSEC-2022-0037: deeply nested fragments used to overflow the stack. Each
        // fragment spreads the next; the chain is refused, the server stays up.
        let mut query = String::from("query { ...F0 }\n");
        for i in 0..2_000 {
            writeln!(query, "fragment F{i} on Query {{ ...F{} }}", i + 1).unwrap();
        }
        query.push_str("fragment F2000 on Query { viewer { scopes } }\n");
        let (status, body, _, _) = send(&app, &app.demo_token, &query).await;
        assert_refused(status, &body);
        // Deeply nested input lists and objects in the query text.
        let deep_list = format!(
            "{{ nodes(ids: {}\"x\"{}) {{ id }} }}",
            "[".repeat(5_000),
            "]".repeat(5_000)
        );
        let (status, body, _, _) = send(&app, &app.demo_token, &deep_list).await;
        assert_refused(status, &body);
        let deep_selection = format!("{{ {} }}", "viewer { ".repeat(5_000));
        let (status, body, _, _) = send(&app, &app.demo_token, &deep_selection).await;
        assert_refused(status, &body);
        // Still serving.
        let (status, _, _, _) = send(&app, &app.demo_token, "{ viewer { scopes } }").await;
        assert_eq!(status, StatusCode::OK);
    }
);

both_backends!(input_lists_are_capped, |app: TestApp| async move {
    let ids: Vec<String> = (0..251)
        .map(|_| {
            profilegraph_schema::ids::encode(
                profilegraph_schema::ids::NodeKind::Contact,
                uuid::Uuid::now_v7(),
            )
            .0
        })
        .collect();
    let (status, body) = app
        .graphql(
            Some(&app.demo_token),
            "mutation($ids: [ID!]!) { createProfile(input: { name: \"Many\", contactIds: $ids }) { profile { id } } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"], "input.contactIds",
        "{body}"
    );
    let (_, body) = app
        .graphql(
            Some(&app.demo_token),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{body}"
    );
});

async fn rate_limited(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| {
        config.rate_limit_per_token = 40;
        config.rate_limit_per_workspace = 1_000;
    })
    .await
    else {
        println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
        return;
    };
    let query = "{ viewer { scopes } channels { name type } }";
    let (status, body, _, headers) = send(&app, &app.demo_token, query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(headers["x-ratelimit-limit"], "40");
    let first_remaining: u64 = headers["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(first_remaining < 40);
    assert!(headers.contains_key("x-ratelimit-reset"));
    // Spend the rest of the minute's budget.
    let mut refused = None;
    for _ in 0..40 {
        let (status, body, statements, headers) = send(&app, &app.demo_token, query).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some((body, statements, headers));
            break;
        }
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (body, statements, headers) = refused.expect("the budget runs out");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{body}"
    );
    assert!(body.get("data").is_none());
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "Retry-After {retry}");
    let remaining: u64 = headers["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        remaining < first_remaining,
        "the budget went down to {remaining}"
    );
    assert!(
        statements <= 2,
        "a refused operation runs no resolver ({statements} statements)"
    );

    // Another workspace is unaffected.
    let other = create_workspace(app.conn(), "Other Co").await.unwrap();
    let token = tokens::create(
        app.conn(),
        other.id,
        None,
        "other",
        &"read".parse::<Scopes>().unwrap(),
        None,
    )
    .await
    .unwrap()
    .plaintext;
    let (status, body, _, _) = send(&app, &token, query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// The points a request took from the token's budget, by `X-RateLimit-Remaining`.
async fn points(app: &TestApp, query: &str) -> u64 {
    let remaining = |headers: &reqwest::header::HeaderMap| -> u64 {
        headers["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (_, _, _, before) = send(app, &app.demo_token, "{ viewer { scopes } }").await;
    let (status, body, _, after) = send(app, &app.demo_token, query).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    remaining(&before) - remaining(&after)
}

both_backends!(
    reads_are_priced_by_the_pages_they_need,
    spawn = spawn_with_budget,
    |app: TestApp| async move {
        // A profile page, and a page of 100 profiles without connections: one point each.
        assert_eq!(
            points(&app, "{ profiles(first: 1) { nodes { name contacts { identifier } notes(first: 10) { nodes { body } } } } }").await,
            1
        );
        assert_eq!(
            points(&app, "{ profiles(first: 100) { nodes { name } } }").await,
            1
        );
        // An export page: 1 + 1 + 100 + 100 requests (its notes and tickets) = 2 points.
        let export = "{ profiles(first: 100) { nodes { name
            notes(first: 10) { nodes { body } }
            contactMoments(first: 10) { nodes { subject } } } } }";
        assert_eq!(points(&app, export).await, 2);
        // Fragments count like their fields, and a page size given as a variable is read.
        let nested = "query($n: Int) { profiles(first: $n) { nodes { ...H } } }
            fragment H on Profile { notes(first: 10) { nodes { body } }
                contactMoments(first: 10) { nodes { subject } } }";
        let remaining = |h: &reqwest::header::HeaderMap| -> u64 {
            h["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap()
        };
        for (n, price) in [(100, 2), (10, 1)] {
            let (_, _, _, before) = send(&app, &app.demo_token, "{ viewer { scopes } }").await;
            let response = app
                .client
                .post(format!("{}/graphql", app.address))
                .bearer_auth(&app.demo_token)
                .json(&json!({ "query": nested, "variables": { "n": n } }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            let after = response.headers().clone();
            let body: Value = response.json().await.unwrap();
            assert!(body.get("errors").is_none(), "{body}");
            assert_eq!(remaining(&before) - remaining(&after), price, "first: {n}");
        }
    }
);

async fn spawn_with_budget(backend: Backend) -> Option<TestApp> {
    spawn_app_with(backend, |config| {
        config.rate_limit_per_token = 1_000;
        config.rate_limit_per_workspace = 10_000;
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_per_token_sqlite() {
    rate_limited(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_per_token_postgres() {
    rate_limited(Backend::Postgres).await;
}

async fn production(backend: Backend) {
    let Some(app) = spawn_app_with(backend, |config| config.production = true).await else {
        println!("skipped: set TEST_DATABASE_URL to run it on PostgreSQL");
        return;
    };
    // No GraphiQL.
    let page = app
        .client
        .get(format!("{}/graphql", app.address))
        .send()
        .await
        .unwrap();
    assert_ne!(page.status(), StatusCode::OK);
    assert!(!page.text().await.unwrap().contains("graphiql"));
    // Messages say only the code's meaning; the code, field and request id remain.
    let (status, body) = app
        .graphql(
            Some(&app.demo_token),
            "mutation { createProfile(input: { name: \"   \" }) { profile { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let error = &body["errors"][0];
    assert_eq!(error["message"], "bad input", "{body}");
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(error["extensions"]["field"], "input.name");
    assert!(error["extensions"]["requestId"].is_string());
    // No "did you mean" hints.
    let (status, body) = app
        .graphql(
            Some(&app.demo_token),
            "{ profils { totalCount } }",
            json!({}),
        )
        .await;
    // A refused document, in legacy application/json: 200 and the errors.
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["errors"][0]["message"], "the query is not valid",
        "{body}"
    );
    let text = body.to_string();
    assert!(
        !text.contains("Did you mean") && !text.contains("profiles"),
        "{text}"
    );
    // Introspection needs a token like everything else.
    let (status, _) = app
        .graphql(None, "{ __schema { types { name } } }", json!({}))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .graphql(
            Some(&app.demo_token),
            "{ __schema { queryType { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
}

#[tokio::test(flavor = "multi_thread")]
async fn production_profile_sqlite() {
    production(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn production_profile_postgres() {
    production(Backend::Postgres).await;
}
