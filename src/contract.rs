//! The bodies of the PGM "External Integration" contract, as they travel on the wire.

use payrouter_provider::{Action, PayResult, PaymentStatusKind, SubscriptionStatus};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// Answer of `pay` (and of the subscription routes, with `subscriptionToken`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayResponse {
    pub result: PayResult,
    pub result_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to_url_mobile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundResponse {
    pub result: PayResult,
    pub result_description: String,
}

/// The Payment Status object: answered by status and check, and sent as notifications.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentStatus {
    pub status: PaymentStatusKind,
    pub payment_id: String,
    pub shop_transaction_id: String,
    pub provider_name: String,
    pub payment_method: String,
    pub action: Action,
    /// `providerStatus`, `amount`, `currency`, `refundedAmount`, and provider extras.
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionResponse {
    pub result: PayResult,
    pub result_description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_to_url: Option<String>,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionStatusResponse {
    pub status: SubscriptionStatus,
    pub subscription_token: String,
    pub provider_name: String,
    #[schema(value_type = Object)]
    pub metadata: Map<String, Value>,
}

/// Every non-2xx answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorResponse {
    pub status_code: u16,
    pub error: String,
    pub message: String,
}

/// Request body of `pay` (documentation; requests are validated field by field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct PayRequestDoc {
    /// Integer amount in the currency's minor unit (1299 = 12.99 GBP).
    amount: i64,
    /// ISO 4217 alphabetic code.
    currency: String,
    /// The merchant's id of this payment, 1-255 characters; the idempotency key.
    shop_transaction_id: String,
    success_redirect_url: Option<String>,
    failure_redirect_url: Option<String>,
    /// Provider specific: see the provider's capabilities.
    #[schema(value_type = Object)]
    provider_data: Option<Map<String, Value>>,
}

/// Request body of `refund` (documentation).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct RefundRequestDoc {
    amount: i64,
    currency: String,
    payment_id: String,
    #[schema(value_type = Object)]
    provider_data: Option<Map<String, Value>>,
}
