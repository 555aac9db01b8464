//! The payment rules, written once for every provider: idempotent pay, status refresh within
//! the provider's poll window, forward-only state changes, the refund ledger, and a
//! notification enqueued in the same store step as each real change.

mod idempotency;
mod operations;
mod pay;
mod reconcile;
pub mod record;
mod subscriptions;

use payrouter_provider::{
    Action, CallbackError, FetchedPayment, Operation, PaymentStatusKind, Provider, ProviderError,
};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::notify::{Notification, NotifyHandle};
use crate::store::{OutboxItem, Store, StoreError};
use record::{to_doc, PaymentRecord};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The provider's answer contradicts what the router sent it.
    #[error("{0}")]
    Mismatch(String),
    #[error(transparent)]
    Callback(#[from] CallbackError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Error {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Error::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

pub use reconcile::RecheckSchedule;

/// The enabled providers by name. The only place providers are named is `crate::registry`.
pub type Providers = BTreeMap<&'static str, Arc<dyn Provider>>;

pub struct Engine {
    store: Arc<dyn Store>,
    providers: Providers,
    notify: NotifyHandle,
    retention: Duration,
    /// How long a pay reservation holds off identical requests before it may be taken over.
    pay_lease: Duration,
    public_base_url: Option<String>,
    rechecks: RecheckSchedule,
}

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Engine {
    pub fn new(
        store: Arc<dyn Store>,
        providers: Providers,
        notify: NotifyHandle,
        retention: Duration,
        pay_lease: Duration,
        public_base_url: Option<String>,
        rechecks: RecheckSchedule,
    ) -> Self {
        Engine {
            store,
            providers,
            notify,
            retention,
            pay_lease,
            public_base_url,
            rechecks,
        }
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub fn provider(&self, name: &str) -> Result<&Arc<dyn Provider>> {
        self.providers.get(name).ok_or_else(|| {
            Error::NotFound(format!(
                "unknown provider '{name}' (enabled: {})",
                self.providers
                    .keys()
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
    }

    fn require(&self, p: &dyn Provider, op: Operation) -> Result<()> {
        if p.capabilities().supports(op) {
            Ok(())
        } else {
            Err(p.unsupported(op).into())
        }
    }

    /// Runs one provider call, timing it for the provider-latency histogram.
    async fn call<T>(
        &self,
        p: &dyn Provider,
        op: Operation,
        fut: impl Future<Output = std::result::Result<T, ProviderError>>,
    ) -> std::result::Result<T, ProviderError> {
        let start = Instant::now();
        let result = fut.await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ProviderError::Timeout { .. }) => "timeout",
            Err(ProviderError::NotFound(_)) => "not_found",
            Err(_) => "error",
        };
        metrics::histogram!(
            "payrouter_provider_call_duration_seconds",
            "provider" => p.name(),
            "operation" => op.label(),
            "outcome" => outcome
        )
        .record(start.elapsed().as_secs_f64());
        result
    }

    /// Reads a payment, or rebuilds it from the provider when the store has lost it.
    async fn load(&self, p: &dyn Provider, payment_id: &str) -> Result<(PaymentRecord, u64)> {
        p.check_payment_id(payment_id)
            .map_err(|m| Error::invalid("paymentId", m))?;
        let key = PaymentRecord::key(p.name(), payment_id);
        loop {
            if let Some(v) = self.store.get(&key).await? {
                if let Ok(rec) = serde_json::from_str::<PaymentRecord>(&v.doc) {
                    return Ok((rec, v.version));
                }
                tracing::error!(
                    payment_id,
                    "unreadable payment record; rebuilding it from the provider"
                );
            }
            let fetched = match self.call(p, Operation::Status, p.fetch(payment_id)).await {
                Err(ProviderError::NotFound(_)) => {
                    return Err(Error::NotFound(format!(
                        "unknown paymentId '{payment_id}' for {}",
                        p.name()
                    )))
                }
                other => other?,
            };
            // The rebuild's fetch uses up the poll window, so no second fetch follows it. (Only
            // after a real payment was found: unknown ids leave nothing in the store.)
            self.claim_poll(p, payment_id).await?;
            let rec = self.rebuild(p, payment_id, fetched)?;
            // What was notified before the loss is unknown: anything past "created and
            // waiting" is announced again (at least once beats never).
            let moved = rec.state.status != PaymentStatusKind::Pending
                || rec.state.action != Action::Payment;
            let item = moved.then(|| self.notification(&rec));
            let current = self.store.get(&key).await?.map_or(0, |v| v.version);
            if self
                .store
                .put_if(
                    &key,
                    current,
                    &to_doc(&rec),
                    Some(self.retention),
                    item.as_ref(),
                )
                .await?
            {
                tracing::info!(payment_id, "payment rebuilt from the provider");
                if item.is_some() {
                    self.notify.wake();
                }
                if !rec.is_settled() {
                    self.store
                        .outbox_push(&self.first_recheck(p.name(), payment_id))
                        .await?;
                }
                return Ok((rec, current + 1));
            }
        }
    }

    fn rebuild(
        &self,
        p: &dyn Provider,
        payment_id: &str,
        f: FetchedPayment,
    ) -> Result<PaymentRecord> {
        let amount = f.amount.ok_or_else(|| {
            Error::Mismatch(format!(
                "{} did not say the amount of payment '{payment_id}'",
                p.name()
            ))
        })?;
        let now = now_ms();
        let refund_history_lost = f.state.action == Action::Refund;
        Ok(PaymentRecord {
            provider: p.name().to_string(),
            payment_id: payment_id.to_string(),
            shop_transaction_id: f.shop_transaction_id.unwrap_or_default(),
            amount: amount.minor,
            currency: amount.currency.code().to_string(),
            reference: f.reference,
            state: f.state,
            refunds: Vec::new(),
            post_redirect: None,
            subscription_token: None,
            refund_history_lost,
            created_ms: now,
            updated_ms: now,
        })
    }

    /// Claims the provider's poll window for this payment; false while another fetch of the
    /// same payment (on any replica) happened less than `min_poll_interval` ago.
    async fn claim_poll(&self, p: &dyn Provider, payment_id: &str) -> Result<bool> {
        let interval = p.capabilities().min_poll_interval;
        if interval.is_zero() {
            return Ok(true);
        }
        let key = format!("payrouter:poll:{}:{payment_id}", p.name());
        Ok(self.store.put_if(&key, 0, "", Some(interval), None).await?)
    }

    /// Fetches the provider's state (when the poll window allows) and applies it. Returns the
    /// record as it now stands and whether a notification of a change was enqueued.
    async fn refresh(&self, p: &dyn Provider, rec: PaymentRecord) -> Result<(PaymentRecord, bool)> {
        if !self.claim_poll(p, &rec.payment_id).await? {
            return Ok((rec, false));
        }
        let fetched = self
            .call(p, Operation::Status, p.fetch(&rec.payment_id))
            .await?;
        self.apply(p, fetched).await
    }

    /// Applies a fetched state forward-only; a real change enqueues one notification in the
    /// same atomic store step.
    async fn apply(
        &self,
        p: &dyn Provider,
        fetched: FetchedPayment,
    ) -> Result<(PaymentRecord, bool)> {
        let key = PaymentRecord::key(p.name(), &fetched.payment_id);
        if fetched.state.unknown {
            metrics::counter!("payrouter_provider_unknown_state_total", "provider" => p.name())
                .increment(1);
            tracing::warn!(
                provider = p.name(),
                payment_id = %fetched.payment_id,
                provider_status = %fetched.state.provider_status,
                "unknown provider state, answered as PENDING"
            );
        }
        loop {
            let (mut rec, version) = self.load(p, &fetched.payment_id).await?;
            check_integrity(p, &rec, &fetched)?;
            if !rec.accepts(&fetched.state) {
                return Ok((rec, false));
            }
            // A provider's finer steps (Feennex 1 → 2, Fena sent → overdue) are recorded but
            // only a change the PGM can see (status, action, finality, metadata) is notified.
            let (seen, was_final) = (visible_part(&rec), rec.state.is_final);
            rec.apply(fetched.state.clone(), now_ms());
            let visible = seen != visible_part(&rec) || was_final != rec.state.is_final;
            let item = visible.then(|| self.notification(&rec));
            if self
                .store
                .put_if(
                    &key,
                    version,
                    &to_doc(&rec),
                    Some(self.retention),
                    item.as_ref(),
                )
                .await?
            {
                metrics::counter!("payrouter_state_changes_total", "provider" => p.name())
                    .increment(1);
                self.notify.wake();
                return Ok((rec, item.is_some()));
            }
        }
    }

    fn notification(&self, rec: &PaymentRecord) -> OutboxItem {
        Notification::new(&rec.provider, &rec.payment_id, &rec.view()).into_item(now_ms())
    }

    /// Applies `change` to the stored payment, reloading and re-running it on a concurrent
    /// write; `change` answers whether it changed anything (nothing to write otherwise).
    async fn update(
        &self,
        p: &dyn Provider,
        payment_id: &str,
        mut change: impl FnMut(&mut PaymentRecord) -> bool,
    ) -> Result<PaymentRecord> {
        let key = PaymentRecord::key(p.name(), payment_id);
        loop {
            let (mut rec, version) = self.load(p, payment_id).await?;
            if !change(&mut rec) {
                return Ok(rec);
            }
            rec.updated_ms = now_ms();
            if self
                .store
                .put_if(&key, version, &to_doc(&rec), Some(self.retention), None)
                .await?
            {
                return Ok(rec);
            }
        }
    }
}

/// What a notification tells the PGM, less the provider's own word for the state.
fn visible_part(rec: &PaymentRecord) -> crate::contract::PaymentStatus {
    let mut view = rec.view();
    view.metadata.remove("providerStatus");
    view
}

/// The provider's amount and reference must be the ones the router sent: an id that points at
/// some other payment is not acted on.
fn check_integrity(p: &dyn Provider, rec: &PaymentRecord, f: &FetchedPayment) -> Result<()> {
    let amount_ok = f
        .amount
        .is_none_or(|a| a.minor == rec.amount && a.currency.code() == rec.currency);
    let reference_ok = match (&rec.reference, &f.reference) {
        (Some(ours), Some(theirs)) => ours == theirs,
        _ => true,
    };
    if amount_ok && reference_ok {
        return Ok(());
    }
    metrics::counter!("payrouter_provider_mismatch_total", "provider" => p.name()).increment(1);
    tracing::error!(
        provider = p.name(),
        payment_id = %rec.payment_id,
        "provider's amount or reference differs from what the router sent; state not applied"
    );
    Err(Error::Mismatch(format!(
        "{} reports payment '{}' with a different amount or reference than the router created",
        p.name(),
        rec.payment_id
    )))
}
