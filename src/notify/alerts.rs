//! Operational alerts for the operator, sent to `OPS_ALERT_URL`: `notification.dead` when a
//! notification exhausted its attempts, `payment.stuck` when a payment stays PENDING longer than
//! `STUCK_PAYMENT_AFTER_MS`. Each alert is a Standard-Webhooks-signed POST
//! (`OPS_ALERT_SIGNING_SECRET`) of `{"type", "timestamp", "data"}`.
//!
//! Alerts are queued work in the store's outbox (their own queue, in the partition of the
//! payment they are about), so they survive a restart and any replica delivers them, retried
//! with the notifications' backoff. A `payment.stuck` alert is queued in the same atomic step
//! as a put-if-absent marker next to the payment: however many rechecks or replicas see the
//! payment stuck, one of them writes the marker and its alert, the others find it there.

use payrouter_provider::{PaymentStatusKind, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::send::{client, send_signed, Delivery};
use super::worker::backoff;
use crate::engine::{now_ms, pause};
use crate::store::records::{
    impl_queued, Json, Notification, Outbox, PaymentRecord, Records, Rotation, Work,
};
use crate::store::{Partition, Queue, Store, StoreError};

/// Where and how alerts are sent; the retry schedule is the notifications'.
#[derive(Clone)]
pub struct AlertSettings {
    pub url: String,
    pub signing_secret: Option<SecretString>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
    pub timeout: Duration,
}

/// One alert waiting for delivery. Its `id` (the `webhook-id`) is fixed when it is queued.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub provider: String,
    pub payment_id: String,
    /// The event JSON as built when it was queued; these exact bytes are signed and sent.
    body: Box<RawValue>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub created_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it is due (kept by the queue, not in the document).
    #[serde(skip)]
    pub due_ms: i64,
    /// The partition whose queue holds it (kept by the queue, not in the document).
    #[serde(skip)]
    pub partition: Partition,
}

/// The event sent: Standard Webhooks' recommended shape.
#[derive(Serialize)]
struct Event<D> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: D,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeadData<'a> {
    /// The dead notification's `webhook-id`: what `POST /admin/api/notifications/{id}/redeliver`
    /// takes.
    webhook_id: &'a str,
    provider: &'a str,
    payment_id: &'a str,
    /// The status and action the notification carried.
    status: Option<String>,
    action: Option<String>,
    attempts: u32,
    last_error: Option<&'a str>,
    created_at: String,
    dead_at: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StuckData<'a> {
    provider: &'a str,
    payment_id: &'a str,
    shop_transaction_id: &'a str,
    /// In minor units of `currency`.
    amount: i64,
    currency: &'static str,
    provider_status: &'a str,
    created_at: String,
    pending_for_ms: i64,
}

/// RFC 3339 in UTC with millisecond precision.
fn rfc3339(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Alert {
    fn new<D: Serialize>(
        id: String,
        kind: &'static str,
        provider: &str,
        payment_id: &str,
        data: D,
        now_ms: i64,
    ) -> Alert {
        let event = Event {
            kind,
            timestamp: rfc3339(now_ms),
            data,
        };
        Alert {
            id,
            provider: provider.to_string(),
            payment_id: payment_id.to_string(),
            // Plain data with string keys: serializing cannot fail.
            body: serde_json::value::to_raw_value(&event).unwrap_or_default(),
            attempts: 0,
            created_ms: now_ms,
            last_error: None,
            due_ms: now_ms,
            partition: Partition::default(),
        }
    }

    /// `notification.dead` for `n`, which died at `now_ms`. Its id follows from the
    /// notification and the time of its death, so a death after a redelivery (which resets
    /// the attempts) is a new alert, not a repeat a receiver would drop as a duplicate.
    pub fn notification_dead(n: &Notification, now_ms: i64) -> Alert {
        let carried: Option<serde_json::Value> = serde_json::from_str(n.body()).ok();
        let field = |k: &str| {
            carried
                .as_ref()
                .and_then(|b| b.get(k))
                .and_then(|v| v.as_str())
                .map(str::to_string)
        };
        let data = DeadData {
            webhook_id: &n.id,
            provider: &n.provider,
            payment_id: &n.payment_id,
            status: field("status"),
            action: field("action"),
            attempts: n.attempts,
            last_error: n.last_error.as_deref(),
            created_at: rfc3339(n.created_ms),
            dead_at: rfc3339(now_ms),
        };
        Alert::new(
            format!("alert_dead_{}_{}", n.id, now_ms),
            "notification.dead",
            &n.provider,
            &n.payment_id,
            data,
            now_ms,
        )
    }

    /// `payment.stuck` for `rec`, pending since its creation.
    pub fn payment_stuck(rec: &PaymentRecord, now_ms: i64) -> Alert {
        let data = StuckData {
            provider: &rec.provider,
            payment_id: &rec.payment_id,
            shop_transaction_id: &rec.shop_transaction_id,
            amount: rec.amount.minor,
            currency: rec.amount.currency.code(),
            provider_status: &rec.state.provider_status,
            created_at: rfc3339(rec.created_ms),
            pending_for_ms: now_ms - rec.created_ms,
        };
        Alert::new(
            format!("alert_stuck_{}", uuid::Uuid::new_v4().simple()),
            "payment.stuck",
            &rec.provider,
            &rec.payment_id,
            data,
            now_ms,
        )
    }

    /// The event JSON to send.
    pub fn body(&self) -> &str {
        self.body.get()
    }
}

impl_queued!(Alert, Queue::Alerts, |self| self.id.clone());

/// The marker that a payment's `payment.stuck` alert was queued: when.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StuckMarker {
    pub at_ms: i64,
}

impl Json for StuckMarker {}

/// Finds stuck payments for the engine: a payment is stuck once it is PENDING `after` its
/// creation.
#[derive(Debug, Clone, Copy)]
pub struct StuckAlerts {
    pub after: Duration,
}

impl StuckAlerts {
    /// When `rec` becomes stuck (ms since the epoch).
    pub fn stuck_at_ms(&self, rec: &PaymentRecord) -> i64 {
        rec.created_ms + self.after.as_millis() as i64
    }

    /// Whether `rec` is stuck at `now_ms`.
    pub fn is_stuck(&self, rec: &PaymentRecord, now_ms: i64) -> bool {
        rec.state.status == PaymentStatusKind::Pending
            && !rec.state.is_final
            && now_ms >= self.stuck_at_ms(rec)
    }

    /// Queues `payment.stuck` for `rec` unless it was queued before (by any replica); true
    /// when this call queued it.
    pub async fn raise(&self, records: &Records, rec: &PaymentRecord) -> Result<bool, StoreError> {
        let now = now_ms();
        let marker = records.keys().stuck_alert(&rec.provider, &rec.payment_id);
        let alert = Work::Alert(Alert::payment_stuck(rec, now));
        records
            .write_at(&marker, 0, &StuckMarker { at_ms: now }, Some(&alert))
            .await
    }
}

/// How many alerts one claim takes; they are rare, so few at once is plenty.
const BATCH: usize = 16;
const CONCURRENCY: usize = 4;
/// How often the alert queue is looked at: first after IDLE_POLL, backing off to IDLE_MAX.
const IDLE_POLL: Duration = Duration::from_millis(200);
const IDLE_MAX: Duration = Duration::from_secs(2);
/// How long a claimed alert stays hidden from other replicas unless extended.
const LEASE: Duration = Duration::from_secs(10);

/// Delivers the queued alerts of every partition, on any replica.
pub struct AlertSender {
    outbox: Outbox,
    http: reqwest::Client,
    settings: AlertSettings,
}

impl AlertSender {
    pub fn new(store: Arc<dyn Store>, settings: AlertSettings) -> Self {
        AlertSender {
            outbox: Outbox::new(store),
            http: client(settings.timeout, CONCURRENCY),
            settings,
        }
    }

    /// Delivers until cancelled; what is left stays queued for the next start or replica.
    pub async fn run(self, cancel: CancellationToken) {
        let mut rotation = Rotation::new(IDLE_POLL, IDLE_MAX);
        while !cancel.is_cancelled() {
            let leased_until = now_ms() + LEASE.as_millis() as i64;
            let round = self
                .outbox
                .claim_round::<Alert>(&mut rotation, leased_until, BATCH)
                .await;
            let idle = rotation.idle_after(&round);
            self.outbox
                .run_leased(round.items, LEASE, leased_until, CONCURRENCY, |a| {
                    self.handle(a)
                })
                .await;
            pause(idle, &cancel).await;
        }
    }

    async fn handle(&self, mut a: Alert) {
        a.attempts += 1;
        let result = match self.deliver(&a).await {
            Ok(()) => {
                metrics::counter!("payrouter_ops_alerts_total", "outcome" => "delivered")
                    .increment(1);
                self.outbox.done(&a, &[]).await
            }
            // An alert about trouble must not become trouble itself: past its last attempt it
            // is logged (the same facts) and dropped, not kept as a dead letter of its own.
            Err(reason) if a.attempts >= self.settings.max_attempts => {
                metrics::counter!("payrouter_ops_alerts_total", "outcome" => "dropped")
                    .increment(1);
                tracing::error!(id = %a.id, attempts = a.attempts, reason, body = a.body(), "ops alert dropped after its last attempt");
                self.outbox.done(&a, &[]).await
            }
            Err(reason) => {
                metrics::counter!("payrouter_ops_alerts_total", "outcome" => "retry").increment(1);
                let delay = backoff(
                    self.settings.retry_initial,
                    self.settings.retry_max,
                    a.attempts,
                );
                tracing::warn!(id = %a.id, attempts = a.attempts, retry_in_ms = delay.as_millis() as u64, reason, "ops alert failed; will retry");
                a.due_ms = now_ms() + delay.as_millis() as i64;
                a.last_error = Some(reason);
                self.outbox.retry(&a, &[]).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(id = %a.id, error = %e, "cannot record an ops alert outcome; it will be retried");
        }
    }

    async fn deliver(&self, a: &Alert) -> Result<(), String> {
        let req = self
            .http
            .post(&self.settings.url)
            .header("content-type", "application/json")
            .body(a.body().to_string());
        let signed = send_signed(req, &a.id, a.body(), self.settings.signing_secret.as_ref());
        match signed.await.outcome {
            Delivery::Delivered => Ok(()),
            Delivery::Failed(reason) => Err(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::Queued;

    const STORED: &str = r#"{"id":"msg_1","provider":"fena","paymentId":"p1","body":{"status":"PENDING","action":"PAYMENT","paymentId":"p1"},"attempts":3,"createdMs":1000,"lastError":"receiver answered HTTP 500"}"#;

    #[test]
    fn a_dead_notification_alert_names_it_and_why_it_died() {
        let n: Notification = serde_json::from_str(STORED).unwrap();
        let a = Alert::notification_dead(&n, 5000);
        assert_eq!(a.id, "alert_dead_msg_1_5000");
        let body: serde_json::Value = serde_json::from_str(a.body()).unwrap();
        assert_eq!(body["type"], "notification.dead");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:05.000Z");
        assert_eq!(
            body["data"],
            serde_json::json!({"webhookId": "msg_1", "provider": "fena", "paymentId": "p1",
                "status": "PENDING", "action": "PAYMENT", "attempts": 3,
                "lastError": "receiver answered HTTP 500",
                "createdAt": "1970-01-01T00:00:01.000Z", "deadAt": "1970-01-01T00:00:05.000Z"})
        );
    }

    #[test]
    fn a_queued_alert_round_trips_in_its_own_queue() {
        let n: Notification = serde_json::from_str(STORED).unwrap();
        let a = Alert::notification_dead(&n, 5000).with_due(7);
        let item = a.item();
        assert_eq!((item.queue, item.due_ms), (Queue::Alerts, 7));
        let back: Alert = serde_json::from_str(&item.doc).unwrap();
        assert_eq!((back.id, back.body.get()), (a.id.clone(), a.body()));
    }
}
