//! Doing a creating operation once per caller key, across replicas.
//!
//! The first request reserves the key (an atomic put-if-absent, so one wins on any number of
//! replicas), does the work and stores its answer; identical requests wait for that answer and
//! replay it; a different request under the same key is a conflict. A reservation whose owner
//! died is taken over once its lease has run out. Work that failed without an answer frees the
//! key so the caller may retry.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

use super::record::to_doc;
use super::{now_ms, Engine, Error, Result};

#[derive(Serialize, Deserialize)]
struct Reservation<T> {
    fingerprint: String,
    #[serde(flatten)]
    phase: Phase<T>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
enum Phase<T> {
    InFlight { lease_until_ms: i64 },
    Done { response: T },
}

/// How often a waiting duplicate looks for the first request's answer.
const WAIT_STEP: Duration = Duration::from_millis(20);

impl Engine {
    /// Runs `work` once for `key`; `subject` names the key in error messages.
    pub(super) async fn once<T, W>(
        &self,
        key: &str,
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
        // Most keys are new: the first pass tries to reserve without reading, so a first
        // request costs one store round trip before the provider call, not two.
        let mut first_pass = true;
        let version = loop {
            let now = now_ms();
            let current = if first_pass {
                None
            } else {
                self.store.get(key).await?
            };
            first_pass = false;
            let version = current.as_ref().map_or(0, |v| v.version);
            if let Some(v) = &current {
                let held: Reservation<T> = serde_json::from_str(&v.doc).map_err(|_| {
                    Error::Conflict(format!("the stored answer for {subject} is unreadable"))
                })?;
                if held.fingerprint != fingerprint {
                    return Err(Error::Conflict(format!(
                        "{subject} was already used with a different amount, currency or providerData"
                    )));
                }
                match held.phase {
                    Phase::Done { response } => {
                        metrics::counter!("payrouter_idempotent_replays_total").increment(1);
                        return Ok(response);
                    }
                    Phase::InFlight { lease_until_ms } if lease_until_ms > now => {
                        if now > give_up_at {
                            return Err(Error::Conflict(format!(
                                "{subject} is still being processed; retry shortly"
                            )));
                        }
                        tokio::time::sleep(WAIT_STEP).await;
                        continue;
                    }
                    Phase::InFlight { .. } => {
                        tracing::warn!(subject, "taking over an expired reservation");
                    }
                }
            }
            let reservation: Reservation<T> = Reservation {
                fingerprint: fingerprint.to_string(),
                phase: Phase::InFlight {
                    lease_until_ms: now + lease,
                },
            };
            if self
                .store
                .put_if(
                    key,
                    version,
                    &to_doc(&reservation),
                    Some(self.retention),
                    None,
                )
                .await?
            {
                break version + 1;
            }
        };
        let response = match work.await {
            Ok(r) => r,
            Err(e) => {
                if let Err(se) = self.store.delete_if(key, version).await {
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
        if !self
            .store
            .put_if(key, version, &to_doc(&done), Some(self.retention), None)
            .await?
        {
            tracing::warn!(
                subject,
                "reservation was taken over before the answer was stored"
            );
        }
        Ok(response)
    }
}
