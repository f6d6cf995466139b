//! Run corpus or crash files through the harness without libFuzzer (any toolchain):
//! `cargo run --release --bin replay -- FILE_OR_DIR...`. With
//! `PROFILEGRAPH_FUZZ_VERBOSE=1` it prints every request and response.

use arbitrary::{Arbitrary, Unstructured};
use profilegraph_fuzz::FuzzInput;

fn main() {
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        let path = std::path::PathBuf::from(&arg);
        if path.is_dir() {
            let mut entries: Vec<_> = std::fs::read_dir(&path)
                .unwrap_or_else(|e| panic!("cannot read {arg}: {e}"))
                .flatten()
                .map(|e| e.path())
                .collect();
            entries.sort();
            files.extend(entries);
        } else {
            files.push(path);
        }
    }
    if files.is_empty() {
        eprintln!("usage: replay FILE_OR_DIR...");
        std::process::exit(2);
    }
    for file in &files {
        let data =
            std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        // The same decoding as `fuzz_target!` with a typed input.
        let Ok(input) = FuzzInput::arbitrary_take_rest(Unstructured::new(&data)) else {
            eprintln!("{}: does not decode, skipped", file.display());
            continue;
        };
        if std::env::var_os("PROFILEGRAPH_FUZZ_VERBOSE").is_some() {
            eprintln!("=== {} ===\n{input:#?}", file.display());
        }
        profilegraph_fuzz::run(&input);
    }
    eprintln!("replayed {} file(s) without a violation", files.len());
}
