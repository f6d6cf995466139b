//! The `profilegraph` binary. Everything lives in the library so that tests and helper
//! binaries share it; this file only hands over to it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    profilegraph::cli::main().await
}
