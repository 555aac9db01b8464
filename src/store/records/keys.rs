//! Every store key payrouter writes, built in this one place.
//!
//! Keys are typed: a [`DocKey<D>`] can only be read as, and written with, the document `D` it
//! names, so a payment key cannot be read as a subscription. All keys start with the prefix
//! given at construction (`payrouter` by default), so a configurable prefix, or a partitioned
//! layout with hash tags for Redis Cluster, is a change in this module only.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::documents::{PaymentRecord, PollWindow, Reservation, SubscriptionRecord};
use crate::contract::{PayResponse, SubscriptionResponse};
use crate::store::Queue;

/// The prefix of every key unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "payrouter";

/// The key of one document of type `D`.
pub struct DocKey<D> {
    key: String,
    doc: PhantomData<fn() -> D>,
}

impl<D> DocKey<D> {
    fn new(key: String) -> Self {
        DocKey {
            key,
            doc: PhantomData,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.key
    }
}

impl<D> fmt::Display for DocKey<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// The three keys of a durable queue.
pub(crate) struct QueueKeys {
    pub items: String,
    pub due: String,
    pub dead: String,
}

/// Builds keys under one prefix.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Arc<str>,
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new(DEFAULT_PREFIX)
    }
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    fn doc<D>(&self, kind: &str, parts: &[&str]) -> DocKey<D> {
        let mut key = format!("{}:{kind}", self.prefix);
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        DocKey::new(key)
    }

    pub fn payment(&self, provider: &str, payment_id: &str) -> DocKey<PaymentRecord> {
        self.doc("payment", &[provider, payment_id])
    }

    pub fn subscription(&self, provider: &str, token: &str) -> DocKey<SubscriptionRecord> {
        self.doc("subscription", &[provider, token])
    }

    /// The idempotency reservation of a pay (and of a manual subscription's instalment).
    pub fn pay_reservation(
        &self,
        provider: &str,
        shop_transaction_id: &str,
    ) -> DocKey<Reservation<PayResponse>> {
        self.doc("idem", &[provider, shop_transaction_id])
    }

    /// The idempotency reservation of a provider-run subscription's creation.
    pub fn schedule_reservation(
        &self,
        provider: &str,
        shop_transaction_id: &str,
    ) -> DocKey<Reservation<SubscriptionResponse>> {
        self.doc("idem", &[provider, "schedule", shop_transaction_id])
    }

    /// The marker that holds a payment's provider poll window shut while it lives.
    pub fn poll_window(&self, provider: &str, payment_id: &str) -> DocKey<PollWindow> {
        self.doc("poll", &[provider, payment_id])
    }

    pub(crate) fn queue(&self, queue: Queue) -> QueueKeys {
        let key = |part: &str| format!("{}:{}:{part}", self.prefix, queue.name());
        QueueKeys {
            items: key("items"),
            due: key("due"),
            dead: key("dead"),
        }
    }
}

/// The id of a payment's recheck in the refresh queue. A callback's look is kept apart from
/// the payment's schedule, so neither replaces (and postpones) the other.
pub(crate) fn recheck_id(provider: &str, payment_id: &str, after_callback: bool) -> String {
    if after_callback {
        format!("{provider}:{payment_id}:callback")
    } else {
        format!("{provider}:{payment_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_ones_stored_today() {
        let k = Keys::default();
        let q = k.queue(Queue::Notifications);
        let built = [
            k.payment("fena", "p1").to_string(),
            k.subscription("fena", "sub_1").to_string(),
            k.pay_reservation("fena", "tx").to_string(),
            k.schedule_reservation("fena", "tx").to_string(),
            k.poll_window("fena", "p1").to_string(),
            q.items,
            q.due,
            q.dead,
            recheck_id("fena", "p1", false),
            recheck_id("fena", "p1", true),
        ];
        let stored = [
            "payrouter:payment:fena:p1",
            "payrouter:subscription:fena:sub_1",
            "payrouter:idem:fena:tx",
            "payrouter:idem:fena:schedule:tx",
            "payrouter:poll:fena:p1",
            "payrouter:notify:items",
            "payrouter:notify:due",
            "payrouter:notify:dead",
            "fena:p1",
            "fena:p1:callback",
        ];
        assert_eq!(built, stored);
    }

    #[test]
    fn the_prefix_is_given_at_construction() {
        let k = Keys::new("blue");
        assert_eq!(k.payment("fena", "p1").to_string(), "blue:payment:fena:p1");
        assert_eq!(k.queue(Queue::Refreshes).due, "blue:refresh:due");
    }
}
