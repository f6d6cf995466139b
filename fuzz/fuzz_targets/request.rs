//! `cargo +nightly fuzz run request`: one to three HTTP requests per input through the
//! profilegraph router, each answer checked against the invariants in `src/checks.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use profilegraph_fuzz::FuzzInput;

fuzz_target!(
    init: {
        // Build the app (migrated, seeded SQLite file) before the first input, so its cost
        // and its coverage don't count against an input.
        profilegraph_fuzz::harness::harness();
    },
    |input: FuzzInput| {
        profilegraph_fuzz::run(&input);
    }
);
