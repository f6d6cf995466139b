//! A resolver that panics fails its own request with INTERNAL, and nothing else: the
//! worker that ran it, the process and the next request carry on.
//!
//! No resolver panics on purpose, so the test adds one: an extension, installed only in
//! this test's schema, that panics when a field is aliased `boom`. It runs inside the
//! real execution path (the request's pinned worker, its loaders and its transaction).

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo,
};
use async_graphql::{ServerResult, Value};
use serde_json::json;

use crate::helpers::{Backend, TestApp, spawn_app_custom};

struct PanicOnBoom;

impl ExtensionFactory for PanicOnBoom {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PanicOnBoom)
    }
}

#[async_trait::async_trait]
impl Extension for PanicOnBoom {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.alias == Some("boom") {
            panic!("a resolver bug, on purpose");
        }
        next.run(ctx, info).await
    }
}

async fn spawn(backend: Backend) -> Option<TestApp> {
    spawn_app_custom(
        backend,
        |_| {},
        |state, config| {
            state.schema = profilegraph::app::schema_builder(config)
                .extension(PanicOnBoom)
                .finish();
        },
    )
    .await
}

async fn scenario(app: TestApp) {
    let notes_before = crate::support::data(
        &app,
        &app.demo_token,
        "{ profiles(first: 10) { nodes { notes(first: 10) { totalCount } } } }",
        json!({}),
    )
    .await;

    // Many at once: every worker thread gets some, and each must survive its panics.
    let mut panicking = Vec::new();
    for _ in 0..8 {
        panicking.push(app.graphql(
            Some(&app.demo_token),
            "{ viewer { workspace { name } } profiles(first: 5) { nodes { name boom: notes(first: 1) { totalCount } } } }",
            json!({}),
        ));
    }
    for (status, body) in futures_util::future::join_all(panicking).await {
        assert_eq!(status, 500, "{body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "INTERNAL",
            "{body}"
        );
        assert!(body.get("data").is_none(), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("on purpose"),
            "the panic's text stays in the logs: {body}"
        );
    }

    // The server carries on, on every worker.
    for _ in 0..8 {
        let after = crate::support::data(
            &app,
            &app.demo_token,
            "{ profiles(first: 10) { nodes { notes(first: 10) { totalCount } } } }",
            json!({}),
        )
        .await;
        assert_eq!(after, notes_before);
    }
}

crate::both_backends!(
    a_resolver_panic_fails_only_its_request,
    spawn = spawn,
    scenario
);
