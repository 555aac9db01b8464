//! The payment rules, written once for every provider: idempotent pay, status refresh within
//! the provider's poll window, forward-only state changes, the refund ledger, and a
//! notification enqueued in the same store step as each real change.

mod admin;
mod callbacks;
mod idempotency;
mod operations;
pub use operations::PostRedirectForm;
mod pay;
mod reconcile;
pub mod record;
mod subscriptions;

use payrouter_provider::{
    Action, CallbackError, FetchedPayment, Merchant, Operation, PaymentStatusKind, Provider,
    ProviderError,
};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::notify::StuckAlerts;
use crate::store::records::{
    Notification, PaymentRecord, PollWindow, Records, Snapshot, Source, Step, TimelineEvent, Work,
};
use crate::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// Over a limit the router keeps for the provider's sake; the caller may retry later.
    #[error("{0}")]
    RateLimited(String),
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

pub use admin::Rechecked;
pub use reconcile::RecheckSchedule;

/// The enabled providers by name. The only place providers are named is `crate::registry`.
pub type Providers = BTreeMap<&'static str, Arc<dyn Provider>>;

pub struct Engine {
    records: Records,
    providers: Providers,
    /// How long a pay reservation holds off identical requests before it may be taken over.
    pay_lease: Duration,
    public_base_url: Option<String>,
    rechecks: RecheckSchedule,
    callback_fetches: callbacks::CallbackFetches,
    /// This replica's wall clock (ms since the epoch); a test may run a skewed one.
    wall_clock: WallClock,
    /// The store's clock, which judges reservation leases the same for every replica.
    lease_clock: idempotency::StoreClock,
    /// Rechecks raise `payment.stuck` ops alerts (OPS_ALERT_URL is set).
    stuck_alerts: Option<StuckAlerts>,
}

/// A wall clock in milliseconds since the epoch.
pub type WallClock = Arc<dyn Fn() -> i64 + Send + Sync>;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The pause of a queue worker whose round found nothing due: `idle`, cut short by `cancel`.
pub async fn pause(idle: Option<Duration>, cancel: &tokio_util::sync::CancellationToken) {
    if let Some(wait) = idle {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = cancel.cancelled() => {}
        }
    }
}

impl Engine {
    /// The engine keeps its state in `records`, the typed layer over the store.
    pub fn new(
        records: Records,
        providers: Providers,
        pay_lease: Duration,
        public_base_url: Option<String>,
        rechecks: RecheckSchedule,
    ) -> Self {
        Engine {
            records,
            providers,
            pay_lease,
            public_base_url,
            rechecks,
            callback_fetches: callbacks::CallbackFetches::default_rate(),
            wall_clock: Arc::new(now_ms),
            lease_clock: idempotency::StoreClock::default(),
            stuck_alerts: None,
        }
    }

    /// The same engine raising a `payment.stuck` ops alert for a payment its rechecks find
    /// PENDING longer than `after` since its creation.
    pub fn with_stuck_alerts(mut self, after: Duration) -> Self {
        self.stuck_alerts = Some(StuckAlerts { after });
        self
    }

    /// The same engine on another wall clock, as a replica whose clock is off would run.
    pub fn with_wall_clock(mut self, clock: WallClock) -> Self {
        self.wall_clock = clock;
        self
    }

    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        self.records.store()
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

    /// The merchant a request names in `providerData.merchant` (absent: `default`), checked
    /// against the provider's configured accounts.
    fn merchant_of(&self, p: &dyn Provider, data: &Map<String, Value>) -> Result<Merchant> {
        const FIELD: &str = "providerData.merchant";
        let merchant = match data.get("merchant") {
            None | Some(Value::Null) => Merchant::default(),
            Some(Value::String(name)) => {
                Merchant::parse(name).map_err(|why| Error::invalid(FIELD, why))?
            }
            Some(_) => {
                return Err(Error::invalid(
                    FIELD,
                    "expected the name of a merchant account, as a string",
                ))
            }
        };
        if p.merchant(&merchant).is_none() {
            return Err(Error::invalid(
                FIELD,
                format!(
                    "unknown merchant '{merchant}' for {}; configured: {}",
                    p.name(),
                    merchant_names(p)
                ),
            ));
        }
        Ok(merchant)
    }

    /// `p` acting for `merchant`'s account: the one a stored payment was made with.
    fn account<'a>(&self, p: &'a dyn Provider, merchant: &Merchant) -> Result<&'a dyn Provider> {
        note_merchant(merchant);
        p.merchant(merchant).ok_or_else(|| {
            Error::Conflict(format!(
                "the payment was made for the {} merchant '{merchant}', which is no longer \
                 configured (configured: {}); configure it again to act on the payment",
                p.name(),
                merchant_names(p)
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

    /// Reads a payment, or rebuilds it from the provider when the store has lost it (or holds
    /// it unreadable). Answers the record and the version it was read or written at.
    async fn load(&self, p: &dyn Provider, payment_id: &str) -> Result<(PaymentRecord, u64)> {
        p.check_payment_id(payment_id)
            .map_err(|m| Error::invalid("paymentId", m))?;
        let key = self.records.keys().payment(p.name(), payment_id);
        let read = self.records.read(&key).await?;
        if let Some(rec) = read.doc {
            return Ok((rec, read.version));
        }
        let started_ms = now_ms();
        let Some((merchant, fetched)) = self.find_at_provider(p, payment_id).await? else {
            return Err(Error::NotFound(format!(
                "unknown paymentId '{payment_id}' for {}",
                p.name()
            )));
        };
        // The rebuild's fetch uses up the poll window, so no second fetch follows it. (Only
        // after a real payment was found: unknown ids leave nothing in the store.)
        self.claim_poll(p, payment_id).await?;
        let rebuilt = self.rebuild(p, merchant, payment_id, fetched, started_ms)?;
        // What was notified before the loss is unknown: anything past "created and waiting"
        // is announced again (at least once beats never).
        let moved = rebuilt.state.status != PaymentStatusKind::Pending
            || rebuilt.state.action != Action::Payment;
        let ((rec, written), version) = self
            .records
            .transition(&key, Some(Snapshot { doc: None, ..read }), |current| {
                Ok::<_, Error>(match current {
                    Some(rec) => Step::Keep((rec, false)),
                    None => Step::Write {
                        doc: rebuilt.clone(),
                        work: moved.then(|| self.notification(&rebuilt)),
                        events: vec![TimelineEvent::state_seen(
                            rebuilt.created_ms,
                            &rebuilt.state,
                            Source::Rebuild,
                        )],
                        answer: (rebuilt.clone(), true),
                    },
                })
            })
            .await?;
        if written {
            tracing::info!(payment_id, merchant = %rec.merchant, "payment rebuilt from the provider");
            if !rec.is_settled() {
                self.records
                    .enqueue(&self.first_recheck(p.name(), payment_id))
                    .await?;
            }
        }
        Ok((rec, version))
    }

    /// A payment the store does not hold, asked of each of the provider's merchant accounts in
    /// turn (a payment id names no account): the first that knows it, with its answer.
    /// Bounded by the number of accounts configured; None when none knows it.
    async fn find_at_provider(
        &self,
        p: &dyn Provider,
        payment_id: &str,
    ) -> Result<Option<(Merchant, FetchedPayment)>> {
        for merchant in p.merchants() {
            let account = self.account(p, &merchant)?;
            match self
                .call(account, Operation::Status, account.fetch(payment_id))
                .await
            {
                Err(ProviderError::NotFound(_)) => continue,
                Ok(fetched) => return Ok(Some((merchant, fetched))),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(None)
    }

    /// Changes a payment read by `load`: `change` gets the record and decides; on a lost race
    /// it is run again on the record as it now stands.
    async fn change_payment<T>(
        &self,
        p: &dyn Provider,
        payment_id: &str,
        mut change: impl FnMut(PaymentRecord) -> Result<Step<PaymentRecord, T>>,
    ) -> Result<T> {
        // Read here, after any provider call of the caller, even when the caller read the
        // record before that call: a decision to keep it unchanged writes nothing, so a stale
        // copy would go unchecked and be answered (a later fetch's state applied meanwhile).
        let (rec, version) = self.load(p, payment_id).await?;
        let first = Snapshot {
            version,
            doc: Some(rec),
        };
        let key = self.records.keys().payment(p.name(), payment_id);
        let (answer, _) = self
            .records
            .transition(&key, Some(first), |current| match current {
                Some(rec) => change(rec),
                // Dropped between a lost race and the re-read (retention, the memory cap).
                None => Err(Error::Conflict(format!(
                    "payment '{payment_id}' left the store while it was being changed; retry"
                ))),
            })
            .await?;
        Ok(answer)
    }

    fn rebuild(
        &self,
        p: &dyn Provider,
        merchant: Merchant,
        payment_id: &str,
        f: FetchedPayment,
        started_ms: i64,
    ) -> Result<PaymentRecord> {
        let amount = f.amount.ok_or_else(|| {
            Error::Mismatch(format!(
                "{} did not say the amount of payment '{payment_id}'",
                p.name()
            ))
        })?;
        // Only a payment carrying this router's payment tag is adopted: another one on the
        // same provider account is unknown here, whatever its description looks like.
        let Some(shop_transaction_id) = f.shop_transaction_id else {
            metrics::counter!("payrouter_foreign_payments_rejected_total", "provider" => p.name())
                .increment(1);
            tracing::warn!(
                provider = p.name(),
                payment_id,
                "not adopting a payment this router did not create (no valid payment tag)"
            );
            return Err(Error::NotFound(format!(
                "unknown payment '{payment_id}': {} has it, but it was not created by this router",
                p.display_name()
            )));
        };
        let now = now_ms();
        let refund_history_lost = f.state.action == Action::Refund;
        Ok(PaymentRecord {
            provider: p.name().to_string(),
            merchant,
            payment_id: payment_id.to_string(),
            shop_transaction_id,
            amount,
            reference: f.reference,
            state: f.state,
            refunds: Vec::new(),
            post_redirect: None,
            subscription_token: None,
            refund_history_lost,
            extras: Default::default(),
            created_ms: now,
            updated_ms: now,
            fetch_started_ms: started_ms,
        })
    }

    /// Claims the provider's poll window for this payment; false while another fetch of the
    /// same payment (on any replica) happened less than `min_poll_interval` ago.
    async fn claim_poll(&self, p: &dyn Provider, payment_id: &str) -> Result<bool> {
        let interval = p.capabilities().min_poll_interval;
        if interval.is_zero() {
            return Ok(true);
        }
        let key = self.records.keys().poll_window(p.name(), payment_id);
        Ok(self.records.hold(&key, &PollWindow { interval }).await?)
    }

    /// Fetches the provider's state (when the poll window allows) and applies it, on behalf
    /// of `source`. Returns the record as it now stands and whether a notification of a change
    /// was enqueued.
    async fn refresh(
        &self,
        p: &dyn Provider,
        rec: PaymentRecord,
        source: Source,
    ) -> Result<(PaymentRecord, bool)> {
        if !self.claim_poll(p, &rec.payment_id).await? {
            return Ok((rec, false));
        }
        self.fetch_and_apply(p, &rec.merchant, &rec.payment_id, source)
            .await
    }

    /// Fetches the provider's state now, whatever the poll window, and applies it. The fetch
    /// is stamped with its start, so a slow answer cannot undo one from a later fetch. The
    /// fetch uses the key of `merchant`, the account the payment was made with.
    async fn fetch_and_apply(
        &self,
        p: &dyn Provider,
        merchant: &Merchant,
        payment_id: &str,
        source: Source,
    ) -> Result<(PaymentRecord, bool)> {
        let account = self.account(p, merchant)?;
        let started_ms = now_ms();
        let fetched = self
            .call(account, Operation::Status, account.fetch(payment_id))
            .await?;
        self.apply(p, fetched, started_ms, source).await
    }

    /// Applies a state fetched by a fetch that started at `started_ms`, forward-only and only
    /// if no later-started fetch was applied; a real change enqueues one notification in the
    /// same atomic store step, and so does the state's event on the payment's timeline.
    async fn apply(
        &self,
        p: &dyn Provider,
        fetched: FetchedPayment,
        started_ms: i64,
        source: Source,
    ) -> Result<(PaymentRecord, bool)> {
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
        let (rec, changed, notified) = self
            .change_payment(p, &fetched.payment_id, |mut rec| {
                check_integrity(p, &rec, &fetched)?;
                if started_ms < rec.fetch_started_ms {
                    metrics::counter!("payrouter_stale_fetches_total", "provider" => p.name())
                        .increment(1);
                    tracing::info!(
                        provider = p.name(),
                        payment_id = %rec.payment_id,
                        "a later-started fetch was applied already; this answer is stale and dropped"
                    );
                    return Ok(Step::Keep((rec, false, false)));
                }
                if !rec.accepts(&fetched.state) {
                    return Ok(Step::Keep((rec, false, false)));
                }
                rec.fetch_started_ms = started_ms;
                // A provider's finer steps (Feennex 1 → 2, Fena sent → overdue) are recorded
                // but only a change the PGM can see (status, action, finality, metadata) is
                // notified.
                let (seen, was_final) = (visible_part(&rec), rec.state.is_final);
                let now = now_ms();
                rec.apply(fetched.state.clone(), now);
                let visible = seen != visible_part(&rec) || was_final != rec.state.is_final;
                let work = visible.then(|| self.notification(&rec));
                Ok(Step::Write {
                    answer: (rec.clone(), true, visible),
                    doc: rec,
                    work,
                    events: vec![TimelineEvent::state_seen(now, &fetched.state, source)],
                })
            })
            .await?;
        if changed {
            metrics::counter!("payrouter_state_changes_total", "provider" => p.name()).increment(1);
        }
        Ok((rec, notified))
    }

    /// The notification of the payment as it now stands.
    fn notification(&self, rec: &PaymentRecord) -> Work {
        Work::Notify(Notification::new(&rec.view(), now_ms()))
    }

    /// Applies `change` to the stored payment, re-running it on a concurrent write; `change`
    /// answers the events of what it changed (None: nothing changed, nothing to write).
    async fn update(
        &self,
        p: &dyn Provider,
        payment_id: &str,
        mut change: impl FnMut(&mut PaymentRecord) -> Option<Vec<TimelineEvent>>,
    ) -> Result<PaymentRecord> {
        self.change_payment(p, payment_id, |mut rec| {
            let Some(events) = change(&mut rec) else {
                return Ok(Step::Keep(rec));
            };
            rec.updated_ms = now_ms();
            Ok(Step::Write {
                doc: rec.clone(),
                work: None,
                events,
                answer: rec,
            })
        })
        .await
    }
}

/// Names the merchant in the request's span, so its log lines carry it (a no-op outside one).
/// Recorded where an account is about to be called, as a JSON log keeps one value per field.
fn note_merchant(merchant: &Merchant) {
    tracing::Span::current().record("merchant", merchant.as_str());
}

/// The provider's configured merchant names, for messages.
fn merchant_names(p: &dyn Provider) -> String {
    p.merchants()
        .iter()
        .map(Merchant::as_str)
        .collect::<Vec<_>>()
        .join(", ")
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
    let amount_ok = f.amount.is_none_or(|a| a == rec.amount);
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
