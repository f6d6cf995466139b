//! What an operation costs against the rate limit: priced the way GitHub prices its
//! GraphQL API, which partners know.
//!
//! Count the requests the operation would make if every page were full: one for the
//! operation, and for every connection (a field paged with `first`/`last`) one for each
//! parent it is read under, which is the product of the page sizes of the connections
//! around it (`first`, else `last`, else the default page size). The price is that count
//! divided by 100, rounded, and at least 1. An export page,
//! `profiles(first: 100) { nodes { notes(first: 10) {…} contactMoments(first: 10) {…} } }`,
//! needs 1 + 1 + 100 + 100 = 202 requests (the operation, the page, each profile's notes
//! and tickets): 2 points; a profile page 1 point. Walking a workspace page by page then
//! costs about 2 points per 100 profiles. `tests/api/limits.rs` checks these prices.
//!
//! The price says how many operations fit in a minute; the complexity limit
//! (`--max-complexity`) is a different number, and still refuses an abusive operation
//! outright, whatever budget is left.

use async_graphql::Variables;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::registry::{MetaTypeName, Registry};
use profilegraph_store::page::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};

/// Requests per point.
pub const REQUESTS_PER_POINT: u64 = 100;

/// Fragments nested deeper than this are not followed (validation refuses cycles, but the
/// price is taken before validation runs, so it must stop on its own).
const MAX_NESTING: usize = 32;

/// The price of the operation `operation_name` selects (the dearest one when it selects
/// none).
pub fn price(
    registry: &Registry,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    variables: &Variables,
) -> u64 {
    let walk = Walk {
        registry,
        document,
        variables,
    };
    let requests = match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), _) => {
            walk.operation(op.node.ty, &op.node.selection_set.node)
        }
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map_or(1, |op| {
            walk.operation(op.node.ty, &op.node.selection_set.node)
        }),
        (DocumentOperations::Multiple(ops), None) => ops
            .values()
            .map(|op| walk.operation(op.node.ty, &op.node.selection_set.node))
            .max()
            .unwrap_or(1),
    };
    // Rounded to the nearest point.
    ((requests + REQUESTS_PER_POINT / 2) / REQUESTS_PER_POINT).max(1)
}

struct Walk<'a> {
    registry: &'a Registry,
    document: &'a ExecutableDocument,
    variables: &'a Variables,
}

impl Walk<'_> {
    fn operation(&self, ty: OperationType, set: &SelectionSet) -> u64 {
        let root = match ty {
            OperationType::Query => Some(self.registry.query_type.as_str()),
            OperationType::Mutation => self.registry.mutation_type.as_deref(),
            OperationType::Subscription => self.registry.subscription_type.as_deref(),
        };
        1 + self.set(root, set, 1, 0)
    }

    /// The requests of the connections in `set`, read under `parents` objects of type
    /// `ty` (unknown: `None`, then no field there counts as a connection).
    fn set(&self, ty: Option<&str>, set: &SelectionSet, parents: u64, depth: usize) -> u64 {
        if depth > MAX_NESTING {
            return 0;
        }
        let mut requests = 0_u64;
        for selection in &set.items {
            let more = match &selection.node {
                Selection::Field(field) => self.field(ty, &field.node, parents, depth),
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let ty = inline
                        .type_condition
                        .as_ref()
                        .map(|c| c.node.on.node.as_str())
                        .or(ty);
                    self.set(ty, &inline.selection_set.node, parents, depth + 1)
                }
                Selection::FragmentSpread(spread) => self
                    .document
                    .fragments
                    .get(&spread.node.fragment_name.node)
                    .map_or(0, |fragment| {
                        let fragment = &fragment.node;
                        let ty = Some(fragment.type_condition.node.on.node.as_str());
                        self.set(ty, &fragment.selection_set.node, parents, depth + 1)
                    }),
            };
            requests = requests.saturating_add(more);
        }
        requests
    }

    fn field(&self, ty: Option<&str>, field: &Field, parents: u64, depth: usize) -> u64 {
        let meta = ty
            .and_then(|ty| self.registry.types.get(ty))
            .and_then(|ty| ty.field_by_name(field.name.node.as_str()));
        let Some(meta) = meta else {
            // `__typename`, introspection, or a field validation will refuse.
            return 0;
        };
        let child = MetaTypeName::concrete_typename(&meta.ty);
        let paged = meta.args.contains_key("first") || meta.args.contains_key("last");
        if !paged {
            return self.set(Some(child), &field.selection_set.node, parents, depth + 1);
        }
        let size = self.page_size(field);
        parents.saturating_add(self.set(
            Some(child),
            &field.selection_set.node,
            parents.saturating_mul(size),
            depth + 1,
        ))
    }

    /// The page a connection asks for: `first`, else `last`, else the default; at most
    /// the largest page there is.
    fn page_size(&self, field: &Field) -> u64 {
        let argument = |name: &str| {
            field
                .get_argument(name)
                .and_then(|value| {
                    value
                        .node
                        .clone()
                        .into_const_with(|var| self.variables.get(&var).cloned().ok_or(()))
                        .ok()
                })
                .and_then(|value| match value {
                    async_graphql::Value::Number(n) => n.as_u64(),
                    _ => None,
                })
        };
        argument("first")
            .or_else(|| argument("last"))
            .unwrap_or(DEFAULT_PAGE_SIZE)
            .min(MAX_PAGE_SIZE)
    }
}
