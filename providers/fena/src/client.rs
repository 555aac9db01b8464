//! The thin HTTP client of Fena's terminal API: it adds the terminal credentials, sends, and
//! hands back the answer as received. What an answer means is decided in `transform` and
//! `recurring`.

use payrouter_provider::transport::{Api, Reply};
use payrouter_provider::{ExposeSecret, ProviderError, SecretString};
use reqwest::Method;
use serde::Serialize;
use std::time::Duration;

use crate::{LABEL, NAME};

pub struct FenaClient {
    api: Api,
    terminal_id: String,
    terminal_secret: SecretString,
}

impl FenaClient {
    pub fn new(
        base_url: String,
        terminal_id: String,
        terminal_secret: SecretString,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> reqwest::Result<Self> {
        Ok(FenaClient {
            api: Api::new(NAME, LABEL, base_url, connect_timeout, timeout)?,
            terminal_id,
            terminal_secret,
        })
    }

    /// Sends a JSON `body` (or none) to `path` with the terminal credentials.
    pub async fn send<B: Serialize>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<Reply, ProviderError> {
        let mut request = self
            .api
            .request(method, path)
            .header("terminal-id", &self.terminal_id)
            .header("terminal-secret", self.terminal_secret.expose_secret());
        if let Some(body) = body {
            request = request.json(body);
        }
        self.api.send(request).await
    }

    pub async fn get(&self, path: &str) -> Result<Reply, ProviderError> {
        self.send::<()>(Method::GET, path, None).await
    }

    /// A POST without a body (processing a draft, cancelling a standing order).
    pub async fn post_empty(&self, path: &str) -> Result<Reply, ProviderError> {
        self.send::<()>(Method::POST, path, None).await
    }

    pub async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Reply, ProviderError> {
        self.send(Method::POST, path, Some(body)).await
    }
}
