//! Shared test fixtures: a private Redis server, a router started in-process on a free port,
//! a recording notification receiver, and a Fena mock with a payment that can change state.

// Each test binary uses a different part of these fixtures.
#![allow(dead_code, unused_imports)]

pub mod binary;
pub mod browser;
pub mod contract_env;
pub mod delivery;
pub mod drivers;
pub mod durable_redis;
pub mod feennex_mock;
pub mod feennex_sim;
pub mod fena_env;
pub mod fena_mock;
pub mod flaky_receiver;
pub mod pages;
pub mod receiver;
pub mod redis_server;
pub mod sim_client;
pub mod stores;
pub mod supervisor;

use figment::providers::{Format, Toml};
use figment::Figment;
use payrouter::app::{self, Running};
use serde_json::Value;
use std::time::Duration;

pub use feennex_mock::FeennexMock;
pub use feennex_sim::FeennexSim;
pub use fena_mock::FenaMock;
pub use receiver::Receiver;
pub use redis_server::RedisServer;

/// Which store a scenario runs on.
#[derive(Clone, Copy, Debug)]
pub enum StoreKind {
    Memory,
    Redis,
    /// A Redis Cluster of three primaries.
    Cluster,
}

impl StoreKind {
    /// The Redis deployment this kind runs on (None: the embedded store).
    pub async fn start_redis(self) -> Option<RedisServer> {
        match self {
            StoreKind::Memory => None,
            StoreKind::Redis => Some(RedisServer::start().await),
            StoreKind::Cluster => Some(RedisServer::start_cluster(3, 0, false).await),
        }
    }
}

/// A router under test and the client to call it.
pub struct TestRouter {
    pub running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestRouter {
    /// Starts a router with `toml` as its whole configuration.
    pub async fn start(toml: &str) -> TestRouter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        Self::start_on(toml, listener).await
    }

    /// Starts a router on `listener` (a known address, e.g. to restart on the same one).
    pub async fn start_on(toml: &str, listener: tokio::net::TcpListener) -> TestRouter {
        let fig = Figment::new().merge(Toml::string(toml));
        let running = app::start(&fig, listener)
            .await
            .unwrap_or_else(|p| panic!("router did not start: {p:?}"));
        TestRouter {
            base: format!("http://{}", running.addr),
            running: Some(running),
            http: reqwest::Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .unwrap();
        read(resp).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        read(self.http.get(self.url(path)).send().await.unwrap()).await
    }

    /// The value of the gauge `name` on `/metrics`; None while it is not there (or the router
    /// does not answer).
    pub async fn gauge(&self, name: &str) -> Option<f64> {
        let text = self
            .http
            .get(self.url("/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        text.lines()
            .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    }

    /// `POST path` answered 200 with `REDIRECT_TO_URL` (a pay or a subscription's first
    /// payment): the answer.
    pub async fn redirected(&self, path: &str, body: &Value) -> Value {
        let (s, b) = self.post(path, body).await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["result"], "REDIRECT_TO_URL", "{b}");
        b
    }

    /// Starts a subscription with `POST /v3/{provider}/subscription/{route}` (`start` or
    /// `schedule`), answered with a link for the payer; returns its token and the answer.
    pub async fn subscribe(&self, provider: &str, route: &str, body: &Value) -> (String, Value) {
        let path = format!("/v3/{provider}/subscription/{route}");
        let b = self.redirected(&path, body).await;
        (text(&b, "subscriptionToken"), b)
    }

    /// Creates a payment with `POST /v3/{provider}/pay`; returns its id and the payer's link.
    pub async fn create_payment(&self, provider: &str, body: &Value) -> (String, String) {
        let b = self.redirected(&format!("/v3/{provider}/pay"), body).await;
        (
            b["paymentId"].as_str().expect("paymentId").to_string(),
            b["redirectToUrl"]
                .as_str()
                .expect("redirectToUrl")
                .to_string(),
        )
    }

    /// A payment's status (`GET /v3/{provider}/status`), which must answer 200.
    pub async fn status(&self, provider: &str, payment_id: &str) -> Value {
        let (s, b) = self
            .get(&format!("/v3/{provider}/status?paymentId={payment_id}"))
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    /// `GET /v3/{provider}/check` of a payment, which must answer 200: its Payment Status.
    pub async fn check(&self, provider: &str, payment_id: &str) -> Value {
        let (s, b) = self
            .get(&format!("/v3/{provider}/check?paymentId={payment_id}"))
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    /// A subscription's status (`GET /v3/{provider}/subscription/status/{token}`), which must
    /// answer 200.
    pub async fn subscription_status(&self, provider: &str, token: &str) -> Value {
        let (s, b) = self
            .get(&format!("/v3/{provider}/subscription/status/{token}"))
            .await;
        assert_eq!(s, 200, "{b}");
        b
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        read(self.http.delete(self.url(path)).send().await.unwrap()).await
    }

    pub async fn stop(&mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

pub async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// An order of `amount` for `shop_tx` as the engine takes it: no redirect URLs, no provider
/// data.
pub fn plain_order(
    amount: payrouter_provider::Money,
    shop_tx: &str,
) -> payrouter_provider::PayOrder {
    payrouter_provider::PayOrder {
        amount,
        shop_transaction_id: shop_tx.into(),
        success_redirect_url: None,
        failure_redirect_url: None,
        provider_data: serde_json::Map::new(),
        provider_order_id: None,
    }
}

/// The body of the answer to `req`, as text.
pub async fn text_of(req: reqwest::RequestBuilder) -> String {
    req.send().await.unwrap().text().await.unwrap()
}

/// The configuration for a router talking to `fena` and notifying `receiver`.
pub fn config(store: Option<&RedisServer>, fena_base: &str, receiver: &str, extra: &str) -> String {
    let redis = store.map_or(String::new(), RedisServer::config_line);
    format!(
        r#"{redis}enabled_providers = "fena"
payment_callback_url = "{receiver}"
notify_retry_initial_ms = 50
notify_retry_max_ms = 200
notify_signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
log_level = "warn"
{extra}
[fena]
base_url = "{fena_base}"
terminal_id = "62b48adf6ba2cd6a040b1eec"
terminal_secret = "3858f642-e92f-431c-9d38-46d15efb7fba"
connect_timeout_ms = 300
timeout_ms = 1500
"#
    )
}

/// The string member `key` of an answer (a paymentId, a token, a link).
pub fn text(body: &Value, key: &str) -> String {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key}: {body}"))
        .to_string()
}

/// An ErrorResponse with `code`.
pub fn assert_error_response(status: u16, body: &Value, code: u16) {
    assert_eq!(status, code, "{body}");
    assert_eq!(body["statusCode"], code, "{body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}

/// An ErrorResponse with `code` whose message contains `text` (the field or setting it names).
pub fn assert_error_mentions(status: u16, body: &Value, code: u16, text: &str) {
    assert_error_response(status, body, code);
    assert!(
        body["message"].as_str().is_some_and(|m| m.contains(text)),
        "the message should mention {text:?}: {body}"
    );
}

/// A `KO` answer whose resultDescription contains `text` (the reason it gives).
pub fn assert_ko_naming(body: &Value, text: &str) {
    assert_eq!(body["result"], "KO", "{body}");
    assert!(
        body["resultDescription"]
            .as_str()
            .is_some_and(|d| d.contains(text)),
        "the description should mention {text:?}: {body}"
    );
}

/// The problems reading `toml` as the whole configuration finds (none when it is sound).
pub fn config_problems(toml: &str) -> Vec<String> {
    payrouter::config::from_figment(&Figment::new().merge(Toml::string(toml)))
        .err()
        .unwrap_or_default()
}

/// One of `problems` starts with `prefix` (the setting and what is said of it).
pub fn assert_problem(problems: &[String], prefix: &str) {
    assert!(
        problems.iter().any(|p| p.starts_with(prefix)),
        "no problem starting with {prefix:?}: {problems:?}"
    );
}

/// What a router given `toml` as its whole configuration refuses to start for; it must refuse.
pub async fn refused_start(toml: &str) -> Vec<String> {
    let fig = Figment::new().merge(Toml::string(toml));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let Err(problems) = app::start(&fig, listener).await else {
        panic!("the router started with:\n{toml}");
    };
    problems
}

/// Polls `f` until it returns Some, or panics after `secs`.
pub async fn eventually<T, F, Fut>(secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The providers a router configured by `toml` would serve, for tests that build an engine
/// around a store of their own.
pub fn providers_of(toml: &str) -> payrouter::engine::Providers {
    let loaded = payrouter::config::from_figment(&Figment::new().merge(Toml::string(toml)))
        .unwrap_or_else(|p| panic!("{p:?}"));
    let ctx = payrouter_provider::ProviderContext {
        public_base_url: loaded.config.public_base(),
        route_timeout: Some(Duration::from_millis(loaded.config.route_timeout_ms)),
        payment_tag_secret: loaded.config.payment_tag_secret.clone(),
    };
    payrouter::registry::build_enabled(loaded.figment(), &loaded.config.enabled_providers, &ctx)
        .unwrap_or_else(|p| panic!("{p:?}"))
}
