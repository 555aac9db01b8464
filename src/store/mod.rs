//! The state store: a versioned key-value space plus a notification outbox.
//!
//! The store knows nothing about payments. It offers the few atomic steps the engine needs so
//! that several replicas on one Redis behave as one: compare-and-set on a version (which gives
//! idempotency reservations, forward-only transitions and poll windows) and durable queues of
//! timed work (notifications to deliver, payments to look at again,
//! operator alerts) written in the same step
//! as the state they follow from. Beside a document, the same step may append to a bounded
//! list of events (a payment's timeline) and add an entry to a sorted index (the payment
//! listing), both opaque strings here. The engine reaches it only through the typed layer in
//! [`records`].

mod connection;
mod memory;
mod migrate;
pub mod records;
mod redis;

pub use self::connection::RedisTarget;
pub use self::memory::MemoryStore;
pub use self::redis::RedisStore;

use async_trait::async_trait;
use std::fmt;
use std::time::Duration;

/// One partition of the key space (always 0 in the flat layout).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Partition(pub u16);

impl fmt::Display for Partition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{:02}", self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the state store is unreachable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("the state store does not answer for partitions {}", list(.0))]
    PartitionsUnavailable(Vec<Partition>),
}

fn list(partitions: &[Partition]) -> String {
    partitions
        .iter()
        .map(Partition::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A document and the version it was read at (versions start at 1; 0 means absent).
#[derive(Debug, Clone)]
pub struct Versioned {
    pub version: u64,
    pub doc: String,
}

/// The durable queues of timed work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    /// Notifications waiting for delivery to PAYMENT_CALLBACK_URL.
    Notifications,
    /// Payments to ask the provider about again (missed callbacks, poll windows).
    Refreshes,
    /// Operational alerts waiting for delivery to OPS_ALERT_URL.
    Alerts,
}

impl Queue {
    pub fn name(self) -> &'static str {
        match self {
            Queue::Notifications => "notify",
            Queue::Refreshes => "refresh",
            Queue::Alerts => "alert",
        }
    }
}

/// One piece of queued work: its document and when it is next due. An item enqueued under an
/// id already queued replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct OutboxItem {
    pub queue: Queue,
    /// The partition whose queue holds it (0 in the flat layout).
    pub partition: Partition,
    pub id: String,
    pub doc: String,
    pub due_ms: i64,
}

/// Events appended to a bounded list in the same atomic step as a change (a payment's
/// timeline): the list keeps its newest `keep` entries and expires `ttl` after the last append.
#[derive(Debug, Clone, Copy)]
pub struct Append<'a> {
    pub key: &'a str,
    pub events: &'a [String],
    pub keep: usize,
    pub ttl: Duration,
}

/// An entry of a sorted index written with a new document (the payment listing): `member` at
/// `score` in `key`; entries scored before `trim_before` are dropped in the same step, and the
/// index expires `ttl` after the last entry.
#[derive(Debug, Clone, Copy)]
pub struct IndexEntry<'a> {
    pub key: &'a str,
    pub member: &'a str,
    pub score: i64,
    pub trim_before: i64,
    pub ttl: Duration,
}

/// What a document write does besides the document, in the same atomic step. Every key named
/// here lives in the document's partition.
#[derive(Debug, Clone, Copy, Default)]
pub struct Beside<'a> {
    pub outbox: Option<&'a OutboxItem>,
    pub timeline: Option<Append<'a>>,
    pub index: Option<IndexEntry<'a>>,
}

/// Where a page of a sorted set starts: strictly after this (score, member) in the order read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct After {
    pub score: i64,
    pub member: String,
}

/// Bounds and direction of a page read from a sorted set.
#[derive(Debug, Clone)]
pub struct PageQuery {
    /// Newest (highest score) first when true.
    pub descending: bool,
    /// Scores outside `min..=max` are not read.
    pub min: i64,
    pub max: i64,
    pub after: Option<After>,
    pub count: usize,
}

/// What [`Store::outbox_step`] does with one queued item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueStep {
    /// Enqueues the item (replacing one of the same id).
    Push,
    /// Removes the item from the queue (only its id counts).
    Done,
    /// Stores the item's new document and due time (after a failed attempt); an item no
    /// longer queued is left alone, and the timeline is not written.
    Retry,
    /// Moves the item out of the queue into the dead letters.
    Dead,
    /// Moves the dead letter `item.id` back into the queue as `item` (a fresh document and due
    /// time); nothing, and false, when no such dead letter is kept.
    Revive,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct OutboxStats {
    pub pending: u64,
    /// Due time of the most overdue pending notification.
    pub oldest_due_ms: Option<i64>,
    pub dead: u64,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError>;

    /// Writes `doc` if the stored version is `expected` (0: the key must be absent) and, in the
    /// same atomic step, does what `beside` says (enqueue, timeline, index). Returns false when
    /// another writer came first (and then nothing of `beside` is done either).
    async fn put_if(
        &self,
        key: &str,
        expected: u64,
        doc: &str,
        ttl: Option<Duration>,
        beside: Option<&Beside<'_>>,
    ) -> Result<bool, StoreError>;

    /// Deletes `key` if it is still at version `expected`.
    async fn delete_if(&self, key: &str, expected: u64) -> Result<bool, StoreError>;

    /// Takes `step` on `item` (in its partition's queue), with `timeline` in the same atomic
    /// step. True, except for a revive that found no such dead letter.
    async fn outbox_step(
        &self,
        step: QueueStep,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<bool, StoreError>;

    /// Enqueues `item` (replacing one of the same id), with `timeline` in the same step.
    async fn outbox_push(
        &self,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<(), StoreError> {
        self.outbox_step(QueueStep::Push, item, timeline)
            .await
            .map(drop)
    }

    /// Takes up to `limit` due items of `partition`'s `queue` and hides them until
    /// `lease_until_ms`, so that a worker that dies mid-task leaves them to be taken again.
    /// When none is due, answers the due time of the next item (if any) as `next_due_ms`.
    async fn outbox_claim(
        &self,
        queue: Queue,
        partition: Partition,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Claimed, StoreError>;

    /// Moves the lease of the items `ids` still leased until `from_ms` to `to_ms` (work in
    /// progress keeps its lease; an item retried or done meanwhile is left alone).
    async fn outbox_extend(
        &self,
        queue: Queue,
        partition: Partition,
        ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError>;

    /// The item `id` of `partition`'s queue: the queued one, with its due time, or with `dead`
    /// the dead letter (due time 0).
    async fn outbox_get(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
        dead: bool,
    ) -> Result<Option<OutboxItem>, StoreError>;

    /// A page of `partition`'s queued items by due time (`query` over due times and ids).
    async fn outbox_pending_page(
        &self,
        queue: Queue,
        partition: Partition,
        query: &PageQuery,
    ) -> Result<Vec<OutboxItem>, StoreError>;

    /// Appends events to a bounded list on their own (events that change no document).
    async fn timeline_append(&self, append: &Append<'_>) -> Result<(), StoreError>;

    /// The list `key` written by appends, oldest first.
    async fn timeline(&self, key: &str) -> Result<Vec<String>, StoreError>;

    /// A page of the sorted index `key` as (score, member).
    async fn index_page(
        &self,
        key: &str,
        query: &PageQuery,
    ) -> Result<Vec<(i64, String)>, StoreError>;

    /// The queue's figures over every partition.
    async fn outbox_stats(&self, queue: Queue) -> Result<OutboxStats, StoreError>;

    /// A page of `partition`'s dead letters as `(id, doc)`, from `cursor` (0: the first page);
    /// the next cursor, 0 after the last page. Pages may hold more or fewer than `count`.
    async fn outbox_dead_page(
        &self,
        queue: Queue,
        partition: Partition,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<(String, String)>, u64), StoreError>;

    /// Forgets the dead letters `ids` of `partition` (kept past their retention).
    async fn outbox_dead_forget(
        &self,
        queue: Queue,
        partition: Partition,
        ids: &[String],
    ) -> Result<(), StoreError>;

    /// Answers when every partition's data is reachable; otherwise names the ones that are not.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The store's clock, in milliseconds since the epoch: one time for every replica, which
    /// judges reservation leases (a replica's own clock may be off).
    async fn now_ms(&self) -> Result<i64, StoreError>;

    /// How many partitions the queues have.
    fn partitions(&self) -> u16 {
        1
    }

    /// Whether the store keeps its data across a restart (None: it cannot tell).
    async fn persistent(&self) -> Result<Option<bool>, StoreError> {
        Ok(None)
    }
}

/// What one claim took, and when the next item of the queue is due if none was.
#[derive(Debug, Clone, Default)]
pub struct Claimed {
    pub items: Vec<OutboxItem>,
    pub next_due_ms: Option<i64>,
}
