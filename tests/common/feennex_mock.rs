//! Feennex's shop API (`/invoice/create`, `/invoice/check`) as an httpmock server. Like the
//! real one it only answers requests signed with the shop's secret key, and it answers its
//! refusals with HTTP 200 and `result: false`. What `/invoice/check` reports for an order can
//! be replaced between calls; the calls are counted across replacements.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use httpmock::prelude::*;
use httpmock::{Mock, When};
use payrouter_provider::{PaymentTag, SecretString};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Mutex;

pub const SHOP_ID: u64 = 5;
pub const SECRET_KEY: &str = "SecretKey01";
pub const PAYWAY: &str = "card_usd";

/// The keys Feennex signs, per endpoint (reference §2.2).
pub const CREATE_KEYS: &[&str] = &["amount", "currency", "payway", "shop_id", "shop_order_id"];
pub const CHECK_KEYS: &[&str] = &["now", "shop_id", "shop_order_id"];

pub fn secret() -> SecretString {
    SecretString::from(SECRET_KEY)
}

/// The mark payrouter puts in the description of invoice `shop_order_id` when no
/// `PAYMENT_TAG_SECRET` is set: the payment tag, keyed from the shop's secret key.
pub fn tag_mark(shop_order_id: &str) -> String {
    let tag = PaymentTag::derived(payrouter_feennex::NAME, &secret()).tag(shop_order_id);
    format!("[pr:{tag}]")
}

/// The description `text` as payrouter sends it for invoice `shop_order_id`.
pub fn tagged(text: &str, shop_order_id: &str) -> String {
    format!("{text} {}", tag_mark(shop_order_id))
}

/// Feennex's signature of `fields` with the test shop's secret key.
pub fn feennex_sign<K: AsRef<str>, V: AsRef<str>>(fields: &[(K, V)]) -> String {
    payrouter_feennex::sign::sign(fields, &secret())
}

/// The paymentId the router issues for a shop_order_id (base64url, no padding).
pub fn payment_id_of(shop_order_id: &str) -> String {
    URL_SAFE_NO_PAD.encode(shop_order_id.as_bytes())
}

/// Where the mock's GET redirect sends the payer for `shop_order_id`.
pub fn pay_url(shop_order_id: &str) -> String {
    format!("https://pay.feennex.example/invoice/{shop_order_id}")
}

/// A value as Feennex's server reads it for signing: strings verbatim, numbers as their token.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Whether `body` is a JSON object with a correct `sign` over its `keys`.
fn signed_over(body: &str, keys: &[&str]) -> bool {
    let Ok(Value::Object(m)) = serde_json::from_str::<Value>(body) else {
        return false;
    };
    let Some(Value::String(given)) = m.get("sign") else {
        return false;
    };
    let mut fields = Vec::with_capacity(keys.len());
    for key in keys {
        match m.get(*key) {
            Some(v) => fields.push((*key, text(v))),
            None => return false,
        }
    }
    &feennex_sign(&fields) == given
}

/// A successful invoice/create asking for a GET redirect to `url`.
pub fn created_get(url: &str) -> Value {
    json!({"result": true, "error_code": 0, "message": "Ok",
           "data": {"id": 33733463, "method": "GET", "url": url, "data": {}}})
}

/// A successful invoice/create asking for `data` to be POSTed to `url`.
pub fn created_post(url: &str, data: Value) -> Value {
    json!({"result": true, "error_code": 0, "message": "Ok",
           "data": {"id": 33733464, "method": "POST", "url": url, "data": data}})
}

/// A refusal, as Feennex sends it (HTTP 200).
pub fn refused(code: i64, message: &str) -> Value {
    json!({"result": false, "error_code": code, "message": message, "data": null})
}

#[derive(Default)]
struct CheckMocks {
    /// The mock currently answering invoice/check for an order.
    current: HashMap<String, usize>,
    /// Calls answered by mocks of the order that have since been replaced.
    retired: HashMap<String, usize>,
}

/// A JSON POST to `path` that includes `order` and is signed over `keys` with the shop's key.
fn signed_call(when: When, path: &str, order: String, keys: &'static [&'static str]) -> When {
    when.method(POST)
        .path(path)
        .header("content-type", "application/json")
        .json_body_includes(order)
        .is_true(move |req: &HttpMockRequest| signed_over(&req.body_string(), keys))
}

pub struct FeennexMock {
    pub server: MockServer,
    checks: Mutex<CheckMocks>,
}

impl FeennexMock {
    pub async fn start() -> FeennexMock {
        FeennexMock {
            server: MockServer::start_async().await,
            checks: Mutex::new(CheckMocks::default()),
        }
    }

    pub fn base(&self) -> String {
        self.server.base_url()
    }

    /// Pays 12.34 USD for the order `tx` through `router`, this mock taking it (no check
    /// answered yet): the payment id.
    pub async fn paid_through(&self, router: &super::TestRouter, tx: &str) -> String {
        self.on_create(tx).await;
        let body = json!({"amount": 1234, "currency": "USD", "shopTransactionId": tx,
                          "providerData": {"email": "payer@example.com"}});
        let (s, b) = router.post("/v3/feennex/pay", &body).await;
        assert_eq!(s, 200, "{b}");
        payment_id_of(tx)
    }

    /// The `[feennex]` section of a router's configuration that pays through this mock.
    pub fn config_section(&self) -> String {
        format!(
            r#"[feennex]
base_url = "{}"
shop_id = {SHOP_ID}
secret_key = "{SECRET_KEY}"
payway = "{PAYWAY}"
timeout_ms = 1500
"#,
            self.base()
        )
    }

    /// Answers a correctly signed invoice/create for `shop_order_id` with `answer`.
    pub async fn on_create_answer(&self, shop_order_id: &str, answer: Value) -> Mock<'_> {
        let order = json!({"shop_order_id": shop_order_id}).to_string();
        self.server
            .mock_async(move |when, then| {
                signed_call(when, "/invoice/create", order, CREATE_KEYS);
                then.status(200).json_body(answer);
            })
            .await
    }

    /// Answers invoice/create only when its JSON body is exactly `body`, with a GET redirect to
    /// the `pay_url` of `shop_order_id`.
    pub async fn on_exact_create(&self, shop_order_id: &str, body: Value) -> Mock<'_> {
        let answer = created_get(&pay_url(shop_order_id));
        self.server
            .mock_async(move |when, then| {
                when.method(POST)
                    .path("/invoice/create")
                    .header("content-type", "application/json")
                    .json_body(body);
                then.status(200).json_body(answer);
            })
            .await
    }

    /// Answers invoice/create for `shop_order_id` with a GET redirect to `pay_url`.
    pub async fn on_create(&self, shop_order_id: &str) -> Mock<'_> {
        self.on_create_answer(shop_order_id, created_get(&pay_url(shop_order_id)))
            .await
    }

    /// From now on, invoice/check of `shop_order_id` answers `body` (the whole JSON text).
    async fn replace_check(&self, shop_order_id: &str, body: String) {
        let order = json!({"shop_order_id": shop_order_id, "shop_id": SHOP_ID}).to_string();
        let mock = self
            .server
            .mock_async(move |when, then| {
                signed_call(when, "/invoice/check", order, CHECK_KEYS);
                then.status(200)
                    .header("content-type", "application/json")
                    .body(body);
            })
            .await;
        let previous = self
            .checks
            .lock()
            .unwrap()
            .current
            .insert(shop_order_id.to_string(), mock.id);
        if let Some(old) = previous {
            let old = Mock::new(old, &self.server);
            let calls = old.calls_async().await;
            *self
                .checks
                .lock()
                .unwrap()
                .retired
                .entry(shop_order_id.to_string())
                .or_default() += calls;
            old.delete_async().await;
        }
    }

    /// invoice/check of `shop_order_id` reports invoice `status` for `amount` (a JSON number
    /// token, e.g. `12.34`, as Feennex sends it) in the ISO 4217 numeric `currency`.
    pub async fn set_check(&self, shop_order_id: &str, status: i64, amount: &str, currency: u16) {
        let order = Value::from(shop_order_id);
        // What payrouter put in the invoice's description: the invoice is its own.
        let description = Value::from(tagged("test order", shop_order_id));
        let body = format!(
            r#"{{"result": true, "error_code": 0, "message": "Ok", "data": {{"client_price": {amount}, "created": "2024-12-03T14:39:02", "description": {description}, "error_code": 0, "is_unique": true, "payment_id": 33733463, "payway": "{PAYWAY}", "processed": null, "ps_currency": {currency}, "ps_data": "{{\"ps_payer_account\": \"424242XXXXXX4242\"}}", "shop_amount": {amount}, "shop_currency": {currency}, "shop_id": {SHOP_ID}, "shop_order_id": {order}, "shop_refund": {amount}, "status": {status}, "updated": "2024-12-03T15:47:07"}}}}"#
        );
        debug_assert!(serde_json::from_str::<Value>(&body).is_ok(), "{body}");
        self.replace_check(shop_order_id, body).await;
    }

    /// invoice/check of `shop_order_id` answers successfully with `data`.
    pub async fn set_check_data(&self, shop_order_id: &str, data: Value) {
        let body = json!({"result": true, "error_code": 0, "message": "Ok", "data": data});
        self.replace_check(shop_order_id, body.to_string()).await;
    }

    /// invoice/check of `shop_order_id` answers the refusal `code`.
    pub async fn set_check_refused(&self, shop_order_id: &str, code: i64, message: &str) {
        self.replace_check(shop_order_id, refused(code, message).to_string())
            .await;
    }

    /// invoice/check calls answered for `shop_order_id`, across replacements.
    pub async fn checks(&self, shop_order_id: &str) -> usize {
        let (current, retired) = {
            let checks = self.checks.lock().unwrap();
            (
                checks.current.get(shop_order_id).copied(),
                checks.retired.get(shop_order_id).copied().unwrap_or(0),
            )
        };
        let current = match current {
            Some(id) => Mock::new(id, &self.server).calls_async().await,
            None => 0,
        };
        current + retired
    }
}
