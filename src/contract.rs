//! The bodies of the PGM "External Integration" contract, as they travel on the wire. Request
//! bodies are built from the validating field types of `fields`, so deserializing one is
//! validating it, and the same definitions produce the OpenAPI schemas.

mod fields;

pub use fields::{
    expectation, Amount, Count, CurrencyCode, HttpUrl, PaymentId, ProviderData, ShopTransactionId,
    SubscriptionToken,
};

use payrouter_provider::{
    Action, Interval, Money, PayOrder, PayResult, PaymentStatusKind, QuoteOrder, QuoteOutcome,
    Receipt, ReceiptOutcome, SubscriptionOrder, SubscriptionStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::{IntoParams, ToSchema};

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

/// Request body of `pay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PayRequest {
    pub amount: Amount,
    pub currency: CurrencyCode,
    pub shop_transaction_id: ShopTransactionId,
    /// Where the provider sends the payer after a successful payment.
    pub success_redirect_url: Option<HttpUrl>,
    /// Where the provider sends the payer after a failed or abandoned payment.
    pub failure_redirect_url: Option<HttpUrl>,
    pub provider_data: Option<ProviderData>,
}

impl PayRequest {
    pub fn into_order(self) -> PayOrder {
        order(
            self.amount.with(self.currency),
            self.shop_transaction_id,
            [self.success_redirect_url, self.failure_redirect_url],
            self.provider_data,
        )
    }
}

fn order(
    amount: Money,
    shop_transaction_id: ShopTransactionId,
    [success, failure]: [Option<HttpUrl>; 2],
    provider_data: Option<ProviderData>,
) -> PayOrder {
    PayOrder {
        amount,
        shop_transaction_id: shop_transaction_id.into_string(),
        success_redirect_url: success.map(HttpUrl::into_string),
        failure_redirect_url: failure.map(HttpUrl::into_string),
        provider_data: provider_data.unwrap_or_default().into_map(),
        provider_order_id: None,
    }
}

/// Request body of `refund`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RefundRequest {
    /// The part of the paid amount to give back (partial refunds are allowed).
    pub amount: Amount,
    pub currency: CurrencyCode,
    pub payment_id: PaymentId,
    pub provider_data: Option<ProviderData>,
}

/// Request body of `POST /status`, and the query of `GET /status`, `/check` and
/// `GET /callback`.
#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct PaymentRef {
    pub payment_id: PaymentId,
}

/// The cadence of a subscription.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionTerms {
    pub interval: Interval,
    pub interval_count: Count,
    /// How many payments the subscription takes; unlimited when absent.
    pub expires_after: Option<Count>,
}

/// A request body of a subscription's terms (`subscription/schedule` and `/update`): its
/// shopTransactionId is a `$shop`, which `$id` makes the order's.
macro_rules! terms_request {
    ($(#[doc = $doc:tt])* $name:ident, $shop:ty, $id:expr) => {
        $(#[doc = $doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub amount: Amount,
            pub currency: CurrencyCode,
            pub shop_transaction_id: $shop,
            pub subscription_info: SubscriptionTerms,
            pub provider_data: Option<ProviderData>,
        }

        impl $name {
            pub fn into_order(self) -> SubscriptionOrder {
                subscription_order(
                    self.amount.with(self.currency),
                    $id(self.shop_transaction_id),
                    self.subscription_info,
                    self.provider_data,
                )
            }
        }
    };
}

terms_request!(
    /// Request body of `subscription/schedule`.
    ScheduleRequest,
    ShopTransactionId,
    ShopTransactionId::into_string
);

terms_request!(
    /// Request body of `subscription/update/{token}`: new terms; without `shopTransactionId` the
    /// subscription keeps its own.
    UpdateRequest,
    Option<ShopTransactionId>,
    |id: Option<ShopTransactionId>| id.map_or_else(String::new, ShopTransactionId::into_string)
);

fn subscription_order(
    amount: Money,
    shop_transaction_id: String,
    terms: SubscriptionTerms,
    provider_data: Option<ProviderData>,
) -> SubscriptionOrder {
    SubscriptionOrder {
        amount,
        shop_transaction_id,
        interval: terms.interval,
        interval_count: terms.interval_count.get(),
        expires_after: terms.expires_after.map(Count::get),
        provider_data: provider_data.unwrap_or_default().into_map(),
    }
}

/// `subscriptionInfo` of `subscription/start`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct StartInfo {
    /// How many payments the subscription takes; unlimited when absent.
    pub expires_after: Option<Count>,
}

/// A request body that is a payment and a `subscriptionInfo` (`subscription/start` and
/// `subscription/pay`).
macro_rules! subscription_payment {
    ($(#[doc = $doc:tt])* $name:ident, $info:ident) => {
        $(#[doc = $doc])*
        #[derive(Debug, Deserialize, ToSchema)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            pub amount: Amount,
            pub currency: CurrencyCode,
            pub shop_transaction_id: ShopTransactionId,
            pub success_redirect_url: Option<HttpUrl>,
            pub failure_redirect_url: Option<HttpUrl>,
            pub subscription_info: $info,
            pub provider_data: Option<ProviderData>,
        }

        impl $name {
            /// The payment, and the subscription's part of the request.
            fn split(self) -> (PayOrder, $info) {
                let pay = order(
                    self.amount.with(self.currency),
                    self.shop_transaction_id,
                    [self.success_redirect_url, self.failure_redirect_url],
                    self.provider_data,
                );
                (pay, self.subscription_info)
            }
        }
    };
}

subscription_payment!(
    /// Request body of `subscription/start`: a router-kept subscription and its first payment.
    StartRequest,
    StartInfo
);

impl StartRequest {
    /// The first payment and the number of payments the subscription takes.
    pub fn into_parts(self) -> (PayOrder, Option<u32>) {
        let (pay, info) = self.split();
        (pay, info.expires_after.map(Count::get))
    }
}

/// `subscriptionInfo` of `subscription/pay`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstalmentInfo {
    pub token: SubscriptionToken,
}

subscription_payment!(
    /// Request body of `subscription/pay`: the next payment of a manual subscription.
    InstalmentRequest,
    InstalmentInfo
);

impl InstalmentRequest {
    /// The subscription's token and the payment.
    pub fn into_parts(self) -> (SubscriptionToken, PayOrder) {
        let (pay, info) = self.split();
        (info.token, pay)
    }
}

/// Request body of `quote`: the payment to precalculate; nothing is created or stored.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteRequest {
    pub amount: Amount,
    pub currency: CurrencyCode,
    /// Feennex: `payway` (default FEENNEX_PAYWAY).
    pub provider_data: Option<ProviderData>,
}

impl QuoteRequest {
    pub fn into_order(self) -> QuoteOrder {
        QuoteOrder {
            amount: self.amount.with(self.currency),
            provider_data: self.provider_data.unwrap_or_default().into_map(),
        }
    }
}

/// Answer of `quote`: `OK` with the figures, or `KO` saying why the provider would refuse the
/// payment. Amounts are minor units of `payerCurrency`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct QuoteResponse {
    pub result: PayResult,
    pub result_description: String,
    /// What the payer pays, fees included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_amount: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_fee: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exchange_fee: Option<i64>,
    /// ISO 4217 alphabetic code of the payer's currency.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payway: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub paymethod_name: Option<String>,
    /// The providerData fields this payment method needs on pay (e.g. `email`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub required_fields: Option<Vec<String>>,
}

impl From<QuoteOutcome> for QuoteResponse {
    fn from(outcome: QuoteOutcome) -> Self {
        match outcome {
            QuoteOutcome::Quoted(q) => QuoteResponse {
                result: PayResult::Ok,
                result_description: "precalculated; nothing was created".into(),
                payer_amount: Some(q.payer_amount.minor),
                payer_fee: Some(q.payer_fee.minor),
                exchange_fee: Some(q.exchange_fee.minor),
                payer_currency: Some(q.payer_currency.code().to_string()),
                payway: Some(q.payway),
                paymethod_name: Some(q.paymethod_name),
                required_fields: Some(q.required_fields),
            },
            QuoteOutcome::Declined { message } => QuoteResponse {
                result: PayResult::Ko,
                result_description: message,
                payer_amount: None,
                payer_fee: None,
                exchange_fee: None,
                payer_currency: None,
                payway: None,
                paymethod_name: None,
                required_fields: None,
            },
        }
    }
}

/// Answer of a receipt upload: `OK` when the provider took the file for review, `KO` saying
/// why it refused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptResponse {
    pub result: PayResult,
    pub result_description: String,
}

impl From<ReceiptOutcome> for ReceiptResponse {
    fn from(outcome: ReceiptOutcome) -> Self {
        match outcome {
            ReceiptOutcome::Accepted => ReceiptResponse {
                result: PayResult::Ok,
                result_description:
                    "receipt sent: the provider reviews it (see the receipt status)".into(),
            },
            ReceiptOutcome::Declined { message } => ReceiptResponse {
                result: PayResult::Ko,
                result_description: message,
            },
        }
    }
}

/// Answer of the receipt status: every receipt the provider holds for the payment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptStatusResponse {
    pub payment_id: String,
    pub receipts: Vec<Receipt>,
}
