//! The benchmark end to end in `--quick` mode on SQLite: a fresh database, the seed, the
//! server as a separate process, every shape through the server and the ceiling, the
//! table, the JSON and the chart. Short runs (1 s after 0.5 s of warm-up) keep it well
//! under a minute even with debug builds; it checks that everything ran, not how fast.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The server to benchmark: `PROFILEGRAPH_BIN` if set (e.g. the release build), else the
/// server entry point this package builds for its tests.
fn server_bin() -> PathBuf {
    std::env::var_os("PROFILEGRAPH_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_profilegraph-bench-server")))
}

#[test]
fn quick_mode_runs_every_shape_on_sqlite() {
    let out = std::env::temp_dir().join(format!("profilegraph-bench-test-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    let results = out.join("results.json");
    let chart = out.join("chart.svg");
    let started = std::time::Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_profilegraph-bench"))
        .args([
            "--quick",
            "--backends",
            "sqlite",
            "--duration",
            "1",
            "--warmup",
            "0.5",
        ])
        .arg("--server-bin")
        .arg(server_bin())
        .arg("--out")
        .arg(&results)
        .arg("--chart")
        .arg(&chart)
        // Started by cargo, the benchmark would build the release server; it has one.
        .env_remove("CARGO")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the benchmark failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    assert!(
        started.elapsed().as_secs() < 60,
        "quick mode took {:?}",
        started.elapsed()
    );

    // The table is printed, one row per shape.
    for shape in ["Q1", "Q2", "Q3", "Q4"] {
        assert!(
            stdout.contains(&format!("| sqlite | {shape} ")),
            "no {shape} row in:\n{stdout}"
        );
    }

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let backends = report["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 1);
    let sqlite = &backends[0];
    assert_eq!(sqlite["backend"], "sqlite");
    assert!(sqlite["memory"]["peak_rss_mib"].as_f64().unwrap() > 1.0);
    let shapes = sqlite["shapes"].as_array().unwrap();
    assert_eq!(shapes.len(), 4);
    for shape in shapes {
        let name = shape["shape"].as_str().unwrap();
        for path in ["server", "ceiling"] {
            let summary = &shape[path];
            assert_eq!(summary["errors"], 0, "{name} {path}: {summary}");
            assert!(
                summary["requests_per_s"]["median"].as_f64().unwrap() > 0.0,
                "{name} {path} made no requests"
            );
            assert!(
                !summary["statements"].as_object().unwrap().is_empty(),
                "{name} {path} counted no statements"
            );
        }
        assert!(shape["fraction_of_ceiling"].as_f64().unwrap() > 0.0);
    }
    // Q4 mixes both writes, and a move really moves (5 statements; 2 would be a no-op).
    // The server remembers the token (`--token-cache-seconds`), so no request of the run
    // looks it up again.
    let q4 = &shapes[3]["server"]["statements"];
    assert!(q4["move"].as_object().unwrap().contains_key("5"), "{q4}");
    assert!(q4["note"].as_object().unwrap().contains_key("1"), "{q4}");

    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    std::fs::remove_dir_all(&out).unwrap();
}
