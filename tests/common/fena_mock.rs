//! Fena's terminal API as an httpmock server: payments are created with a fixed id and their
//! state, as Fena reports it, can be changed between calls.

use httpmock::prelude::*;
use httpmock::Mock;
use payrouter_provider::{PaymentTag, SecretString};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

pub const TERMINAL_ID: &str = "62b48adf6ba2cd6a040b1eec";
pub const TERMINAL_SECRET: &str = "3858f642-e92f-431c-9d38-46d15efb7fba";

/// The description payrouter gives a payment of `shop_tx` (tagged with the key derived from
/// `TERMINAL_SECRET`, as no `PAYMENT_TAG_SECRET` is set in tests).
pub fn description(shop_tx: &str) -> String {
    let tags = PaymentTag::derived("fena", &SecretString::from(TERMINAL_SECRET));
    payrouter_fena::transform::description_for(shop_tx, &tags)
}

pub struct FenaMock {
    pub server: MockServer,
    gets: Mutex<HashMap<String, usize>>,
}

impl FenaMock {
    pub async fn start() -> FenaMock {
        FenaMock {
            server: MockServer::start_async().await,
            gets: Mutex::new(HashMap::new()),
        }
    }

    pub fn base(&self) -> String {
        self.server.base_url()
    }

    /// Answers the two phases of a payment of `reference`: its draft is created with id `id`
    /// (the returned mock counts drafts), and processing it gives its link.
    pub async fn on_create(&self, id: &str, reference: &str, amount: &str) -> Mock<'_> {
        let (id, reference, amount) = (id.to_string(), reference.to_string(), amount.to_string());
        self.on_process(&id, &reference, &amount).await;
        self.server
            .mock_async(move |when, then| {
                when.method(POST)
                    .path("/open/payments/single/create")
                    .header("terminal-id", TERMINAL_ID)
                    .header("terminal-secret", TERMINAL_SECRET)
                    .json_body_includes(json!({"reference": reference}).to_string());
                then.status(201).json_body(json!({
                    "created": true,
                    "result": {
                        "id": id, "reference": reference, "amount": amount, "currency": "GBP",
                        "status": "draft"
                    }
                }));
            })
            .await
    }

    /// Answers every draft, whatever its reference, with id `id` after `delay` (the returned
    /// mock counts drafts): a call slow enough for others to arrive while it is under way.
    pub async fn on_slow_create(&self, id: &str, delay: Duration) -> Mock<'_> {
        self.server
            .mock_async(|when, then| {
                when.method(POST).path("/open/payments/single/create");
                then.status(201)
                    .delay(delay)
                    .json_body(json!({"created": true, "result": {"id": id, "status": "draft"}}));
            })
            .await
    }

    /// Answers processing the draft `id`: it is sent, with its link.
    pub async fn on_process(&self, id: &str, reference: &str, amount: &str) -> Mock<'_> {
        let (id, reference, amount) = (id.to_string(), reference.to_string(), amount.to_string());
        self.server
            .mock_async(move |when, then| {
                when.method(POST)
                    .path(format!("/open/payments/single/{id}/process"))
                    .header("terminal-id", TERMINAL_ID)
                    .header("terminal-secret", TERMINAL_SECRET);
                then.status(200).json_body(json!({
                    "result": {
                        "id": id, "reference": reference, "amount": amount, "currency": "GBP",
                        "status": "sent", "link": format!("https://payment.fena.co/pay/?p=h{id}")
                    }
                }));
            })
            .await
    }

    /// From now on, GET of payment `id` reports `status`.
    pub async fn set_state(
        &self,
        id: &str,
        status: &str,
        amount: &str,
        reference: &str,
        shop_tx: &str,
    ) {
        let mock = self
            .server
            .mock_async(|when, then| {
                when.method(GET)
                    .path(format!("/open/payments/single/{id}"))
                    .header("terminal-id", TERMINAL_ID)
                    .header("terminal-secret", TERMINAL_SECRET);
                then.status(200).json_body(json!({"data": {
                    "id": id, "status": status, "amount": amount, "currency": "GBP",
                    "reference": reference, "description": description(shop_tx)
                }}));
            })
            .await;
        let mock_id = mock.id;
        let previous = self.gets.lock().unwrap().insert(id.to_string(), mock_id);
        if let Some(old) = previous {
            Mock::new(old, &self.server).delete_async().await;
        }
    }

    /// Answers refunds of payment `id` with HTTP `status` (`saved` when it is a success).
    pub async fn on_refund(&self, id: &str, status: u16) -> Mock<'_> {
        self.server
            .mock_async(move |when, then| {
                when.method(POST)
                    .path(format!("/open/payments/single/{id}/refund"));
                then.status(status)
                    .json_body(json!({"saved": status < 300}));
            })
            .await
    }

    /// Answers GET of payment `id` (None: of any payment) with Fena's 404 after `delay`; the
    /// mock counts the lookups.
    pub async fn on_unknown(&self, id: Option<&str>, delay: Duration) -> Mock<'_> {
        self.server
            .mock_async(|when, then| {
                let when = when.method(GET);
                match id {
                    Some(id) => when.path(format!("/open/payments/single/{id}")),
                    None => when.path_includes("/open/payments/single/"),
                };
                then.status(404)
                    .delay(delay)
                    .json_body(json!({"message": "Payment not found"}));
            })
            .await
    }

    /// Hits on the current GET mock of payment `id`.
    pub async fn gets(&self, id: &str) -> usize {
        let mock_id = self.gets.lock().unwrap()[id];
        Mock::new(mock_id, &self.server).calls_async().await
    }
}
