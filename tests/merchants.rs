//! Many merchants on one Fena adapter, over real HTTP against the Fena simulator, where each
//! terminal key is a company of its own (another key's payment is 404). A payment is made
//! with the key of the merchant `providerData.merchant` names, and every later call (status,
//! refund, the re-fetch a webhook causes, the rebuild after a store loss, a standing order's
//! status and expiry) uses that key again.
//! Every scenario runs on the embedded store and on a real Redis.

mod common;

use common::sim_client::SimClient;
use common::stores::on_both_stores;
use common::*;
use payrouter_fena::sim::{
    SimConfig, SimKey, Simulator, DEMO_MERCHANTS, DEMO_TERMINAL_ID, DEMO_TERMINAL_SECRET,
};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::net::TcpListener;

/// The terminal key of each merchant: `default` and the demo's `shop-a` and `shop-b`.
fn key_of(merchant: &str) -> (&'static str, &'static str) {
    if merchant == "default" {
        return (DEMO_TERMINAL_ID, DEMO_TERMINAL_SECRET);
    }
    let (_, id, secret) = DEMO_MERCHANTS
        .iter()
        .find(|(name, _, _)| *name == merchant)
        .unwrap_or_else(|| panic!("no demo merchant '{merchant}'"));
    (id, secret)
}

struct Env {
    /// Where the simulator is nested: `http://127.0.0.1:port` (then `/fena`).
    sim_base: String,
    http: reqwest::Client,
    /// The simulator's control API.
    sim: SimClient,
    receiver: Receiver,
    router: TestRouter,
    redis: Option<RedisServer>,
}

/// The router's configuration: Fena at `sim` with the plain key as `default` and the two
/// named accounts, or the plain key alone when `named` is false.
fn merchants_config(store: Option<&RedisServer>, sim: &str, receiver: &str, named: bool) -> String {
    let mut toml = config(store, &format!("{sim}/fena"), receiver, "");
    if named {
        for (name, id, secret) in DEMO_MERCHANTS {
            toml.push_str(&format!(
                "\n[fena.accounts.{name}]\nterminal_id = \"{id}\"\nterminal_secret = \"{secret}\"\n"
            ));
        }
    }
    toml
}

async fn env(kind: StoreKind) -> Env {
    env_with(kind, true).await
}

/// A simulator knowing all three keys, sending its webhooks to a router configured with the
/// named accounts (`named`) or with the plain key alone.
async fn env_with(kind: StoreKind, named: bool) -> Env {
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    // Both addresses must be known before either is built: bind first, then serve.
    let router_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_base = format!("http://{}", sim_listener.local_addr().unwrap());
    let more = DEMO_MERCHANTS.map(|(_, id, secret)| SimKey {
        terminal_id: id.into(),
        terminal_secret: secret.into(),
    });
    let sim = Simulator::with_keys(
        SimConfig {
            terminal_id: DEMO_TERMINAL_ID.into(),
            terminal_secret: DEMO_TERMINAL_SECRET.into(),
            public_base_url: format!("{sim_base}/fena"),
            webhook_url: format!(
                "http://{}/v3/fena/callback",
                router_listener.local_addr().unwrap()
            ),
        },
        more,
    );
    let app = axum::Router::new().nest("/fena", sim.router());
    tokio::spawn(async move { axum::serve(sim_listener, app).await.unwrap() });
    let toml = merchants_config(redis.as_ref(), &sim_base, &receiver.url, named);
    let router = TestRouter::start_on(&toml, router_listener).await;
    Env {
        sim: SimClient::new(sim_base.clone()),
        sim_base,
        http: reqwest::Client::new(),
        receiver,
        router,
        redis,
    }
}

fn pay(shop_tx: &str, merchant: Option<&str>) -> Value {
    let mut body = common::fena_env::pay_body(shop_tx, 1299);
    if let Some(m) = merchant {
        body["providerData"] = json!({ "merchant": m });
    }
    body
}

impl Env {
    /// Pays for `merchant` through the router; answers the paymentId.
    async fn create(&self, shop_tx: &str, merchant: Option<&str>) -> String {
        self.router
            .create_payment("fena", &pay(shop_tx, merchant))
            .await
            .0
    }

    /// The HTTP status of `GET /open/payments/single/{id}` at the simulator with `merchant`'s
    /// key, as the adapter would call it.
    async fn seen_by(&self, merchant: &str, payment_id: &str) -> u16 {
        self.seen_at(merchant, &format!("single/{payment_id}"))
            .await
    }

    /// The HTTP status of `GET /open/payments/{path}` at the simulator with `merchant`'s key.
    async fn seen_at(&self, merchant: &str, path: &str) -> u16 {
        let (id, secret) = key_of(merchant);
        self.http
            .get(format!("{}/fena/open/payments/{path}", self.sim_base))
            .header("terminal-id", id)
            .header("terminal-secret", secret)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Moves a payment at the simulator (control API, no key), with or without its webhook.
    async fn set_state(&self, payment_id: &str, status: &str, callback: bool) {
        let path = format!("/fena/_sim/payments/{payment_id}/state");
        let body = json!({"status": status, "callback": callback});
        let (s, b) = self.sim.control(Method::POST, &path, body).await;
        assert_eq!(s, 200, "{b}");
    }

    /// The simulator's view of a payment (control API).
    async fn at_sim(&self, payment_id: &str) -> Value {
        self.sim.payment("fena", payment_id).await
    }

    /// Whether the simulator holds no payment at all.
    async fn at_sim_is_empty(&self) -> bool {
        self.sim.payments("fena").await.is_empty()
    }

    /// Loses the router's state: FLUSHALL on Redis; on memory, a second router with a fresh
    /// store against the same simulator. Returns the router to ask from now on.
    async fn lose_store(&self, kind: StoreKind) -> Option<TestRouter> {
        match kind {
            StoreKind::Redis | StoreKind::Cluster => {
                self.redis.as_ref().unwrap().flushall().await;
                None
            }
            StoreKind::Memory => {
                let toml = merchants_config(None, &self.sim_base, &self.receiver.url, true);
                Some(TestRouter::start(&toml).await)
            }
        }
    }
}

async fn each_merchant_pays_with_its_own_key(kind: StoreKind) {
    let e = env(kind).await;
    let a = e.create("order-1", Some("shop-a")).await;
    let b = e.create("order-1", Some("shop-b")).await;
    let plain = e.create("order-1", None).await;
    assert!(
        a != b && b != plain && a != plain,
        "one shopTransactionId under three merchants is three payments: {a} {b} {plain}"
    );
    for (owner, id) in [("shop-a", &a), ("shop-b", &b), ("default", &plain)] {
        for merchant in ["default", "shop-a", "shop-b"] {
            let expected = if merchant == owner { 200 } else { 404 };
            assert_eq!(
                e.seen_by(merchant, id).await,
                expected,
                "payment of {owner} seen with the key of {merchant}"
            );
        }
    }
    // The same request again is the same payment of the same merchant (idempotent per
    // merchant), and the router reads each one back with its own key.
    assert_eq!(e.create("order-1", Some("shop-b")).await, b);
    for id in [&a, &b, &plain] {
        let status = e.router.status("fena", id).await;
        assert_eq!(status["shopTransactionId"], "order-1", "{status}");
        assert_eq!(status["status"], "PENDING", "{status}");
    }
    // Counted by merchant (other scenarios of this binary share the recorder: at least ours).
    let (_, metrics) = e.router.get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    for merchant in ["default", "shop-a", "shop-b"] {
        let series = format!(
            "payrouter_merchant_payments_created_total{{provider=\"fena\",merchant=\"{merchant}\"}} "
        );
        let count: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} in:\n{metrics}"));
        assert!(count >= 1.0, "{series}{count}");
    }
}

async fn a_webhook_is_followed_with_its_merchants_key(kind: StoreKind) {
    let e = env(kind).await;
    let b = e.create("order-2", Some("shop-b")).await;
    // The webhook names only the id: the router re-fetches it with shop-b's key, the only
    // one that can see it, and notifies the new state.
    e.set_state(&b, "paid", true).await;
    let n = e.receiver.notified(&b, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["shopTransactionId"], "order-2", "{n}");
    assert_eq!(e.router.status("fena", &b).await["status"], "ACCEPTED");
}

async fn refund_and_status_use_the_merchants_key(kind: StoreKind) {
    let e = env(kind).await;
    let a = e.create("order-3", Some("shop-a")).await;
    e.set_state(&a, "paid", false).await;
    assert_eq!(e.router.status("fena", &a).await["status"], "ACCEPTED");
    // A refund names no merchant; the payment's own is used (a stray one is not obeyed).
    let (s, body) = e
        .router
        .post(
            "/v3/fena/refund",
            &json!({"paymentId": a, "amount": 500, "currency": "GBP",
                    "providerData": {"merchant": "shop-b"}}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["result"], "PENDING", "{body}");
    let held = e.at_sim(&a).await;
    assert_eq!(held["pendingRefundAmount"], "5.00", "{held}");
    e.receiver.notified(&a, "PENDING", "REFUND").await;
}

async fn status_after_a_store_loss_rebuilds_under_the_right_merchant(kind: StoreKind) {
    let e = env(kind).await;
    let b = e.create("order-4", Some("shop-b")).await;
    e.set_state(&b, "paid", false).await;
    let fresh = e.lose_store(kind).await;
    let router = fresh.as_ref().unwrap_or(&e.router);
    // Asked of each account in turn: default and shop-a answer 404, shop-b has it.
    let status = router.status("fena", &b).await;
    assert_eq!(status["status"], "ACCEPTED", "{status}");
    assert_eq!(status["shopTransactionId"], "order-4", "{status}");
    // Rebuilt as shop-b's: a refund goes to shop-b's company.
    let (s, body) = router
        .post(
            "/v3/fena/refund",
            &json!({"paymentId": b, "amount": 1299, "currency": "GBP"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["result"], "PENDING", "{body}");
    assert_eq!(e.at_sim(&b).await["pendingRefundAmount"], "12.99");
    // An id no account knows is still unknown, after one look per account.
    let (s, body) = router
        .get("/v3/fena/status?paymentId=0123456789abcdef01234567")
        .await;
    assert_error_response(s, &body, 404);
}

async fn an_unknown_merchant_is_refused_naming_the_configured_ones(kind: StoreKind) {
    let e = env(kind).await;
    let (s, body) = e
        .router
        .post("/v3/fena/pay", &pay("order-5", Some("shop-z")))
        .await;
    assert_error_mentions(s, &body, 400, "providerData.merchant");
    assert_error_mentions(s, &body, 400, "default, shop-a, shop-b");
    let mut numbered = pay("order-5", None);
    numbered["providerData"] = json!({"merchant": 7});
    let (s, body) = e.router.post("/v3/fena/pay", &numbered).await;
    assert_error_mentions(s, &body, 400, "providerData.merchant");
    assert!(
        e.at_sim_is_empty().await,
        "nothing reached Fena for a refused merchant"
    );
}

async fn a_single_account_knows_only_default(kind: StoreKind) {
    let e = env_with(kind, false).await;
    let id = e.create("order-6", Some("default")).await;
    assert_eq!(e.seen_by("default", &id).await, 200);
    assert_eq!(
        e.create("order-6", None).await,
        id,
        "naming `default` is the same as naming nothing"
    );
    let (s, body) = e
        .router
        .post("/v3/fena/pay", &pay("order-7", Some("shop-a")))
        .await;
    assert_error_mentions(s, &body, 400, "configured: default");
}

async fn a_subscription_stays_with_its_merchant(kind: StoreKind) {
    let e = env(kind).await;
    let schedule = |merchant: &str| {
        json!({"amount": 999, "currency": "GBP", "shopTransactionId": "sub-1",
               "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "expiresAfter": 12},
               "providerData": {"merchant": merchant, "recurringPaymentDate": "2099-06-01"}})
    };
    let (s, b) = e
        .router
        .post("/v3/fena/subscription/schedule", &schedule("shop-b"))
        .await;
    assert_eq!(s, 200, "{b}");
    let token = b["subscriptionToken"].as_str().unwrap().to_string();
    for (merchant, expected) in [("shop-b", 200), ("shop-a", 404), ("default", 404)] {
        let seen = e.seen_at(merchant, &format!("recurring/{token}")).await;
        assert_eq!(
            seen, expected,
            "standing order seen with the key of {merchant}"
        );
    }
    // The same shopTransactionId for another merchant is another standing order.
    let (s, other) = e
        .router
        .post("/v3/fena/subscription/schedule", &schedule("shop-a"))
        .await;
    assert_eq!(s, 200, "{other}");
    assert_ne!(
        other["subscriptionToken"], b["subscriptionToken"],
        "{other}"
    );
    // Status and expire go to shop-b's company.
    let (s, st) = e
        .router
        .get(&format!("/v3/fena/subscription/status/{token}"))
        .await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["status"], "PENDING", "{st}");
    let resp = e
        .router
        .http
        .delete(
            e.router
                .url(&format!("/v3/fena/subscription/expire/{token}")),
        )
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "OK", "{b}");
    assert_eq!(e.at_sim(&token).await["status"], "cancelled");
}

on_both_stores!(
    each_merchant_pays_with_its_own_key,
    a_webhook_is_followed_with_its_merchants_key,
    refund_and_status_use_the_merchants_key,
    status_after_a_store_loss_rebuilds_under_the_right_merchant,
    an_unknown_merchant_is_refused_naming_the_configured_ones,
    a_single_account_knows_only_default,
    a_subscription_stays_with_its_merchant,
);
