//! The server under test: finding (or building) its binary, seeding a database with it,
//! and running `profilegraph serve` as a separate process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::cli::Size;
use crate::error::{Error, Result};

/// Find the server binary: `explicit` if given; else build it when running under cargo;
/// else look in the usual places.
pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        return if path.is_file() {
            Ok(path.to_owned())
        } else {
            Err(Error::Usage(format!(
                "--server-bin {} does not exist",
                path.display()
            )))
        };
    }
    // Started by `cargo run`: build the release server, so the benchmark never measures a
    // stale binary. cargo has released its build lock by the time it runs us.
    if let Some(cargo) = std::env::var_os("CARGO") {
        return build(&cargo);
    }
    let mut candidates = Vec::new();
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
    {
        candidates.push(dir.join("profilegraph"));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(PathBuf::from(dir).join("release").join("profilegraph"));
    }
    candidates.push(PathBuf::from("target/release/profilegraph"));
    candidates.into_iter().find(|p| p.is_file()).ok_or_else(|| {
        Error::Usage(
            "no profilegraph binary found: run `cargo build --release -p profilegraph` or pass \
             --server-bin"
                .into(),
        )
    })
}

/// `cargo build --release -p profilegraph`, returning the binary cargo reports.
fn build(cargo: &std::ffi::OsStr) -> Result<PathBuf> {
    eprintln!("building the server: cargo build --release -p profilegraph");
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "-p",
            "profilegraph",
            "--bin",
            "profilegraph",
            "--message-format=json-render-diagnostics",
        ])
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::io("running cargo build"))?;
    if !output.status.success() {
        return Err(Error::Setup(format!(
            "cargo build --release -p profilegraph failed ({})",
            output.status
        )));
    }
    // cargo prints one JSON message per line; the server's is the `compiler-artifact`
    // of the `profilegraph` binary, with its path under `executable`.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "profilegraph")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| Error::Setup("cargo build did not report the profilegraph binary".into()))
}

/// Run `profilegraph seed --size <size>` on `database_url`; returns the token it prints
/// alone on its last line. Its progress bars go to our stderr.
pub fn seed(bin: &Path, database_url: &str, size: Size) -> Result<String> {
    let output = Command::new(bin)
        .args(["seed", "--size", size.arg(), "--name", "Bench Company"])
        .env("DATABASE_URL", database_url)
        .env("PROFILEGRAPH_NO_DEMO", "true")
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(Error::io(format!("running {} seed", bin.display())))?;
    if !output.status.success() {
        return Err(Error::Setup(format!(
            "`profilegraph seed --size {}` failed ({})",
            size.arg(),
            output.status
        )));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Error::Setup("`profilegraph seed` printed no token".into()))
}

/// A running `profilegraph serve`; killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// Where its stderr goes.
    pub log: PathBuf,
}

impl Server {
    /// Start the server on a free port with statement counting on and no demo data.
    pub fn start(
        bin: &Path,
        database_url: &str,
        max_connections: u32,
        log: PathBuf,
        env: &[(&str, String)],
    ) -> Result<Self> {
        let port = free_port()?;
        let stderr = std::fs::File::create(&log)
            .map_err(Error::io(format!("creating {}", log.display())))?;
        let child = Command::new(bin)
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("PROFILEGRAPH_LISTEN", format!("127.0.0.1:{port}"))
            .env("PROFILEGRAPH_NO_DEMO", "1")
            .env("PROFILEGRAPH_SQL_STATS", "1")
            // The benchmark measures the server, not its rate limiter: one token drives
            // millions of cost units a minute here.
            .env("PROFILEGRAPH_RATE_LIMIT_TOKEN", "1000000000000")
            .env("PROFILEGRAPH_RATE_LIMIT_WORKSPACE", "1000000000000")
            .env(
                "PROFILEGRAPH_DB_MAX_CONNECTIONS",
                max_connections.to_string(),
            )
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(Error::io(format!("starting {} serve", bin.display())))?;
        Ok(Server {
            child,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait until `/health/ready` answers 200, or fail after `timeout` or if the process
    /// exits.
    pub async fn wait_ready(&mut self, client: &reqwest::Client, timeout: Duration) -> Result<()> {
        let started = Instant::now();
        let url = format!("{}/health/ready", self.base_url);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Error::Setup(format!(
                    "the server exited ({status}) before it was ready; its log: {}\n{}",
                    self.log.display(),
                    tail(&self.log)
                )));
            }
            if let Ok(response) = client.get(&url).send().await
                && response.status().is_success()
            {
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(Error::Setup(format!(
                    "the server was not ready after {timeout:?}; its log: {}",
                    self.log.display()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Peak and current resident memory, from `/proc/<pid>/status`.
    pub fn memory(&self) -> Result<Memory> {
        memory_of(self.pid())
    }
}

/// Peak and current resident memory of process `pid`, from `/proc/<pid>/status`.
pub fn memory_of(pid: u32) -> Result<Memory> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).map_err(Error::io(format!("reading {path}")))?;
    let field = |name: &str| -> Option<u64> {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse().ok())
    };
    match (field("VmHWM:"), field("VmRSS:")) {
        (Some(peak_kb), Some(current_kb)) => Ok(Memory {
            peak_rss_mib: peak_kb as f64 / 1024.0,
            rss_mib: current_kb as f64 / 1024.0,
        }),
        _ => Err(Error::Setup(format!("no VmHWM/VmRSS in {path}"))),
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGKILL is fine here: the benchmark's database is thrown away afterwards, and
        // SQLite in WAL mode and PostgreSQL both survive a killed client.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's memory.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Memory {
    /// `VmHWM`: the most it was ever resident, MiB.
    pub peak_rss_mib: f64,
    /// `VmRSS`: resident now, MiB.
    pub rss_mib: f64,
}

/// CPU seconds (user + system) used by process `pid`, from `/proc/<pid>/stat`.
pub fn process_cpu_seconds(pid: u32, ticks_per_second: f64) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces; fields after
    // it are plain. utime and stime are fields 14 and 15, i.e. 12 and 13 after ")".
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / ticks_per_second)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), which `/proc/*/stat` counts in.
pub fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// A port nobody listens on right now. Another process could take it before the server
/// binds it, but on a benchmark machine that is unlikely, and the readiness check would
/// then fail loudly.
pub fn free_port() -> Result<u16> {
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").map_err(Error::io("finding a free port"))?;
    let port = listener
        .local_addr()
        .map_err(Error::io("finding a free port"))?
        .port();
    Ok(port)
}

/// The last lines of a log file.
pub fn tail(path: &Path) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return String::new();
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(|l| l.ok()).collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
