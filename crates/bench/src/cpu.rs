//! Where the machine's CPU time goes during a measured window: the server, this process,
//! PostgreSQL's processes, and everything else. The benchmark shares two cores with the
//! database and, on a shared machine, with whatever else runs (builds, tests); the
//! "others" share says how much of the machine the run did not have.

use std::collections::HashMap;

use serde::Serialize;

/// CPU seconds used so far, by whom.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Non-idle time of all CPUs, from /proc/stat.
    machine_busy: f64,
    /// Wall time of all CPUs (busy + idle).
    machine_total: f64,
    /// The server process (0 for the ceiling runs).
    server: f64,
    /// This process.
    bench: f64,
    /// Every process named `postgres`, by pid: backends come and go, and a process
    /// that exits takes its CPU time with it, so only per-process differences add up.
    postgres: HashMap<u32, f64>,
}

/// CPU seconds used during a window, and the machine's load.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Usage {
    /// The server.
    pub server_s: f64,
    /// This benchmark process (load generator, or the ceiling's client).
    pub bench_s: f64,
    /// PostgreSQL's processes (all of them, including other users' sessions).
    pub postgres_s: f64,
    /// Everything else on the machine.
    pub others_s: f64,
    /// How busy all CPUs were, 0 to 1.
    pub machine_busy: f64,
}

impl Snapshot {
    /// Read the counters now.
    pub fn take(server_pid: Option<u32>, ticks: f64) -> Snapshot {
        let (machine_busy, machine_total) = machine(ticks).unwrap_or((0.0, 0.0));
        Snapshot {
            machine_busy,
            machine_total,
            server: server_pid
                .and_then(|pid| crate::server::process_cpu_seconds(pid, ticks))
                .unwrap_or(0.0),
            bench: crate::server::process_cpu_seconds(std::process::id(), ticks).unwrap_or(0.0),
            postgres: postgres(ticks),
        }
    }

    /// What was used between `self` and `later`.
    pub fn until(&self, later: &Snapshot) -> Usage {
        let busy = later.machine_busy - self.machine_busy;
        let total = later.machine_total - self.machine_total;
        let server_s = later.server - self.server;
        let bench_s = later.bench - self.bench;
        // A backend that started in the window counts from zero; one that ended in it is
        // lost (its time then shows up nowhere, not as a negative number).
        let postgres_s = later
            .postgres
            .iter()
            .map(|(pid, cpu)| cpu - self.postgres.get(pid).copied().unwrap_or(0.0))
            .filter(|d| *d > 0.0)
            .sum();
        Usage {
            server_s,
            bench_s,
            postgres_s,
            others_s: (busy - server_s - bench_s - postgres_s).max(0.0),
            machine_busy: if total > 0.0 { busy / total } else { 0.0 },
        }
    }
}

/// (busy, total) CPU seconds of the whole machine.
fn machine(ticks: f64) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest time is inside user).
    let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0.0);
    let total: f64 = fields.iter().take(8).sum();
    Some(((total - idle) / ticks, total / ticks))
}

/// CPU seconds of every process named `postgres`, by pid.
fn postgres(ticks: f64) -> HashMap<u32, f64> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return HashMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "postgres")
        })
        .filter_map(|pid| crate::server::process_cpu_seconds(pid, ticks).map(|cpu| (pid, cpu)))
        .collect()
}
