//! The values that cross the Provider trait: orders going out, states coming back.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Money;

/// `result` of pay, refund and subscription answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PayResult {
    Ok,
    Ko,
    Pending,
    RedirectToUrl,
}

/// `status` of the Payment Status object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatusKind {
    Accepted,
    Failed,
    Pending,
}

/// Whether a Payment Status speaks of the payment or of a refund of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    Payment,
    Refund,
}

/// A validated pay request, ready for an adapter.
#[derive(Debug, Clone)]
pub struct PayOrder {
    pub amount: Money,
    pub shop_transaction_id: String,
    pub success_redirect_url: Option<String>,
    pub failure_redirect_url: Option<String>,
    pub provider_data: Map<String, Value>,
    /// The order id to give the provider when the router chooses it rather than the caller
    /// (an instalment of a router-kept subscription: `{token}-{n}`); adapters whose provider
    /// takes the merchant's own order id use it instead of `shop_transaction_id`.
    pub provider_order_id: Option<String>,
}

/// How the payer is sent to the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "UPPERCASE")]
pub enum Redirect {
    Get {
        url: String,
    },
    /// The provider wants a form POSTed to `url`: the gateway serves a page that submits it.
    Post {
        url: String,
        fields: Vec<(String, String)>,
    },
}

#[derive(Debug, Clone)]
pub struct CreatedPayment {
    pub payment_id: String,
    pub redirect: Redirect,
    pub redirect_mobile: Option<String>,
    pub state: ProviderState,
    /// What the provider will echo back (e.g. Fena's `reference`), checked on every fetch.
    pub reference: Option<String>,
    /// Facts the provider gave only at creation (e.g. where a bank transfer's receipt goes):
    /// kept with the payment, shown in its Payment Status `metadata`, and handed back to the
    /// adapter by `Provider::receipt_target`.
    pub extras: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub enum PayOutcome {
    Created(CreatedPayment),
    /// A resumed payment that exists at the provider, whose payer link cannot be had again
    /// (its creation answer was lost): answered `PENDING` with its paymentId.
    Existing(FetchedPayment),
    /// The provider refused the payment; answered `KO` with this message.
    Declined {
        message: String,
    },
}

/// The first step of creating a payment, before anything a payer can see exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparedPay {
    /// The provider creates a payment in one call: `pay` does it, nothing is resumable.
    Direct,
    /// A provider-side handle of the payment being created (a Fena draft id, a Feennex
    /// shop_order_id). The gateway stores it with the idempotency reservation before going on
    /// with `resume_pay`, so a retry after an unknown outcome resumes this payment instead of
    /// creating a second one.
    Handle(String),
    /// The provider refused the payment already; answered `KO` with this message.
    Declined { message: String },
}

/// A provider state mapped to the contract, explicitly, provider state by provider state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderState {
    /// The provider's own word for the state, as it sent it (`paid`, `4`, …).
    pub provider_status: String,
    pub status: PaymentStatusKind,
    pub action: Action,
    /// No later provider state can change this one, refunds aside.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// The mapping did not know this provider state (answered PENDING, logged, counted).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    /// Extra facts for the Payment Status `metadata` (e.g. both amounts of a recalculation).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub metadata: Map<String, Value>,
}

impl ProviderState {
    pub fn new(
        provider_status: impl Into<String>,
        status: PaymentStatusKind,
        action: Action,
        is_final: bool,
    ) -> Self {
        ProviderState {
            provider_status: provider_status.into(),
            status,
            action,
            is_final,
            unknown: false,
            metadata: Map::new(),
        }
    }

    /// A state the mapping does not know: never final, never accepted.
    pub fn unknown(provider_status: impl Into<String>) -> Self {
        ProviderState {
            unknown: true,
            ..ProviderState::new(
                provider_status,
                PaymentStatusKind::Pending,
                Action::Payment,
                false,
            )
        }
    }
}

/// The provider's view of one payment, as fetched with credentials.
#[derive(Debug, Clone)]
pub struct FetchedPayment {
    pub payment_id: String,
    pub state: ProviderState,
    pub amount: Option<Money>,
    pub reference: Option<String>,
    /// Recovered from the provider when it carries it (lets status work after a cache loss).
    pub shop_transaction_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct RefundOrder {
    pub payment_id: String,
    pub amount: Money,
    pub provider_data: Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundOutcome {
    Completed,
    /// Accepted by the provider; the outcome arrives later as a state change.
    Pending,
    Declined {
        message: String,
    },
}
