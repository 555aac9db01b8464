//! A router paying through the Fena mock and notifying a recording receiver, on the store a
//! scenario names: the environment of the Fena route and money-safety tests.

use serde_json::{json, Value};
use std::time::Duration;

use super::{config, FenaMock, Receiver, RedisServer, StoreKind, TestRouter};

pub struct Env {
    pub fena: FenaMock,
    pub receiver: Receiver,
    pub router: TestRouter,
    /// The Redis deployment the router stores in (None: the embedded store).
    pub redis: Option<RedisServer>,
}

/// The router's configuration is `common::config` with `extra` TOML at its top level.
pub async fn env(kind: StoreKind, extra: &str) -> Env {
    env_on(kind.start_redis().await, extra).await
}

/// `env` on a Redis deployment of the caller's choosing (a sentinel, say).
pub async fn env_on(redis: Option<RedisServer>, extra: &str) -> Env {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let router =
        TestRouter::start(&config(redis.as_ref(), &fena.base(), &receiver.url, extra)).await;
    Env {
        fena,
        receiver,
        router,
        redis,
    }
}

impl Env {
    /// Creates payment `id` for `shop_tx` (12.99 GBP), which Fena reports as `sent`; answers
    /// its payer link.
    pub async fn created(&self, id: &str, shop_tx: &str) -> String {
        self.created_as(id, shop_tx, "sent").await
    }

    /// `created`, with Fena reporting the payment as `state` from the start.
    pub async fn created_as(&self, id: &str, shop_tx: &str, state: &str) -> String {
        self.fena.on_create(id, shop_tx, "12.99").await;
        self.fena_reports(id, state, shop_tx).await;
        let (paid, link) = self
            .router
            .create_payment("fena", &pay_body(shop_tx, 1299))
            .await;
        assert_eq!(paid, id);
        link
    }

    /// `created`, then Fena reports the payment paid and the router's status says ACCEPTED.
    pub async fn accepted(&self, id: &str, shop_tx: &str) {
        self.created(id, shop_tx).await;
        self.fena_reports(id, "paid", shop_tx).await;
        assert_eq!(self.router.status("fena", id).await["status"], "ACCEPTED");
    }

    /// `fena_reports`, then Fena's poll window (1 s) passes, so the router's next look asks
    /// Fena.
    pub async fn fena_moves(&self, id: &str, state: &str, shop_tx: &str) {
        self.fena_reports(id, state, shop_tx).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }

    /// From now on Fena reports payment `id` (12.99 GBP for `shop_tx`) as `state`.
    pub async fn fena_reports(&self, id: &str, state: &str, shop_tx: &str) {
        self.fena
            .set_state(id, state, "12.99", shop_tx, shop_tx)
            .await;
    }

    /// `POST /v3/fena/refund` of `amount` pence of payment `id`.
    pub async fn refund(&self, id: &str, amount: i64) -> (u16, Value) {
        let body = json!({"amount": amount, "currency": "GBP", "paymentId": id});
        self.router.post("/v3/fena/refund", &body).await
    }
}

/// A GBP pay of `amount` for `shop_tx`, with both redirect URLs.
pub fn pay_body(shop_tx: &str, amount: i64) -> Value {
    json!({"amount": amount, "currency": "GBP", "shopTransactionId": shop_tx,
           "successRedirectUrl": "https://shop.example/ok", "failureRedirectUrl": "https://shop.example/ko"})
}
