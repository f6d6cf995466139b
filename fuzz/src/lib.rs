//! The request fuzz target of profilegraph: structured HTTP requests through the real
//! router, with invariants on every response. See `README.md`.

pub mod checks;
pub mod grammar;
pub mod harness;
pub mod input;
pub mod model;

pub use harness::run;
pub use input::FuzzInput;
