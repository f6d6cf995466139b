//! GraphQL over HTTP: what the endpoint accepts, refuses, and answers with, per the
//! GraphQL-over-HTTP specification's MUST rules.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, ALLOW, CONTENT_TYPE};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::TestApp;

fn url(app: &TestApp) -> String {
    format!("{}/graphql", app.address)
}

async fn note_count(app: &TestApp) -> u64 {
    use sea_orm::{EntityTrait, PaginatorTrait};
    entity::notes::Entity::find()
        .count(app.conn())
        .await
        .unwrap()
}

async fn peter(app: &TestApp) -> String {
    let data = app
        .demo_data(
            "{ profiles(search: \"Peter\") { nodes { id } } }",
            json!({}),
        )
        .await;
    data["profiles"]["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

both_backends!(post_takes_json_only, |app: TestApp| async move {
    let query = json!({ "query": "{ viewer { scopes } }" }).to_string();
    // The forms a browser sends across sites without a preflight are refused.
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/graphql"),
        None,
    ] {
        let mut request = app
            .client
            .post(url(&app))
            .bearer_auth(&app.demo_token)
            .body(query.clone());
        if let Some(content_type) = content_type {
            request = request.header(CONTENT_TYPE, content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Content-Type {content_type:?}"
        );
    }
    let ok = app
        .client
        .post(url(&app))
        .bearer_auth(&app.demo_token)
        .header(CONTENT_TYPE, "application/json; charset=utf-8")
        .body(query)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
});

both_backends!(
    get_runs_queries_but_never_mutations,
    |app: TestApp| async move {
        let response = app
        .client
        .get(url(&app))
        .bearer_auth(&app.demo_token)
        .query(&[
            ("query", "query Who($n: Int) { viewer { scopes } channels { name } profiles(first: $n) { totalCount } }"),
            ("variables", "{\"n\": 1}"),
        ])
        .send()
        .await
        .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["data"]["viewer"]["scopes"][0], "read", "{body}");

        let before = note_count(&app).await;
        let mutation = format!(
            "mutation {{ createNote(input: {{ profileId: \"{}\", body: \"via GET\" }}) {{ note {{ id }} }} }}",
            peter(&app).await
        );
        let response = app
            .client
            .get(url(&app))
            .bearer_auth(&app.demo_token)
            .query(&[("query", mutation.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(response.headers()[ALLOW], "POST");
        assert_eq!(note_count(&app).await, before, "nothing was written");

        // With several operations, the one named decides.
        let doc = format!("query Q {{ viewer {{ scopes }} }} {mutation}")
            .replace("mutation {", "mutation M {");
        let named = |name: &'static str| {
            app.client
                .get(url(&app))
                .bearer_auth(&app.demo_token)
                .query(&[("query", doc.as_str()), ("operationName", name)])
                .send()
        };
        assert_eq!(
            named("M").await.unwrap().status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(named("Q").await.unwrap().status(), StatusCode::OK);
        assert_eq!(note_count(&app).await, before, "nothing was written");
    }
);

both_backends!(
    accept_decides_the_response_type,
    |app: TestApp| async move {
        let send = |accept: Option<&'static str>| {
            let mut request = app
                .client
                .post(url(&app))
                .bearer_auth(&app.demo_token)
                .json(&json!({ "query": "{ viewer { scopes } }" }));
            if let Some(accept) = accept {
                request = request.header(ACCEPT, accept);
            }
            request.send()
        };
        let cases = [
            (None, StatusCode::OK, Some("application/json")),
            (
                Some("application/json"),
                StatusCode::OK,
                Some("application/json"),
            ),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                StatusCode::OK,
                Some("application/graphql-response+json"),
            ),
            (Some("*/*"), StatusCode::OK, Some("application/json")),
            (Some("text/html"), StatusCode::NOT_ACCEPTABLE, None),
            (
                Some("application/xml, text/plain"),
                StatusCode::NOT_ACCEPTABLE,
                None,
            ),
            (
                Some("application/json;q=0"),
                StatusCode::NOT_ACCEPTABLE,
                None,
            ),
        ];
        for (accept, status, content_type) in cases {
            let response = send(accept).await.unwrap();
            assert_eq!(response.status(), status, "Accept {accept:?}");
            if let Some(content_type) = content_type {
                assert_eq!(
                    response.headers()[CONTENT_TYPE],
                    content_type,
                    "Accept {accept:?}"
                );
            }
        }
    }
);

both_backends!(
    unparsable_or_invalid_operations_get_400_without_data,
    |app: TestApp| async move {
        for (query, why) in [
            ("{ viewer { scopes }", "a syntax error"),
            ("{ nosuchfield }", "an unknown field"),
            (
                "{ profiles(first: \"ten\") { totalCount } }",
                "a wrong argument type",
            ),
            (
                "query($id: ID!) { profile(id: $id) { name } }",
                "a missing variable",
            ),
        ] {
            let (status, body) = app.graphql(Some(&app.demo_token), query, json!({})).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{why}: {body}");
            assert!(body.get("data").is_none(), "{why}: no data at all: {body}");
            let error = &body["errors"][0];
            assert_eq!(
                error["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
                "{why}: {body}"
            );
            assert!(error["extensions"]["requestId"].is_string(), "{why}");
        }
        // A document whose operation can't be chosen: an unknown name, or none for two.
        let two = "query A { viewer { scopes } } query B { viewer { scopes } }";
        for (variables_and_name, why) in [
            (
                json!({ "query": two, "operationName": "C" }),
                "an unknown operationName",
            ),
            (
                json!({ "query": two }),
                "no operationName for two operations",
            ),
            (
                json!({ "query": "query A { viewer { scopes } }", "operationName": "B" }),
                "a name the only operation doesn't have",
            ),
        ] {
            let response = app
                .client
                .post(url(&app))
                .bearer_auth(&app.demo_token)
                .json(&variables_and_name)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
            let json: Value = response.json().await.unwrap();
            assert!(json.get("data").is_none(), "{why}: {json}");
            assert_eq!(
                json["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
                "{why}: {json}"
            );
        }
        // Bodies that are not a GraphQL request at all.
        for (body, why) in [
            ("not json", "not JSON"),
            ("[{\"query\": \"{ viewer { scopes } }\"}]", "a batch"),
            ("{\"variables\": {}}", "no query"),
            ("42", "not an object"),
        ] {
            let response = app
                .client
                .post(url(&app))
                .bearer_auth(&app.demo_token)
                .header(CONTENT_TYPE, "application/json")
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{why}");
            let json: Value = response.json().await.unwrap();
            assert!(json.get("data").is_none(), "{why}");
            assert_eq!(
                json["errors"][0]["extensions"]["code"], "BAD_REQUEST",
                "{why}"
            );
        }
    }
);

both_backends!(
    bodies_over_two_megabytes_get_413,
    |app: TestApp| async move {
        let padding = " ".repeat(2 * 1024 * 1024);
        let body = format!("{{\"query\": \"{{ viewer {{ scopes }} }}{padding}\"}}");
        let response = app
            .client
            .post(url(&app))
            .bearer_auth(&app.demo_token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        // Just under the limit is served.
        let padding = " ".repeat(1024 * 1024);
        let body = format!("{{\"query\": \"{{ viewer {{ scopes }} }}{padding}\"}}");
        let response = app
            .client
            .post(url(&app))
            .bearer_auth(&app.demo_token)
            .header(CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
);
