//! Checks that run inside async-graphql's pipeline, before any resolver or SQL: alias and
//! root-field limits after parsing, where the operation is also priced (`price`); the rate
//! limit once validation has passed; and a record of how the request fared, for the HTTP
//! status.

use std::sync::{Arc, Mutex, PoisonError};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
    NextValidation,
};
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Selection, SelectionSet,
};
use async_graphql::{Request, ServerError, ServerResult, ValidationResult, Variables};
use profilegraph_schema::{ErrorCode, RequestCtx};

use super::rate_limit::{Quota, RateLimiter};

/// How a request fared before execution; the handler turns it into a status and headers.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The operation was refused while parsing or validating (syntax, unknown fields,
    /// depth, complexity, aliases, …): a 400.
    pub rejected: std::sync::atomic::AtomicBool,
    /// What the rate limiter said: the quota left, or how long to wait.
    pub quota: Mutex<Option<Quota>>,
}

impl Outcome {
    fn reject(&self) {
        self.rejected
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The most aliases a document may use, and root fields an operation may select.
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    /// Aliases across the whole document (fragments included).
    pub max_aliases: usize,
    /// Fields selected at the root of the operation.
    pub max_root_fields: usize,
}

/// Makes one [`Guard`] per request.
pub struct GuardFactory(pub DocumentLimits);

impl ExtensionFactory for GuardFactory {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Guard {
            limits: self.0,
            operation_name: Mutex::new(None),
            price: Mutex::new(None),
        })
    }
}

/// The per-request extension: the limits, and what it learns of the request on the way
/// (the operation's name before parsing, its price once parsed).
struct Guard {
    limits: DocumentLimits,
    operation_name: Mutex<Option<String>>,
    price: Mutex<Option<u64>>,
}

fn refused(message: String) -> ServerError {
    ServerError::new(message, None)
}

#[async_graphql::async_trait::async_trait]
impl Extension for Guard {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let request = next.run(ctx, request).await?;
        *self
            .operation_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = request.operation_name.clone();
        Ok(request)
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let outcome = ctx.data_opt::<Arc<Outcome>>();
        let document = next.run(ctx, query, variables).await.inspect_err(|_| {
            if let Some(outcome) = outcome {
                outcome.reject();
            }
        })?;
        let counts = count(&document);
        let problem = if let Some(name) = missing_variable(&document, variables) {
            Some(format!(
                "variable `${name}` is required but was not provided"
            ))
        } else if counts.aliases > self.limits.max_aliases {
            Some(format!(
                "the query uses {} aliases; at most {} are allowed",
                counts.aliases, self.limits.max_aliases
            ))
        } else if counts.root_fields > self.limits.max_root_fields {
            Some(format!(
                "the operation selects {} root fields; at most {} are allowed",
                counts.root_fields, self.limits.max_root_fields
            ))
        } else {
            None
        };
        if let Some(message) = problem {
            if let Some(outcome) = outcome {
                outcome.reject();
            }
            return Err(refused(message));
        }
        let operation_name = self
            .operation_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let price = super::price::price(
            &ctx.schema_env.registry,
            &document,
            operation_name.as_deref(),
            variables,
        );
        *self.price.lock().unwrap_or_else(PoisonError::into_inner) = Some(price);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let outcome = ctx.data_opt::<Arc<Outcome>>();
        let result = next.run(ctx).await.inspect_err(|_| {
            if let Some(outcome) = outcome {
                outcome.reject();
            }
        })?;
        tracing::debug!(
            complexity = result.complexity,
            depth = result.depth,
            "operation validated"
        );
        // Priced by what the operation reads (see `price`), charged once it is known to
        // be valid and before anything runs.
        if let (Some(limiter), Some(viewer)) = (
            ctx.data_opt::<Arc<RateLimiter>>(),
            ctx.data_opt::<RequestCtx>().map(|request| &request.viewer),
        ) {
            let cost = self
                .price
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .unwrap_or(1);
            let quota = limiter.charge(viewer.token_id, viewer.workspace_id, cost);
            let limited = quota.retry_after.is_some();
            let retry_after = quota.retry_after.unwrap_or_default();
            if let Some(outcome) = outcome
                && let Ok(mut slot) = outcome.quota.lock()
            {
                *slot = Some(quota);
            }
            if limited {
                let mut error = refused(format!(
                    "rate limit exceeded: this operation costs {cost}; try again in {retry_after} s"
                ));
                error
                    .extensions
                    .get_or_insert_with(Default::default)
                    .set("code", ErrorCode::RateLimited.as_str());
                return Err(vec![error]);
            }
        }
        Ok(result)
    }
}

/// A required variable (non-null, no default) of the document's operation that the
/// request left out or sent as null. Such a request is malformed as a whole, so it is
/// refused up front rather than failing at the first field that reads the variable.
fn missing_variable(document: &ExecutableDocument, variables: &Variables) -> Option<String> {
    let DocumentOperations::Single(operation) = &document.operations else {
        // With several operations only the selected one counts; execution reports it.
        return None;
    };
    operation
        .node
        .variable_definitions
        .iter()
        .find(|definition| {
            let definition = &definition.node;
            let required = !definition.var_type.node.nullable && definition.default_value.is_none();
            let given = variables
                .get(&definition.name.node)
                .is_some_and(|value| *value != async_graphql::Value::Null);
            required && !given
        })
        .map(|definition| definition.node.name.node.to_string())
}

/// What [`count`] found in a document.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Aliases anywhere in the document.
    pub aliases: usize,
    /// The most root fields of any one operation.
    pub root_fields: usize,
}

/// Count aliases everywhere and root fields per operation. Fragment spreads at the root
/// count their fields; nested spreads are counted where the fragment is defined.
pub fn count(document: &ExecutableDocument) -> Counts {
    let mut aliases = 0;
    for fragment in document.fragments.values() {
        aliases += aliases_in(&fragment.node.selection_set.node);
    }
    let operations: Vec<&SelectionSet> = match &document.operations {
        DocumentOperations::Single(op) => vec![&op.node.selection_set.node],
        DocumentOperations::Multiple(ops) => {
            ops.values().map(|op| &op.node.selection_set.node).collect()
        }
    };
    let mut root_fields = 0;
    for set in operations {
        aliases += aliases_in(set);
        root_fields = root_fields.max(roots_in(document, set, 0));
    }
    Counts {
        aliases,
        root_fields,
    }
}

fn aliases_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

fn roots_in(document: &ExecutableDocument, set: &SelectionSet, depth: usize) -> usize {
    // Fragments can't nest deeper than the recursion limit allows anyway; stop early so a
    // cycle (refused later by validation) can't loop here.
    if depth > 8 {
        return 0;
    }
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(_) => 1,
            Selection::InlineFragment(fragment) => {
                roots_in(document, &fragment.node.selection_set.node, depth + 1)
            }
            Selection::FragmentSpread(spread) => document
                .fragments
                .get(&spread.node.fragment_name.node)
                .map_or(0, |f| {
                    roots_in(document, &f.node.selection_set.node, depth + 1)
                }),
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(query: &str) -> Counts {
        count(&async_graphql::parser::parse_query(query).unwrap())
    }

    #[test]
    fn counts_aliases_in_fragments_and_roots_through_spreads() {
        let c = counts(
            "query { a: viewer { scopes } b: viewer { scopes } ...F }
             fragment F on Query { c: channels { id } customFields { id } }",
        );
        assert_eq!(c.aliases, 3);
        assert_eq!(c.root_fields, 4);
    }
}
