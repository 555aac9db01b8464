//! The static descriptor of what a provider can do, used to refuse early and to document.

use serde::Serialize;
use std::time::Duration;

use crate::Currency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    Pay,
    Refund,
    Status,
    Check,
    Callback,
    SubscriptionSchedule,
    SubscriptionUpdate,
    SubscriptionStart,
    SubscriptionPay,
    SubscriptionExpire,
    SubscriptionStatus,
    Quote,
    ReceiptUpload,
    ReceiptStatus,
}

impl Operation {
    pub fn label(self) -> &'static str {
        match self {
            Operation::Pay => "pay",
            Operation::Refund => "refund",
            Operation::Status => "status",
            Operation::Check => "check",
            Operation::Callback => "callback",
            Operation::SubscriptionSchedule => "subscription schedule",
            Operation::SubscriptionUpdate => "subscription update",
            Operation::SubscriptionStart => "subscription start",
            Operation::SubscriptionPay => "subscription pay",
            Operation::SubscriptionExpire => "subscription expire",
            Operation::SubscriptionStatus => "subscription status",
            Operation::Quote => "quote",
            Operation::ReceiptUpload => "receipt upload",
            Operation::ReceiptStatus => "receipt status",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase", tag = "kind", content = "codes")]
pub enum Currencies {
    /// Only these ISO 4217 alphabetic codes.
    Only(&'static [&'static str]),
    /// Any ISO 4217 currency with a defined minor unit.
    Any,
}

impl Currencies {
    pub fn accepts(&self, currency: Currency) -> bool {
        match self {
            Currencies::Only(codes) => codes.contains(&currency.code()),
            Currencies::Any => true,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Currencies::Only(codes) => codes.join(", "),
            Currencies::Any => "any ISO 4217 currency".into(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capabilities {
    pub operations: &'static [Operation],
    pub currencies: Currencies,
    /// Partial refunds allowed (the gateway keeps the ledger).
    pub partial_refunds: bool,
    /// The largest amount, in minor units, the provider takes in one payment; `None` when it
    /// sets no limit of its own (it then refuses what it cannot take).
    pub max_amount: Option<i64>,
    /// Shortest interval between two status fetches of one payment.
    #[serde(serialize_with = "as_millis")]
    pub min_poll_interval: Duration,
    /// Whether `min_poll_interval` is a limit the provider publishes and enforces, rather than
    /// a courtesy: `/check`, which otherwise always asks the provider, keeps to it then.
    pub hard_poll_limit: bool,
    /// How callbacks arrive, for documentation.
    pub callback_format: &'static str,
    /// providerData fields understood on pay, for documentation.
    pub pay_provider_data: &'static [(&'static str, &'static str)],
}

impl Capabilities {
    pub fn supports(&self, op: Operation) -> bool {
        self.operations.contains(&op)
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}
