//! Looking at pending payments again. A provider's callback can be lost, and a callback that
//! arrives inside a poll window has to wait for it; both would leave a payment pending in the
//! router while the provider has moved on. Every payment created gets a recheck in the store's
//! refresh queue (durable, taken by any replica), repeated with backoff until the payment is
//! settled or the schedule runs out.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use payrouter_provider::PaymentStatusKind;

use super::{now_ms, pause, Engine, Error, Result};
use crate::store::records::{Recheck, Rotation, Source, Work};

/// A payment still pending this long after its creation is worth a person's look.
const STALE_PENDING_MS: i64 = 24 * 3600 * 1000;

/// After this many looks (about eight days with the default schedule) a payment that is still
/// pending is left to the PGM's own status polling.
const MAX_RECHECKS: u32 = 40;
const BATCH: usize = 32;
/// Looks at once: each look may wait for a provider.
const CONCURRENCY: usize = 8;
/// When the queues are looked at while idle: after IDLE_POLL, backing off to IDLE_MAX.
const IDLE_POLL: Duration = Duration::from_millis(500);
const IDLE_MAX: Duration = Duration::from_secs(5);
/// How long a claimed recheck stays hidden from other replicas unless extended while it runs.
const LEASE: Duration = Duration::from_secs(10);

/// When to look again: `initial` × 2^attempt, at most `max`.
#[derive(Debug, Clone, Copy)]
pub struct RecheckSchedule {
    pub initial: Duration,
    pub max: Duration,
}

impl RecheckSchedule {
    fn delay_ms(&self, attempt: u32) -> i64 {
        let initial = self.initial.as_millis() as i64;
        let max = self.max.as_millis() as i64;
        initial.saturating_mul(1i64 << attempt.min(40)).min(max)
    }
}

impl Engine {
    /// The queue item that makes the router look at a payment again at `due_ms`: one scheduled
    /// look per payment (a newer one replaces it) and one on behalf of callbacks.
    pub(super) fn recheck(
        &self,
        provider: &str,
        payment_id: &str,
        attempt: u32,
        due_ms: i64,
        after_callback: bool,
    ) -> Work {
        Work::Recheck(Recheck {
            provider: provider.to_string(),
            payment_id: payment_id.to_string(),
            attempt,
            after_callback,
            due_ms,
            partition: Default::default(),
        })
    }

    /// The first look, `initial` after a payment was created.
    pub(super) fn first_recheck(&self, provider: &str, payment_id: &str) -> Work {
        self.recheck(
            provider,
            payment_id,
            0,
            now_ms() + self.rechecks.delay_ms(0),
            false,
        )
    }

    /// Takes due rechecks, in turn from every partition, until cancelled.
    pub async fn run_rechecks(self: Arc<Self>, cancel: CancellationToken) {
        let outbox = self.records.outbox();
        let mut rotation = Rotation::new(IDLE_POLL, IDLE_MAX);
        while !cancel.is_cancelled() {
            let leased_until = now_ms() + LEASE.as_millis() as i64;
            let round = outbox
                .claim_round::<Recheck>(&mut rotation, leased_until, BATCH)
                .await;
            let idle = rotation.idle_after(&round);
            outbox
                .run_leased(round.items, LEASE, leased_until, CONCURRENCY, |r| {
                    self.handle_recheck(r)
                })
                .await;
            pause(idle, &cancel).await;
        }
    }

    async fn handle_recheck(&self, r: Recheck) {
        let outbox = self.records.outbox();
        let looked = self
            .look_again(&r.provider, &r.payment_id, r.after_callback)
            .await;
        let outcome = match looked {
            Ok(Looked { settled: true, .. }) => "settled",
            Err(Error::NotFound(_)) => "unknown",
            Ok(_) if r.attempt + 1 >= MAX_RECHECKS => "gave_up",
            Ok(_) => "pending",
            Err(_) => "error",
        };
        // A payment that is not stuck yet is looked at again no later than when it would be.
        let stuck_at = looked.ok().and_then(|l| l.stuck_at_ms);
        metrics::counter!("payrouter_rechecks_total", "outcome" => outcome).increment(1);
        let result = match outcome {
            // A callback's look is done once made; the payment's own schedule goes on.
            "pending" if r.after_callback => outbox.done(&r, &[]).await,
            "pending" | "error" => {
                let attempt = r.attempt + 1;
                let mut due = now_ms() + self.rechecks.delay_ms(attempt);
                if let Some(stuck_at) = stuck_at.filter(|&at| at > now_ms()) {
                    due = due.min(stuck_at);
                }
                outbox
                    .retry(
                        &Recheck {
                            attempt,
                            due_ms: due,
                            ..r
                        },
                        &[],
                    )
                    .await
            }
            _ => {
                if outcome == "gave_up" {
                    tracing::warn!(provider = %r.provider, payment_id = %r.payment_id, "payment still pending after the last recheck");
                }
                outbox.done(&r, &[]).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "cannot record a recheck; it will be taken again");
        }
    }

    /// Refreshes a payment (poll window permitting) and raises its `payment.stuck` alert when
    /// it has been PENDING too long.
    async fn look_again(&self, provider: &str, payment_id: &str, always: bool) -> Result<Looked> {
        let p = self.provider(provider)?.clone();
        let (rec, _) = self.load(p.as_ref(), payment_id).await?;
        if rec.is_settled() && !always {
            return Ok(Looked {
                settled: true,
                stuck_at_ms: None,
            });
        }
        let created_ms = rec.created_ms;
        let rec = self.refresh(p.as_ref(), rec, Source::Recheck).await?.0;
        let settled = rec.is_settled();
        // Counted for the "pending for over a day" alert (deploy/prometheus/alerts.yml).
        if !settled && now_ms() - created_ms > STALE_PENDING_MS {
            metrics::counter!("payrouter_rechecks_stale_pending_total").increment(1);
        }
        let mut stuck_at_ms = None;
        if let Some(stuck) = self.stuck_alerts {
            if stuck.is_stuck(&rec, now_ms()) {
                match stuck.raise(&self.records, &rec).await {
                    Ok(true) => {
                        tracing::warn!(
                            provider,
                            payment_id,
                            "payment stuck in PENDING; payment.stuck alert queued"
                        )
                    }
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(provider, payment_id, error = %e, "cannot queue the payment.stuck alert; the next recheck tries again")
                    }
                }
            } else if rec.state.status == PaymentStatusKind::Pending {
                stuck_at_ms = Some(stuck.stuck_at_ms(&rec));
            }
        }
        Ok(Looked {
            settled,
            stuck_at_ms,
        })
    }
}

/// What a look at a payment found.
struct Looked {
    settled: bool,
    /// When it becomes stuck, while it is not yet (stuck alerts on).
    stuck_at_ms: Option<i64>,
}
