//! The Feennex simulator served on a free port, for scenarios that need Feennex's own
//! behaviour (signature checks, the invoice/try tariff, receipts, signed callbacks) rather
//! than a mock's, and the routers that talk to it.

use payrouter_feennex::sim::{SimConfig, Simulator};
use serde_json::{json, Value};

use super::{RedisServer, TestRouter};

pub const SIM_SHOP_ID: u64 = 5;
pub const SIM_SECRET_KEY: &str = "SecretKey01";

/// A `[fena]` section that is never called, for routers that serve Fena beside Feennex.
pub const IDLE_FENA: &str = r#"
[fena]
base_url = "http://127.0.0.1:1"
terminal_id = "62b48adf6ba2cd6a040b1eec"
terminal_secret = "3858f642-e92f-431c-9d38-46d15efb7fba"
"#;

/// A running simulator and where it answers.
pub struct FeennexSim {
    pub base: String,
    pub sim: Simulator,
}

impl FeennexSim {
    pub async fn start() -> FeennexSim {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sim = Simulator::new(SimConfig {
            shop_id: SIM_SHOP_ID,
            secret_key: SIM_SECRET_KEY.into(),
            public_base_url: base.clone(),
        });
        let app = sim.router();
        tokio::spawn(async move { axum::serve(listener, app).await });
        FeennexSim { base, sim }
    }

    /// Every invoice the simulator holds, as its control API lists them.
    pub async fn invoices(&self) -> Vec<Value> {
        reqwest::get(format!("{}/_sim/payments", self.base))
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// The `[feennex]` section of a router talking to this simulator as shop `shop_id` with
    /// `secret_key`, then the `extra` lines of that section.
    pub fn section_as(&self, shop_id: u64, secret_key: &str, extra: &str) -> String {
        format!(
            r#"
[feennex]
base_url = "{base}"
shop_id = {shop_id}
secret_key = "{secret_key}"
payway = "card_usd"
timeout_ms = 1500
{extra}"#,
            base = self.base,
        )
    }

    /// The `[feennex]` section of the simulated shop, then `extra` lines.
    pub fn section(&self, extra: &str) -> String {
        self.section_as(SIM_SHOP_ID, SIM_SECRET_KEY, extra)
    }

    /// Starts a router on `redis` (None: the embedded store) whose PUBLIC_BASE_URL is its own
    /// address, so the simulator's callbacks reach it. `toml` is the rest of its configuration,
    /// sections included (`section`).
    pub async fn router(&self, redis: Option<&RedisServer>, toml: &str) -> TestRouter {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let public = format!("http://{}", listener.local_addr().unwrap());
        let store = redis.map_or(String::new(), RedisServer::config_line);
        let toml = format!("{store}public_base_url = \"{public}\"\n{toml}");
        TestRouter::start_on(&toml, listener).await
    }

    /// Moves the invoice `id` (its shop_order_id or Feennex id) to `status`, sending its signed
    /// callback when `callback`; answers the invoice as the control API shows it.
    pub async fn set_status(&self, id: &str, status: i64, callback: bool) -> Value {
        let resp = reqwest::Client::new()
            .post(format!("{}/_sim/payments/{id}/state", self.base))
            .json(&json!({"status": status, "callback": callback}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        resp.json().await.unwrap()
    }

    /// Sends the invoice's signed callback once more; true when the router answered 2xx.
    pub async fn replay_callback(&self, id: &str) -> bool {
        let resp = reqwest::Client::new()
            .post(format!("{}/_sim/payments/{id}/callback", self.base))
            .json(&json!({"times": 1}))
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{}", resp.status());
        let answer: Value = resp.json().await.unwrap();
        answer["delivered"] == 1
    }
}
