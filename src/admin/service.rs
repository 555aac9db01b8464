//! [`AdminService`]: listings, timelines and operator actions over the engine and its store.
//! Lists are newest first (payments) or soonest due first (pending notifications), paged by
//! an opaque cursor; the same on Redis (indexes kept by the store, never a `SCAN`) and on the
//! embedded store.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use payrouter_provider::{Action, Money, PaymentStatusKind};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

use crate::contract::PaymentStatus;
use crate::engine::{self, now_ms, Engine, Rechecked};
use crate::store::records::{
    money_fields, Event, IndexCursor, IndexQuery, Notification, PaymentRecord, Phase, Queued,
    RefundEntry, TimelineEvent,
};
use crate::store::{After, PageQuery, StoreError};

/// Page size when none is asked for, and the largest one served.
pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 200;

/// How many payments one listing request looks at, at most, to fill a filtered page: past it
/// the page is answered short, with a cursor to go on from.
const MAX_EXAMINED: usize = 2000;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// A request value that is not valid: `field` names the parameter.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The provider allows no fetch yet; the caller may try again after `retry_after`.
    #[error("{message}")]
    RetryAfter {
        retry_after: Duration,
        message: String,
    },
    #[error(transparent)]
    Engine(#[from] engine::Error),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl AdminError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        AdminError::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Who acts: the name of the admin token used (written to the timeline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    name: String,
}

impl Actor {
    pub fn new(name: impl Into<String>) -> Self {
        Actor { name: name.into() }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Which payments to list (every field optional; all given must match).
#[derive(Debug, Clone, Default)]
pub struct PaymentFilter {
    pub provider: Option<String>,
    pub status: Option<PaymentStatusKind>,
    pub shop_transaction_id: Option<String>,
    /// Created at or after (ms since the epoch).
    pub since_ms: Option<i64>,
    /// Created at or before (ms since the epoch).
    pub until_ms: Option<i64>,
}

impl PaymentFilter {
    fn matches(&self, rec: &PaymentRecord) -> bool {
        self.provider.as_ref().is_none_or(|p| *p == rec.provider)
            && self.status.is_none_or(|s| s == rec.state.status)
            && self
                .shop_transaction_id
                .as_ref()
                .is_none_or(|t| *t == rec.shop_transaction_id)
            && self.since_ms.is_none_or(|s| rec.created_ms >= s)
            && self.until_ms.is_none_or(|u| rec.created_ms <= u)
    }
}

/// A page size and where the page starts.
#[derive(Debug, Clone)]
pub struct PageRequest {
    limit: usize,
    cursor: Option<String>,
}

impl PageRequest {
    /// `limit` (default [`DEFAULT_LIMIT`]) must be 1..=[`MAX_LIMIT`]; `cursor` is one a
    /// previous page answered (checked when it is used).
    pub fn new(limit: Option<usize>, cursor: Option<String>) -> Result<Self, AdminError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(AdminError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        Ok(PageRequest {
            limit,
            cursor: cursor.filter(|c| !c.is_empty()),
        })
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    fn bad_cursor() -> AdminError {
        AdminError::invalid(
            "cursor",
            "is not a cursor of this list: pass the nextCursor of the previous page",
        )
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// One page of a list: `nextCursor` is null after the last page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

/// How an amount appears in the admin API's JSON (the OpenAPI schema of [`money_fields`]):
/// `amount` in minor units beside its `currency`.
pub struct AmountFields;

impl utoipa::PartialSchema for AmountFields {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let field = |kind: Type, description: &str| {
            ObjectBuilder::new()
                .schema_type(kind)
                .description(Some(description))
        };
        ObjectBuilder::new()
            .property(
                "amount",
                field(Type::Integer, "minor units (1299 GBP is 12.99 GBP)"),
            )
            .required("amount")
            .property("currency", field(Type::String, "ISO 4217 code"))
            .required("currency")
            .into()
    }
}

impl utoipa::ToSchema for AmountFields {}

/// A payment in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentSummary {
    pub provider: String,
    pub payment_id: String,
    pub shop_transaction_id: String,
    #[serde(flatten, with = "money_fields")]
    #[schema(inline, value_type = AmountFields)]
    pub amount: Money,
    pub status: PaymentStatusKind,
    pub action: Action,
    /// The provider's own word for the state.
    pub provider_status: String,
    /// Refunded and settled, in minor units.
    pub refunded_amount: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl From<&PaymentRecord> for PaymentSummary {
    fn from(rec: &PaymentRecord) -> Self {
        let refunded = rec
            .refunds
            .iter()
            .filter(|r| r.state == crate::store::records::RefundState::Completed)
            .map(|r| r.amount)
            .sum();
        PaymentSummary {
            provider: rec.provider.clone(),
            payment_id: rec.payment_id.clone(),
            shop_transaction_id: rec.shop_transaction_id.clone(),
            amount: rec.amount,
            status: rec.state.status,
            action: rec.state.action,
            provider_status: rec.state.provider_status.clone(),
            refunded_amount: refunded,
            created_ms: rec.created_ms,
            updated_ms: rec.updated_ms,
        }
    }
}

/// A payment, what the PGM is told of it, its refunds and its timeline.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PaymentDetail {
    pub payment: PaymentSummary,
    /// The Payment Status the PGM gets for it now.
    pub payment_status: PaymentStatus,
    #[schema(value_type = Vec<Object>)]
    pub refunds: Vec<RefundEntry>,
    /// Oldest first; the newest 200 are kept.
    pub events: Vec<TimelineEvent>,
}

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NotificationState {
    /// Queued: being delivered or waiting for its next attempt.
    Pending,
    /// Out of attempts: kept (DEAD_LETTER_RETENTION_DAYS) until redelivered.
    Dead,
}

/// A notification in a list.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotificationSummary {
    /// The `webhook-id` it is sent with, every attempt.
    pub id: String,
    pub provider: String,
    pub payment_id: String,
    pub state: NotificationState,
    /// The status it carries.
    pub status: Option<PaymentStatusKind>,
    pub attempts: u32,
    /// When the next attempt is due (pending only; ms since the epoch).
    pub next_attempt_ms: Option<i64>,
    pub last_error: Option<String>,
    pub created_ms: i64,
    /// When it died (dead only).
    pub dead_ms: Option<i64>,
}

impl NotificationSummary {
    fn of(n: &Notification, state: NotificationState) -> Self {
        NotificationSummary {
            id: n.id.clone(),
            provider: n.provider.clone(),
            payment_id: n.payment_id.clone(),
            state,
            status: n.status(),
            attempts: n.attempts,
            next_attempt_ms: (state == NotificationState::Pending).then_some(n.due_ms),
            last_error: n.last_error.clone(),
            created_ms: n.created_ms,
            dead_ms: (state == NotificationState::Dead).then_some(n.dead_ms),
        }
    }
}

/// What a redelivery did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Redelivered {
    pub id: String,
    /// Where it was: a pending one is made due now; a dead one goes back to the queue with a
    /// fresh attempt budget.
    pub was: NotificationState,
}

/// The operator's view of payrouter; cheap to clone.
#[derive(Clone)]
pub struct AdminService {
    engine: Arc<Engine>,
}

impl AdminService {
    pub fn new(engine: Arc<Engine>) -> Self {
        AdminService { engine }
    }

    /// Payments newest first, filtered; a page may hold fewer than asked (at most
    /// [`MAX_EXAMINED`] payments are looked at per page), `nextCursor` goes on.
    pub async fn payments(
        &self,
        filter: PaymentFilter,
        page: PageRequest,
    ) -> Result<Page<PaymentSummary>, AdminError> {
        if let Some(found) = self.by_reservation(&filter).await? {
            return Ok(found);
        }
        let records = self.engine.records();
        let mut after = match &page.cursor {
            Some(c) => Some(IndexCursor::decode(c).ok_or_else(PageRequest::bad_cursor)?),
            None => None,
        };
        let mut items = Vec::new();
        let mut examined = 0;
        loop {
            let batch = records
                .index_page(&IndexQuery {
                    since_ms: filter.since_ms,
                    until_ms: filter.until_ms,
                    after: after.clone(),
                    count: page.limit,
                })
                .await?;
            let last_batch = batch.len() < page.limit;
            let wanted: Vec<_> = batch
                .iter()
                .map(|e| {
                    let listed = filter.provider.as_ref().is_none_or(|p| *p == e.provider);
                    (e, listed)
                })
                .collect();
            let docs = futures::future::join_all(wanted.iter().map(|(e, listed)| async move {
                if !listed {
                    return Ok(None);
                }
                let key = records.keys().payment(&e.provider, &e.payment_id);
                records.read(&key).await.map(|s| s.doc)
            }))
            .await;
            for ((entry, _), doc) in wanted.iter().zip(docs) {
                examined += 1;
                after = Some(entry.cursor());
                // An entry whose payment is gone (retention, the embedded store's cap) is
                // skipped.
                if let Some(rec) = doc?.filter(|r| filter.matches(r)) {
                    items.push(PaymentSummary::from(&rec));
                    if items.len() == page.limit {
                        return Ok(Page {
                            items,
                            next_cursor: after.map(|c| c.encode()),
                        });
                    }
                }
            }
            if last_batch {
                return Ok(Page {
                    items,
                    next_cursor: None,
                });
            }
            if examined >= MAX_EXAMINED {
                return Ok(Page {
                    items,
                    next_cursor: after.map(|c| c.encode()),
                });
            }
        }
    }

    /// A search by shopTransactionId answered from the pay reservations (one read per
    /// provider instead of a walk of the index); None when no reservation names a payment
    /// the store holds (a payment rebuilt after a store loss is then found by the walk).
    async fn by_reservation(
        &self,
        filter: &PaymentFilter,
    ) -> Result<Option<Page<PaymentSummary>>, AdminError> {
        let Some(tx) = &filter.shop_transaction_id else {
            return Ok(None);
        };
        let records = self.engine.records();
        let (mut items, mut found) = (Vec::new(), false);
        for provider in self.engine.providers().keys() {
            if filter.provider.as_deref().is_some_and(|p| p != *provider) {
                continue;
            }
            let reservation = records
                .read(&records.keys().pay_reservation(provider, tx))
                .await?;
            let Some(Phase::Done { response }) = reservation.doc.map(|r| r.phase) else {
                continue;
            };
            let Some(payment_id) = response.payment_id else {
                continue;
            };
            let rec = records
                .read(&records.keys().payment(provider, &payment_id))
                .await?;
            let Some(rec) = rec.doc else {
                continue;
            };
            found = true;
            if filter.matches(&rec) {
                items.push(PaymentSummary::from(&rec));
            }
        }
        Ok(found.then_some(Page {
            items,
            next_cursor: None,
        }))
    }

    /// A payment and its timeline; None when the store does not hold it.
    pub async fn payment(
        &self,
        provider: &str,
        payment_id: &str,
    ) -> Result<Option<PaymentDetail>, AdminError> {
        let records = self.engine.records();
        // The timeline first: a change landing between the two reads then shows in the
        // payment without its event yet, never as an event the payment does not reflect.
        let events = records.timeline(provider, payment_id).await?;
        let rec = records
            .read(&records.keys().payment(provider, payment_id))
            .await?;
        let Some(rec) = rec.doc else {
            return Ok(None);
        };
        Ok(Some(PaymentDetail {
            payment: PaymentSummary::from(&rec),
            payment_status: rec.view(),
            refunds: rec.refunds.clone(),
            events,
        }))
    }

    /// Notifications in `state`: pending ones soonest due first, dead ones most recently
    /// dead first.
    pub async fn notifications(
        &self,
        state: NotificationState,
        page: PageRequest,
    ) -> Result<Page<NotificationSummary>, AdminError> {
        let after = match &page.cursor {
            Some(c) => Some(decode_cursor(c).ok_or_else(PageRequest::bad_cursor)?),
            None => None,
        };
        let outbox = self.engine.records().outbox();
        let (items, more) = match state {
            NotificationState::Pending => {
                let query = PageQuery {
                    descending: false,
                    min: i64::MIN,
                    max: i64::MAX,
                    after,
                    count: page.limit,
                };
                let items: Vec<Notification> = outbox.pending_page(&query).await?;
                let more = items.len() == page.limit;
                (items, more)
            }
            NotificationState::Dead => {
                let mut all: Vec<Notification> = outbox.dead_letters().await?;
                all.sort_by(|a, b| (b.dead_ms, &b.id).cmp(&(a.dead_ms, &a.id)));
                let mut rest = all.into_iter().filter(|n| {
                    after
                        .as_ref()
                        .is_none_or(|a| (n.dead_ms, n.id.as_str()) < (a.score, a.member.as_str()))
                });
                let items: Vec<Notification> = rest.by_ref().take(page.limit).collect();
                let more = rest.next().is_some();
                (items, more)
            }
        };
        let next_cursor = more.then(|| items.last()).flatten().map(|n| match state {
            NotificationState::Pending => encode_cursor(n.due_ms, &n.id),
            NotificationState::Dead => encode_cursor(n.dead_ms, &n.id),
        });
        Ok(Page {
            items: items
                .iter()
                .map(|n| NotificationSummary::of(n, state))
                .collect(),
            next_cursor,
        })
    }

    /// Delivers notification `id` again now, with the same `webhook-id` and body: a pending
    /// one is made due now, a dead one goes back to the queue with a fresh attempt budget.
    pub async fn redeliver(&self, id: &str, actor: &Actor) -> Result<Redelivered, AdminError> {
        let outbox = self.engine.records().outbox();
        let now = now_ms();
        if let Some(n) = outbox.find_pending::<Notification>(id).await? {
            let event = admin_event(actor, "redeliver", format!("notification {id}: due now"));
            let attempts = n.attempts;
            outbox.retry(&n.with_due(now), &[event]).await?;
            tracing::info!(
                id,
                attempts,
                actor = actor.name(),
                "pending notification made due now"
            );
            self.engine.records().wake_notifier();
            return Ok(Redelivered {
                id: id.to_string(),
                was: NotificationState::Pending,
            });
        }
        if let Some(n) = outbox.find_dead::<Notification>(id).await? {
            if self.revive(n, actor).await? {
                return Ok(Redelivered {
                    id: id.to_string(),
                    was: NotificationState::Dead,
                });
            }
        }
        Err(AdminError::NotFound(format!(
            "notification '{id}' is neither queued nor a dead letter (delivered, or forgotten after DEAD_LETTER_RETENTION_DAYS)"
        )))
    }

    /// Every dead letter back to the queue; how many were queued.
    pub async fn redeliver_dead(&self, actor: &Actor) -> Result<usize, AdminError> {
        let dead: Vec<Notification> = self.engine.records().outbox().dead_letters().await?;
        let mut queued = 0;
        for n in dead {
            if self.revive(n, actor).await? {
                queued += 1;
            }
        }
        tracing::info!(queued, actor = actor.name(), "dead letters redelivered");
        Ok(queued)
    }

    /// A dead letter back to the queue, due now with a fresh attempt budget; false when it
    /// was revived by someone else meanwhile.
    async fn revive(&self, n: Notification, actor: &Actor) -> Result<bool, AdminError> {
        let event = admin_event(
            actor,
            "redeliver",
            format!(
                "dead notification {} back to the queue after {} attempts",
                n.id, n.attempts
            ),
        );
        let mut fresh = n.with_due(now_ms());
        fresh.attempts = 0;
        fresh.dead_ms = 0;
        fresh.last_error = None;
        let revived = self
            .engine
            .records()
            .outbox()
            .revive(&fresh, &[event])
            .await?;
        if revived {
            self.engine.records().wake_notifier();
        }
        Ok(revived)
    }

    /// Asks the provider about a payment now and applies the answer.
    pub async fn recheck(
        &self,
        provider: &str,
        payment_id: &str,
        actor: &Actor,
    ) -> Result<PaymentStatus, AdminError> {
        match self
            .engine
            .recheck_now(provider, payment_id, actor.name())
            .await?
        {
            Rechecked::Applied(status) => Ok(status),
            Rechecked::TooSoon { retry_after } => Err(AdminError::RetryAfter {
                retry_after,
                message: format!(
                    "{provider} allows one status fetch of a payment per {} s, and one was made \
                     less than that ago; try again after Retry-After",
                    retry_after.as_secs().max(1)
                ),
            }),
        }
    }
}

fn admin_event(actor: &Actor, action: &str, detail: String) -> TimelineEvent {
    TimelineEvent::new(
        now_ms(),
        Event::Admin {
            actor: actor.name().to_string(),
            action: action.to_string(),
            detail,
        },
    )
}

/// A notification list's cursor: the (time, id) of the last item of the page.
fn encode_cursor(ms: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{ms}:{id}"))
}

fn decode_cursor(s: &str) -> Option<After> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(s).ok()?).ok()?;
    let (ms, id) = raw.split_once(':')?;
    Some(After {
        score: ms.parse().ok()?,
        member: id.to_string(),
    })
}
