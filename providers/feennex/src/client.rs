//! HTTP transport to Feennex: POSTs a signed JSON body and returns Feennex's envelope, or the
//! transport failure as a ProviderError. What the envelope means is decided in `transform`.

use payrouter_provider::ProviderError;
use reqwest::redirect::Policy;
use serde::Serialize;
use std::time::Duration;

use crate::transform::Envelope;
use crate::NAME;

pub struct FeennexClient {
    http: reqwest::Client,
    base_url: String,
}

impl FeennexClient {
    pub fn new(
        base_url: String,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> reqwest::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .timeout(timeout)
            // A redirect would turn the POST into a GET without its body: report it instead.
            .redirect(Policy::none())
            .build()?;
        Ok(FeennexClient { http, base_url })
    }

    /// Sends `body` to `path`. Feennex answers errors with HTTP 200 and `result: false`, so a
    /// returned envelope may still be a refusal.
    pub async fn post<B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<Envelope, ProviderError> {
        let resp = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .header("accept", "application/json")
            .json(body)
            .send()
            .await
            .map_err(transport_error)?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.map_err(transport_error)?;
        match status {
            200..=299 => serde_json::from_slice(&bytes).map_err(|_| {
                ProviderError::Unavailable(format!(
                    "Feennex sent an answer to {path} that is not its JSON envelope"
                ))
            }),
            300..=399 => Err(ProviderError::Misconfigured(format!(
                "Feennex answered {path} with a redirect (HTTP {status}): check FEENNEX_BASE_URL"
            ))),
            400..=499 => match serde_json::from_slice::<Envelope>(&bytes) {
                // Some front ends pass Feennex's own refusal through with a 4xx status.
                Ok(envelope) if !envelope.result => Ok(envelope),
                _ => Err(client_error(status, path)),
            },
            _ => Err(ProviderError::Unavailable(format!(
                "Feennex answered {path} with HTTP {status}"
            ))),
        }
    }
}

fn client_error(status: u16, path: &str) -> ProviderError {
    match status {
        404 | 405 => ProviderError::Misconfigured(format!(
            "Feennex answered {path} with HTTP {status}: check FEENNEX_BASE_URL"
        )),
        401 | 403 => ProviderError::Misconfigured(format!(
            "Feennex refused {path} with HTTP {status}: check FEENNEX_BASE_URL and add this server's IP to the shop's allowed IPs"
        )),
        _ => ProviderError::Unavailable(format!("Feennex answered {path} with HTTP {status}")),
    }
}

fn transport_error(e: reqwest::Error) -> ProviderError {
    // A failed connect sent nothing, even when it failed by timing out: safe to retry.
    if e.is_connect() {
        ProviderError::Unavailable("could not connect to Feennex".into())
    } else if e.is_timeout() {
        ProviderError::Timeout { provider: NAME }
    } else {
        ProviderError::Unavailable("the connection to Feennex failed".into())
    }
}
