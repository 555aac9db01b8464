//! The delivery worker. Any replica's worker may deliver any notification: items are claimed
//! from every partition's queue in turn with a short lease, extended while the delivery runs,
//! so a worker that dies mid-delivery leaves them to another within one lease.

use payrouter_provider::SecretString;
use rand::Rng;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use super::send::{client, send_signed, Attempt, Delivery};
use super::{Alert, NotifyHandle};
use crate::config::CallbackMethod;
use crate::engine::now_ms;
use crate::store::records::{
    Event, Notification, Outbox, Rotation, TimelineEvent, Timelines, Work,
};
use crate::store::Store;

#[derive(Clone)]
pub struct NotifierSettings {
    /// None: notifications are written to the log instead (local runs without a receiver).
    pub url: Option<String>,
    pub method: CallbackMethod,
    pub signing_secret: Option<SecretString>,
    pub retry_initial: Duration,
    pub retry_max: Duration,
    pub max_attempts: u32,
    pub timeout: Duration,
}

pub struct Notifier {
    outbox: Outbox,
    http: reqwest::Client,
    settings: NotifierSettings,
    wake: NotifyHandle,
    lease: Duration,
    /// How long a dead letter is kept (DEAD_LETTER_RETENTION_DAYS).
    dead_letter_retention: Duration,
    /// Queue a `notification.dead` ops alert for each death (OPS_ALERT_URL is set).
    alert_on_death: bool,
}

/// How many notifications one claim takes, and how many are in flight at once.
const BATCH: usize = 128;
const CONCURRENCY: usize = 64;
/// How often the outbox is looked at when nothing woke the worker (retries, other replicas):
/// first after IDLE_POLL, backing off to IDLE_MAX while nothing comes.
const IDLE_POLL: Duration = Duration::from_millis(200);
const IDLE_MAX: Duration = Duration::from_secs(2);
/// How long a claimed notification stays hidden from other workers unless extended: what a
/// killed replica's claims wait before another replica takes them.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often old dead letters are looked for (more often when they are kept less than twice
/// as long, as in tests).
const DEAD_LETTER_SWEEP: Duration = Duration::from_secs(3600);

/// initial × 2^(attempt-1), capped at `max`, times a random factor in [0.8, 1.2) so that many
/// deliveries failing together do not retry together.
pub(super) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let initial = initial.as_millis() as u64;
    let max = max.as_millis() as u64;
    let base = initial
        .saturating_mul(1u64 << attempt.saturating_sub(1).min(40))
        .min(max);
    let factor = rand::thread_rng().gen_range(0.8..1.2);
    Duration::from_millis((base as f64 * factor) as u64)
}

impl Notifier {
    pub fn new(store: Arc<dyn Store>, settings: NotifierSettings, wake: NotifyHandle) -> Self {
        Notifier {
            outbox: Outbox::new(store),
            http: client(settings.timeout, CONCURRENCY),
            settings,
            wake,
            lease: LEASE,
            dead_letter_retention: Duration::from_secs(30 * 86_400),
            alert_on_death: false,
        }
    }

    /// Queues a `notification.dead` ops alert whenever a notification dies.
    pub fn with_dead_alerts(self) -> Self {
        Notifier {
            alert_on_death: true,
            ..self
        }
    }

    /// Keeps dead letters for `retention` instead of the default 30 days.
    pub fn with_dead_letter_retention(self, retention: Duration) -> Self {
        Notifier {
            dead_letter_retention: retention,
            ..self
        }
    }

    /// The same worker, recording every attempt on the timeline of the notification's payment
    /// (in the same store step as the attempt's outcome).
    pub fn with_timelines(self, timelines: Timelines) -> Self {
        Notifier {
            outbox: self.outbox.clone().with_timelines(timelines),
            ..self
        }
    }

    /// The same worker with another lease length (tests of what a dead worker leaves).
    pub fn with_lease(self, lease: Duration) -> Self {
        Notifier { lease, ..self }
    }

    /// Delivers until cancelled, then finishes what is in flight and what is already due.
    pub async fn run(self, cancel: CancellationToken) {
        let mut rotation = Rotation::new(IDLE_POLL, IDLE_MAX);
        let sweep_every = DEAD_LETTER_SWEEP.min(self.dead_letter_retention / 2);
        let mut next_sweep = tokio::time::Instant::now();
        loop {
            if tokio::time::Instant::now() >= next_sweep {
                self.forget_old_dead_letters().await;
                next_sweep = tokio::time::Instant::now() + sweep_every;
            }
            let idle = self.pass(&mut rotation).await;
            if cancel.is_cancelled() {
                break;
            }
            if let Some(wait) = idle {
                tokio::select! {
                    _ = self.wake.woken() => rotation.woken(),
                    _ = tokio::time::sleep(wait) => {}
                    _ = cancel.cancelled() => {}
                }
            }
        }
        // What is already due, once around every partition.
        for _ in 0..self.outbox.partitions() {
            self.pass(&mut rotation).await;
        }
    }

    /// Forgets dead letters older than their retention (every replica may; it is idempotent).
    async fn forget_old_dead_letters(&self) {
        let cutoff = now_ms() - self.dead_letter_retention.as_millis() as i64;
        match self.outbox.forget_dead_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                forgotten = n,
                "dead letters past DEAD_LETTER_RETENTION_DAYS forgotten"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for old dead letters; will try again")
            }
        }
    }

    /// One claim-and-deliver round; answers how long to wait when it found nothing.
    async fn pass(&self, rotation: &mut Rotation) -> Option<Duration> {
        let leased_until = now_ms() + self.lease.as_millis() as i64;
        let round = self
            .outbox
            .claim_round::<Notification>(rotation, leased_until, BATCH)
            .await;
        let idle = rotation.idle_after(&round);
        self.outbox
            .run_leased(round.items, self.lease, leased_until, CONCURRENCY, |n| {
                self.handle(n)
            })
            .await;
        idle
    }

    async fn handle(&self, mut n: Notification) {
        let lag = (now_ms() - n.due_ms).max(0) as f64 / 1000.0;
        metrics::histogram!("payrouter_notification_lag_seconds").record(lag);
        n.attempts += 1;
        let attempt = self.deliver(&n).await;
        let at_ms = now_ms();
        let result = match attempt.outcome {
            Delivery::Delivered => {
                metrics::counter!("payrouter_notifications_total", "outcome" => "delivered")
                    .increment(1);
                let delivered = Event::Delivered {
                    notification_id: n.id.clone(),
                    attempt: n.attempts,
                    http_status: attempt.http_status,
                    latency_ms: attempt.latency_ms,
                };
                self.outbox
                    .done(&n, &[TimelineEvent::new(at_ms, delivered)])
                    .await
            }
            Delivery::Failed(reason) => {
                let failed = TimelineEvent::new(
                    at_ms,
                    Event::DeliveryFailed {
                        notification_id: n.id.clone(),
                        attempt: n.attempts,
                        http_status: attempt.http_status,
                        error: reason.clone(),
                        latency_ms: attempt.latency_ms,
                    },
                );
                if n.attempts >= self.settings.max_attempts {
                    metrics::counter!("payrouter_notifications_total", "outcome" => "dead")
                        .increment(1);
                    tracing::error!(id = %n.id, payment_id = %n.payment_id, attempts = n.attempts, reason, "notification is dead after its last attempt");
                    let dead = Event::Dead {
                        notification_id: n.id.clone(),
                        attempts: n.attempts,
                        reason: reason.clone(),
                    };
                    n.dead_ms = at_ms;
                    n.last_error = Some(reason);
                    self.alert_death(&n).await;
                    self.outbox
                        .dead(&n, &[failed, TimelineEvent::new(at_ms, dead)])
                        .await
                } else {
                    metrics::counter!("payrouter_notifications_total", "outcome" => "retry")
                        .increment(1);
                    let delay = self.backoff(n.attempts);
                    tracing::warn!(id = %n.id, payment_id = %n.payment_id, attempts = n.attempts, retry_in_ms = delay.as_millis() as u64, reason, "notification failed; will retry");
                    n.due_ms = at_ms + delay.as_millis() as i64;
                    n.last_error = Some(reason);
                    self.outbox.retry(&n, &[failed]).await
                }
            }
        };
        if let Err(e) = result {
            tracing::warn!(id = %n.id, error = %e, "cannot record a notification outcome; it will be retried");
        }
    }

    /// Queues the ops alert of `n`'s death before the death is recorded: should recording it
    /// fail, the notification is taken again and dies again under the same alert id.
    async fn alert_death(&self, n: &Notification) {
        if !self.alert_on_death {
            return;
        }
        let alert = Work::Alert(Alert::notification_dead(n, n.dead_ms));
        if let Err(e) = self.outbox.push(&alert, n.partition, &[]).await {
            tracing::error!(id = %n.id, error = %e, "cannot queue the notification.dead ops alert");
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        backoff(
            self.settings.retry_initial,
            self.settings.retry_max,
            attempt,
        )
    }

    async fn deliver(&self, n: &Notification) -> Attempt {
        let body = n.body();
        let Some(template) = &self.settings.url else {
            tracing::info!(target: "payrouter::notification", id = %n.id, body = %body, "PAYMENT_CALLBACK_URL is not set; notification logged");
            return Attempt {
                outcome: Delivery::Delivered,
                http_status: None,
                latency_ms: 0,
            };
        };
        let url = template.replace("{provider}", &n.provider).replace(
            "{paymentId}",
            &form_urlencoded::byte_serialize(n.payment_id.as_bytes()).collect::<String>(),
        );
        // A GET carries no body, so its signature is over the empty one.
        let (req, signed_body) = match self.settings.method {
            CallbackMethod::Post => (
                self.http
                    .post(&url)
                    .header("content-type", "application/json")
                    .body(body.to_string()),
                body,
            ),
            CallbackMethod::Get => (self.http.get(&url), ""),
        };
        send_signed(
            req,
            &n.id,
            signed_body,
            self.settings.signing_secret.as_ref(),
        )
        .await
    }
}
