//! One attempt: the signed `POST`, to an address that passed the SSRF rules, and what
//! came back.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use profilegraph_schema::webhooks::payload;
use profilegraph_store::webhooks::deliveries::{Attempt, Claimed, Verdict};
use profilegraph_store::webhooks::{SecretKey, address, endpoints, secrets};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The part of a response body kept in the delivery log; the rest is not read.
pub const BODY_KEPT: usize = 1024;

/// Sends attempts. Cheap to clone.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    timeout: Duration,
    allow_private: bool,
}

/// A resolver that hands reqwest only addresses that passed the rules, so the connection
/// goes to exactly the address that was checked (a second lookup could answer
/// differently: DNS rebinding).
struct CheckedResolver {
    allow_private: bool,
}

#[derive(Debug, thiserror::Error)]
#[error("the host {host} resolves to {addr}, which is not a public address")]
struct NotPublic {
    host: String,
    addr: std::net::IpAddr,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(bad) = addrs.iter().find(|a| !address::is_public(a.ip()))
            {
                return Err(Box::new(NotPublic {
                    host,
                    addr: bad.ip(),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

impl Sender {
    /// A sender whose attempts time out after `timeout`.
    pub fn new(timeout: Duration, allow_private: bool) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            // A redirect would go wherever the receiver says, past the rules.
            .redirect(reqwest::redirect::Policy::none())
            // A proxy from the environment would connect on our behalf, to anywhere.
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .connect_timeout(timeout)
            .user_agent(concat!("profilegraph-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender {
            client,
            timeout,
            allow_private,
        })
    }

    /// Make one attempt of `claimed`, signed with the endpoint's secrets.
    pub async fn attempt(
        &self,
        key: &SecretKey,
        claimed: &Claimed,
        attempted_at: sea_orm::prelude::DateTimeWithTimeZone,
    ) -> Attempt {
        let started = Instant::now();
        let result = self.send(key, claimed, attempted_at).await;
        let duration = started.elapsed();
        match result {
            Ok((status, retry_after, body)) => Attempt {
                attempted_at,
                duration,
                http_status: Some(status),
                error: None,
                response_body: Some(body),
                verdict: Verdict::of(Some(status), retry_after),
            },
            Err(error) => Attempt {
                attempted_at,
                duration,
                http_status: None,
                error: Some(error),
                response_body: None,
                verdict: Verdict::of(None, None),
            },
        }
    }

    async fn send(
        &self,
        key: &SecretKey,
        claimed: &Claimed,
        attempted_at: sea_orm::prelude::DateTimeWithTimeZone,
    ) -> Result<(u16, Option<Duration>, String), String> {
        // The URL passed when it was registered; the rules may have changed since (or the
        // flag), so check it again. A host given as an address never reaches the
        // resolver, so this is where such a host is checked.
        let url = address::parse(&claimed.endpoint.url, self.allow_private, "url")
            .map_err(|e| e.to_string())?;
        let body = payload::body(&claimed.event);
        let webhook_id = payload::webhook_id(&claimed.event);
        // The receiver checks this against its own clock (replay protection), so it is
        // the real time of sending.
        let timestamp = chrono::Utc::now().timestamp();
        let secrets = endpoints::signing_secrets(key, &claimed.endpoint, attempted_at)
            .map_err(|e| e.to_string())?;
        let signature = secrets::signature_header(&secrets, &webhook_id, timestamp, &body);
        let request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut response = match tokio::time::timeout_at(deadline, request.send()).await {
            Err(_) => return Err(self.timed_out()),
            Ok(Err(err)) => return Err(describe(&err)),
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        // Keep the first KiB; stop reading there (an endless body is cut off), or when
        // the attempt's time is up.
        let mut kept = Vec::new();
        while kept.len() < BODY_KEPT {
            match tokio::time::timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    let room = BODY_KEPT - kept.len();
                    kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
                }
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
            }
        }
        drop(response);
        Ok((
            status,
            retry_after,
            String::from_utf8_lossy(&kept).into_owned(),
        ))
    }

    fn timed_out(&self) -> String {
        format!("no answer within {} s", self.timeout.as_secs_f64())
    }
}

/// An error and its causes, in one line (reqwest's own message names only the URL).
fn describe(err: &reqwest::Error) -> String {
    let mut text = if err.is_connect() {
        "cannot connect".to_owned()
    } else if err.is_timeout() {
        "timed out".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    wait.to_std().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(parse_retry_after("120"), Some(Duration::from_secs(120)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(300)).to_rfc2822();
        let wait = parse_retry_after(&later).unwrap();
        assert!(wait > Duration::from_secs(290) && wait <= Duration::from_secs(300));
        assert_eq!(parse_retry_after("soon"), None);
    }
}
