//! Keeping provider callbacks from turning into a flood of provider calls. A callback only
//! names a payment (Fena's are unsigned), so each one would cost a fetch: here the fetches
//! callbacks cause are capped by a token bucket (`CALLBACK_FETCH_RATE` per second, per
//! process), and one payment has at most one callback fetch in flight in this process.

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use payrouter_provider::Provider;
use std::collections::HashSet;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::Duration;

use super::{now_ms, Engine, Error, Result};
use crate::store::records::{Event, Source, TimelineEvent};

/// The rate used when none is configured.
const DEFAULT_RATE: NonZeroU32 = NonZeroU32::new(20).expect("20 is not zero");

/// A callback's look deferred to a recheck waits at least this long.
const DEFER: Duration = Duration::from_secs(1);

/// The token bucket and the payments being fetched on behalf of callbacks.
pub(super) struct CallbackFetches {
    bucket: DefaultDirectRateLimiter,
    in_flight: Mutex<HashSet<(String, String)>>,
}

impl CallbackFetches {
    /// A bucket of `per_second` tokens, refilled at `per_second`.
    pub(super) fn new(per_second: NonZeroU32) -> Self {
        CallbackFetches {
            bucket: RateLimiter::direct(Quota::per_second(per_second)),
            in_flight: Mutex::new(HashSet::new()),
        }
    }

    pub(super) fn default_rate() -> Self {
        Self::new(DEFAULT_RATE)
    }

    /// Marks a callback fetch of the payment as in flight; `None` while another one is.
    fn begin(&self, provider: &str, payment_id: &str) -> Option<Flight<'_>> {
        let key = (provider.to_string(), payment_id.to_string());
        let mut set = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        // Not `then_some`: a Flight made and dropped here would end the one in flight.
        if !set.insert(key.clone()) {
            return None;
        }
        Some(Flight {
            set: &self.in_flight,
            key,
        })
    }
}

/// A callback fetch in flight; it ends when this is dropped (also on an error or a panic).
struct Flight<'a> {
    set: &'a Mutex<HashSet<(String, String)>>,
    key: (String, String),
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        let mut set = self.set.lock().unwrap_or_else(|e| e.into_inner());
        set.remove(&self.key);
    }
}

fn count(p: &dyn Provider, outcome: &'static str) {
    metrics::counter!("payrouter_callback_fetches_total", "provider" => p.name(), "outcome" => outcome)
        .increment(1);
}

impl Engine {
    /// Sets the callback fetch rate (fetches per second, per process).
    pub fn with_callback_fetch_rate(mut self, per_second: u32) -> Self {
        if let Some(rate) = NonZeroU32::new(per_second) {
            self.callback_fetches = CallbackFetches::new(rate);
        }
        self
    }

    /// A callback about a payment: look at the provider now if the poll window, the single
    /// flight and the bucket allow it. A payment the router holds is otherwise looked at by a
    /// recheck (the callback is accepted); an id it does not hold is answered 429 so the
    /// provider retries, since rebuilding it needs the fetch (after a store loss an unknown
    /// id may be ours: bounded, not forbidden).
    pub(super) async fn payment_callback(
        &self,
        p: &dyn Provider,
        payment_id: &str,
    ) -> Result<Looked> {
        p.check_payment_id(payment_id)
            .map_err(|m| Error::invalid("paymentId", m))?;
        let key = self.records.keys().payment(p.name(), payment_id);
        // The payment's own account answers for it; an unknown one is looked for in each.
        let held = self.records.read(&key).await?.doc.map(|rec| rec.merchant);
        let known = held.is_some();
        let Some(_flight) = self.callback_fetches.begin(p.name(), payment_id) else {
            count(p, "coalesced");
            return self
                .defer(p, payment_id, known, "is being fetched already")
                .await;
        };
        if known && !self.claim_poll(p, payment_id).await? {
            // Inside the poll window: looked at when it closes.
            let due = now_ms() + p.capabilities().min_poll_interval.as_millis() as i64;
            return self.recheck_later(p, payment_id, due).await;
        }
        if self.callback_fetches.bucket.check().is_err() {
            count(p, if known { "deferred" } else { "limited" });
            return self
                .defer(p, payment_id, known, "is over CALLBACK_FETCH_RATE")
                .await;
        }
        count(p, "fetched");
        if let Some(merchant) = held {
            let (_, changed) = self
                .fetch_and_apply(p, &merchant, payment_id, Source::Callback)
                .await?;
            Ok(if changed {
                Looked::Changed
            } else {
                Looked::Unchanged
            })
        } else {
            // Rebuilt from the provider if it knows the id (a store loss); 404 otherwise.
            self.load(p, payment_id).await?;
            Ok(Looked::Unchanged)
        }
    }

    /// A callback not looked at now: a payment the router holds gets a recheck; an unknown
    /// id is refused with 429 so that the provider sends it again.
    async fn defer(
        &self,
        p: &dyn Provider,
        payment_id: &str,
        known: bool,
        why: &str,
    ) -> Result<Looked> {
        if !known {
            return Err(Error::RateLimited(format!(
                "paymentId: '{payment_id}' is not a payment this router holds, and looking it up at {} {why}; send the callback again later",
                p.name()
            )));
        }
        let wait = p.capabilities().min_poll_interval.max(DEFER);
        self.recheck_later(p, payment_id, now_ms() + wait.as_millis() as i64)
            .await
    }

    /// Queues a recheck of a held payment due at `due`, the callback noted on its timeline in
    /// the same step (a deferred callback costs one store write, not two).
    async fn recheck_later(&self, p: &dyn Provider, payment_id: &str, due: i64) -> Result<Looked> {
        let noted = callback_accepted(now_ms());
        self.records
            .enqueue_noting(&self.recheck(p.name(), payment_id, 0, due, true), &[noted])
            .await?;
        Ok(Looked::Deferred)
    }
}

/// What became of a callback about a payment.
pub(super) enum Looked {
    /// The provider was asked and its answer changed the payment (on its timeline already).
    Changed,
    /// The provider was asked (or the payment rebuilt) and nothing changed.
    Unchanged,
    /// A recheck will ask (poll window, single flight or fetch rate); noted on the timeline.
    Deferred,
}

/// The timeline event of a callback accepted without a change to notify.
pub(super) fn callback_accepted(at_ms: i64) -> TimelineEvent {
    TimelineEvent::new(
        at_ms,
        Event::CallbackReceived {
            accepted: true,
            reason: "accepted; no change to notify (a look deferred by the poll window or the fetch rate is made by a recheck)".to_string(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flight_per_payment_until_it_ends() {
        let fetches = CallbackFetches::default_rate();
        let first = fetches.begin("fena", "p1");
        assert!(first.is_some());
        assert!(fetches.begin("fena", "p1").is_none());
        assert!(
            fetches.begin("fena", "p1").is_none(),
            "a refused begin leaves the flight in place"
        );
        assert!(fetches.begin("fena", "p2").is_some(), "per payment");
        drop(first);
        assert!(fetches.begin("fena", "p1").is_some());
    }
}
