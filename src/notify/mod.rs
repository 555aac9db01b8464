//! Notifications to PAYMENT_CALLBACK_URL: the outbox document, and the worker that delivers
//! it at least once, with exponential backoff and jitter, until it succeeds or goes dead.

mod sign;
mod worker;

pub use sign::signature;
pub use worker::{Notifier, NotifierSettings};

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Notify;

use crate::contract::PaymentStatus;
use crate::store::{OutboxItem, Queue};

/// One notification as kept in the outbox. Its `id` (the `webhook-id` header) is fixed when it
/// is enqueued, so every retry of the same state change carries the same id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    pub provider: String,
    pub payment_id: String,
    pub body: PaymentStatus,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub created_ms: i64,
}

impl Notification {
    pub fn new(provider: &str, payment_id: &str, body: &PaymentStatus) -> Self {
        Notification {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            provider: provider.to_string(),
            payment_id: payment_id.to_string(),
            body: body.clone(),
            attempts: 0,
            created_ms: 0,
        }
    }

    /// The outbox entry, due at once.
    pub fn into_item(mut self, now_ms: i64) -> OutboxItem {
        self.created_ms = now_ms;
        OutboxItem {
            queue: Queue::Notifications,
            id: self.id.clone(),
            doc: serde_json::to_string(&self).unwrap_or_default(),
            due_ms: now_ms,
        }
    }
}

/// Wakes the delivery worker when something was enqueued, so delivery does not wait for the
/// next poll of the outbox.
#[derive(Clone, Default)]
pub struct NotifyHandle(Arc<Notify>);

impl NotifyHandle {
    pub fn wake(&self) {
        self.0.notify_one();
    }

    async fn woken(&self) {
        self.0.notified().await
    }
}
