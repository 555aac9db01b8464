//! Subscriptions. Automatic ones are run by the provider (Fena standing orders): the router
//! keeps a record, follows the provider's state and notifies each completed instalment once.
//! Manual ones are kept by the router itself, since open banking cannot pull money: each
//! instalment is a new single payment the payer completes.

use payrouter_provider::{
    Merchant, Money, Operation, PayOrder, PayResult, PaymentStatusKind, Provider, ProviderError,
    SubscriptionOrder, SubscriptionOutcome, SubscriptionState, SubscriptionStatus,
};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::sync::Arc;

use super::pay::{fingerprint, idempotency_scope};
use super::{now_ms, Engine, Error, Result};
use crate::contract::{
    PayResponse, PaymentStatus, SubscriptionResponse, SubscriptionStatusResponse,
};
use crate::store::records::{
    InstalmentSlot, Notification, Step, SubscriptionKind as Kind, SubscriptionRecord, Work,
};

/// What a new subscription record starts from.
struct Terms<'a> {
    kind: Kind,
    merchant: &'a Merchant,
    shop_transaction_id: &'a str,
    amount: Money,
    expires_after: Option<u32>,
    /// What the provider echoes back (checked on every fetch).
    reference: Option<String>,
}

fn response(
    result: PayResult,
    description: impl Into<String>,
    token: Option<String>,
) -> SubscriptionResponse {
    SubscriptionResponse {
        result,
        result_description: description.into(),
        payment_id: None,
        subscription_token: token,
        redirect_to_url: None,
        metadata: Map::new(),
    }
}

impl Engine {
    fn provider_for(&self, p: &Arc<dyn Provider>, op: Operation) -> Result<Arc<dyn Provider>> {
        self.require(p.as_ref(), op)?;
        Ok(p.clone())
    }

    async fn load_subscription(
        &self,
        p: &dyn Provider,
        token: &str,
    ) -> Result<Option<SubscriptionRecord>> {
        let key = self.records.keys().subscription(p.name(), token);
        Ok(self.records.read(&key).await?.doc)
    }

    /// The provider, once it offers `op`, and the subscription `token` as payrouter holds it
    /// (none for one the provider runs alone).
    async fn held(
        &self,
        p: &Arc<dyn Provider>,
        op: Operation,
        token: &str,
    ) -> Result<(Arc<dyn Provider>, Option<SubscriptionRecord>)> {
        let p = self.provider_for(p, op)?;
        let stored = self.load_subscription(p.as_ref(), token).await?;
        Ok((p, stored))
    }

    /// Stores a new subscription; a retried creation finds it there and leaves it.
    async fn create_subscription_record(
        &self,
        p: &dyn Provider,
        token: &str,
        terms: Terms<'_>,
    ) -> Result<()> {
        let rec = new_record(p, token, terms);
        let key = self.records.keys().subscription(p.name(), token);
        self.records.create(&key, &rec, None, &[]).await?;
        Ok(())
    }

    /// Asks the provider to change or end a subscription it runs; on OK, records the change.
    async fn at_provider(
        &self,
        p: &dyn Provider,
        op: Operation,
        token: &str,
        call: impl std::future::Future<Output = std::result::Result<SubscriptionOutcome, ProviderError>>,
        mut on_ok: impl FnMut(&mut SubscriptionRecord),
    ) -> Result<SubscriptionResponse> {
        let out = self
            .call(p, op, call)
            .await
            .map_err(|e| not_found_as_token(e, token))?;
        if out.result == PayResult::Ok {
            self.update_subscription_record(p, token, |r| {
                on_ok(r);
                None
            })
            .await?;
        }
        Ok(answer(SubscriptionOutcome {
            token: Some(token.to_string()),
            ..out
        }))
    }

    /// Saves a subscription, re-running `change` on a concurrent write.
    async fn update_subscription_record(
        &self,
        p: &dyn Provider,
        token: &str,
        mut change: impl FnMut(&mut SubscriptionRecord) -> Option<PaymentStatus>,
    ) -> Result<()> {
        let key = self.records.keys().subscription(p.name(), token);
        self.records
            .transition(&key, None, |current| {
                let Some(mut rec) = current else {
                    return Ok::<_, Error>(Step::Keep(()));
                };
                let notification = change(&mut rec);
                rec.updated_ms = now_ms();
                Ok(Step::Write {
                    doc: rec,
                    work: notification.map(|n| Work::Notify(Notification::new(&n, now_ms()))),
                    events: Vec::new(),
                    answer: (),
                })
            })
            .await?;
        Ok(())
    }

    /// `POST /subscription/schedule`: a subscription the provider runs.
    pub async fn schedule(
        &self,
        p: &Arc<dyn Provider>,
        order: SubscriptionOrder,
    ) -> Result<SubscriptionResponse> {
        let p = self.provider_for(p, Operation::SubscriptionSchedule)?;
        let as_pay = pay_order(&order);
        self.check_currency(p.as_ref(), as_pay.amount.currency)?;
        let merchant = self.merchant_of(p.as_ref(), &order.provider_data)?;
        let key = self.records.keys().schedule_reservation(
            &idempotency_scope(p.name(), &merchant),
            &order.shop_transaction_id,
        );
        let fp = fingerprint(&as_pay, &cadence(&order));
        let subject = format!("shopTransactionId '{}'", order.shop_transaction_id);
        let once = self.schedule_once(p.as_ref(), &merchant, &order);
        self.once(&key, &fp, &subject, once).await
    }

    async fn schedule_once(
        &self,
        p: &dyn Provider,
        merchant: &Merchant,
        order: &SubscriptionOrder,
    ) -> Result<SubscriptionResponse> {
        let account = self.account(p, merchant)?;
        let out = self
            .call(
                account,
                Operation::SubscriptionSchedule,
                account.schedule_subscription(order),
            )
            .await?;
        if let Some(token) = &out.token {
            let terms = Terms {
                kind: Kind::Automatic,
                merchant,
                shop_transaction_id: &order.shop_transaction_id,
                amount: order.amount,
                expires_after: order.expires_after,
                reference: out.reference.clone(),
            };
            self.create_subscription_record(p, token, terms).await?;
        }
        Ok(answer(out))
    }

    /// `POST /subscription/update/{token}`: new terms for a provider-run subscription.
    /// Without a shopTransactionId the stored one is kept, so the provider reference stays.
    pub async fn update_subscription(
        &self,
        p: &Arc<dyn Provider>,
        token: &str,
        mut order: SubscriptionOrder,
    ) -> Result<SubscriptionResponse> {
        let (p, stored) = self.held(p, Operation::SubscriptionUpdate, token).await?;
        let merchant = match &stored {
            Some(rec) => rec.merchant.clone(),
            None => self.merchant_of(p.as_ref(), &order.provider_data)?,
        };
        let account = self.account(p.as_ref(), &merchant)?;
        if let Some(rec) = stored {
            if order.shop_transaction_id.is_empty() {
                order.shop_transaction_id = rec.shop_transaction_id.clone();
            }
            if rec.kind == Kind::Manual {
                return Ok(response(
                    PayResult::Ko,
                    "a manual subscription has no terms to change: each /subscription/pay carries its own amount",
                    Some(token.to_string()),
                ));
            }
        }
        self.at_provider(
            p.as_ref(),
            Operation::SubscriptionUpdate,
            token,
            account.update_subscription(token, &order),
            |r| {
                r.amount = order.amount;
                r.expires_after = order.expires_after;
            },
        )
        .await
    }

    /// `POST /subscription/start`: a router-kept subscription and its first payment.
    pub async fn start_subscription(
        &self,
        p: &Arc<dyn Provider>,
        order: PayOrder,
        expires_after: Option<u32>,
    ) -> Result<SubscriptionResponse> {
        let p = self.provider_for(p, Operation::SubscriptionStart)?;
        let merchant = self.merchant_of(p.as_ref(), &order.provider_data)?;
        // The token follows from the request, so a retried start finds the same subscription.
        let scope = idempotency_scope(p.name(), &merchant);
        let digest = Sha256::digest(format!("{scope}:{}", order.shop_transaction_id).as_bytes());
        let token = format!("sub_{}", &hex::encode(digest)[..24]);
        let terms = Terms {
            kind: Kind::Manual,
            merchant: &merchant,
            shop_transaction_id: &order.shop_transaction_id,
            amount: order.amount,
            expires_after,
            reference: None,
        };
        let rec = new_record(p.as_ref(), &token, terms);
        // Nothing is stored until the first payment exists: a start refused by the router or
        // by the provider leaves no terms behind for a corrected retry to inherit.
        let order = PayOrder {
            provider_order_id: Some(instalment_order_id(&token, 1)),
            ..order
        };
        let paid = self
            .pay_as(p.as_ref(), merchant.clone(), order, Some(&token))
            .await?;
        if let Some(id) = &paid.payment_id {
            let key = self.records.keys().subscription(p.name(), &token);
            self.records
                .transition(&key, None, |current| {
                    let mut rec = current.unwrap_or_else(|| rec.clone());
                    if rec.payments.contains(id) {
                        return Ok::<_, Error>(Step::Keep(()));
                    }
                    rec.payments.push(id.clone());
                    rec.started = rec.started.max(1);
                    rec.updated_ms = now_ms();
                    Ok(Step::write(rec, ()))
                })
                .await?;
        }
        Ok(instalment_response(paid, &token))
    }

    /// `POST /subscription/pay`: the next instalment of a manual subscription. Its slot is
    /// reserved by compare-and-set before the provider is asked, and given back when no
    /// payment came of it.
    pub async fn pay_subscription(
        &self,
        p: &Arc<dyn Provider>,
        token: &str,
        order: PayOrder,
    ) -> Result<SubscriptionResponse> {
        let p = self.provider_for(p, Operation::SubscriptionPay)?;
        let key = self.records.keys().subscription(p.name(), token);
        let shop_tx = order.shop_transaction_id.clone();
        let now = now_ms();
        let until_ms = now + self.pay_lease.as_millis() as i64;
        let (slot, _) = self
            .records
            .transition(&key, None, |current| {
                let Some(mut rec) = current else {
                    return Err(Error::NotFound(format!(
                        "unknown subscriptionToken '{token}'"
                    )));
                };
                // A retry of this instalment keeps its number; lapsed slots, and this
                // instalment's own, do not count.
                let retried = rec
                    .slots
                    .iter()
                    .find(|s| s.until_ms > now && s.shop_transaction_id == shop_tx && s.number > 0)
                    .map(|s| s.number);
                rec.slots
                    .retain(|s| s.until_ms > now && s.shop_transaction_id != shop_tx);
                if let Some(reason) = instalment_refusal(&rec) {
                    return Ok(Step::Keep(Err(reason)));
                }
                if rec.amount.currency != order.amount.currency {
                    return Err(Error::invalid(
                        "currency",
                        format!(
                            "must be {}, the subscription's currency",
                            rec.amount.currency
                        ),
                    ));
                }
                let number = retried.unwrap_or_else(|| {
                    let done = u32::try_from(rec.payments.len()).unwrap_or(u32::MAX);
                    rec.started = rec.started.max(done).saturating_add(1);
                    rec.started
                });
                rec.slots.push(InstalmentSlot {
                    shop_transaction_id: shop_tx.clone(),
                    until_ms,
                    number,
                });
                let merchant = rec.merchant.clone();
                Ok(Step::write(rec, Ok((number, merchant))))
            })
            .await?;
        let (number, merchant) = match slot {
            Ok(slot) => slot,
            Err(reason) => return Ok(response(PayResult::Ko, reason, Some(token.to_string()))),
        };
        let order = PayOrder {
            provider_order_id: Some(instalment_order_id(token, number)),
            ..order
        };
        // Every instalment is paid to the subscription's merchant.
        let paid = match self.merchant_of(p.as_ref(), &order.provider_data) {
            Ok(named) if order.provider_data.contains_key("merchant") && named != merchant => {
                Err(Error::invalid(
                    "providerData.merchant",
                    format!("the subscription belongs to the merchant '{merchant}'; leave it out or name that one"),
                ))
            }
            _ => {
                self.pay_as(p.as_ref(), merchant, order, Some(token))
                    .await
            }
        };
        let payment_id = paid.as_ref().ok().and_then(|r| r.payment_id.clone());
        self.records
            .transition(&key, None, |current| {
                let Some(mut rec) = current else {
                    return Ok::<_, Error>(Step::Keep(()));
                };
                rec.slots.retain(|s| s.shop_transaction_id != shop_tx);
                if let Some(id) = &payment_id {
                    if !rec.payments.contains(id) {
                        rec.payments.push(id.clone());
                    }
                }
                rec.updated_ms = now_ms();
                Ok(Step::write(rec, ()))
            })
            .await?;
        Ok(instalment_response(paid?, token))
    }

    /// `DELETE /subscription/expire/{token}`.
    pub async fn expire_subscription(
        &self,
        p: &Arc<dyn Provider>,
        token: &str,
    ) -> Result<SubscriptionResponse> {
        let (p, stored) = self.held(p, Operation::SubscriptionExpire, token).await?;
        let account = self
            .subscription_account(p.as_ref(), token, stored.as_ref())
            .await?;
        if let Some(rec) = stored {
            if rec.kind == Kind::Manual {
                self.update_subscription_record(p.as_ref(), token, |r| {
                    r.ended = true;
                    None
                })
                .await?;
                return Ok(response(
                    PayResult::Ok,
                    "subscription ended: /subscription/pay now answers KO",
                    Some(token.into()),
                ));
            }
        }
        self.at_provider(
            p.as_ref(),
            Operation::SubscriptionExpire,
            token,
            account.expire_subscription(token),
            |r| r.status = SubscriptionStatus::Canceled,
        )
        .await
    }

    /// `GET /subscription/status/{token}`.
    pub async fn subscription_status(
        &self,
        p: &Arc<dyn Provider>,
        token: &str,
    ) -> Result<SubscriptionStatusResponse> {
        let (p, stored) = self.held(p, Operation::SubscriptionStatus, token).await?;
        if let Some(rec) = &stored {
            if rec.kind == Kind::Manual {
                return self.manual_status(&p, rec).await;
            }
        }
        let account = self
            .subscription_account(p.as_ref(), token, stored.as_ref())
            .await?;
        let state = self
            .call(
                account,
                Operation::SubscriptionStatus,
                account.fetch_subscription(token),
            )
            .await
            .map_err(|e| not_found_as_token(e, token))?;
        self.sync_subscription(p.as_ref(), &state).await?;
        let mut metadata = Map::new();
        metadata.insert("providerStatus".into(), json!(state.provider_status));
        let completed = state
            .instalments
            .iter()
            .filter(|i| i.status == PaymentStatusKind::Accepted)
            .count();
        metadata.insert("completedPayments".into(), json!(completed));
        if let Some(rec) = stored {
            metadata.insert("shopTransactionId".into(), json!(rec.shop_transaction_id));
        }
        Ok(SubscriptionStatusResponse {
            status: state.status,
            subscription_token: token.to_string(),
            provider_name: p.name().to_string(),
            metadata,
        })
    }

    async fn manual_status(
        &self,
        p: &Arc<dyn Provider>,
        rec: &SubscriptionRecord,
    ) -> Result<SubscriptionStatusResponse> {
        let last = match rec.payments.last() {
            Some(id) => Some(self.status(p, id).await?),
            None => None,
        };
        let all_taken = rec
            .expires_after
            .is_some_and(|n| rec.payments.len() as u64 >= u64::from(n));
        let status = match (&last, rec.ended) {
            (_, true) => SubscriptionStatus::Canceled,
            (None, false) => SubscriptionStatus::Pending,
            (Some(s), false) => match s.status {
                PaymentStatusKind::Pending => SubscriptionStatus::Pending,
                PaymentStatusKind::Accepted if all_taken => SubscriptionStatus::Expired,
                PaymentStatusKind::Accepted => SubscriptionStatus::Active,
                PaymentStatusKind::Failed => SubscriptionStatus::PastDue,
            },
        };
        let mut metadata = Map::new();
        metadata.insert("shopTransactionId".into(), json!(rec.shop_transaction_id));
        metadata.insert("payments".into(), json!(rec.payments.len()));
        if let Some(s) = last {
            metadata.insert("lastPaymentId".into(), json!(s.payment_id));
            metadata.insert(
                "lastPaymentStatus".into(),
                serde_json::to_value(s.status).unwrap_or(Value::Null),
            );
        }
        Ok(SubscriptionStatusResponse {
            status,
            subscription_token: rec.token.clone(),
            provider_name: p.name().to_string(),
            metadata,
        })
    }

    /// Records a provider-run subscription's state and notifies each completed instalment
    /// exactly once (the instalment id is remembered in the same store step as the enqueue).
    pub(super) async fn sync_subscription(
        &self,
        p: &dyn Provider,
        state: &SubscriptionState,
    ) -> Result<()> {
        let Some(rec) = self.load_subscription(p, &state.token).await? else {
            tracing::warn!(provider = p.name(), token = %state.token, "subscription not created by this router; not followed");
            return Ok(());
        };
        if let (Some(ours), Some(theirs)) = (&rec.reference, &state.reference) {
            if ours != theirs {
                return Err(Error::Mismatch(format!(
                    "{} reports subscription '{}' with another reference",
                    p.name(),
                    state.token
                )));
            }
        }
        for inst in state
            .instalments
            .iter()
            .filter(|i| i.status == PaymentStatusKind::Accepted)
        {
            self.update_subscription_record(p, &state.token, |r| {
                if r.notified.contains(&inst.id) {
                    return None;
                }
                r.notified.push(inst.id.clone());
                let amount = inst.amount.map_or(r.amount.minor, |m| m.minor);
                Some(PaymentStatus {
                    status: PaymentStatusKind::Accepted,
                    payment_id: inst.id.clone(),
                    shop_transaction_id: r.shop_transaction_id.clone(),
                    provider_name: r.provider.clone(),
                    payment_method: "external".into(),
                    action: payrouter_provider::Action::Payment,
                    metadata: serde_json::from_value(json!({
                        "providerStatus": inst.provider_status,
                        "amount": amount,
                        "currency": r.amount.currency.code(),
                        "refundedAmount": 0,
                        "subscriptionToken": r.token,
                    }))
                    .unwrap_or_default(),
                })
            })
            .await?;
        }
        self.update_subscription_record(p, &state.token, |r| {
            r.status = state.status;
            r.provider_status = state.provider_status.clone();
            None
        })
        .await
    }

    /// A provider's subscription callback: re-fetch, record, notify new instalments.
    pub(super) async fn subscription_callback(
        &self,
        p: &dyn Provider,
        token: &str,
    ) -> Result<bool> {
        let stored = self.load_subscription(p, token).await?;
        let account = self.subscription_account(p, token, stored.as_ref()).await?;
        let state = self
            .call(
                account,
                Operation::SubscriptionStatus,
                account.fetch_subscription(token),
            )
            .await
            .map_err(|e| not_found_as_token(e, token))?;
        self.sync_subscription(p, &state).await?;
        Ok(true)
    }

    /// The account that runs the subscription `token`: the stored one's, else (a token the
    /// store does not hold) the first configured account that knows it, at most one fetch per
    /// account. With a single account, that one (its own answer says whether it knows it).
    async fn subscription_account<'a>(
        &self,
        p: &'a dyn Provider,
        token: &str,
        stored: Option<&SubscriptionRecord>,
    ) -> Result<&'a dyn Provider> {
        if let Some(rec) = stored {
            return self.account(p, &rec.merchant);
        }
        let merchants = p.merchants();
        if let [only] = merchants.as_slice() {
            return self.account(p, only);
        }
        for merchant in &merchants {
            let account = self.account(p, merchant)?;
            let found = self
                .call(
                    account,
                    Operation::SubscriptionStatus,
                    account.fetch_subscription(token),
                )
                .await;
            match found {
                Err(ProviderError::NotFound(_)) => continue,
                Err(ProviderError::InvalidRequest { field, .. })
                    if field == "subscriptionToken" =>
                {
                    continue
                }
                Ok(_) => return Ok(account),
                Err(e) => return Err(e.into()),
            }
        }
        Err(Error::NotFound(format!(
            "unknown subscriptionToken '{token}'"
        )))
    }
}

/// Why a manual subscription takes no further instalment, if it does not. Payments made and
/// slots held both count against `expires_after`.
fn instalment_refusal(rec: &SubscriptionRecord) -> Option<String> {
    if rec.kind == Kind::Automatic {
        return Some("an automatic subscription is charged by the provider; /subscription/pay is for manual ones".into());
    }
    if rec.ended {
        return Some("the subscription has ended: start a new one".into());
    }
    let taken = (rec.payments.len() + rec.slots.len()) as u64;
    match rec.expires_after {
        Some(n) if taken >= u64::from(n) && rec.slots.is_empty() => {
            Some(format!("all {n} payments of the subscription were taken"))
        }
        Some(n) if taken >= u64::from(n) => Some(format!(
            "all {n} payments of the subscription are taken or being paid ({} in progress)",
            rec.slots.len()
        )),
        _ => None,
    }
}

/// A new subscription record, before any instalment.
fn new_record(p: &dyn Provider, token: &str, terms: Terms<'_>) -> SubscriptionRecord {
    SubscriptionRecord {
        provider: p.name().to_string(),
        merchant: terms.merchant.clone(),
        token: token.to_string(),
        kind: terms.kind,
        shop_transaction_id: terms.shop_transaction_id.to_string(),
        amount: terms.amount,
        status: SubscriptionStatus::Pending,
        provider_status: String::new(),
        reference: terms.reference,
        expires_after: terms.expires_after,
        payments: Vec::new(),
        notified: Vec::new(),
        ended: false,
        started: 0,
        updated_ms: now_ms(),
        slots: Vec::new(),
    }
}

/// The answer to a manual subscription's start or instalment.
fn instalment_response(paid: PayResponse, token: &str) -> SubscriptionResponse {
    SubscriptionResponse {
        result: paid.result,
        result_description: paid.result_description,
        payment_id: paid.payment_id,
        subscription_token: Some(token.to_string()),
        redirect_to_url: paid.redirect_to_url,
        metadata: Map::new(),
    }
}

/// The contract's answer for a provider's subscription outcome.
fn answer(out: SubscriptionOutcome) -> SubscriptionResponse {
    SubscriptionResponse {
        result: out.result,
        result_description: out.description,
        payment_id: out.payment_id,
        subscription_token: out.token,
        redirect_to_url: out.redirect_url,
        metadata: out.metadata,
    }
}

/// A token the provider does not know, or could not have issued, is an unknown token.
fn not_found_as_token(e: ProviderError, token: &str) -> Error {
    match e {
        ProviderError::NotFound(_) => {
            Error::NotFound(format!("unknown subscriptionToken '{token}'"))
        }
        ProviderError::InvalidRequest { field, .. } if field == "subscriptionToken" => {
            Error::NotFound(format!("unknown subscriptionToken '{token}'"))
        }
        other => other.into(),
    }
}

/// The provider order id of a manual subscription's instalment `number` (1 for the payment
/// of `/subscription/start`), for providers that take the merchant's order id (Feennex).
fn instalment_order_id(token: &str, number: u32) -> String {
    format!("{token}-{number}")
}

fn pay_order(order: &SubscriptionOrder) -> PayOrder {
    PayOrder {
        amount: order.amount,
        shop_transaction_id: order.shop_transaction_id.clone(),
        success_redirect_url: None,
        failure_redirect_url: None,
        provider_data: order.provider_data.clone(),
        provider_order_id: None,
    }
}

fn cadence(order: &SubscriptionOrder) -> Value {
    json!({"interval": order.interval, "intervalCount": order.interval_count, "expiresAfter": order.expires_after})
}
