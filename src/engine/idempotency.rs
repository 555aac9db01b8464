//! Doing a creating operation once per caller key, across replicas.
//!
//! The first request reserves the key (an atomic put-if-absent, so one wins on any number of
//! replicas), does the work and stores its answer; identical requests wait for that answer and
//! replay it; a different request under the same key is a conflict. A reservation whose owner
//! died is taken over once its lease has run out. Work that failed without an answer frees the
//! key so the caller may retry. An unreadable reservation counts as absent (the record
//! layer's rule), so it is taken over.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

use super::{now_ms, Engine, Error, Result};
use crate::store::records::{DocKey, Phase, Reservation, Snapshot, Step};

/// What a look at the key found.
enum Held<T> {
    /// This request holds the reservation now.
    Ours,
    /// Another request is working on it.
    Busy,
    /// The answer of an identical earlier request.
    Answered(T),
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
        let lease = self.pay_lease.as_millis() as i64;
        let give_up_at = now_ms() + lease;
        // Most keys are new: the first look assumes the key absent and tries to reserve it at
        // once, so a first request costs one store round trip before the provider call.
        let mut first = Some(Snapshot::assume_absent());
        let version = loop {
            let now = now_ms();
            let (held, version) = self
                .records
                .transition(key, first.take(), |current| {
                    let taking_over = match current {
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
                            phase: Phase::InFlight { lease_until_ms },
                            ..
                        }) if lease_until_ms > now => return Ok(Step::Keep(Held::Busy)),
                        Some(_) => true,
                        None => false,
                    };
                    if taking_over {
                        tracing::warn!(subject, "taking over an expired reservation");
                    }
                    let reservation = Reservation {
                        fingerprint: fingerprint.to_string(),
                        phase: Phase::InFlight {
                            lease_until_ms: now + lease,
                        },
                    };
                    Ok(Step::write(reservation, Held::Ours))
                })
                .await?;
            match held {
                Held::Ours => break version,
                Held::Answered(response) => {
                    metrics::counter!("payrouter_idempotent_replays_total").increment(1);
                    return Ok(response);
                }
                Held::Busy if now > give_up_at => {
                    return Err(Error::Conflict(format!(
                        "{subject} is still being processed; retry shortly"
                    )))
                }
                Held::Busy => tokio::time::sleep(WAIT_STEP).await,
            }
        };
        let response = match work.await {
            Ok(r) => r,
            Err(e) => {
                if let Err(se) = self.records.delete_at(key, version).await {
                    tracing::error!(error = %se, "could not release a reservation");
                }
                return Err(e);
            }
        };
        let done = Reservation {
            fingerprint: fingerprint.to_string(),
            phase: Phase::Done {
                response: response.clone(),
            },
        };
        if !self.records.write_at(key, version, &done, None).await? {
            tracing::warn!(
                subject,
                "reservation was taken over before the answer was stored"
            );
        }
        Ok(response)
    }
}
