//! Several routers on one Redis behave as one, and what Redis holds outlives a process. The
//! scenarios that take a store kind run on one node and on a Redis Cluster of three primaries.

mod common;

use common::fena_env::env;
use common::stores::on_stores;
use common::*;
use serde_json::json;
use std::time::Duration;

const PID: &str = "64b48c5b6ba2cd6a040b20b1";

fn pay_body(shop_tx: &str) -> serde_json::Value {
    json!({"amount": 1299, "currency": "GBP", "shopTransactionId": shop_tx})
}

/// Pays `shop_tx` through `router` as payment PID, which Fena reports as `state`; the router's
/// status of it is then `expected`.
async fn pay_reported_as(
    router: &TestRouter,
    fena: &FenaMock,
    shop_tx: &str,
    state: &str,
    expected: &str,
) {
    fena.on_create(PID, shop_tx, "12.99").await;
    fena.set_state(PID, state, "12.99", shop_tx, shop_tx).await;
    assert_eq!(router.post("/v3/fena/pay", &pay_body(shop_tx)).await.0, 200);
    let (s, st) = router
        .get(&format!("/v3/fena/status?paymentId={PID}"))
        .await;
    assert_eq!((s, st["status"].clone()), (200, json!(expected)), "{st}");
}

async fn two_replicas_create_one_payment_for_concurrent_identical_pays(kind: StoreKind) {
    let redis = kind.start_redis().await.unwrap();
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let cfg = config(Some(&redis), &fena.base(), &receiver.url, "");
    let a = TestRouter::start(&cfg).await;
    let b = TestRouter::start(&cfg).await;
    let create = fena.on_slow_create(PID, Duration::from_millis(300)).await;
    fena.on_process(PID, "replica-1", "12.99").await;
    let body = pay_body("replica-1");
    let calls = (0..20).map(|i| {
        if i % 2 == 0 {
            a.post("/v3/fena/pay", &body)
        } else {
            b.post("/v3/fena/pay", &body)
        }
    });
    let answers = futures::future::join_all(calls).await;
    for (s, b) in &answers {
        assert_eq!(*s, 200, "{b}");
        assert_eq!(b["paymentId"], PID);
    }
    assert_eq!(
        create.calls_async().await,
        1,
        "one payment at Fena for 20 requests on 2 replicas"
    );
}

async fn a_notification_is_delivered_after_a_restart_on_the_same_redis(kind: StoreKind) {
    let redis = kind.start_redis().await.unwrap();
    let fena = FenaMock::start().await;
    // The receiver's port is reserved now but nothing listens until after the restart.
    let parked = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let receiver_url = format!("http://{}/notify", parked.local_addr().unwrap());
    let parked_addr = parked.local_addr().unwrap();
    drop(parked);
    let cfg = config(Some(&redis), &fena.base(), &receiver_url, "");
    let mut first = TestRouter::start(&cfg).await;
    pay_reported_as(&first, &fena, "restart-1", "paid", "ACCEPTED").await;
    tokio::time::sleep(Duration::from_millis(300)).await; // at least one failed attempt
    first.stop().await;

    let receiver =
        Receiver::start_on(tokio::net::TcpListener::bind(parked_addr).await.unwrap()).await;
    let _second = TestRouter::start(&cfg).await;
    let n = eventually(10, || async { receiver.delivered().into_iter().next() }).await;
    assert_eq!(n.json()["status"], "ACCEPTED");
    assert_eq!(n.json()["paymentId"], PID);
    assert_eq!(receiver.delivered().len(), 1);
}

#[tokio::test]
async fn status_is_answered_after_redis_is_flushed() {
    let e = env(StoreKind::Redis, "").await;
    e.created_as(PID, "flush-1", "paid").await;
    e.redis.as_ref().unwrap().flushall().await;
    let st = e.router.status("fena", PID).await;
    assert_eq!(st["status"], "ACCEPTED");
    assert_eq!(
        st["shopTransactionId"], "flush-1",
        "rebuilt from Fena's description"
    );
    assert_eq!(st["metadata"]["amount"], 1299);
}

#[tokio::test]
async fn an_unreachable_store_is_a_503_and_readyz_fails() {
    let mut e = env(StoreKind::Redis, "").await;
    assert_eq!(e.router.get("/readyz").await.0, 200);
    drop(e.redis.take());
    let router = &e.router;
    let (s, b) = router
        .get(&format!("/v3/fena/status?paymentId={PID}"))
        .await;
    assert_eq!(s, 503, "{b}");
    assert_eq!(b["statusCode"], 503);
    assert!(
        !b["message"].as_str().unwrap().contains("redis://"),
        "no connection string in errors"
    );
    assert_eq!(router.get("/readyz").await.0, 503);
    assert_eq!(router.get("/healthz").await.0, 200, "alive, just not ready");
}

async fn a_callback_deferred_by_the_poll_window_survives_the_replica_that_took_it(kind: StoreKind) {
    let redis = kind.start_redis().await.unwrap();
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let cfg = config(Some(&redis), &fena.base(), &receiver.url, "");
    let mut first = TestRouter::start(&cfg).await;
    pay_reported_as(&first, &fena, "deferred-1", "sent", "PENDING").await;
    // Paid at Fena; its webhook arrives inside the 1 s poll window just used by the status.
    fena.set_state(PID, "paid", "12.99", "deferred-1", "deferred-1")
        .await;
    let webhook = json!({"eventScope": "single-payments", "id": PID, "status": "paid"});
    assert_eq!(first.post("/v3/fena/callback", &webhook).await.0, 200);
    first.stop().await;
    assert!(
        receiver.all().is_empty(),
        "nothing was applied before the stop"
    );
    let _second = TestRouter::start(&cfg).await;
    let n = eventually(10, || async { receiver.delivered().into_iter().next() }).await;
    assert_eq!(n.json()["status"], "ACCEPTED");
}

#[tokio::test]
async fn refunds_are_refused_when_the_refund_history_was_lost() {
    let e = env(StoreKind::Redis, "").await;
    e.created_as(PID, "lost-1", "partial_refund").await;
    e.redis.as_ref().unwrap().flushall().await;
    let (s, b) = e.refund(PID, 1299).await;
    assert_eq!(s, 200, "{b}");
    assert_ko_naming(&b, "earlier refunds are not known");
}

on_stores!(
    [node = Redis, cluster = Cluster]
    [
        two_replicas_create_one_payment_for_concurrent_identical_pays,
        a_notification_is_delivered_after_a_restart_on_the_same_redis,
        a_callback_deferred_by_the_poll_window_survives_the_replica_that_took_it,
    ]
);
