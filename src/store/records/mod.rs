//! The typed record layer between the engine and the store: typed keys ([`keys`]), typed
//! documents ([`documents`]), typed queued work ([`work`]), and one [`Records::transition`]
//! for every read → change → compare-and-set step. Only this layer turns keys and documents
//! into strings; the engine sees values.
//!
//! # A document that cannot be read
//!
//! One rule everywhere: a stored document that does not decode is logged (error level, with
//! its key) and then treated as **absent**, at the version it was stored with. The next write
//! to its key replaces it by compare-and-set at that version, so a concurrent writer still
//! wins or loses cleanly. For a payment this means it is rebuilt from the provider; for a
//! subscription, that it is unknown until recreated; for an idempotency reservation, that the
//! key is free and the request is processed as new. Unreadable queued work is moved to its
//! queue's dead letters (see [`Outbox::claim`]).

mod claim;
mod documents;
mod keys;
mod listing;
mod timeline;
mod work;

pub use claim::{Rotation, Round};
pub(crate) use documents::money_fields;
pub use documents::{
    Document, InstalmentSlot, Json, PaymentRecord, Phase, PollWindow, Readable, RefundEntry,
    RefundState, Reservation, SubscriptionKind, SubscriptionRecord,
};
pub(crate) use keys::QueueKeys;
pub use keys::{DocKey, Keys, DEFAULT_PREFIX};
pub use listing::{IndexCursor, IndexQuery, Indexed};
pub use timeline::{Event, Source, TimelineEvent, Timelines};
pub(crate) use work::impl_queued;
pub use work::{Batch, Notification, Outbox, Queued, Recheck, Work};

use std::sync::Arc;
use std::time::Duration;

use super::{Beside, IndexEntry, Store, StoreError};
use crate::notify::NotifyHandle;

/// A document as read, and the version it was read at (0: absent). `doc` is `None` when the
/// key is absent or its document is unreadable.
#[derive(Debug, Clone)]
pub struct Snapshot<D> {
    pub version: u64,
    pub doc: Option<D>,
}

impl<D> Snapshot<D> {
    /// The key taken to be absent, without asking the store (for keys that are usually new).
    pub fn assume_absent() -> Self {
        Snapshot {
            version: 0,
            doc: None,
        }
    }
}

/// What a transition does with the document it read.
pub enum Step<D, T> {
    /// Leave it as it is, and answer `T`.
    Keep(T),
    /// Write `doc`, enqueue `work` and append `events` to the payment's timeline in one
    /// atomic step, and answer `T`.
    Write {
        doc: D,
        work: Option<Work>,
        events: Vec<TimelineEvent>,
        answer: T,
    },
}

impl<D, T> Step<D, T> {
    pub fn write(doc: D, answer: T) -> Self {
        Step::Write {
            doc,
            work: None,
            events: Vec::new(),
            answer,
        }
    }
}

/// The store seen through typed keys and documents.
#[derive(Clone)]
pub struct Records {
    store: Arc<dyn Store>,
    keys: Keys,
    outbox: Outbox,
    timelines: Timelines,
    retention: Duration,
    wake: NotifyHandle,
}

impl Records {
    /// `retention`: how long a document is kept after its last write; `wake` is told about
    /// every notification enqueued.
    pub fn new(store: Arc<dyn Store>, keys: Keys, retention: Duration, wake: NotifyHandle) -> Self {
        let timelines = Timelines::new(keys.clone(), retention);
        Records {
            outbox: Outbox::new(store.clone()).with_timelines(timelines.clone()),
            store,
            keys,
            timelines,
            retention,
            wake,
        }
    }

    /// Where payments' timelines go (for other writers of events: the notifier).
    pub fn timelines(&self) -> &Timelines {
        &self.timelines
    }

    /// Wakes the notifier (a notification was queued or revived outside a document write).
    pub fn wake_notifier(&self) {
        self.wake.wake();
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub async fn read<D: Readable>(&self, key: &DocKey<D>) -> Result<Snapshot<D>, StoreError> {
        let Some(stored) = self.store.get(key.as_str()).await? else {
            return Ok(Snapshot::assume_absent());
        };
        let doc = match D::decode(&stored.doc) {
            Ok(doc) => Some(doc),
            Err(e) => {
                tracing::error!(%key, error = %e, "unreadable document: treated as absent, the next write replaces it");
                None
            }
        };
        Ok(Snapshot {
            version: stored.version,
            doc,
        })
    }

    /// Reads the document (or starts from `first`), lets `change` decide, and writes its
    /// decision by compare-and-set together with its queued work; on a lost race, reads again
    /// and asks `change` again. Answers `change`'s answer and the document's version after it.
    pub async fn transition<D, T, E>(
        &self,
        key: &DocKey<D>,
        first: Option<Snapshot<D>>,
        mut change: impl FnMut(Option<D>) -> Result<Step<D, T>, E>,
    ) -> Result<(T, u64), E>
    where
        D: Readable,
        E: From<StoreError>,
    {
        let mut next = first;
        loop {
            let current = match next.take() {
                Some(snapshot) => snapshot,
                None => self.read(key).await?,
            };
            let new = current.doc.is_none();
            match change(current.doc)? {
                Step::Keep(answer) => return Ok((answer, current.version)),
                Step::Write {
                    doc,
                    work,
                    events,
                    answer,
                } => {
                    if self
                        .write_with(key, current.version, &doc, work.as_ref(), &events, new)
                        .await?
                    {
                        return Ok((answer, current.version + 1));
                    }
                }
            }
        }
    }

    /// Stores `doc` unless a readable document is there already, with `events` on its
    /// payment's timeline; true when it was written. A usually-new key costs one round trip.
    pub async fn create<D: Readable + Clone>(
        &self,
        key: &DocKey<D>,
        doc: &D,
        work: Option<Work>,
        events: &[TimelineEvent],
    ) -> Result<bool, StoreError> {
        let (created, _) = self
            .transition(key, Some(Snapshot::assume_absent()), |current| {
                Ok::<_, StoreError>(match current {
                    Some(_) => Step::Keep(false),
                    None => Step::Write {
                        doc: doc.clone(),
                        work: work.clone(),
                        events: events.to_vec(),
                        answer: true,
                    },
                })
            })
            .await?;
        Ok(created)
    }

    /// Writes `doc` if the key is absent, without reading it (markers that are never read).
    pub async fn hold<D: Document>(&self, key: &DocKey<D>, doc: &D) -> Result<bool, StoreError> {
        self.write_at(key, 0, doc, None).await
    }

    /// Writes `doc` if the stored version is still `version`, with `work` in the same step
    /// (queued in the document's partition, so that the step touches one hash slot).
    pub async fn write_at<D: Document>(
        &self,
        key: &DocKey<D>,
        version: u64,
        doc: &D,
        work: Option<&Work>,
    ) -> Result<bool, StoreError> {
        self.write_with(key, version, doc, work, &[], version == 0)
            .await
    }

    /// Writes `doc` at `version` with `work` and, for a payment, `events` on its timeline (and
    /// a notification queued is an event too); a payment `new` to the store (created, or
    /// rebuilt from its provider) is added to the payment index. One atomic step.
    async fn write_with<D: Document>(
        &self,
        key: &DocKey<D>,
        version: u64,
        doc: &D,
        work: Option<&Work>,
        events: &[TimelineEvent],
        new: bool,
    ) -> Result<bool, StoreError> {
        let item = work.map(|w| w.item_in(key.partition()));
        let payment = doc.payment();
        let mut events = events.to_vec();
        if let (Some(_), Some(Work::Notify(n))) = (payment, work) {
            events.push(n.enqueued_event());
        }
        let encoded = Timelines::encode(&events);
        let timeline_key = payment.map(|p| self.timelines.key(p.provider, p.payment_id));
        // The index key, member and score of a payment new to the store.
        let listed = payment.filter(|_| new).map(|p| {
            (
                self.keys.payment_index(key.partition()),
                listing::member(p.provider, p.payment_id),
                p.created_ms,
            )
        });
        let index = listed
            .as_ref()
            .map(|(index_key, member, created_ms)| IndexEntry {
                key: index_key,
                member,
                score: *created_ms,
                trim_before: created_ms - self.retention.as_millis() as i64,
                ttl: self.retention,
            });
        let beside = Beside {
            outbox: item.as_ref(),
            timeline: timeline_key
                .as_deref()
                .filter(|_| !encoded.is_empty())
                .map(|k| self.timelines.append(k, &encoded)),
            index,
        };
        let written = self
            .store
            .put_if(
                key.as_str(),
                version,
                &doc.encode(),
                Some(doc.ttl(self.retention)),
                Some(&beside),
            )
            .await?;
        if written && matches!(work, Some(Work::Notify(_))) {
            self.wake.wake();
        }
        Ok(written)
    }

    /// Appends `events` to a payment's timeline on their own (events that change nothing).
    pub async fn record(
        &self,
        provider: &str,
        payment_id: &str,
        events: &[TimelineEvent],
    ) -> Result<(), StoreError> {
        let key = self.timelines.key(provider, payment_id);
        let encoded = Timelines::encode(events);
        self.store
            .timeline_append(&self.timelines.append(&key, &encoded))
            .await
    }

    /// A payment's timeline, oldest first (an event that cannot be read is left out, logged).
    pub async fn timeline(
        &self,
        provider: &str,
        payment_id: &str,
    ) -> Result<Vec<TimelineEvent>, StoreError> {
        let key = self.timelines.key(provider, payment_id);
        let stored = self.store.timeline(&key).await?;
        Ok(stored
            .iter()
            .filter_map(|e| match serde_json::from_str(e) {
                Ok(event) => Some(event),
                Err(err) => {
                    tracing::error!(%key, error = %err, "unreadable timeline event left out");
                    None
                }
            })
            .collect())
    }

    /// Deletes the document if it is still at `version`.
    pub async fn delete_at<D>(&self, key: &DocKey<D>, version: u64) -> Result<bool, StoreError> {
        self.store.delete_if(key.as_str(), version).await
    }

    /// Enqueues work on its own (not following a document change), in the partition of the
    /// payment it is about; a notification is an event of the payment's timeline, written in
    /// the same step.
    pub async fn enqueue(&self, work: &Work) -> Result<(), StoreError> {
        self.enqueue_noting(work, &[]).await
    }

    /// Queues `work` with `noted` on its payment's timeline, in the same step.
    pub async fn enqueue_noting(
        &self,
        work: &Work,
        noted: &[TimelineEvent],
    ) -> Result<(), StoreError> {
        let (provider, payment_id) = work.payment();
        let partition = self.keys.partition_of(provider, payment_id);
        let mut events = noted.to_vec();
        if let Work::Notify(n) = work {
            events.push(n.enqueued_event());
        }
        self.outbox.push(work, partition, &events).await?;
        if matches!(work, Work::Notify(_)) {
            self.wake.wake();
        }
        Ok(())
    }

    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::PayResponse;
    use crate::store::MemoryStore;

    type Held = Reservation<PayResponse>;

    fn records() -> Records {
        Records::new(
            Arc::new(MemoryStore::new(100)),
            Keys::default(),
            Duration::from_secs(60),
            NotifyHandle::default(),
        )
    }

    fn held(fingerprint: &str) -> Held {
        Reservation {
            fingerprint: fingerprint.into(),
            phase: Phase::InFlight {
                lease_until_ms: 1,
                handle: None,
            },
        }
    }

    #[tokio::test]
    async fn a_transition_that_loses_a_race_decides_again_on_what_won() {
        let r = records();
        let key = r.keys().pay_reservation("fena", "tx");
        assert!(r.create(&key, &held("a"), None, &[]).await.unwrap());
        let stale = r.read(&key).await.unwrap();
        assert!(r.write_at(&key, 1, &held("b"), None).await.unwrap());
        let mut seen = Vec::new();
        let (answer, version) = r
            .transition(&key, Some(stale), |current| {
                let current = current.expect("the key holds a reservation");
                seen.push(current.fingerprint.clone());
                Ok::<_, StoreError>(Step::write(held("c"), current.fingerprint))
            })
            .await
            .unwrap();
        assert_eq!(seen, ["a", "b"]);
        assert_eq!((answer.as_str(), version), ("b", 3));
        assert_eq!(r.read(&key).await.unwrap().doc.unwrap().fingerprint, "c");
    }

    #[tokio::test]
    async fn an_unreadable_document_reads_as_absent_and_is_replaced_at_its_version() {
        let r = records();
        let key = r.keys().pay_reservation("fena", "tx");
        assert!(r
            .store()
            .put_if(key.as_str(), 0, "{not json", None, None)
            .await
            .unwrap());
        let read = r.read(&key).await.unwrap();
        assert_eq!((read.version, read.doc), (1, None));
        assert!(r.create(&key, &held("a"), None, &[]).await.unwrap());
        let read = r.read(&key).await.unwrap();
        assert_eq!((read.version, read.doc), (2, Some(held("a"))));
        assert!(
            !r.create(&key, &held("b"), None, &[]).await.unwrap(),
            "a readable document is kept"
        );
    }
}
