//! Manual subscriptions on Feennex over real HTTP, against the Feennex simulator: the router
//! keeps the subscription, each instalment is a new signed invoice the payer completes, and
//! Feennex's signed callbacks (confirmed with invoice/check) move it on. Automatic ones
//! (schedule, update) stay 501. Every scenario runs on the embedded store and on a real Redis.

mod common;

use common::stores::on_both_stores;
use common::*;
use serde_json::{json, Value};

const EMAIL: &str = "payer@example.com";

struct Env {
    sim: FeennexSim,
    router: TestRouter,
    _receiver: Receiver,
    _redis: Option<RedisServer>,
}

async fn env(kind: StoreKind) -> Env {
    let sim = FeennexSim::start().await;
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let toml = format!(
        "enabled_providers = \"feennex\"\npayment_callback_url = \"{}\"\nlog_level = \"warn\"\n{}",
        receiver.url,
        sim.section("")
    );
    let router = sim.router(redis.as_ref(), &toml).await;
    Env {
        sim,
        router,
        _receiver: receiver,
        _redis: redis,
    }
}

impl Env {
    /// The simulated payer completes (4) or Feennex rejects (6) the invoice of `shop_order_id`,
    /// and Feennex sends its signed callback.
    async fn settle(&self, shop_order_id: &str, status: i64) {
        self.sim.set_status(shop_order_id, status, true).await;
    }

    async fn payment_status(&self, payment_id: &str) -> Value {
        self.router
            .get(&format!("/v3/feennex/status?paymentId={payment_id}"))
            .await
            .1
    }
}

fn instalment(tx: &str, token: &str) -> Value {
    json!({"amount": 500, "currency": "USD", "shopTransactionId": tx,
           "subscriptionInfo": {"token": token}, "providerData": {"email": EMAIL}})
}

async fn manual_subscription_start_pay_status_expire(kind: StoreKind) {
    let e = env(kind).await;
    let start = json!({"amount": 500, "currency": "USD", "shopTransactionId": "fx-m-1",
        "subscriptionInfo": {"expiresAfter": 2}, "providerData": {"email": EMAIL}});
    let (token, b) = e.router.subscribe("feennex", "start", &start).await;
    let first = text(&b, "paymentId");
    assert!(
        b["redirectToUrl"]
            .as_str()
            .is_some_and(|u| u.starts_with(&e.sim.base)),
        "{b}"
    );
    assert_eq!(
        e.router
            .post("/v3/feennex/subscription/start", &start)
            .await
            .1,
        b,
        "a retried start is the same"
    );
    let invoices = e.sim.invoices().await;
    assert_eq!(invoices.len(), 1, "one invoice for the first payment");
    assert_eq!(invoices[0]["shop_amount"], json!(5.0));
    // Instalment n's order id is derived from the token, not taken from the caller.
    let first_order = format!("{token}-1");
    assert_eq!(
        invoices[0]["shop_order_id"],
        first_order.as_str(),
        "{invoices:?}"
    );

    e.settle(&first_order, 4).await;
    let st = eventually(10, || async {
        let st = e.router.subscription_status("feennex", &token).await;
        (st["status"] == "ACTIVE").then_some(st)
    })
    .await;
    assert_eq!(st["providerName"], "feennex", "{st}");
    assert_eq!(st["metadata"]["payments"], 1, "{st}");
    assert_eq!(st["metadata"]["lastPaymentId"], first.as_str(), "{st}");
    let payment = e.payment_status(&first).await;
    assert_eq!(payment["status"], "ACCEPTED", "{payment}");
    assert_eq!(payment["metadata"]["subscriptionToken"], token.as_str());

    let b = e
        .router
        .redirected(
            "/v3/feennex/subscription/pay",
            &instalment("fx-m-2", &token),
        )
        .await;
    assert_eq!(b["subscriptionToken"], token.as_str());
    let second = text(&b, "paymentId");
    assert_ne!(second, first, "each instalment is a new invoice");
    let invoices = e.sim.invoices().await;
    assert_eq!(invoices.len(), 2);
    let second_order = format!("{token}-2");
    assert!(
        invoices
            .iter()
            .any(|i| i["shop_order_id"] == second_order.as_str()),
        "{invoices:?}"
    );
    e.settle(&second_order, 6).await;
    eventually(10, || async {
        (e.router.subscription_status("feennex", &token).await["status"] == "PAST_DUE")
            .then_some(())
    })
    .await;

    let (s, b) = e
        .router
        .post(
            "/v3/feennex/subscription/pay",
            &instalment("fx-m-3", &token),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "KO", "expiresAfter 2 reached: {b}");
    assert_eq!(
        e.sim.invoices().await.len(),
        2,
        "no invoice for a refused instalment"
    );

    let (s, b) = e
        .router
        .post(
            &format!("/v3/feennex/subscription/expire/{token}"),
            &json!({}),
        )
        .await;
    assert_eq!((s, b["result"].clone()), (200, json!("OK")), "{b}");
    assert_eq!(
        e.router.subscription_status("feennex", &token).await["status"],
        "CANCELED"
    );
}

async fn a_new_subscription_is_pending_and_ends_on_expire(kind: StoreKind) {
    let e = env(kind).await;
    let start = json!({"amount": 1299, "currency": "EUR", "shopTransactionId": "fx-m-10",
        "subscriptionInfo": {}, "providerData": {"email": EMAIL, "payway": "card_eur"}});
    let (token, _) = e.router.subscribe("feennex", "start", &start).await;
    assert_eq!(
        e.router.subscription_status("feennex", &token).await["status"],
        "PENDING"
    );
    let (s, b) = e
        .router
        .delete(&format!("/v3/feennex/subscription/expire/{token}"))
        .await;
    assert_eq!((s, b["result"].clone()), (200, json!("OK")), "{b}");
    assert_eq!(
        e.router.subscription_status("feennex", &token).await["status"],
        "CANCELED"
    );
    let mut next = instalment("fx-m-11", &token);
    next["currency"] = json!("EUR");
    let (s, b) = e.router.post("/v3/feennex/subscription/pay", &next).await;
    assert_eq!((s, b["result"].clone()), (200, json!("KO")), "{b}");
    assert_eq!(e.sim.invoices().await.len(), 1);

    let (s, b) = e
        .router
        .post(
            "/v3/feennex/subscription/pay",
            &instalment("fx-m-12", "sub_unknown"),
        )
        .await;
    assert_error_response(s, &b, 404);
    let schedule = json!({"amount": 500, "currency": "USD", "shopTransactionId": "fx-m-20",
        "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1},
        "providerData": {"email": EMAIL}});
    let (s, b) = e
        .router
        .post("/v3/feennex/subscription/schedule", &schedule)
        .await;
    assert_error_response(s, &b, 501);
    let (s, b) = e
        .router
        .post(
            &format!("/v3/feennex/subscription/update/{token}"),
            &schedule,
        )
        .await;
    assert_error_response(s, &b, 501);
}

on_both_stores!(
    manual_subscription_start_pay_status_expire,
    a_new_subscription_is_pending_and_ends_on_expire,
);
