//! Creating a payment: idempotent on (provider, merchant, shopTransactionId) through a
//! reservation.
//!
//! A provider that can resume a payment (`Provider::prepare_pay` gives a handle: a Fena
//! draft) has the handle kept in the reservation before the payment becomes visible, so a
//! retry after an unknown outcome (timeout, dropped connection, 5xx, a lease taken over)
//! resumes that payment: one provider payment per shopTransactionId.

use payrouter_provider::{
    Currency, Merchant, Operation, PayOrder, PayOutcome, PayResult, PreparedPay, Provider, Redirect,
};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::idempotency::{Claim, Reserved};
use super::{Engine, Error, Result};
use crate::contract::PayResponse;
use crate::store::records::{Event, PaymentRecord, TimelineEvent};

/// What makes two creating requests "the same": amount, currency and providerData, plus
/// whatever else the operation adds (a subscription's cadence). The merchant is left out: it
/// is part of the idempotency key, and naming `default` is naming none.
pub(super) fn fingerprint(order: &PayOrder, extra: &serde_json::Value) -> String {
    let mut data = order.provider_data.clone();
    data.remove("merchant");
    let canonical = serde_json::json!({
        "amount": order.amount.minor,
        "currency": order.amount.currency.code(),
        "providerData": data,
        "extra": extra,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

/// The provider part of an idempotency key: the provider, and the merchant after a `+` unless
/// it is `default` (whose keys stay as they were before accounts). Two merchants may reuse a
/// shopTransactionId; provider names hold no `+` or `:`, so no shopTransactionId can make the
/// keys of two merchants meet.
pub(super) fn idempotency_scope(provider: &str, merchant: &Merchant) -> String {
    if merchant.is_default() {
        provider.to_string()
    } else {
        format!("{provider}+{merchant}")
    }
}

impl Engine {
    /// Pays for the merchant `providerData.merchant` names (absent: `default`).
    pub async fn pay(&self, p: &Arc<dyn Provider>, order: PayOrder) -> Result<PayResponse> {
        let merchant = self.merchant_of(p.as_ref(), &order.provider_data)?;
        self.pay_as(p.as_ref(), merchant, order, None).await
    }

    /// Pays for `merchant`, marking the payment as an instalment of `subscription` when given.
    pub(super) async fn pay_as(
        &self,
        p: &dyn Provider,
        merchant: Merchant,
        order: PayOrder,
        subscription: Option<&str>,
    ) -> Result<PayResponse> {
        self.require(p, Operation::Pay)?;
        self.check_currency(p, order.amount.currency)?;
        let key = self.records.keys().pay_reservation(
            &idempotency_scope(p.name(), &merchant),
            &order.shop_transaction_id,
        );
        let subject = format!("shopTransactionId '{}'", order.shop_transaction_id);
        let fp = fingerprint(&order, &serde_json::json!(subscription));
        let mut claim = match self.reserve(&key, &fp, &subject).await? {
            Reserved::Answered(response) => return Ok(response),
            Reserved::Ours(claim) => claim,
        };
        let outcome = self
            .create_payment(p, &merchant, &order, subscription, &mut claim)
            .await;
        self.settle(claim, outcome).await
    }

    pub(crate) fn check_currency(&self, p: &dyn Provider, currency: Currency) -> Result<()> {
        let caps = p.capabilities();
        if caps.currencies.accepts(currency) {
            return Ok(());
        }
        Err(Error::invalid(
            "currency",
            format!(
                "{} is not accepted by {}; it takes {}",
                currency,
                p.name(),
                caps.currencies.describe()
            ),
        ))
    }

    async fn create_payment(
        &self,
        p: &dyn Provider,
        merchant: &Merchant,
        order: &PayOrder,
        subscription: Option<&str>,
        claim: &mut Claim<'_, PayResponse>,
    ) -> Result<PayResponse> {
        let account = self.account(p, merchant)?;
        let outcome = match claim.resumed().map(str::to_string) {
            Some(handle) => {
                tracing::info!(provider = p.name(), %merchant, shop_transaction_id = %order.shop_transaction_id, "resuming a payment whose creation had an unknown outcome");
                self.call(
                    account,
                    Operation::Pay,
                    account.resume_pay(order, &handle, false),
                )
                .await?
            }
            None => match self
                .call(account, Operation::Pay, account.prepare_pay(order))
                .await?
            {
                PreparedPay::Direct => {
                    self.call(account, Operation::Pay, account.pay(order))
                        .await?
                }
                PreparedPay::Declined { message } => PayOutcome::Declined { message },
                PreparedPay::Handle(handle) => {
                    self.keep_handle(claim, &handle).await?;
                    self.call(
                        account,
                        Operation::Pay,
                        account.resume_pay(order, &handle, true),
                    )
                    .await?
                }
            },
        };
        let (response, record) = match outcome {
            PayOutcome::Created(created) => {
                let redirect_to_url = match &created.redirect {
                    Redirect::Get { url } => url.clone(),
                    Redirect::Post { .. } => format!(
                        "{}/v3/{}/redirect/{}",
                        self.public_base_url.as_deref().unwrap_or(""),
                        p.name(),
                        created.payment_id
                    ),
                };
                let response = PayResponse {
                    result: PayResult::RedirectToUrl,
                    result_description: "payment created: redirect the payer to complete it".into(),
                    payment_id: Some(created.payment_id.clone()),
                    redirect_to_url: Some(redirect_to_url),
                    redirect_to_url_mobile: created.redirect_mobile,
                };
                let post_redirect =
                    matches!(created.redirect, Redirect::Post { .. }).then_some(created.redirect);
                let record = (
                    created.payment_id,
                    created.reference,
                    created.state,
                    post_redirect,
                    created.extras,
                );
                (response, record)
            }
            PayOutcome::Existing(existing) => {
                let response = PayResponse {
                    result: PayResult::Pending,
                    result_description: format!(
                        "the payment exists at {} but its payer link was lost with the first answer; \
                         follow it with status",
                        p.display_name()
                    ),
                    payment_id: Some(existing.payment_id.clone()),
                    redirect_to_url: None,
                    redirect_to_url_mobile: None,
                };
                // Facts given only with the lost first answer (receipt URLs) stay unknown.
                let record = (
                    existing.payment_id,
                    existing.reference,
                    existing.state,
                    None,
                    Default::default(),
                );
                (response, record)
            }
            PayOutcome::Declined { message } => {
                return Ok(PayResponse {
                    result: PayResult::Ko,
                    result_description: message,
                    payment_id: None,
                    redirect_to_url: None,
                    redirect_to_url_mobile: None,
                })
            }
        };
        let (payment_id, reference, state, post_redirect, extras) = record;
        let now = (self.wall_clock)();
        let rec = PaymentRecord {
            provider: p.name().to_string(),
            merchant: merchant.clone(),
            payment_id,
            shop_transaction_id: order.shop_transaction_id.clone(),
            amount: order.amount,
            reference,
            state,
            refunds: Vec::new(),
            post_redirect,
            subscription_token: subscription.map(str::to_string),
            refund_history_lost: false,
            extras,
            created_ms: now,
            updated_ms: now,
            fetch_started_ms: 0,
        };
        let key = self.records.keys().payment(p.name(), &rec.payment_id);
        let recheck = self.first_recheck(p.name(), &rec.payment_id);
        let created = TimelineEvent::new(
            now,
            Event::Created {
                provider_status: rec.state.provider_status.clone(),
                status: rec.state.status,
                result: response.result,
            },
        );
        if !self
            .records
            .create(&key, &rec, Some(recheck), &[created])
            .await?
        {
            tracing::warn!(payment_id = %rec.payment_id, "payment record already existed");
        }
        metrics::counter!("payrouter_payments_created_total", "provider" => p.name()).increment(1);
        // The merchant label is bounded by the accounts configured.
        metrics::counter!("payrouter_merchant_payments_created_total", "provider" => p.name(), "merchant" => merchant.to_string())
            .increment(1);
        Ok(response)
    }
}
