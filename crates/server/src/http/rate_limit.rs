//! Rate limits: a budget of query cost per token per minute, and a ceiling per workspace.
//!
//! Cost is the operation's complexity as validation prices it, so one export page of 100
//! profiles with their tickets costs what it makes the server do, not "one request".
//! Fixed one-minute windows held in memory: simple, cheap, and per process (run one
//! process per workspace shard, or put a shared limiter in front, when scaling out).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use uuid::Uuid;

const WINDOW: Duration = Duration::from_secs(60);

/// The metric counting refused charges, by `limit` (`token` or `workspace`).
pub const RATE_LIMITED: &str = "profilegraph_rate_limited_total";

/// What a charge left: for the `X-RateLimit-*` headers, and `Retry-After` when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// The token's budget per window.
    pub limit: u64,
    /// What is left of it.
    pub remaining: u64,
    /// Seconds until the window resets.
    pub reset: u64,
    /// Set when the charge was refused: seconds to wait.
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    started: Instant,
    used: u64,
}

impl Window {
    fn current(&mut self, now: Instant) -> &mut Self {
        if now.duration_since(self.started) >= WINDOW {
            self.started = now;
            self.used = 0;
        }
        self
    }

    fn reset_in(&self, now: Instant) -> u64 {
        WINDOW
            .saturating_sub(now.duration_since(self.started))
            .as_secs()
            .max(1)
    }
}

/// Budgets per token and per workspace.
#[derive(Debug)]
pub struct RateLimiter {
    per_token: u64,
    per_workspace: u64,
    windows: Mutex<HashMap<Uuid, Window>>,
}

impl RateLimiter {
    /// A limiter allowing `per_token` cost per minute to each token and `per_workspace`
    /// to all tokens of a workspace together.
    pub fn new(per_token: u64, per_workspace: u64) -> Self {
        RateLimiter {
            per_token: per_token.max(1),
            per_workspace: per_workspace.max(1),
            windows: Mutex::new(HashMap::new()),
        }
    }

    /// Charge `cost` to a token and its workspace; refused (nothing charged) when either
    /// budget would be exceeded.
    pub fn charge(&self, token: Uuid, workspace: Uuid, cost: u64) -> Quota {
        let now = Instant::now();
        let Ok(mut windows) = self.windows.lock() else {
            // A poisoned lock means a panic mid-update; failing open keeps the API up.
            return Quota {
                limit: self.per_token,
                remaining: self.per_token,
                reset: WINDOW.as_secs(),
                retry_after: None,
            };
        };
        if windows.len() > 100_000 {
            windows.retain(|_, w| now.duration_since(w.started) < WINDOW);
        }
        let fresh = Window {
            started: now,
            used: 0,
        };
        let ws = *windows.entry(workspace).or_insert(fresh).current(now);
        let tk = *windows.entry(token).or_insert(fresh).current(now);
        let token_over = tk.used.saturating_add(cost) > self.per_token;
        let workspace_over = ws.used.saturating_add(cost) > self.per_workspace;
        if token_over || workspace_over {
            let limit = if token_over { "token" } else { "workspace" };
            metrics::counter!(RATE_LIMITED, "limit" => limit).increment(1);
            let wait = if workspace_over && !token_over {
                ws.reset_in(now)
            } else {
                tk.reset_in(now)
            };
            return Quota {
                limit: self.per_token,
                remaining: self.per_token.saturating_sub(tk.used),
                reset: tk.reset_in(now),
                retry_after: Some(wait),
            };
        }
        if let Some(w) = windows.get_mut(&workspace) {
            w.used += cost;
        }
        let used = match windows.get_mut(&token) {
            Some(w) => {
                w.used += cost;
                w.used
            }
            None => cost,
        };
        Quota {
            limit: self.per_token,
            remaining: self.per_token.saturating_sub(used),
            reset: tk.reset_in(now),
            retry_after: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_runs_out_and_others_do_not() {
        let limiter = RateLimiter::new(100, 1_000);
        let (a, b, ws, other_ws) = (
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        );
        assert_eq!(limiter.charge(a, ws, 60).remaining, 40);
        let refused = limiter.charge(a, ws, 60);
        assert!(refused.retry_after.is_some());
        assert_eq!(refused.remaining, 40, "a refused charge costs nothing");
        assert!(limiter.charge(b, other_ws, 60).retry_after.is_none());
    }

    #[test]
    fn the_workspace_ceiling_covers_all_its_tokens() {
        let limiter = RateLimiter::new(100, 150);
        let ws = Uuid::now_v7();
        assert!(
            limiter
                .charge(Uuid::now_v7(), ws, 100)
                .retry_after
                .is_none()
        );
        assert!(
            limiter
                .charge(Uuid::now_v7(), ws, 100)
                .retry_after
                .is_some()
        );
    }
}
