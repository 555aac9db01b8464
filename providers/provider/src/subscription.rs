//! Subscription orders and states, for providers that run automatic subscriptions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Money, PayResult, PaymentStatusKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Interval {
    Day,
    Week,
    Month,
    Year,
}

#[derive(Debug, Clone)]
pub struct SubscriptionOrder {
    pub amount: Money,
    pub shop_transaction_id: String,
    pub interval: Interval,
    pub interval_count: u32,
    pub expires_after: Option<u32>,
    pub provider_data: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct SubscriptionOutcome {
    pub result: PayResult,
    pub description: String,
    pub token: Option<String>,
    pub payment_id: Option<String>,
    pub redirect_url: Option<String>,
    /// What the provider will echo on every fetch of the subscription.
    pub reference: Option<String>,
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SubscriptionStatus {
    Pending,
    Active,
    PastDue,
    Expired,
    Canceled,
    Unknown,
}

/// One payment taken by a provider-run subscription.
#[derive(Debug, Clone, PartialEq)]
pub struct Instalment {
    pub id: String,
    pub provider_status: String,
    pub status: PaymentStatusKind,
    pub amount: Option<Money>,
}

#[derive(Debug, Clone)]
pub struct SubscriptionState {
    pub token: String,
    pub provider_status: String,
    pub status: SubscriptionStatus,
    /// The reference the provider echoes (checked against what the router sent).
    pub reference: Option<String>,
    pub instalments: Vec<Instalment>,
    pub metadata: Map<String, Value>,
}
