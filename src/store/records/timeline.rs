//! A payment's timeline: what happened to it, oldest first, for an operator. Each event is
//! appended in the same atomic store step as the change it records (so the history never
//! disagrees with the state), to a list kept beside the payment's document in its partition,
//! bounded to the newest [`KEEP`] events and kept as long as the payment.
//!
//! Events carry only what an operator needs: never a secret, a signature or a raw body.

use payrouter_provider::{Action, PayResult, PaymentStatusKind, ProviderState};
use serde::{Deserialize, Serialize};
use std::time::Duration;

use super::Keys;
use crate::store::{Append, Partition};

/// How many events a payment's timeline keeps (the oldest go first).
pub const KEEP: usize = 200;

/// What made the router look at a provider's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Pay,
    Callback,
    Status,
    Check,
    Recheck,
    Admin,
    /// Rebuilt from the provider after the store lost the payment.
    Rebuild,
    Refund,
}

/// One event of a payment's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEvent {
    /// When it happened, in ms since the epoch.
    pub at_ms: i64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Event {
    /// The provider created the payment; its first state.
    Created {
        provider_status: String,
        status: PaymentStatusKind,
        /// The answer given to the PGM (`REDIRECT_TO_URL`, `PENDING`).
        result: PayResult,
    },
    /// A provider state was seen and applied (`source`: what made the router look).
    StateSeen {
        provider_status: String,
        status: PaymentStatusKind,
        action: Action,
        source: Source,
    },
    /// A provider callback about the payment that changed nothing, or was refused.
    CallbackReceived {
        accepted: bool,
        reason: String,
    },
    RefundRequested {
        refund_id: String,
        amount: i64,
    },
    /// The provider answered a refund request (`state`: pending, completed, rejected) or
    /// refused it before anything happened (`state`: withdrawn).
    RefundSettled {
        refund_id: String,
        amount: i64,
        state: String,
    },
    /// A notification of the payment's state was queued for PAYMENT_CALLBACK_URL.
    NotificationEnqueued {
        notification_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<PaymentStatusKind>,
    },
    /// One delivery attempt that failed.
    DeliveryFailed {
        notification_id: String,
        attempt: u32,
        /// The receiver's HTTP status, when it answered.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
        error: String,
        latency_ms: u64,
    },
    Delivered {
        notification_id: String,
        attempt: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        http_status: Option<u16>,
        latency_ms: u64,
    },
    /// The notification's last attempt failed: it is a dead letter now.
    Dead {
        notification_id: String,
        attempts: u32,
        reason: String,
    },
    /// An operator acted through the admin API.
    Admin {
        /// Who: the name of the admin token used.
        actor: String,
        /// What: `redeliver`, `recheck`.
        action: String,
        detail: String,
    },
}

impl TimelineEvent {
    pub fn new(at_ms: i64, event: Event) -> Self {
        TimelineEvent { at_ms, event }
    }

    /// The event of a provider state applied to the payment.
    pub fn state_seen(at_ms: i64, state: &ProviderState, source: Source) -> Self {
        TimelineEvent::new(
            at_ms,
            Event::StateSeen {
                provider_status: state.provider_status.clone(),
                status: state.status,
                action: state.action,
                source,
            },
        )
    }

    /// The stored form: one JSON object.
    pub(crate) fn encode(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Where timelines go and how long they are kept: what a writer of events needs.
#[derive(Debug, Clone)]
pub struct Timelines {
    keys: Keys,
    retention: Duration,
}

impl Timelines {
    /// Timelines laid out by `keys`, kept `retention` after their last event (as payments).
    pub fn new(keys: Keys, retention: Duration) -> Self {
        Timelines { keys, retention }
    }

    /// The key of a payment's timeline.
    pub(crate) fn key(&self, provider: &str, payment_id: &str) -> String {
        self.keys.timeline(provider, payment_id)
    }

    /// The partition of a payment's timeline.
    pub(crate) fn partition_of(&self, provider: &str, payment_id: &str) -> Partition {
        self.keys.partition_of(provider, payment_id)
    }

    /// The events in their stored form.
    pub(crate) fn encode(events: &[TimelineEvent]) -> Vec<String> {
        events.iter().map(TimelineEvent::encode).collect()
    }

    /// The append of `events` (stored form) to the timeline `key`.
    pub(crate) fn append<'a>(&self, key: &'a str, events: &'a [String]) -> Append<'a> {
        Append {
            key,
            events,
            keep: KEEP,
            ttl: self.retention,
        }
    }
}
