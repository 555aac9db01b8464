//! A router paying through the Fena mock and notifying a recording receiver, on the store a
//! scenario names: the environment of the Fena route and money-safety tests.

use serde_json::{json, Value};

use super::{config, FenaMock, Receiver, RedisServer, StoreKind, TestRouter};

pub struct Env {
    pub fena: FenaMock,
    pub receiver: Receiver,
    pub router: TestRouter,
    _redis: Option<RedisServer>,
}

/// The router's configuration is `common::config` with `extra` TOML at its top level.
pub async fn env(kind: StoreKind, extra: &str) -> Env {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let router =
        TestRouter::start(&config(redis.as_ref(), &fena.base(), &receiver.url, extra)).await;
    Env {
        fena,
        receiver,
        router,
        _redis: redis,
    }
}

/// A GBP pay of `amount` for `shop_tx`, with both redirect URLs.
pub fn pay_body(shop_tx: &str, amount: i64) -> Value {
    json!({"amount": amount, "currency": "GBP", "shopTransactionId": shop_tx,
           "successRedirectUrl": "https://shop.example/ok", "failureRedirectUrl": "https://shop.example/ko"})
}
