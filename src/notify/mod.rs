//! Notifications to PAYMENT_CALLBACK_URL: the worker that delivers each one (a typed item of
//! the store's outbox, `store::records::Notification`) at least once, with exponential
//! backoff and jitter, until it succeeds or goes dead; and the operator's alerts
//! (`OPS_ALERT_URL`) about dead notifications and stuck payments.

mod alerts;
mod send;
mod sign;
mod worker;

pub use alerts::{Alert, AlertSender, AlertSettings, StuckAlerts, StuckMarker};
pub use sign::signature;
pub use worker::{Notifier, NotifierSettings};

use std::sync::Arc;
use tokio::sync::Notify;

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
