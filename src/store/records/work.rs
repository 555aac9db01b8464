//! Queued work: a notification to deliver, a payment to look at again, an operator alert
//! (its type lives with its sender, `notify::alerts`). Typed everywhere but
//! here, where it becomes an outbox item of the store's durable queues and back. Each piece
//! of work remembers the partition whose queue holds it, so that finishing it touches that
//! queue.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;

use super::keys::recheck_id;
use super::timeline::{Event, TimelineEvent, Timelines};
use crate::contract::PaymentStatus;
use crate::notify::Alert;
use crate::store::{Append, OutboxItem, PageQuery, Partition, Queue, QueueStep, Store, StoreError};
use payrouter_provider::PaymentStatusKind;

/// One notification. Its `id` (the `webhook-id` header) is fixed when it is enqueued, so every
/// retry of the same state change carries the same id.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    pub id: String,
    pub provider: String,
    pub payment_id: String,
    /// The Payment Status JSON as serialized when the change happened; these exact bytes are
    /// signed and sent, never parsed again.
    body: Box<RawValue>,
    #[serde(default)]
    pub attempts: u32,
    #[serde(default)]
    pub created_ms: i64,
    /// Why the last attempt failed (the receiver's HTTP status or the network error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it became a dead letter (0 while it is still being delivered).
    #[serde(default, skip_serializing_if = "super::documents::is_zero")]
    pub dead_ms: i64,
    /// When it is due (kept by the queue, not in the document).
    #[serde(skip)]
    pub due_ms: i64,
    /// The partition whose queue holds it (kept by the queue, not in the document).
    #[serde(skip)]
    pub partition: Partition,
}

impl Notification {
    /// A notification of `body`, due at `now_ms`.
    pub fn new(body: &PaymentStatus, now_ms: i64) -> Self {
        Notification {
            id: format!("msg_{}", uuid::Uuid::new_v4().simple()),
            provider: body.provider_name.clone(),
            payment_id: body.payment_id.clone(),
            // A Payment Status is plain data with string keys: serializing it cannot fail.
            body: serde_json::value::to_raw_value(body).unwrap_or_default(),
            attempts: 0,
            created_ms: now_ms,
            last_error: None,
            dead_ms: 0,
            due_ms: now_ms,
            partition: Partition::default(),
        }
    }

    /// The Payment Status JSON to send.
    pub fn body(&self) -> &str {
        self.body.get()
    }

    /// The status the notification carries (None if its body does not say).
    pub fn status(&self) -> Option<PaymentStatusKind> {
        #[derive(Deserialize)]
        struct Carried {
            status: PaymentStatusKind,
        }
        serde_json::from_str::<Carried>(self.body())
            .ok()
            .map(|c| c.status)
    }

    /// The timeline event of its being queued.
    pub(crate) fn enqueued_event(&self) -> TimelineEvent {
        TimelineEvent::new(
            self.created_ms,
            Event::NotificationEnqueued {
                notification_id: self.id.clone(),
                status: self.status(),
            },
        )
    }
}

/// A payment to ask its provider about again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recheck {
    pub provider: String,
    pub payment_id: String,
    pub attempt: u32,
    /// A callback asked for it: look even if the payment is settled (a refund may follow).
    #[serde(default)]
    pub after_callback: bool,
    /// When it is due (kept by the queue, not in the document).
    #[serde(skip)]
    pub due_ms: i64,
    /// The partition whose queue holds it (kept by the queue, not in the document).
    #[serde(skip)]
    pub partition: Partition,
}

/// Work a state change leaves behind, enqueued in the same atomic step.
#[derive(Debug, Clone)]
pub enum Work {
    Notify(Notification),
    Recheck(Recheck),
    Alert(Alert),
}

impl Work {
    /// The outbox item of this work in `partition`'s queue.
    pub(crate) fn item_in(&self, partition: Partition) -> OutboxItem {
        match self {
            Work::Notify(n) => n.clone().in_partition(partition).item(),
            Work::Recheck(r) => r.clone().in_partition(partition).item(),
            Work::Alert(a) => a.clone().in_partition(partition).item(),
        }
    }

    /// The payment it is about, whose partition takes it when it is queued on its own.
    pub(crate) fn payment(&self) -> (&str, &str) {
        match self {
            Work::Notify(n) => (&n.provider, &n.payment_id),
            Work::Recheck(r) => (&r.provider, &r.payment_id),
            Work::Alert(a) => (&a.provider, &a.payment_id),
        }
    }
}

/// A kind of queued work and its queue.
pub trait Queued: Sized + Serialize + for<'de> Deserialize<'de> {
    const QUEUE: Queue;

    /// Its id in the queue: enqueueing under an id already queued replaces that item.
    fn id(&self) -> String;

    fn due_ms(&self) -> i64;

    fn with_due(self, due_ms: i64) -> Self;

    fn partition(&self) -> Partition;

    fn in_partition(self, partition: Partition) -> Self;

    /// The payment it is about (provider, payment id), whose timeline records it.
    fn payment(&self) -> (&str, &str);

    fn item(&self) -> OutboxItem {
        OutboxItem {
            queue: Self::QUEUE,
            partition: self.partition(),
            id: self.id(),
            // Plain data with string keys: serializing cannot fail.
            doc: serde_json::to_string(self).unwrap_or_default(),
            due_ms: self.due_ms(),
        }
    }
}

/// Implements [`Queued`] for a work type whose `provider`, `payment_id`, `due_ms` and
/// `partition` fields are what the trait asks for, so each type states only its queue and id.
macro_rules! impl_queued {
    ($ty:ident, $queue:expr, |$this:ident| $id:expr) => {
        impl $crate::store::records::Queued for $ty {
            const QUEUE: $crate::store::Queue = $queue;

            fn id(&$this) -> String {
                $id
            }

            fn due_ms(&self) -> i64 {
                self.due_ms
            }

            fn with_due(self, due_ms: i64) -> Self {
                $ty { due_ms, ..self }
            }

            fn partition(&self) -> $crate::store::Partition {
                self.partition
            }

            fn in_partition(self, partition: $crate::store::Partition) -> Self {
                $ty { partition, ..self }
            }

            fn payment(&self) -> (&str, &str) {
                (&self.provider, &self.payment_id)
            }
        }
    };
}
pub(crate) use impl_queued;

impl_queued!(Notification, Queue::Notifications, |self| self.id.clone());
impl_queued!(Recheck, Queue::Refreshes, |self| recheck_id(
    &self.provider,
    &self.payment_id,
    self.after_callback
));

/// What one claim took from one partition, and when that partition's next item is due if
/// nothing was.
pub struct Batch<W> {
    pub items: Vec<W>,
    pub next_due_ms: Option<i64>,
}

/// The typed view of the store's queues, for the workers that take work from them.
#[derive(Clone)]
pub struct Outbox {
    store: Arc<dyn Store>,
    /// Where the events of finished work go (None: nowhere, as in tests of the queues alone).
    timelines: Option<Timelines>,
}

/// A queued item's timeline key and events in stored form, held while a store call borrows
/// them.
struct Recorded {
    key: String,
    events: Vec<String>,
    /// The timeline lives in the queue's partition (hash slot), so the queue step writes it.
    /// Otherwise (a subscription's notification, queued in the subscription's partition) it
    /// is appended right after the step, on its own.
    with_step: bool,
}

/// Declares [`Outbox`] methods that each take one [`QueueStep`] through `Outbox::settle`,
/// answering what `$answer` makes of whether the step was taken.
macro_rules! settle_steps {
    ($($(#[$doc:meta])* $name:ident: $step:ident -> $out:ty = $answer:expr;)*) => {
        $(
            $(#[$doc])*
            pub async fn $name<W: Queued>(
                &self,
                work: &W,
                events: &[TimelineEvent],
            ) -> Result<$out, StoreError> {
                self.settle(work, events, QueueStep::$step).await.map($answer)
            }
        )*
    };
}

impl Outbox {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Outbox {
            store,
            timelines: None,
        }
    }

    /// The same queues, writing the events of work done to the timelines of its payments.
    pub fn with_timelines(self, timelines: Timelines) -> Self {
        Outbox {
            timelines: Some(timelines),
            ..self
        }
    }

    fn recorded(
        &self,
        payment: (&str, &str),
        partition: Partition,
        events: &[TimelineEvent],
    ) -> Option<Recorded> {
        let t = self.timelines.as_ref().filter(|_| !events.is_empty())?;
        Some(Recorded {
            key: t.key(payment.0, payment.1),
            events: Timelines::encode(events),
            with_step: t.partition_of(payment.0, payment.1) == partition,
        })
    }

    /// The append the queue step makes, if it makes it.
    fn append<'a>(&self, r: &'a Option<Recorded>) -> Option<Append<'a>> {
        let t = self.timelines.as_ref()?;
        r.as_ref()
            .filter(|r| r.with_step)
            .map(|r| t.append(&r.key, &r.events))
    }

    /// The append the queue step could not make (another hash slot), made after it.
    async fn append_after(&self, r: &Option<Recorded>) -> Result<(), StoreError> {
        let (Some(t), Some(r)) = (&self.timelines, r) else {
            return Ok(());
        };
        if r.with_step {
            return Ok(());
        }
        self.store
            .timeline_append(&t.append(&r.key, &r.events))
            .await
    }

    /// How many partitions there are, each with its own queues.
    pub fn partitions(&self) -> u16 {
        self.store.partitions().max(1)
    }

    /// Queues work on its own in `partition`, with `events` on its payment's timeline.
    pub async fn push(
        &self,
        work: &Work,
        partition: Partition,
        events: &[TimelineEvent],
    ) -> Result<(), StoreError> {
        let r = self.recorded(work.payment(), partition, events);
        self.store
            .outbox_push(&work.item_in(partition), self.append(&r).as_ref())
            .await?;
        self.append_after(&r).await
    }

    /// Takes up to `limit` due items of `partition` and hides them until `lease_until_ms`.
    /// An item that cannot be read is moved to its queue's dead letters (kept for an operator,
    /// never run).
    pub async fn claim<W: Queued>(
        &self,
        partition: Partition,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Batch<W>, StoreError> {
        let taken = self
            .store
            .outbox_claim(W::QUEUE, partition, now_ms, lease_until_ms, limit)
            .await?;
        let mut claimed = Vec::with_capacity(taken.items.len());
        for item in taken.items {
            match serde_json::from_str::<W>(&item.doc) {
                Ok(w) => claimed.push(w.with_due(item.due_ms).in_partition(item.partition)),
                Err(e) => {
                    tracing::error!(queue = W::QUEUE.name(), id = %item.id, error = %e, "unreadable queued item moved to dead letters");
                    if let Err(e) = self.store.outbox_step(QueueStep::Dead, &item, None).await {
                        tracing::warn!(id = %item.id, error = %e, "cannot move an unreadable item; it will be taken again");
                    }
                }
            }
        }
        Ok(Batch {
            items: claimed,
            next_due_ms: taken.next_due_ms,
        })
    }

    /// Keeps the lease of work still in progress: the items `ids` of `partition` leased
    /// until `from_ms` are leased until `to_ms`.
    pub async fn extend<W: Queued>(
        &self,
        partition: Partition,
        ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError> {
        self.store
            .outbox_extend(W::QUEUE, partition, ids, from_ms, to_ms)
            .await
    }

    settle_steps! {
        /// Removes finished work, with `events` on its payment's timeline in the same step.
        done: Done -> () = drop;
        /// Stores the item as it now is (after an attempt), due at its `due_ms`, with `events`.
        retry: Retry -> () = drop;
        /// Moves the item to the dead letters, with `events`.
        dead: Dead -> () = drop;
        /// Moves a dead letter back into the queue as `work` (its new document and due time),
        /// with `events`; false when it is no longer a dead letter.
        revive: Revive -> bool = std::convert::identity;
    }

    /// Takes `step` on `work` with `events` on its payment's timeline (in the same step when
    /// the timeline shares its hash slot, after it otherwise); false when the step found
    /// nothing to do (only a revive can).
    async fn settle<W: Queued>(
        &self,
        work: &W,
        events: &[TimelineEvent],
        step: QueueStep,
    ) -> Result<bool, StoreError> {
        let r = self.recorded(work.payment(), work.partition(), events);
        let append = self.append(&r);
        let taken = self
            .store
            .outbox_step(step, &work.item(), append.as_ref())
            .await?;
        if taken {
            self.append_after(&r).await?;
        }
        Ok(taken)
    }

    /// The queued (not dead) item `id`, looked for in every partition.
    pub async fn find_pending<W: Queued>(&self, id: &str) -> Result<Option<W>, StoreError> {
        self.find(id, false).await
    }

    /// The dead letter `id`, looked for in every partition.
    pub async fn find_dead<W: Queued>(&self, id: &str) -> Result<Option<W>, StoreError> {
        self.find(id, true).await
    }

    /// The item `id`, queued or (with `dead`) a dead letter, looked for in every partition.
    async fn find<W: Queued>(&self, id: &str, dead: bool) -> Result<Option<W>, StoreError> {
        for p in 0..self.partitions() {
            let partition = Partition(p);
            if let Some(item) = self.store.outbox_get(W::QUEUE, partition, id, dead).await? {
                return Ok(
                    decode::<W>(&item.doc).map(|w| w.with_due(item.due_ms).in_partition(partition))
                );
            }
        }
        Ok(None)
    }

    /// A page of every partition's queued items, soonest due first (after `query.after`).
    pub async fn pending_page<W: Queued>(&self, query: &PageQuery) -> Result<Vec<W>, StoreError> {
        let pages = futures::future::join_all((0..self.partitions()).map(|p| {
            self.store
                .outbox_pending_page(W::QUEUE, Partition(p), query)
        }))
        .await;
        let mut merged = Vec::new();
        for page in pages {
            merged.extend(page?);
        }
        // Each partition gave its first `count`, so the first `count` of them all are here.
        merged.sort_by(|a, b| (a.due_ms, &a.id).cmp(&(b.due_ms, &b.id)));
        Ok(merged
            .into_iter()
            .take(query.count)
            .filter_map(|item| {
                decode::<W>(&item.doc).map(|w| w.with_due(item.due_ms).in_partition(item.partition))
            })
            .collect())
    }

    /// Every dead letter of every partition (they are few, and kept only for their retention);
    /// one that cannot be read is left out.
    pub async fn dead_letters<W: Queued + Send>(&self) -> Result<Vec<W>, StoreError> {
        let mut all = Vec::new();
        self.sweep_dead(W::QUEUE, |partition, page| {
            all.extend(
                page.into_iter()
                    .filter_map(|(_, doc)| decode::<W>(&doc).map(|w| w.in_partition(partition))),
            );
            Vec::new()
        })
        .await?;
        Ok(all)
    }

    /// Forgets the dead notifications that died before `cutoff_ms` (those kept before their
    /// death time was recorded count from their creation); how many. A dead letter that cannot
    /// be read is kept: its age is unknown.
    pub async fn forget_dead_before(&self, cutoff_ms: i64) -> Result<usize, StoreError> {
        let mut forgotten = 0;
        self.sweep_dead(Queue::Notifications, |_, page| {
            let old: Vec<String> = page
                .into_iter()
                .filter(|(_, doc)| {
                    serde_json::from_str::<Notification>(doc).is_ok_and(|n| {
                        let died = if n.dead_ms > 0 {
                            n.dead_ms
                        } else {
                            n.created_ms
                        };
                        died < cutoff_ms
                    })
                })
                .map(|(id, _)| id)
                .collect();
            forgotten += old.len();
            old
        })
        .await?;
        Ok(forgotten)
    }

    /// Hands `queue`'s dead letters to `visit` a page of (id, document) at a time, partition
    /// by partition, and forgets the ids it answers before reading on: a retention sweep
    /// holds one page, however many letters a long receiver outage left.
    async fn sweep_dead(
        &self,
        queue: Queue,
        mut visit: impl FnMut(Partition, Vec<(String, String)>) -> Vec<String> + Send,
    ) -> Result<(), StoreError> {
        const PAGE: usize = 500;
        for p in 0..self.partitions() {
            let partition = Partition(p);
            let mut cursor = 0;
            loop {
                let (page, next) = self
                    .store
                    .outbox_dead_page(queue, partition, cursor, PAGE)
                    .await?;
                let forget = visit(partition, page);
                if !forget.is_empty() {
                    self.store
                        .outbox_dead_forget(queue, partition, &forget)
                        .await?;
                }
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(())
    }
}

/// A queued document read for an operator; one that cannot be read is logged and skipped.
fn decode<W: Queued>(doc: &str) -> Option<W> {
    serde_json::from_str(doc)
        .map_err(|e| tracing::warn!(queue = W::QUEUE.name(), error = %e, "unreadable queued item"))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notification enqueued by the router before this layer existed.
    const STORED: &str = r#"{"id":"msg_8e5f7b2b3e43496cac22c6e0b8ac0398","provider":"fena","paymentId":"64b48c5b6ba2cd6a040b20a8","body":{"status":"ACCEPTED","paymentId":"64b48c5b6ba2cd6a040b20a8","shopTransactionId":"compat-1","providerName":"fena","paymentMethod":"external","action":"PAYMENT","metadata":{"amount":1299,"currency":"GBP","providerStatus":"paid","refundedAmount":0}},"attempts":2,"createdMs":1795976260497}"#;

    #[test]
    fn a_stored_notification_round_trips_byte_for_byte() {
        let n: Notification = serde_json::from_str(STORED).unwrap();
        assert_eq!(n.attempts, 2);
        assert!(n.body().starts_with(r#"{"status":"ACCEPTED","paymentId""#));
        assert_eq!(n.item().doc, STORED);
        assert_eq!(n.item().partition, Partition(0));
    }

    #[test]
    fn a_stored_recheck_round_trips_under_its_id() {
        const RECHECK: &str = r#"{"provider":"fena","paymentId":"64b48c5b6ba2cd6a040b3101","attempt":0,"afterCallback":false}"#;
        let r: Recheck = serde_json::from_str(RECHECK).unwrap();
        let item = r.with_due(5).item();
        assert_eq!(
            (item.queue, item.id.as_str(), item.doc.as_str(), item.due_ms),
            (
                Queue::Refreshes,
                "fena:64b48c5b6ba2cd6a040b3101",
                RECHECK,
                5
            )
        );
    }

    #[test]
    fn a_new_notification_keeps_the_body_it_was_given() {
        let body: PaymentStatus = serde_json::from_str(
            &serde_json::from_str::<serde_json::Value>(STORED).unwrap()["body"].to_string(),
        )
        .unwrap();
        let n = Notification::new(&body, 7);
        assert_eq!(
            (n.provider.as_str(), n.payment_id.as_str()),
            ("fena", "64b48c5b6ba2cd6a040b20a8")
        );
        assert_eq!(
            serde_json::from_str::<PaymentStatus>(n.body()).unwrap(),
            body
        );
        assert_eq!((n.created_ms, n.item().due_ms), (7, 7));
    }

    #[tokio::test]
    async fn unreadable_queued_work_goes_to_the_dead_letters_not_to_a_worker() {
        let store = Arc::new(crate::store::MemoryStore::new(10));
        let outbox = Outbox::new(store.clone());
        let garbage = OutboxItem {
            queue: Queue::Notifications,
            partition: Partition(0),
            id: "msg_x".into(),
            doc: "{not json".into(),
            due_ms: 0,
        };
        store.outbox_push(&garbage, None).await.unwrap();
        let stored: Notification = serde_json::from_str(STORED).unwrap();
        outbox
            .push(&Work::Notify(stored.with_due(0)), Partition(0), &[])
            .await
            .unwrap();
        let claimed = outbox
            .claim::<Notification>(Partition(0), 1, 2, 10)
            .await
            .unwrap()
            .items;
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].id, "msg_8e5f7b2b3e43496cac22c6e0b8ac0398");
        let stats = store.outbox_stats(Queue::Notifications).await.unwrap();
        assert_eq!((stats.pending, stats.dead), (1, 1));
    }
}
