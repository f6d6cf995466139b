//! The benchmark end to end in `--quick` mode on SQLite: a fresh database, the seed, the
//! server as a separate process, every shape through the server and the ceiling, the
//! table, the JSON and the chart, written to the temporary directory and not over the
//! published results in `bench/`. Short runs (1 s after 0.5 s of warm-up) keep it well
//! under a minute even with debug builds; it checks that everything ran, not how fast.
//! Also the benchmark's `--help` and its errors for a bad command line.

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

/// The published results in `bench/` of the source tree.
const PUBLISHED: &[&str] = &[
    "results.json",
    "chart.svg",
    "table-m.md",
    "results-l.json",
    "chart-l.svg",
    "table-l.md",
];

#[test]
fn quick_mode_runs_every_shape_on_sqlite_and_leaves_the_published_results_alone() {
    // The benchmark runs where a reader runs it: in a tree with the published results in
    // bench/ (copies of this repository's, in a folder of the test's own).
    let tree = std::env::temp_dir().join(format!("profilegraph-bench-test-{}", std::process::id()));
    let published = tree.join("bench");
    std::fs::create_dir_all(&published).unwrap();
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../bench");
    let mut before = Vec::new();
    for name in PUBLISHED {
        let contents = std::fs::read(source.join(name)).unwrap();
        std::fs::write(published.join(name), &contents).unwrap();
        before.push(contents);
    }
    let started = std::time::Instant::now();
    // `--quick` as the README shows it, shortened further: SQLite only, 1 s runs.
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
        .current_dir(&tree)
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

    // The smoke test's numbers went to a folder of their own, named on the last line.
    let last = stdout.lines().last().unwrap_or_default();
    let (results, chart) = last
        .strip_prefix("results: ")
        .and_then(|rest| rest.split_once(", chart: "))
        .map(|(results, chart)| (PathBuf::from(results), PathBuf::from(chart)))
        .unwrap_or_else(|| panic!("the last line names the output files: {last:?}"));
    assert!(
        results.starts_with(std::env::temp_dir()) && !results.starts_with(&tree),
        "a quick run writes to the temporary directory, not to bench/: {}",
        results.display()
    );
    assert_eq!(results.parent(), chart.parent(), "side by side");
    for (name, contents) in PUBLISHED.iter().zip(&before) {
        assert!(
            std::fs::read(published.join(name)).unwrap() == *contents,
            "bench/{name} was changed by a quick run"
        );
    }
    assert_eq!(
        std::fs::read_dir(&published).unwrap().count(),
        PUBLISHED.len(),
        "nothing new in bench/"
    );

    let report: Value = serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let backends = report["backends"].as_array().unwrap();
    assert_eq!(backends.len(), 1);
    let sqlite = &backends[0];
    assert_eq!(sqlite["backend"], "sqlite");
    assert!(sqlite["memory"]["peak_rss_mib"].as_f64().unwrap() > 1.0);
    let shapes = sqlite["shapes"].as_array().unwrap();
    let names: Vec<&str> = shapes
        .iter()
        .map(|s| s["shape"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["q1", "q1-1", "q2", "q3", "q4"]);
    // Q1-1 is Q1 with a single client; the others run with --clients (8).
    assert_eq!(report["settings"]["clients"], 8);
    assert_eq!(shapes[0]["server"]["runs"][0]["clients"], 8);
    assert_eq!(shapes[0]["ceiling"]["runs"][0]["clients"], 8);
    let single = &shapes[1]["server"]["runs"][0];
    assert_eq!(single["clients"], 1);
    assert_eq!(shapes[1]["ceiling"]["runs"][0]["clients"], 1);
    assert!(
        single["requests_per_s"].as_f64().unwrap() > 0.0,
        "Q1-1 made requests: {single}"
    );
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
    // Q4 mixes both writes, and a move really moves (6 statements, 1 of them the event
    // log's; 2 would be a no-op). The server remembers the token
    // (`--token-cache-seconds`), so no request of the run looks it up again.
    let q4 = &shapes[4]["server"]["statements"];
    assert!(q4["move"].as_object().unwrap().contains_key("6"), "{q4}");
    assert!(q4["note"].as_object().unwrap().contains_key("2"), "{q4}");

    let svg = std::fs::read_to_string(&chart).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    std::fs::remove_dir_all(results.parent().unwrap()).unwrap();
    std::fs::remove_dir_all(&tree).unwrap();
}

#[test]
fn help_names_every_option() {
    let output = Command::new(env!("CARGO_BIN_EXE_profilegraph-bench"))
        .arg("--help")
        .output()
        .unwrap();
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    for option in [
        "--backends",
        "--size",
        "--clients",
        "--duration",
        "--warmup",
        "--runs",
        "--quick",
        "--shapes",
        "--no-ceiling",
        "--server-bin",
        "--postgres-url",
        "--out",
        "--chart",
        "--keep",
        "--anchor",
        "--anchor-dir",
    ] {
        assert!(help.contains(option), "{option} in:\n{help}");
    }
}

/// A bad command line: one plain `error:` line on stderr, nothing on stdout, a failure.
#[test]
fn a_bad_command_line_is_one_error_line() {
    for args in [
        &["--clients", "0"][..],
        &["--backends", "mysql"],
        &["--runs", "x"],
        &["--anchor", "postgraphile", "--backends", "sqlite"],
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_profilegraph-bench"))
            .args(args)
            .env_remove("CARGO")
            .output()
            .unwrap();
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(!output.status.success(), "{args:?} failed");
        assert!(output.stdout.is_empty(), "{args:?}: nothing on stdout");
        assert_eq!(
            stderr.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{args:?}: one error line in {stderr:?}"
        );
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr:?}");
        assert!(
            !stderr.contains('\x1b'),
            "{args:?}: no escape codes in {stderr:?}"
        );
    }
}
