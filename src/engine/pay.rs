//! Idempotent pay on (provider, shopTransactionId).
//!
//! The first request reserves the key in the store (an atomic put-if-absent, so one wins
//! across all replicas), calls the provider and stores the answer; identical requests wait for
//! that answer and replay it; a different body is a conflict. A reservation whose owner died
//! is taken over once its lease has run out.

use payrouter_provider::{Operation, PayOrder, PayOutcome, PayResult, Provider, Redirect};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::time::Duration;

use super::record::{to_doc, PaymentRecord};
use super::{now_ms, Engine, Error, Result};
use crate::contract::PayResponse;

#[derive(Serialize, Deserialize)]
struct Reservation {
    fingerprint: String,
    #[serde(flatten)]
    phase: Phase,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "camelCase")]
enum Phase {
    InFlight { lease_until_ms: i64 },
    Done { response: PayResponse },
}

/// How often a waiting duplicate looks for the first request's answer.
const WAIT_STEP: Duration = Duration::from_millis(20);

/// What makes two pays "the same request": amount, currency and providerData.
fn fingerprint(order: &PayOrder) -> String {
    let canonical = serde_json::json!({
        "amount": order.amount.minor,
        "currency": order.amount.currency.code(),
        "providerData": order.provider_data,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

impl Engine {
    pub async fn pay(&self, provider: &str, order: PayOrder) -> Result<PayResponse> {
        let p = self.provider(provider)?.clone();
        self.require(p.as_ref(), Operation::Pay)?;
        let caps = p.capabilities();
        if !caps.currencies.accepts(order.amount.currency) {
            return Err(Error::invalid(
                "currency",
                format!(
                    "{} is not accepted by {}; it takes {}",
                    order.amount.currency,
                    p.name(),
                    caps.currencies.describe()
                ),
            ));
        }
        let key = format!("payrouter:idem:{}:{}", p.name(), order.shop_transaction_id);
        let fp = fingerprint(&order);
        let give_up_at = now_ms() + self.pay_lease.as_millis() as i64;
        loop {
            let now = now_ms();
            let current = self.store.get(&key).await?;
            let version = current.as_ref().map_or(0, |v| v.version);
            if let Some(v) = &current {
                let held: Reservation = serde_json::from_str(&v.doc).map_err(|_| {
                    Error::Conflict(
                        "the stored answer for this shopTransactionId is unreadable".into(),
                    )
                })?;
                if held.fingerprint != fp {
                    return Err(Error::Conflict(format!(
                        "shopTransactionId '{}' was already used with a different amount, currency or providerData",
                        order.shop_transaction_id
                    )));
                }
                match held.phase {
                    Phase::Done { response } => {
                        metrics::counter!("payrouter_pay_replays_total", "provider" => p.name())
                            .increment(1);
                        return Ok(response);
                    }
                    Phase::InFlight { lease_until_ms } if lease_until_ms > now => {
                        if now > give_up_at {
                            return Err(Error::Conflict(format!(
                                "a payment for shopTransactionId '{}' is still being created; retry shortly",
                                order.shop_transaction_id
                            )));
                        }
                        tokio::time::sleep(WAIT_STEP).await;
                        continue;
                    }
                    Phase::InFlight { .. } => {
                        tracing::warn!(shop_transaction_id = %order.shop_transaction_id, "taking over an expired pay reservation");
                    }
                }
            }
            let reservation = Reservation {
                fingerprint: fp.clone(),
                phase: Phase::InFlight {
                    lease_until_ms: now + self.pay_lease.as_millis() as i64,
                },
            };
            if self
                .store
                .put_if(
                    &key,
                    version,
                    &to_doc(&reservation),
                    Some(self.retention),
                    None,
                )
                .await?
            {
                return self
                    .pay_as_owner(p.as_ref(), &key, version + 1, fp, order)
                    .await;
            }
        }
    }

    async fn pay_as_owner(
        &self,
        p: &dyn Provider,
        key: &str,
        version: u64,
        fingerprint: String,
        order: PayOrder,
    ) -> Result<PayResponse> {
        let outcome = match self.call(p, Operation::Pay, p.pay(&order)).await {
            Ok(o) => o,
            Err(e) => {
                // Nothing to replay: free the key so the caller may retry.
                if let Err(se) = self.store.delete_if(key, version).await {
                    tracing::error!(error = %se, "could not release a pay reservation");
                }
                return Err(e.into());
            }
        };
        let response = match outcome {
            PayOutcome::Created(created) => {
                let now = now_ms();
                let redirect_to_url = match &created.redirect {
                    Redirect::Get { url } => url.clone(),
                    Redirect::Post { .. } => format!(
                        "{}/v3/{}/redirect/{}",
                        self.public_base_url.as_deref().unwrap_or(""),
                        p.name(),
                        created.payment_id
                    ),
                };
                let rec = PaymentRecord {
                    provider: p.name().to_string(),
                    payment_id: created.payment_id.clone(),
                    shop_transaction_id: order.shop_transaction_id.clone(),
                    amount: order.amount.minor,
                    currency: order.amount.currency.code().to_string(),
                    reference: created.reference,
                    state: created.state,
                    refunds: Vec::new(),
                    post_redirect: matches!(created.redirect, Redirect::Post { .. })
                        .then_some(created.redirect),
                    created_ms: now,
                    updated_ms: now,
                };
                let pkey = PaymentRecord::key(p.name(), &rec.payment_id);
                if !self
                    .store
                    .put_if(&pkey, 0, &to_doc(&rec), Some(self.retention), None)
                    .await?
                {
                    tracing::warn!(payment_id = %rec.payment_id, "payment record already existed");
                }
                metrics::counter!("payrouter_payments_created_total", "provider" => p.name())
                    .increment(1);
                PayResponse {
                    result: PayResult::RedirectToUrl,
                    result_description: "payment created: redirect the payer to complete it".into(),
                    payment_id: Some(created.payment_id),
                    redirect_to_url: Some(redirect_to_url),
                    redirect_to_url_mobile: created.redirect_mobile,
                }
            }
            PayOutcome::Declined { message } => PayResponse {
                result: PayResult::Ko,
                result_description: message,
                payment_id: None,
                redirect_to_url: None,
                redirect_to_url_mobile: None,
            },
        };
        let done = Reservation {
            fingerprint,
            phase: Phase::Done {
                response: response.clone(),
            },
        };
        if !self
            .store
            .put_if(key, version, &to_doc(&done), Some(self.retention), None)
            .await?
        {
            tracing::warn!("pay reservation was taken over before the answer was stored");
        }
        Ok(response)
    }
}
