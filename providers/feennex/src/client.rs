//! The thin HTTP client of Feennex: it POSTs a signed JSON body and hands back the answer as
//! received. What an answer means is decided in `transform`.

use payrouter_provider::transport::{self, Reply};
use payrouter_provider::ProviderError;
use serde::Serialize;
use std::time::Duration;

use crate::{LABEL, NAME};

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
        Ok(FeennexClient {
            http: transport::http_client(connect_timeout, timeout)?,
            base_url,
        })
    }

    /// Sends `body` to `path`.
    pub async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Reply, ProviderError> {
        let request = self
            .http
            .post(format!("{}{}", self.base_url, path))
            .header("accept", "application/json")
            .json(body);
        transport::send(request, NAME, LABEL).await
    }
}
