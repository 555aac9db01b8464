//! One Standard-Webhooks request, as both notifications and ops alerts send it: the
//! `webhook-id` and `webhook-timestamp` headers, a `webhook-signature` when a secret is set,
//! and how the receiver answered.

use payrouter_provider::{ExposeSecret, SecretString};
use std::time::{Duration, Instant};

use super::signature;

/// The HTTP client of a sender whose requests take at most `timeout`.
pub(super) fn client(timeout: Duration, idle_per_host: usize) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .pool_max_idle_per_host(idle_per_host)
        .build()
        .expect("static HTTP client settings are valid")
}

/// How one attempt went: its outcome, the receiver's HTTP status when it answered, and how
/// long it took.
pub(super) struct Attempt {
    pub outcome: Delivery,
    pub http_status: Option<u16>,
    pub latency_ms: u64,
}

pub(super) enum Delivery {
    Delivered,
    Failed(String),
}

/// Sends `req` as message `id`, signed over `signed_body` (what the request carries as its
/// body; empty for a GET) with `secret` when there is one.
pub(super) async fn send_signed(
    req: reqwest::RequestBuilder,
    id: &str,
    signed_body: &str,
    secret: Option<&SecretString>,
) -> Attempt {
    let ts = chrono::Utc::now().timestamp();
    let mut req = req
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string());
    if let Some(secret) = secret {
        req = req.header(
            "webhook-signature",
            signature(secret.expose_secret(), id, ts, signed_body),
        );
    }
    let started = Instant::now();
    let sent = req.send().await;
    let latency_ms = started.elapsed().as_millis() as u64;
    let http_status = sent.as_ref().ok().map(|r| r.status().as_u16());
    let outcome = match sent {
        Ok(resp) if resp.status().is_success() => Delivery::Delivered,
        Ok(resp) => Delivery::Failed(format!("receiver answered HTTP {}", resp.status().as_u16())),
        Err(e) if e.is_timeout() => Delivery::Failed("receiver timed out".into()),
        Err(_) => Delivery::Failed("receiver unreachable".into()),
    };
    Attempt {
        outcome,
        http_status,
        latency_ms,
    }
}
