//! One provider payment per shopTransactionId when replicas disagree on the time: two engines
//! on one Redis, one of them on a wall clock 40 s ahead, pay the same order at the same time.
//! Reservation leases are judged by the store's clock, so the fast replica does not take over
//! the live reservation of the other and create a second payment.

mod common;

use common::*;
use payrouter::engine::{Engine, RecheckSchedule};
use payrouter::notify::NotifyHandle;
use payrouter::store::records::{Keys, Records};
use payrouter::store::RedisStore;
use payrouter_provider::{Currency, Money, PayOrder};
use serde_json::{json, Map};
use std::sync::Arc;
use std::time::Duration;

const PID: &str = "64b48c5b6ba2cd6a040b2e01";

/// An engine on `redis` paying through `fena`, whose wall clock is `skew_ms` off.
async fn engine(redis: &RedisServer, fena: &FenaMock, skew_ms: i64) -> Engine {
    let cfg = config(None, &fena.base(), "http://127.0.0.1:9/notify", "");
    let keys = Keys::default();
    let store = Arc::new(RedisStore::connect(&redis.url(), &keys).await.unwrap());
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
    let drafts = fena
        .server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST)
                .path("/open/payments/single/create");
            then.status(201)
                .delay(Duration::from_millis(1000))
                .json_body(json!({"created": true, "result": {"id": PID, "status": "draft"}}));
        })
        .await;
    let on_time = engine(&redis, &fena, 0).await;
    let ahead = engine(&redis, &fena, 40_000).await;
    let order = PayOrder {
        amount: Money::new(1299, Currency::from_code("GBP").unwrap()),
        shop_transaction_id: "skew-1".into(),
        success_redirect_url: None,
        failure_redirect_url: None,
        provider_data: Map::new(),
    };
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
