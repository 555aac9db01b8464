//! The per-provider half of the provider contract suite (`tests/contract.rs`): what differs
//! between Fena and Feennex when the same scenario runs against each (the body of a pay, the
//! provider's words for its states, the fault operation of a status fetch, how a callback is
//! forged, refund support). The scenarios themselves are written once, in the suite.

use serde_json::{json, Value};

/// A callback as a forger would send it to `/v3/{provider}/callback`.
pub struct Forged {
    pub content_type: &'static str,
    pub body: String,
}

/// One provider as the contract suite drives it through its simulator.
pub struct Driver {
    /// The provider's name in routes and notifications.
    pub name: &'static str,
    /// A currency the provider takes.
    pub currency: &'static str,
    /// `providerData` a pay needs.
    pub provider_data: fn() -> Value,
    /// `metadata.providerStatus` of a payment waiting for the payer, of a paid one and of one
    /// the payer rejected.
    pub waiting_status: &'static str,
    pub paid_status: &'static str,
    pub rejected_status: &'static str,
    /// A provider state (as `metadata.providerStatus` writes it) that the provider's mapping
    /// cannot place.
    pub unknown_status: &'static str,
    /// A provider state as the simulator's control API takes it.
    pub sim_state: fn(&str) -> Value,
    /// How the simulator's control API names the payment `(paymentId, shopTransactionId)`.
    sim_id: fn(&str, &str) -> String,
    /// The simulator's fault operation for the call that fetches a payment's state.
    pub fetch_operation: &'static str,
    /// Whether callbacks carry proof of origin (a signature): a forgery about a real payment
    /// is then refused, rather than accepted and re-checked against the provider.
    pub signs_callbacks: bool,
    /// Refunds complete later at the provider, by pressing this button on its refund page;
    /// None: the provider has no refund API.
    pub refund_approval: Option<&'static str>,
    /// A callback claiming that the payment `(paymentId, shopTransactionId)` was paid, made
    /// without the provider's secrets.
    pub forge: fn(&str, &str) -> Forged,
}

impl Driver {
    /// A pay request body for `amount` minor units.
    pub fn pay_body(&self, shop_tx: &str, amount: i64) -> Value {
        json!({"amount": amount, "currency": self.currency, "shopTransactionId": shop_tx,
               "successRedirectUrl": "https://shop.example/ok",
               "failureRedirectUrl": "https://shop.example/ko",
               "providerData": (self.provider_data)()})
    }

    /// The simulator's control route `what` (`state`, `callback`) of a payment.
    pub fn control_path(&self, payment_id: &str, shop_tx: &str, what: &str) -> String {
        let sim_id = (self.sim_id)(payment_id, shop_tx);
        format!("/{}/_sim/payments/{sim_id}/{what}", self.name)
    }
}

pub const FENA: Driver = Driver {
    name: "fena",
    currency: "GBP",
    provider_data: || json!({}),
    waiting_status: "sent",
    paid_status: "paid",
    rejected_status: "rejected",
    unknown_status: "on_hold_for_review",
    sim_state: |status| json!(status),
    sim_id: |payment_id, _| payment_id.to_string(),
    fetch_operation: "get",
    // Fena's webhooks are not signed: only their id is used, the state is fetched again.
    signs_callbacks: false,
    refund_approval: Some("Approve refund"),
    forge: |payment_id, shop_tx| Forged {
        content_type: "application/json",
        body: json!({"eventScope": "single-payments", "eventName": "status-update",
                     "id": payment_id, "reference": shop_tx, "status": "paid"})
        .to_string(),
    },
};

pub const FEENNEX: Driver = Driver {
    name: "feennex",
    currency: "USD",
    provider_data: || json!({"email": "payer@example.com"}),
    waiting_status: "2",
    paid_status: "4",
    rejected_status: "6",
    unknown_status: "77",
    sim_state: |status| json!(status.parse::<i64>().expect("Feennex states are numbers")),
    sim_id: |_, shop_tx| shop_tx.to_string(),
    fetch_operation: "check",
    signs_callbacks: true,
    refund_approval: None,
    // Every field Feennex sends, signed with a key that is not the shop's.
    forge: |_, shop_tx| Forged {
        content_type: "application/x-www-form-urlencoded",
        body: form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("shop_id", "5"),
                ("shop_order_id", shop_tx),
                ("payment_id", "1"),
                ("status", "success"),
                ("shop_amount", "12.99"),
                ("shop_currency", "840"),
                ("client_price", "12.99"),
                ("ps_currency", "840"),
                ("payway", "card_usd"),
                ("sign", &"0".repeat(64)),
            ])
            .finish(),
    },
};
