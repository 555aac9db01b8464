//! Only Feennex invoices this router created are rebuilt after a store loss (issue 10,
//! defect 5): with `PAYMENT_TAG_SECRET` set, each invoice's description carries the payment
//! tag of its shop_order_id, and an invoice of the same shop without it (another system's, or
//! one with a tag copied from another order) is unknown here, whatever its signed callback
//! says. Against the Feennex simulator, which keeps the description and signs it into its
//! callbacks, on the embedded store and on a real Redis.

mod common;

use common::stores::on_both_stores;
use common::*;
use payrouter_feennex::transform::{self, Shop};
use payrouter_provider::{Currency, Money, PayOrder, PaymentTag, SecretString};
use serde_json::json;

const TAG_SECRET: &str = "tag-secret-for-the-tests";

struct Env {
    sim: FeennexSim,
    receiver: Receiver,
    router: TestRouter,
    redis: Option<RedisServer>,
    toml: String,
}

async fn env(kind: StoreKind) -> Env {
    let sim = FeennexSim::start().await;
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let toml = format!(
        "enabled_providers = \"feennex\"\npayment_callback_url = \"{}\"\n\
         payment_tag_secret = \"{TAG_SECRET}\"\nnotify_retry_initial_ms = 50\nlog_level = \"warn\"\n{}",
        receiver.url,
        sim.section("")
    );
    let router = sim.router(redis.as_ref(), &toml).await;
    Env {
        sim,
        receiver,
        router,
        redis,
        toml,
    }
}

impl Env {
    /// Loses the router's state: FLUSHALL on Redis; on the embedded store, a new router on the
    /// same address (the invoices' callback URL).
    async fn lose_store(&mut self) {
        if let Some(redis) = &self.redis {
            redis.flushall().await;
            return;
        }
        let addr = self.router.running.as_ref().unwrap().addr;
        self.router.stop().await;
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let toml = format!("public_base_url = \"http://{addr}\"\n{}", self.toml);
        self.router = TestRouter::start_on(&toml, listener).await;
    }

    /// An invoice of the same shop that payrouter never asked for, with `description`, made
    /// by signing invoice/create with the shop's key; its callbacks go to the router.
    async fn foreign_invoice(&self, shop_order_id: &str, description: &str) -> String {
        let shop = Shop {
            shop_id: common::feennex_sim::SIM_SHOP_ID,
            secret_key: SecretString::from(common::feennex_sim::SIM_SECRET_KEY),
            default_payway: Some("card_usd".into()),
            callback_url: Some(self.router.url("/v3/feennex/callback")),
        };
        let data = json!({"email": "payer@example.com", "description": description});
        let order = PayOrder {
            amount: Money::new(1234, Currency::from_code("USD").unwrap()),
            shop_transaction_id: shop_order_id.into(),
            success_redirect_url: None,
            failure_redirect_url: None,
            provider_data: data.as_object().cloned().unwrap(),
            provider_order_id: None,
        };
        let body = transform::create_request(&order, &shop, None).unwrap();
        let resp = self
            .router
            .http
            .post(format!("{}{}", self.sim.base, transform::CREATE_PATH))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (_, created) = read(resp).await;
        assert_eq!(created["result"], true, "{created}");
        transform::payment_id_for(shop_order_id)
    }
}

async fn a_paid_invoice_the_router_never_created_is_not_adopted(kind: StoreKind) {
    let mut e = env(kind).await;
    let pay = json!({"amount": 1234, "currency": "USD", "shopTransactionId": "own-1",
                     "providerData": {"email": "payer@example.com", "description": "Order 7"}});
    let (own, _) = e.router.create_payment("feennex", &pay).await;
    let tags = PaymentTag::new(SecretString::from(TAG_SECRET));
    let invoices = e.sim.invoices().await;
    let expected = format!("Order 7 [pr:{}]", tags.tag("own-1"));
    assert_eq!(
        invoices[0]["description"],
        expected.as_str(),
        "{invoices:?}"
    );
    e.lose_store().await;

    // Paid invoices of the same shop, signed callbacks and all: no tag, a made-up tag, and the
    // router's own tag copied from another order.
    let foreign = [
        e.foreign_invoice("other-1", "other-1").await,
        e.foreign_invoice("other-2", "Order [pr:0123456789abcdef]")
            .await,
        e.foreign_invoice("other-3", &expected).await,
    ];
    for (n, payment_id) in foreign.iter().enumerate() {
        let shop_order_id = format!("other-{}", n + 1);
        e.sim.set_status(&shop_order_id, 4, false).await;
        assert!(
            !e.sim.replay_callback(&shop_order_id).await,
            "the callback of {shop_order_id} is refused"
        );
        let (s, b) = e
            .router
            .get(&format!("/v3/feennex/status?paymentId={payment_id}"))
            .await;
        assert_error_mentions(s, &b, 404, "not created by this router");
    }

    // The router's own invoice, paid after the loss, is rebuilt from Feennex and notified.
    e.sim.set_status("own-1", 4, false).await;
    assert!(e.sim.replay_callback("own-1").await, "own callback taken");
    e.receiver.notified(&own, "ACCEPTED", "PAYMENT").await;
    let status = e.router.status("feennex", &own).await;
    assert_eq!(status["status"], "ACCEPTED", "{status}");
    assert_eq!(status["shopTransactionId"], "own-1", "{status}");
    for payment_id in &foreign {
        assert!(
            e.receiver.notifications(payment_id).is_empty(),
            "no notification of {payment_id}"
        );
    }
    // The recorder is the process's, shared with the other store's scenario: at least the 6
    // looks of this one (a callback and a status for each foreign invoice).
    let (_, metrics) = e.router.get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    let rejected = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("payrouter_foreign_payments_rejected_total{provider=\"feennex\"} ")
        })
        .and_then(|n| n.parse::<u64>().ok());
    assert!(
        rejected.is_some_and(|n| n >= 6),
        "each look at a foreign invoice is counted:\n{metrics}"
    );
}

on_both_stores!(a_paid_invoice_the_router_never_created_is_not_adopted);
