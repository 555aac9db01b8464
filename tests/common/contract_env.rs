//! The environment of the provider contract suite: the router on one store, both provider
//! simulators on their own port (outside the router, so the router and its store can be lost
//! and restarted while the providers keep their payments), and a notification receiver.

use serde_json::Value;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::sim_client::SimClient;
use super::{eventually, Receiver, RedisServer, StoreKind, TestRouter};
use payrouter::simulate;

/// Calls to a provider give up after this long (a timeout answers 504), so the timeout
/// scenario takes a second, not the default fifteen.
const PROVIDER_TIMEOUT_MS: u64 = 1000;

pub struct ContractEnv {
    pub router: TestRouter,
    pub receiver: Receiver,
    pub sim: SimClient,
    /// The router's whole configuration, kept to restart it the same way.
    config: String,
    addr: SocketAddr,
    redis: Option<RedisServer>,
    sims: JoinHandle<()>,
}

impl ContractEnv {
    pub async fn start(kind: StoreKind) -> ContractEnv {
        let receiver = Receiver::start().await;
        let redis = match kind {
            StoreKind::Memory => None,
            StoreKind::Redis => Some(RedisServer::start().await),
            StoreKind::Cluster => Some(RedisServer::start_cluster(3, 0, false).await),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let sim_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sim_base = format!("http://{}", sim_listener.local_addr().unwrap());
        let app = simulate::router(&sim_base, &format!("http://{addr}"));
        let sims = tokio::spawn(async move {
            let _ = axum::serve(sim_listener, app).await;
        });
        let config = config(addr, &sim_base, &receiver.url, redis.as_ref());
        let router = TestRouter::start_on(&config, listener).await;
        ContractEnv {
            router,
            receiver,
            sim: SimClient::new(sim_base),
            config,
            addr,
            redis,
            sims,
        }
    }

    /// Loses everything the router stored: Redis is flushed; the embedded store goes with a
    /// restart of the router (on the same address, where the simulators send callbacks).
    pub async fn lose_store(&mut self) {
        match &self.redis {
            Some(redis) => redis.flushall().await,
            None => {
                self.router.stop().await;
                let listener = TcpListener::bind(self.addr).await.unwrap();
                self.router = TestRouter::start_on(&self.config, listener).await;
            }
        }
    }

    /// The value of one sample of the router's `/metrics` (`name{labels}` as written there);
    /// 0 when it was never recorded.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (s, body) = self.router.get("/metrics").await;
        assert_eq!(s, 200, "{body}");
        let text = body.as_str().expect("metrics are text");
        text.lines()
            .find_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map_or(0.0, |v| v.trim().parse().expect("a sample value"))
    }

    /// Waits until every notification enqueued so far has been delivered, so that counting
    /// what the receiver got is final.
    pub async fn all_notifications_delivered(&self) {
        eventually(15, || async {
            (self.metric("payrouter_notification_queue_depth").await == 0.0).then_some(())
        })
        .await
    }

    /// The notifications delivered for `payment_id`, as (status, action) pairs, oldest first.
    pub fn changes(&self, payment_id: &str) -> Vec<(String, String)> {
        self.receiver
            .notifications(payment_id)
            .iter()
            .map(|n| (text(&n["status"]), text(&n["action"])))
            .collect()
    }
}

impl Drop for ContractEnv {
    fn drop(&mut self) {
        self.sims.abort();
    }
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Both providers pointed at the simulators at `sim_base`, with short timeouts and retries.
fn config(addr: SocketAddr, sim_base: &str, receiver: &str, redis: Option<&RedisServer>) -> String {
    let redis = redis.map_or(String::new(), RedisServer::config_line);
    format!(
        r#"{redis}enabled_providers = "fena,feennex"
public_base_url = "http://{addr}"
payment_callback_url = "{receiver}"
notify_retry_initial_ms = 50
notify_retry_max_ms = 200
log_level = "warn"

[fena]
base_url = "{sim_base}/fena"
terminal_id = "{fena_id}"
terminal_secret = "{fena_secret}"
timeout_ms = {PROVIDER_TIMEOUT_MS}

[feennex]
base_url = "{sim_base}/feennex"
shop_id = {shop_id}
secret_key = "{feennex_secret}"
payway = "{payway}"
timeout_ms = {PROVIDER_TIMEOUT_MS}
"#,
        fena_id = payrouter_fena::sim::DEMO_TERMINAL_ID,
        fena_secret = payrouter_fena::sim::DEMO_TERMINAL_SECRET,
        shop_id = payrouter_feennex::sim::DEMO_SHOP_ID,
        feennex_secret = payrouter_feennex::sim::DEMO_SECRET_KEY,
        payway = payrouter_feennex::sim::DEMO_PAYWAY,
    )
}
