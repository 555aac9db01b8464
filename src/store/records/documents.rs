//! The documents payrouter keeps, as typed values, and their stored form.
//!
//! The JSON shape of each document is the data layout in Redis: fields may be added (with a
//! default, so older documents still read) but not renamed or removed. An absent `Option`
//! field reads as `None` without a `#[serde(default)]` of its own. Amounts are held as
//! [`Money`] and stored as today, as `"amount"` in minor units next to `"currency"`.

use payrouter_provider::{Merchant, Money, ProviderState, Redirect, SubscriptionStatus};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::time::Duration;

/// Something stored under a [`super::DocKey`].
pub trait Document {
    fn encode(&self) -> String;

    /// How long the document is kept after its last write.
    fn ttl(&self, retention: Duration) -> Duration {
        retention
    }

    /// The payment this document is, if it is one: a payment has a timeline and is listed in
    /// the payment index.
    fn payment(&self) -> Option<PaymentRef<'_>> {
        None
    }
}

/// What the store layer needs of a payment to keep its timeline and index entry.
#[derive(Debug, Clone, Copy)]
pub struct PaymentRef<'a> {
    pub provider: &'a str,
    pub payment_id: &'a str,
    pub created_ms: i64,
}

/// A document that is read back (see the policy for unreadable ones in [`super`]).
pub trait Readable: Document + Sized {
    fn decode(doc: &str) -> serde_json::Result<Self>;
}

/// A document stored as JSON.
pub trait Json: Serialize + DeserializeOwned {
    /// See [`Document::payment`].
    fn payment(&self) -> Option<PaymentRef<'_>> {
        None
    }
}

impl<T: Json> Document for T {
    fn encode(&self) -> String {
        // Documents are plain data (string-keyed maps only), so serializing cannot fail;
        // were it to, `null` is written, which reads back as unreadable, i.e. absent.
        serde_json::to_string(self).unwrap_or_else(|_| "null".into())
    }

    fn payment(&self) -> Option<PaymentRef<'_>> {
        Json::payment(self)
    }
}

impl<T: Json> Readable for T {
    fn decode(doc: &str) -> serde_json::Result<Self> {
        serde_json::from_str(doc)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefundState {
    Pending,
    Completed,
    Rejected,
}

/// One refund asked of the provider, in minor units of the payment's currency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundEntry {
    pub id: String,
    pub amount: i64,
    pub state: RefundState,
    pub at_ms: i64,
    /// Asked of the provider without an answer yet (or the answer was lost): the provider may
    /// or may not have seen it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecord {
    pub provider: String,
    /// The merchant account the provider was called with, and is called with again; absent
    /// (and left out when written) for `default`, as in documents written before accounts.
    #[serde(default, skip_serializing_if = "Merchant::is_default")]
    pub merchant: Merchant,
    pub payment_id: String,
    pub shop_transaction_id: String,
    #[serde(flatten, with = "money_fields")]
    pub amount: Money,
    pub reference: Option<String>,
    pub state: ProviderState,
    #[serde(default)]
    pub refunds: Vec<RefundEntry>,
    /// Kept only for POST redirects, which the router serves as a self-submitting page.
    pub post_redirect: Option<Redirect>,
    /// Set when the payment is an instalment of a subscription.
    pub subscription_token: Option<String>,
    /// Rebuilt from the provider while already in its refund phase: the ledger is unknown, so
    /// the router refuses further refunds rather than guess the remainder.
    #[serde(default)]
    pub refund_history_lost: bool,
    /// What the provider gave only at creation (`CreatedPayment::extras`), shown in the
    /// Payment Status `metadata`; absent in records written before it existed.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extras: Map<String, Value>,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// When the fetch whose answer was last applied started (ms since the epoch; 0: none yet).
    /// An answer from a fetch that started earlier is stale and is not applied.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub fetch_started_ms: i64,
}

impl Json for PaymentRecord {
    fn payment(&self) -> Option<PaymentRef<'_>> {
        Some(PaymentRef {
            provider: &self.provider,
            payment_id: &self.payment_id,
            created_ms: self.created_ms,
        })
    }
}

/// For `skip_serializing_if`: a field at its default is left out of the document.
pub(super) fn is_zero<N: Default + PartialEq>(n: &N) -> bool {
    *n == N::default()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubscriptionKind {
    /// Run by the provider (a Fena standing order).
    Automatic,
    /// Kept by the router: each instalment is a new payment.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub provider: String,
    /// The merchant account the provider was called with, and is called with again; absent
    /// (and left out when written) for `default`, as in documents written before accounts.
    #[serde(default, skip_serializing_if = "Merchant::is_default")]
    pub merchant: Merchant,
    pub token: String,
    pub kind: SubscriptionKind,
    pub shop_transaction_id: String,
    #[serde(flatten, with = "money_fields")]
    pub amount: Money,
    pub status: SubscriptionStatus,
    pub provider_status: String,
    pub reference: Option<String>,
    pub expires_after: Option<u32>,
    /// Manual: the instalments' payment ids, oldest first.
    #[serde(default)]
    pub payments: Vec<String>,
    /// Automatic: instalments already notified.
    #[serde(default)]
    pub notified: Vec<String>,
    /// Manual: ended by expire.
    #[serde(default)]
    pub ended: bool,
    pub updated_ms: i64,
    /// Manual: instalments being paid right now. A slot is taken before the provider is asked,
    /// so concurrent instalments cannot overrun `expires_after`; it lapses at `until_ms` if its
    /// holder died.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<InstalmentSlot>,
    /// Manual: how many instalments were ever started; the next one is number `started + 1`.
    /// Numbers are never reused, since a provider may hold an order for one whose answer was
    /// lost.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub started: u32,
}

impl Json for SubscriptionRecord {}

/// A manual subscription's instalment in progress, by its shopTransactionId.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstalmentSlot {
    pub shop_transaction_id: String,
    pub until_ms: i64,
    /// The instalment's number, kept so that a retry of it asks the provider for the same
    /// order id.
    #[serde(default)]
    pub number: u32,
}

/// An idempotency key's reservation: who holds it, and the answer once there is one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation<T> {
    pub fingerprint: String,
    #[serde(flatten)]
    pub phase: Phase<T>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
pub enum Phase<T> {
    InFlight {
        lease_until_ms: i64,
        /// The provider-side handle of the payment being created (a Fena draft id), kept so
        /// that whoever takes the reservation over resumes that payment instead of creating
        /// a second one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        handle: Option<String>,
    },
    Done {
        response: T,
    },
}

impl<T: Serialize + DeserializeOwned> Json for Reservation<T> {}

/// While this marker lives, a payment's provider poll window is shut. It carries nothing and
/// is never read: only its existence and expiry matter.
pub struct PollWindow {
    pub interval: Duration,
}

impl Document for PollWindow {
    fn encode(&self) -> String {
        String::new()
    }

    fn ttl(&self, _retention: Duration) -> Duration {
        self.interval
    }
}

/// `Money` as the two fields `"amount"` (minor units) and `"currency"` (ISO 4217 code) of the
/// document that holds it.
pub(crate) mod money_fields {
    use payrouter_provider::{Currency, Money};
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize)]
    struct Out<'a> {
        amount: i64,
        currency: &'a str,
    }

    #[derive(Deserialize)]
    struct In {
        amount: i64,
        currency: String,
    }

    pub fn serialize<S: Serializer>(money: &Money, s: S) -> Result<S::Ok, S::Error> {
        Out {
            amount: money.minor,
            currency: money.currency.code(),
        }
        .serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Money, D::Error> {
        let fields = In::deserialize(d)?;
        let currency = Currency::from_code(&fields.currency).ok_or_else(|| {
            D::Error::custom(format!("'{}' is not an ISO 4217 currency", fields.currency))
        })?;
        Ok(Money::new(fields.amount, currency))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::PayResponse;

    /// Documents as the router stored them before this layer existed.
    const PAYMENT: &str = r#"{"provider":"fena","paymentId":"64b48c5b6ba2cd6a040b20a8","shopTransactionId":"compat-1","amount":1299,"currency":"GBP","reference":"compat-1","state":{"providerStatus":"paid","status":"ACCEPTED","action":"PAYMENT","final":true},"refunds":[{"id":"3edafa6c1ebf4db7955e98fa68afa10e","amount":500,"state":"pending","atMs":1795976260500}],"postRedirect":null,"subscriptionToken":null,"refundHistoryLost":false,"createdMs":1795976260494,"updatedMs":1795976260500}"#;
    const SUBSCRIPTION: &str = r#"{"provider":"fena","token":"sub_80af88191c90e51c345fd75b","kind":"manual","shopTransactionId":"m-1","amount":500,"currency":"GBP","status":"PENDING","providerStatus":"","reference":null,"expiresAfter":2,"payments":["64b48c5b6ba2cd6a040b3101"],"notified":[],"ended":false,"updatedMs":1795976260504}"#;
    const RESERVATION: &str = r#"{"fingerprint":"de0b58a30256f144c821c96c6b2d5b805dda025f7de48ad2807eb1f13ffac022","phase":"done","response":{"result":"REDIRECT_TO_URL","resultDescription":"payment created: redirect the payer to complete it","paymentId":"64b48c5b6ba2cd6a040b20a8","redirectToUrl":"https://payment.fena.co/pay/?p=h64b48c5b6ba2cd6a040b20a8"}}"#;
    const IN_FLIGHT: &str =
        r#"{"fingerprint":"de0b","phase":"inFlight","lease_until_ms":1795976290494}"#;

    #[test]
    fn stored_documents_read_as_typed_values_and_write_back_byte_for_byte() {
        let payment = PaymentRecord::decode(PAYMENT).unwrap();
        assert_eq!(payment.amount.minor, 1299);
        assert_eq!(payment.amount.currency.code(), "GBP");
        assert_eq!(payment.encode(), PAYMENT);
        let subscription = SubscriptionRecord::decode(SUBSCRIPTION).unwrap();
        assert_eq!(subscription.kind, SubscriptionKind::Manual);
        assert_eq!(subscription.encode(), SUBSCRIPTION);
        let done = Reservation::<PayResponse>::decode(RESERVATION).unwrap();
        assert!(matches!(done.phase, Phase::Done { .. }));
        assert_eq!(done.encode(), RESERVATION);
        let in_flight = Reservation::<PayResponse>::decode(IN_FLIGHT).unwrap();
        assert_eq!(in_flight.encode(), IN_FLIGHT);
    }

    #[test]
    fn an_amount_in_an_unknown_currency_does_not_read() {
        let bad = PAYMENT.replace(r#""currency":"GBP""#, r#""currency":"XYZ""#);
        let err = PaymentRecord::decode(&bad).unwrap_err();
        assert!(
            err.to_string()
                .contains("'XYZ' is not an ISO 4217 currency"),
            "{err}"
        );
    }

    #[test]
    fn documents_written_before_their_optional_fields_read_with_none() {
        let payment = r#"{"provider":"fena","paymentId":"64b48c5b6ba2cd6a040b20a9","shopTransactionId":"old-1","amount":1299,"currency":"GBP","state":{"providerStatus":"paid","status":"ACCEPTED","action":"PAYMENT","final":true},"createdMs":1,"updatedMs":2}"#;
        let payment = PaymentRecord::decode(payment).unwrap();
        assert_eq!(
            (
                payment.reference,
                payment.post_redirect,
                payment.subscription_token
            ),
            (None, None, None)
        );
        let subscription = r#"{"provider":"fena","token":"sub_1","kind":"manual","shopTransactionId":"m-2","amount":500,"currency":"GBP","status":"PENDING","providerStatus":"","updatedMs":3}"#;
        let subscription = SubscriptionRecord::decode(subscription).unwrap();
        assert_eq!(
            (subscription.reference, subscription.expires_after),
            (None, None)
        );
    }
}
