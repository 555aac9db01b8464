//! Doing a creating operation once per caller key, across replicas.
//!
//! The first request reserves the key (an atomic put-if-absent, so one wins on any number of
//! replicas), does the work and stores its answer; identical requests wait for that answer and
//! replay it; a different request under the same key is a conflict. A reservation whose owner
//! died is taken over once its lease has run out, judged by the store's clock (`Store::now_ms`),
//! so a replica whose own clock is off neither takes over a live lease nor holds a dead one. An unreadable reservation counts as absent
//! (the record layer's rule), so it is taken over.
//!
//! Work may keep a provider-side handle in the reservation (a Fena draft id) before it makes
//! anything visible at the provider. Work that failed without an answer frees the key so the
//! caller may retry, but a kept handle stays: the outcome at the provider is unknown, and the
//! retry (or whoever takes the reservation over) resumes that payment instead of creating a
//! second one.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Engine, Error, Result};
use crate::store::records::{DocKey, Phase, Reservation, Snapshot, Step};

/// What a look at the key found.
enum Held<T> {
    /// This request holds the reservation now, with the handle an earlier holder kept.
    Ours(Option<String>),
    /// Another request is working on it.
    Busy,
    /// The answer of an identical earlier request.
    Answered(T),
}

/// What reserving a key gave.
pub(super) enum Reserved<'k, T> {
    /// Do the work under this claim, then `settle` it.
    Ours(Claim<'k, T>),
    /// The answer of an identical earlier request, to replay.
    Answered(T),
}

/// A held reservation: what the work knows of it and may add to it.
pub(super) struct Claim<'k, T> {
    key: &'k DocKey<Reservation<T>>,
    fingerprint: String,
    subject: String,
    version: u64,
    lease_until_ms: i64,
    handle: Option<String>,
}

impl<T> Claim<'_, T> {
    /// The handle an earlier holder kept: its payment must be resumed, not created anew.
    pub(super) fn resumed(&self) -> Option<&str> {
        self.handle.as_deref()
    }
}

/// How often a waiting duplicate looks for the first request's answer.
const WAIT_STEP: Duration = Duration::from_millis(20);

impl Engine {
    /// Runs `work` once for `key`; `subject` names the key in error messages.
    pub(super) async fn once<T, W>(
        &self,
        key: &DocKey<Reservation<T>>,
        fingerprint: &str,
        subject: &str,
        work: W,
    ) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Clone,
        W: Future<Output = Result<T>>,
    {
        match self.reserve(key, fingerprint, subject).await? {
            Reserved::Answered(response) => Ok(response),
            Reserved::Ours(claim) => {
                let outcome = work.await;
                self.settle(claim, outcome).await
            }
        }
    }

    /// Takes the reservation of `key`, waiting out a live holder for at most one lease.
    pub(super) async fn reserve<'k, T>(
        &self,
        key: &'k DocKey<Reservation<T>>,
        fingerprint: &str,
        subject: &str,
    ) -> Result<Reserved<'k, T>>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        let lease = self.pay_lease.as_millis() as i64;
        // Waiting is measured on this process's monotonic clock; leases on the store's.
        let give_up_at = Instant::now() + self.pay_lease;
        // Most keys are new: the first look assumes the key absent and tries to reserve it at
        // once, so a first request costs one store round trip before the provider call.
        let mut first = Some(Snapshot::assume_absent());
        loop {
            let now = self.store_now_ms().await?;
            let (held, version) = self
                .records
                .transition(key, first.take(), |current| {
                    let (taking_over, handle) = match current {
                        Some(held) if held.fingerprint != fingerprint => {
                            return Err(Error::Conflict(format!(
                                "{subject} was already used with a different amount, currency or providerData"
                            )))
                        }
                        Some(Reservation {
                            phase: Phase::Done { response },
                            ..
                        }) => return Ok(Step::Keep(Held::Answered(response))),
                        Some(Reservation {
                            phase: Phase::InFlight { lease_until_ms, .. },
                            ..
                        }) if lease_until_ms > now => return Ok(Step::Keep(Held::Busy)),
                        Some(Reservation {
                            phase: Phase::InFlight { handle, .. },
                            ..
                        }) => (true, handle),
                        None => (false, None),
                    };
                    if taking_over {
                        tracing::warn!(subject, resuming = handle.is_some(), "taking over an expired reservation");
                    }
                    let reservation = Reservation {
                        fingerprint: fingerprint.to_string(),
                        phase: Phase::InFlight {
                            lease_until_ms: now + lease,
                            handle: handle.clone(),
                        },
                    };
                    Ok(Step::write(reservation, Held::Ours(handle)))
                })
                .await?;
            match held {
                Held::Ours(handle) => {
                    return Ok(Reserved::Ours(Claim {
                        key,
                        fingerprint: fingerprint.to_string(),
                        subject: subject.to_string(),
                        version,
                        lease_until_ms: now + lease,
                        handle,
                    }))
                }
                Held::Answered(response) => {
                    metrics::counter!("payrouter_idempotent_replays_total").increment(1);
                    return Ok(Reserved::Answered(response));
                }
                Held::Busy if Instant::now() > give_up_at => {
                    return Err(Error::Conflict(format!(
                        "{subject} is still being processed; retry shortly"
                    )))
                }
                Held::Busy => tokio::time::sleep(WAIT_STEP).await,
            }
        }
    }

    /// Keeps `handle` in the reservation, before anything visible is made of it at the
    /// provider. When the reservation was taken over meanwhile, the new holder does the work:
    /// this request must not go on (it would make a second payment).
    pub(super) async fn keep_handle<T>(&self, claim: &mut Claim<'_, T>, handle: &str) -> Result<()>
    where
        T: Serialize + DeserializeOwned,
    {
        let kept = Reservation {
            fingerprint: claim.fingerprint.clone(),
            phase: Phase::InFlight {
                lease_until_ms: claim.lease_until_ms,
                handle: Some(handle.to_string()),
            },
        };
        if !self
            .records
            .write_at(claim.key, claim.version, &kept, None)
            .await?
        {
            return Err(Error::Conflict(format!(
                "{} is still being processed; retry shortly",
                claim.subject
            )));
        }
        claim.version += 1;
        claim.handle = Some(handle.to_string());
        Ok(())
    }

    /// Stores the answer of the work done under `claim`, or frees the key after a failure.
    pub(super) async fn settle<T>(&self, claim: Claim<'_, T>, outcome: Result<T>) -> Result<T>
    where
        T: Serialize + DeserializeOwned + Clone,
    {
        let response = match outcome {
            Ok(r) => r,
            Err(e) => {
                let released = match &claim.handle {
                    // The payment may exist: the next request resumes it at once.
                    Some(handle) => {
                        let resumable = Reservation {
                            fingerprint: claim.fingerprint.clone(),
                            phase: Phase::InFlight {
                                lease_until_ms: 0,
                                handle: Some(handle.clone()),
                            },
                        };
                        self.records
                            .write_at(claim.key, claim.version, &resumable, None)
                            .await
                    }
                    None => self.records.delete_at(claim.key, claim.version).await,
                };
                if let Err(se) = released {
                    tracing::error!(error = %se, "could not release a reservation");
                }
                return Err(e);
            }
        };
        let done = Reservation {
            fingerprint: claim.fingerprint.clone(),
            phase: Phase::Done {
                response: response.clone(),
            },
        };
        if !self
            .records
            .write_at(claim.key, claim.version, &done, None)
            .await?
        {
            tracing::warn!(
                subject = claim.subject,
                "reservation was taken over before the answer was stored"
            );
        }
        Ok(response)
    }
}

/// The store's clock, read once a minute and carried forward on this process's monotonic
/// clock in between: a lease is judged the same by every replica, whatever its wall clock
/// says, for one store round trip a minute.
#[derive(Default)]
pub(super) struct StoreClock {
    sample: Mutex<Option<(i64, Instant)>>,
}

/// How long a reading of the store's clock is carried forward before it is read again.
const CLOCK_RESAMPLE: Duration = Duration::from_secs(60);

impl StoreClock {
    fn carried(&self) -> Option<i64> {
        let sample = *self.sample.lock().unwrap_or_else(|e| e.into_inner());
        let (at_ms, read) = sample?;
        let elapsed = read.elapsed();
        (elapsed < CLOCK_RESAMPLE).then(|| at_ms + elapsed.as_millis() as i64)
    }
}

impl Engine {
    /// The store's time now, in milliseconds since the epoch.
    async fn store_now_ms(&self) -> Result<i64> {
        if let Some(now) = self.lease_clock.carried() {
            return Ok(now);
        }
        let now = self.records.store().now_ms().await?;
        *self
            .lease_clock
            .sample
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Some((now, Instant::now()));
        Ok(now)
    }
}
