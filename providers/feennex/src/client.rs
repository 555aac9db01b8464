//! The thin HTTP client of Feennex: it POSTs a signed JSON body (or a receipt file) and hands
//! back the answer as received. What an answer means is decided in `transform`.

use payrouter_provider::transport::{Api, Reply};
use payrouter_provider::{ProviderError, ReceiptFile};
use reqwest::Method;
use serde::Serialize;
use std::time::Duration;

use crate::{LABEL, NAME};

pub struct FeennexClient(Api);

impl FeennexClient {
    pub fn new(
        base_url: String,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> reqwest::Result<Self> {
        Api::new(NAME, LABEL, base_url, connect_timeout, timeout).map(FeennexClient)
    }

    /// Sends `body` to `path`.
    pub async fn post<B: Serialize>(&self, path: &str, body: &B) -> Result<Reply, ProviderError> {
        let request = self.0.request(Method::POST, path).json(body);
        self.0.send(request).await
    }

    /// Sends a receipt as the multipart `file` field to `url`, one of Feennex's own receipt
    /// endpoints (kept from the invoice/create answer).
    pub async fn post_file(&self, url: &str, file: ReceiptFile) -> Result<Reply, ProviderError> {
        let part = reqwest::multipart::Part::bytes(file.bytes)
            .file_name(file.file_name)
            .mime_str(file.content_type)
            .map_err(|_| ProviderError::Unavailable("the receipt's type cannot be sent".into()))?;
        let form = reqwest::multipart::Form::new().part("file", part);
        let request = self.0.request_url(Method::POST, url).multipart(form);
        self.0.send(request).await
    }

    /// GETs `url`, one of Feennex's own receipt endpoints.
    pub async fn get(&self, url: &str) -> Result<Reply, ProviderError> {
        self.0.send(self.0.request_url(Method::GET, url)).await
    }
}
