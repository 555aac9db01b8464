//! Creating a payment: idempotent on (provider, shopTransactionId) through `once`.

use payrouter_provider::{Operation, PayOrder, PayOutcome, PayResult, Provider, Redirect};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::{now_ms, Engine, Error, Result};
use crate::contract::PayResponse;
use crate::store::records::PaymentRecord;

/// What makes two creating requests "the same": amount, currency and providerData, plus
/// whatever else the operation adds (a subscription's cadence).
pub(super) fn fingerprint(order: &PayOrder, extra: &serde_json::Value) -> String {
    let canonical = serde_json::json!({
        "amount": order.amount.minor,
        "currency": order.amount.currency.code(),
        "providerData": order.provider_data,
        "extra": extra,
    });
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}

impl Engine {
    pub async fn pay(&self, p: &Arc<dyn Provider>, order: PayOrder) -> Result<PayResponse> {
        self.pay_in(p.as_ref(), order, None).await
    }

    /// Pays, marking the payment as an instalment of `subscription` when given.
    pub(super) async fn pay_in(
        &self,
        p: &dyn Provider,
        order: PayOrder,
        subscription: Option<&str>,
    ) -> Result<PayResponse> {
        self.require(p, Operation::Pay)?;
        self.check_currency(p, &order)?;
        let key = self
            .records
            .keys()
            .pay_reservation(p.name(), &order.shop_transaction_id);
        let subject = format!("shopTransactionId '{}'", order.shop_transaction_id);
        let fp = fingerprint(&order, &serde_json::json!(subscription));
        self.once(
            &key,
            &fp,
            &subject,
            self.create_payment(p, &order, subscription),
        )
        .await
    }

    pub(super) fn check_currency(&self, p: &dyn Provider, order: &PayOrder) -> Result<()> {
        let caps = p.capabilities();
        if caps.currencies.accepts(order.amount.currency) {
            return Ok(());
        }
        Err(Error::invalid(
            "currency",
            format!(
                "{} is not accepted by {}; it takes {}",
                order.amount.currency,
                p.name(),
                caps.currencies.describe()
            ),
        ))
    }

    async fn create_payment(
        &self,
        p: &dyn Provider,
        order: &PayOrder,
        subscription: Option<&str>,
    ) -> Result<PayResponse> {
        let created = match self.call(p, Operation::Pay, p.pay(order)).await? {
            PayOutcome::Created(c) => c,
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
            amount: order.amount,
            reference: created.reference,
            state: created.state,
            refunds: Vec::new(),
            post_redirect: matches!(created.redirect, Redirect::Post { .. })
                .then_some(created.redirect),
            subscription_token: subscription.map(str::to_string),
            refund_history_lost: false,
            extras: created.extras,
            created_ms: now,
            updated_ms: now,
            fetch_started_ms: 0,
        };
        let key = self.records.keys().payment(p.name(), &rec.payment_id);
        let recheck = self.first_recheck(p.name(), &rec.payment_id);
        if !self.records.create(&key, &rec, Some(recheck)).await? {
            tracing::warn!(payment_id = %rec.payment_id, "payment record already existed");
        }
        metrics::counter!("payrouter_payments_created_total", "provider" => p.name()).increment(1);
        Ok(PayResponse {
            result: PayResult::RedirectToUrl,
            result_description: "payment created: redirect the payer to complete it".into(),
            payment_id: Some(created.payment_id),
            redirect_to_url: Some(redirect_to_url),
            redirect_to_url_mobile: created.redirect_mobile,
        })
    }
}
