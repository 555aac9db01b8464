//! Status, check, refund and callbacks: everything that reads or moves an existing payment.

use payrouter_provider::{
    CallbackAck, CallbackRequest, CallbackSubject, Money, Operation, PayResult, PaymentStatusKind,
    Provider, ProviderError, Redirect, RefundOrder, RefundOutcome,
};

use super::callbacks::{callback_accepted, Looked};
use super::{now_ms, Engine, Error, Result};
use crate::contract::{PaymentStatus, RefundResponse};
use crate::store::records::{
    Event, PaymentRecord, RefundEntry, RefundState, Source, TimelineEvent,
};
use std::sync::Arc;

impl Engine {
    /// A final state is answered from the store; otherwise the provider is asked, at most
    /// once per poll window.
    pub async fn status(&self, p: &Arc<dyn Provider>, payment_id: &str) -> Result<PaymentStatus> {
        self.require(p.as_ref(), Operation::Status)?;
        let (rec, _) = self.load(p.as_ref(), payment_id).await?;
        if rec.is_settled() {
            return Ok(rec.view());
        }
        Ok(self
            .refresh(p.as_ref(), rec, Source::Status)
            .await?
            .0
            .view())
    }

    /// Like status, but always asks the provider (CONTRACT §2) and always sends a
    /// notification: the state-change one if the state moved, otherwise one with the status.
    /// Only a provider's hard rate limit stops the fetch; the courtesy poll window that spaces
    /// `/status` fetches does not.
    pub async fn check(&self, p: &Arc<dyn Provider>, payment_id: &str) -> Result<PaymentStatus> {
        self.require(p.as_ref(), Operation::Check)?;
        let (rec, _) = self.load(p.as_ref(), payment_id).await?;
        let caps = p.capabilities();
        // Claimed even when it does not bind, so a `/status` right after needs no fetch.
        let (rec, changed) = if self.claim_poll(p.as_ref(), payment_id).await?
            || !caps.hard_poll_limit
        {
            self.fetch_and_apply(p.as_ref(), &rec.merchant, payment_id, Source::Check)
                .await?
        } else {
            tracing::info!(
                provider = p.name(),
                payment_id,
                limit_ms = caps.min_poll_interval.as_millis() as u64,
                "check answered from the store: the provider allows one status fetch of a payment per limit"
            );
            (rec, false)
        };
        if !changed {
            self.records.enqueue(&self.notification(&rec)).await?;
        }
        Ok(rec.view())
    }

    pub async fn refund(
        &self,
        p: &Arc<dyn Provider>,
        payment_id: &str,
        amount: Money,
        provider_data: serde_json::Map<String, serde_json::Value>,
    ) -> Result<RefundResponse> {
        let order = RefundOrder {
            payment_id: payment_id.to_string(),
            amount,
            provider_data,
        };
        if !p.capabilities().supports(Operation::Refund) {
            // The adapter's own refusal says why (and what to do instead).
            return Err(match p.refund(&order).await {
                Err(e) => e.into(),
                Ok(_) => p.unsupported(Operation::Refund).into(),
            });
        }
        let (rec, _) = self.load(p.as_ref(), payment_id).await?;
        let rec = if rec.has_unconfirmed_refund() {
            // Whether an unanswered refund reached the provider shows in its state now: known
            // before another refund is asked, the ledger can later tell the two apart.
            self.fetch_and_apply(p.as_ref(), &rec.merchant, payment_id, Source::Refund)
                .await?
                .0
        } else if rec.is_settled() {
            rec
        } else {
            self.refresh(p.as_ref(), rec, Source::Refund).await?.0
        };
        if rec.amount.currency != amount.currency {
            return Err(Error::invalid(
                "currency",
                format!(
                    "must be {}, the currency of payment '{payment_id}'",
                    rec.amount.currency
                ),
            ));
        }
        // Refunded with the key of the account that took the payment.
        let account = self.account(p.as_ref(), &rec.merchant)?;
        let refund_id = uuid::Uuid::new_v4().simple().to_string();
        let partial = p.capabilities().partial_refunds;
        let mut refusal = None;
        self.update(p.as_ref(), payment_id, |r| {
            refusal = refund_refusal(r, amount.minor, partial);
            refusal.is_none().then(|| {
                let at_ms = now_ms();
                r.refunds.push(RefundEntry {
                    id: refund_id.clone(),
                    amount: amount.minor,
                    state: RefundState::Pending,
                    at_ms,
                    // Until the provider answers, nobody knows whether it saw the refund.
                    unconfirmed: true,
                });
                vec![TimelineEvent::new(
                    at_ms,
                    Event::RefundRequested {
                        refund_id: refund_id.clone(),
                        amount: amount.minor,
                    },
                )]
            })
        })
        .await?;
        if let Some(reason) = refusal {
            return Ok(RefundResponse {
                result: PayResult::Ko,
                result_description: reason,
            });
        }
        let outcome = self
            .call(account, Operation::Refund, account.refund(&order))
            .await;
        let settle = |state: Option<RefundState>| {
            let id = refund_id.clone();
            move |r: &mut PaymentRecord| {
                let named = match state {
                    Some(RefundState::Pending) => "pending",
                    Some(RefundState::Completed) => "completed",
                    Some(RefundState::Rejected) => "rejected",
                    None => "withdrawn",
                };
                let event = TimelineEvent::new(
                    now_ms(),
                    Event::RefundSettled {
                        refund_id: id.clone(),
                        amount: amount.minor,
                        state: named.into(),
                    },
                );
                match state {
                    // A provider state applied meanwhile may have settled it already.
                    Some(s) => r
                        .refunds
                        .iter_mut()
                        .filter(|e| e.id == id && e.state == RefundState::Pending)
                        .for_each(|e| {
                            e.state = s;
                            e.unconfirmed = false;
                        }),
                    None => r.refunds.retain(|e| e.id != id),
                }
                Some(vec![event])
            }
        };
        match outcome {
            Ok(RefundOutcome::Pending) => {
                self.update(p.as_ref(), payment_id, settle(Some(RefundState::Pending)))
                    .await?;
                // Looked at again until the provider settles it, so a missed refund callback
                // cannot leave the amount pending forever.
                self.records
                    .enqueue(&self.first_recheck(p.name(), payment_id))
                    .await?;
                Ok(RefundResponse {
                    result: PayResult::Pending,
                    result_description:
                        "refund requested; its outcome arrives as a notification with action REFUND"
                            .into(),
                })
            }
            Ok(RefundOutcome::Completed) => {
                self.update(p.as_ref(), payment_id, settle(Some(RefundState::Completed)))
                    .await?;
                Ok(RefundResponse {
                    result: PayResult::Ok,
                    result_description: "refunded".into(),
                })
            }
            Ok(RefundOutcome::Declined { message }) => {
                self.update(p.as_ref(), payment_id, settle(Some(RefundState::Rejected)))
                    .await?;
                Ok(RefundResponse {
                    result: PayResult::Ko,
                    result_description: message,
                })
            }
            // Refused before anything could happen at the provider: the amount is free again.
            Err(
                e @ (ProviderError::InvalidRequest { .. }
                | ProviderError::Misconfigured(_)
                | ProviderError::NotFound(_)
                | ProviderError::NotSupported { .. }),
            ) => {
                self.update(p.as_ref(), payment_id, settle(None)).await?;
                Err(e.into())
            }
            // A timeout, a 5xx or a broken connection: the provider may have started the
            // refund, so the amount stays reserved until a provider state settles it (a second
            // refund must not slip through). Rechecks keep asking.
            Err(e) => {
                self.records
                    .enqueue(&self.first_recheck(p.name(), payment_id))
                    .await?;
                Err(e.into())
            }
        }
    }

    /// A provider's POST callback: authenticate, re-fetch the truth, apply, acknowledge.
    pub async fn callback(
        &self,
        p: &Arc<dyn Provider>,
        req: &CallbackRequest,
    ) -> Result<CallbackAck> {
        let subject = match p.authenticate_callback(req) {
            Ok(s) => s,
            Err(e) => {
                metrics::counter!("payrouter_callbacks_total", "provider" => p.name(), "outcome" => "rejected")
                    .increment(1);
                tracing::warn!(provider = p.name(), reason = %e, "callback rejected");
                return Err(e.into());
            }
        };
        let result = match subject {
            CallbackSubject::Payment { payment_id } => {
                let looked = self.payment_callback(p.as_ref(), &payment_id).await;
                self.record_callback(p.as_ref(), &payment_id, &looked).await;
                looked.map(drop)
            }
            CallbackSubject::Subscription { token } => self
                .subscription_callback(p.as_ref(), &token)
                .await
                .map(drop),
            CallbackSubject::Ignored { reason } => {
                tracing::info!(provider = p.name(), reason, "callback ignored");
                Ok(())
            }
        };
        let outcome = match &result {
            Ok(_) => "accepted",
            Err(Error::NotFound(_)) => "unknown_object",
            Err(Error::RateLimited(_)) => "rate_limited",
            Err(Error::Mismatch(_)) => "mismatch",
            Err(_) => "failed",
        };
        metrics::counter!("payrouter_callbacks_total", "provider" => p.name(), "outcome" => outcome)
            .increment(1);
        // An id naming something the router did not create is refused, not retried.
        result.map_err(|e| match e {
            Error::Mismatch(m) => Error::Callback(payrouter_provider::CallbackError::Malformed(m)),
            other => other,
        })?;
        Ok(p.callback_ack())
    }

    /// Writes a callback about a payment to its timeline when nothing else did: a state it
    /// made the router apply is there already (source `callback`), and so is a deferred one
    /// (written with its recheck). A callback about an id the router does not hold (unknown,
    /// malformed, or over the fetch rate before it could be looked up) is not: it has no
    /// timeline, and one must not be made for any id sent.
    async fn record_callback(&self, p: &dyn Provider, payment_id: &str, looked: &Result<Looked>) {
        let event = match looked {
            Ok(Looked::Changed | Looked::Deferred) => return,
            Ok(Looked::Unchanged) => callback_accepted(now_ms()),
            Err(Error::NotFound(_) | Error::Invalid { .. } | Error::RateLimited(_)) => return,
            Err(e) => TimelineEvent::new(
                now_ms(),
                Event::CallbackReceived {
                    accepted: false,
                    reason: e.to_string(),
                },
            ),
        };
        if let Err(e) = self.records.record(p.name(), payment_id, &[event]).await {
            tracing::warn!(provider = p.name(), payment_id, error = %e, "cannot write a callback to the payment's timeline");
        }
    }

    /// The contract's GET callback ping: refresh and notify on change.
    pub async fn ping(&self, p: &Arc<dyn Provider>, payment_id: &str) -> Result<PaymentStatus> {
        let (rec, _) = self.load(p.as_ref(), payment_id).await?;
        Ok(self
            .refresh(p.as_ref(), rec, Source::Callback)
            .await?
            .0
            .view())
    }

    /// The form of a POST redirect, for the page that submits it.
    pub async fn post_redirect(
        &self,
        p: &Arc<dyn Provider>,
        payment_id: &str,
    ) -> Result<PostRedirectForm> {
        p.check_payment_id(payment_id)
            .map_err(|m| Error::invalid("paymentId", m))?;
        let key = self.records.keys().payment(p.name(), payment_id);
        let rec = self.records.read(&key).await?.doc;
        match rec {
            Some(PaymentRecord {
                post_redirect: Some(Redirect::Post { url, fields }),
                amount,
                shop_transaction_id,
                ..
            }) => Ok(PostRedirectForm {
                url,
                fields,
                amount,
                shop_transaction_id,
            }),
            _ => Err(Error::NotFound(format!(
                "no payment page for '{payment_id}': it was not created by this router"
            ))),
        }
    }
}

/// What the self-submitting page of a POST redirect shows and submits.
pub struct PostRedirectForm {
    pub url: String,
    pub fields: Vec<(String, String)>,
    pub amount: Money,
    pub shop_transaction_id: String,
}

/// Why a refund of `amount` cannot be asked for, if it cannot.
fn refund_refusal(rec: &PaymentRecord, amount: i64, partial: bool) -> Option<String> {
    if !rec.is_paid() {
        let status = match rec.state.status {
            PaymentStatusKind::Pending => "PENDING",
            PaymentStatusKind::Failed => "FAILED",
            PaymentStatusKind::Accepted => "ACCEPTED",
        };
        return Some(format!(
            "payment '{}' is not paid (status {status}, provider state '{}'): only paid payments can be refunded",
            rec.payment_id, rec.state.provider_status
        ));
    }
    if rec.refund_history_lost {
        return Some(format!(
            "payment '{}' was rebuilt from {} after the router's records were lost, and its \
             earlier refunds are not known: refund it at the provider",
            rec.payment_id, rec.provider
        ));
    }
    let remainder = rec.refundable();
    if amount > remainder {
        let pending = rec.pending_refunds();
        let waiting = if pending > 0 {
            format!(", with {pending} awaiting the provider's confirmation")
        } else {
            String::new()
        };
        return Some(format!(
            "refund of {amount} exceeds the refundable remainder of {remainder} {} (minor units{waiting})",
            rec.amount.currency
        ));
    }
    if !partial && amount != remainder {
        return Some(format!(
            "{} refunds only the whole remainder of {remainder} {} (minor units)",
            rec.provider, rec.amount.currency
        ));
    }
    None
}
