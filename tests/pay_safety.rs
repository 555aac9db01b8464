//! One provider payment per shopTransactionId when replicas disagree on the time: two engines
//! on one Redis, one of them on a wall clock 40 s ahead, pay the same order at the same time.
//! Reservation leases are judged by the store's clock, so the fast replica does not take over
//! the live reservation of the other and create a second payment.

mod common;

use common::*;
use payrouter::engine::{Engine, RecheckSchedule};
use payrouter::notify::NotifyHandle;
use payrouter::store::records::{Keys, Records};
use payrouter::store::{RedisStore, RedisTarget};
use payrouter_provider::{Currency, Money};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const PID: &str = "64b48c5b6ba2cd6a040b2e01";

/// An engine on `redis` paying through `fena`, whose wall clock is `skew_ms` off.
async fn engine(redis: &RedisServer, fena: &FenaMock, skew_ms: i64) -> Engine {
    let cfg = config(None, &fena.base(), "http://127.0.0.1:9/notify", "");
    let keys = Keys::default();
    let store = Arc::new(
        RedisStore::connect(&RedisTarget::Node(redis.url()), &keys)
            .await
            .unwrap(),
    );
    let records = Records::new(
        store,
        keys,
        Duration::from_secs(3600),
        NotifyHandle::default(),
    );
    let schedule = RecheckSchedule {
        initial: Duration::from_secs(600),
        max: Duration::from_secs(600),
    };
    Engine::new(
        records,
        providers_of(&cfg),
        Duration::from_secs(5),
        None,
        schedule,
    )
    .with_wall_clock(Arc::new(move || {
        chrono::Utc::now().timestamp_millis() + skew_ms
    }))
}

#[tokio::test]
async fn a_replica_whose_clock_runs_40_s_ahead_does_not_take_over_a_live_reservation() {
    let redis = RedisServer::start().await;
    let fena = FenaMock::start().await;
    fena.on_process(PID, "skew-1", "12.99").await;
    // The first replica's draft takes 1 s: its reservation is live all that time.
    let drafts = fena.on_slow_create(PID, Duration::from_millis(1000)).await;
    let on_time = engine(&redis, &fena, 0).await;
    let ahead = engine(&redis, &fena, 40_000).await;
    let order = plain_order(
        Money::new(1299, Currency::from_code("GBP").unwrap()),
        "skew-1",
    );
    let first = on_time.pay(on_time.provider("fena").unwrap(), order.clone());
    let second = async {
        // Starts once the first holds the reservation.
        tokio::time::sleep(Duration::from_millis(300)).await;
        ahead
            .pay(ahead.provider("fena").unwrap(), order.clone())
            .await
    };
    let (first, second) = tokio::join!(first, second);
    assert_eq!(
        drafts.calls_async().await,
        1,
        "one payment at Fena for one shopTransactionId"
    );
    let (first, second) = (first.unwrap(), second.unwrap());
    assert_eq!(first.payment_id.as_deref(), Some(PID));
    assert_eq!(second, first, "the fast replica replays the first answer");
}

/// A Fena payment on the same account that another system created, whose description looks
/// like a shopTransactionId, named by an unsigned webhook: not adopted (no valid payment tag).
#[tokio::test]
async fn a_foreign_payment_named_by_a_webhook_is_not_adopted() {
    use common::sim_client::SimClient;
    use payrouter_fena::sim::{DEMO_TERMINAL_ID, DEMO_TERMINAL_SECRET};
    let receiver = Receiver::start().await;
    let router = TestRouter::start(&format!(
        "simulate = true\nsim_port = 0\nenabled_providers = \"fena\"\n\
         payment_callback_url = \"{}\"\nlog_level = \"warn\"\n",
        receiver.url
    ))
    .await;
    let sim_port = router.running.as_ref().unwrap().sim_addr.unwrap().port();
    let sim = SimClient::new(format!("http://127.0.0.1:{sim_port}"));
    let created = sim
        .web
        .post(sim.url("/fena/open/payments/single/create-and-process"))
        .header("terminal-id", DEMO_TERMINAL_ID)
        .header("terminal-secret", DEMO_TERMINAL_SECRET)
        .json(&json!({"reference": "foreign-1", "amount": "12.99", "description": "foreign-1"}))
        .send()
        .await
        .unwrap();
    let (s, b) = read(created).await;
    assert_eq!(s, 201, "{b}");
    let foreign = b["result"]["id"].as_str().unwrap().to_string();
    let paid = json!({"status": "paid"});
    let state_path = format!("/fena/_sim/payments/{foreign}/state");
    let (s, b) = sim
        .control(reqwest::Method::POST, &state_path, paid.clone())
        .await;
    assert_eq!(s, 200, "{b}");
    let webhook = |id: &str| {
        json!({"eventScope": "single-payments", "eventName": "status-update", "id": id,
               "status": "paid", "description": "foreign-1", "reference": "foreign-1"})
    };

    let (s, b) = router.post("/v3/fena/callback", &webhook(&foreign)).await;
    assert_error_response(s, &b, 404);
    let (s, b) = router
        .get(&format!("/v3/fena/status?paymentId={foreign}"))
        .await;
    assert_error_response(s, &b, 404);
    let (_, metrics) = router.get("/metrics").await;
    let metrics = metrics.as_str().unwrap();
    assert!(
        metrics.contains("payrouter_foreign_payments_rejected_total{provider=\"fena\"} 2"),
        "each look at the foreign payment is counted:\n{metrics}"
    );

    // The router's own payment, named the same way, is followed and notified.
    let (own, _) = router
        .create_payment(
            "fena",
            &json!({"amount": 1299, "currency": "GBP", "shopTransactionId": "own-1"}),
        )
        .await;
    let state_path = format!("/fena/_sim/payments/{own}/state");
    let (s, b) = sim.control(reqwest::Method::POST, &state_path, paid).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = router.post("/v3/fena/callback", &webhook(&own)).await;
    assert_eq!(s, 200, "{b}");
    receiver.notified(&own, "ACCEPTED", "PAYMENT").await;
    assert!(
        receiver.notifications(&foreign).is_empty(),
        "no notification of the foreign payment"
    );
}
