//! The HTTP transport every adapter shares: how its client is built and what a failure to get
//! an answer means. One function decides it, so every provider maps a failure the same way.

use std::time::Duration;

use crate::ProviderError;

/// A client with the provider's two timeouts. Redirects are not followed: a redirect would
/// turn a POST into a GET without its body, so it is reported instead.
pub fn http_client(
    connect_timeout: Duration,
    timeout: Duration,
) -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// A provider's HTTP API as its thin client sees it: one client with both timeouts, the base
/// URL its paths are under, and the provider's names for mapping a call that got no answer.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base_url: String,
    provider: &'static str,
    label: &'static str,
}

impl Api {
    /// The API of `provider` (`label` for people) at `base_url`, whose paths start with `/`.
    pub fn new(
        provider: &'static str,
        label: &'static str,
        base_url: String,
        connect_timeout: Duration,
        timeout: Duration,
    ) -> reqwest::Result<Api> {
        let http = http_client(connect_timeout, timeout)?;
        Ok(Api {
            http,
            base_url,
            provider,
            label,
        })
    }

    /// A request for JSON to `path` under the base URL.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.request_url(method, &format!("{}{}", self.base_url, path))
    }

    /// A request for JSON to `url`, a whole URL the provider gave (not under the base URL).
    pub fn request_url(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, url)
            .header("accept", "application/json")
    }

    /// Sends `request` and reads the whole answer (see [`send`]).
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Reply, ProviderError> {
        send(request, self.provider, self.label).await
    }
}

/// A provider's answer as received: what it means is for the adapter's transformers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// Sends `request` and reads the whole answer; a failure on the way is mapped by
/// [`transport_error`]. `label` names the provider for people (`Fena`).
pub async fn send(
    request: reqwest::RequestBuilder,
    provider: &'static str,
    label: &str,
) -> Result<Reply, ProviderError> {
    let response = request
        .send()
        .await
        .map_err(|e| transport_error(provider, label, &e))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| transport_error(provider, label, &e))?;
    Ok(Reply {
        status,
        body: body.to_vec(),
    })
}

/// Maps a request that got no answer. A connection that was never made (refused, or timed out
/// while connecting) sent nothing, so the outcome is known and a retry is safe: Unavailable
/// (502). Only a request that was sent and then not answered in time has an unknown outcome:
/// Timeout (504).
pub fn transport_error(provider: &'static str, label: &str, e: &reqwest::Error) -> ProviderError {
    if e.is_connect() {
        ProviderError::Unavailable(format!("could not connect to {label}"))
    } else if e.is_timeout() {
        ProviderError::Timeout { provider }
    } else {
        ProviderError::Unavailable(format!("the connection to {label} failed"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// What a GET of `url` with these timeouts fails with, as the adapters see it.
    async fn failure(url: &str, connect: Duration, timeout: Duration) -> ProviderError {
        let e = http_client(connect, timeout)
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap_err();
        transport_error("x", "X", &e)
    }

    #[tokio::test]
    async fn a_connect_timeout_is_unavailable_not_a_timeout() {
        let port = crate::testing::SaturatedPort::new();
        let e = http_client(Duration::from_millis(100), Duration::from_secs(5))
            .unwrap()
            .get(port.url())
            .send()
            .await
            .unwrap_err();
        assert!(
            e.is_connect() && e.is_timeout(),
            "really a connect timeout: {e:?}"
        );
        assert!(matches!(
            transport_error("x", "X", &e),
            ProviderError::Unavailable(m) if m == "could not connect to X"
        ));
    }

    #[tokio::test]
    async fn a_refused_connection_is_unavailable() {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let url = format!("http://{addr}/");
        assert!(matches!(
            failure(&url, Duration::from_secs(1), Duration::from_secs(5)).await,
            ProviderError::Unavailable(m) if m == "could not connect to X"
        ));
    }

    #[tokio::test]
    async fn a_sent_request_without_an_answer_in_time_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and reads, never answers.
        tokio::spawn(async move {
            let (_socket, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        let url = format!("http://{addr}/");
        assert!(matches!(
            failure(&url, Duration::from_secs(1), Duration::from_millis(200)).await,
            ProviderError::Timeout { provider: "x" }
        ));
    }
}
