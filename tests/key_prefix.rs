//! REDIS_KEY_PREFIX (issue 11): two environments can share one Redis, because every key a
//! router writes starts with its prefix.

mod common;

use common::*;
use serde_json::json;

#[tokio::test]
async fn every_key_starts_with_the_configured_prefix() {
    let redis = RedisServer::start().await;
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    fena.on_create("64b48c5b6ba2cd6a040b5501", "prefixed-1", "12.99")
        .await;
    let router = TestRouter::start(&config(
        Some(&redis),
        &fena.base(),
        &receiver.url,
        "redis_key_prefix = \"blue-env\"",
    ))
    .await;
    let (s, b) = router
        .post(
            "/v3/fena/pay",
            &json!({"amount": 1299, "currency": "GBP", "shopTransactionId": "prefixed-1"}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    let keys = redis.keys("*").await;
    assert!(
        keys.len() >= 3,
        "the payment, its reservation and its recheck queue: {keys:?}"
    );
    assert!(keys.iter().all(|k| k.starts_with("blue-env:")), "{keys:?}");
}
