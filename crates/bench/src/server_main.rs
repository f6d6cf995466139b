//! `profilegraph-bench-server`: the profilegraph server, built from the same library
//! entry point as the `profilegraph` binary. It exists so that this package's end-to-end
//! test gets a server binary from cargo (`CARGO_BIN_EXE_…`) without building the server
//! package separately; the benchmark itself runs the release `profilegraph` binary.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    profilegraph::cli::main().await
}
