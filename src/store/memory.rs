//! The embedded store, used when no REDIS_URL is set: one process, state in memory, lost on
//! restart. Memory stays bounded twice over: expired documents are swept (retention), and past
//! `max_documents` the oldest documents are dropped first (and the recheck queue is kept to
//! half that: one recheck per payment). Partitions are a Redis Cluster matter: here every
//! partition's queue is the one queue.

use async_trait::async_trait;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{
    After, Append, Beside, Claimed, IndexEntry, OutboxItem, OutboxStats, PageQuery, Partition,
    Queue, QueueStep, Store, StoreError, Versioned,
};

pub struct MemoryStore {
    inner: Mutex<Inner>,
    max_documents: usize,
}

#[derive(Default)]
struct Inner {
    docs: HashMap<String, Entry>,
    /// Documents in the order they were created, for dropping the oldest past the cap.
    created: VecDeque<(u64, String)>,
    next_seq: u64,
    queues: HashMap<Queue, QueueState>,
    /// Bounded event lists (payment timelines), by key.
    lists: HashMap<String, List>,
    /// Lists in the order they were started, for dropping the oldest past the cap.
    list_order: VecDeque<(u64, String)>,
    /// Sorted indexes (the payment listing): (score, member) by key.
    indexes: HashMap<String, BTreeSet<(i64, String)>>,
}

struct List {
    seq: u64,
    events: VecDeque<String>,
    expires: Instant,
}

#[derive(Default)]
struct QueueState {
    due: BTreeSet<(i64, String)>,
    items: HashMap<String, OutboxItem>,
    dead: HashMap<String, String>,
}

impl QueueState {
    fn enqueue(&mut self, item: &OutboxItem) {
        if let Some(old) = self.items.insert(item.id.clone(), item.clone()) {
            self.due.remove(&(old.due_ms, old.id));
        }
        self.due.insert((item.due_ms, item.id.clone()));
    }

    fn remove(&mut self, id: &str) -> Option<OutboxItem> {
        let old = self.items.remove(id)?;
        self.due.remove(&(old.due_ms, old.id.clone()));
        Some(old)
    }
}

struct Entry {
    seq: u64,
    version: u64,
    doc: String,
    expires: Option<Instant>,
}

impl Entry {
    fn live(&self, now: Instant) -> bool {
        self.expires.is_none_or(|e| e > now)
    }
}

impl Inner {
    /// Appends to a list, keeping its newest `keep` events and at most `cap` lists (past it the
    /// list started first goes, as documents do).
    fn append(&mut self, a: &Append<'_>, now: Instant, cap: usize) {
        if a.keep == 0 || a.events.is_empty() {
            return;
        }
        let expires = now + a.ttl;
        if self.lists.get(a.key).is_none_or(|l| l.expires <= now) {
            let seq = self.next_seq;
            self.next_seq += 1;
            self.list_order.push_back((seq, a.key.to_string()));
            self.lists.insert(
                a.key.to_string(),
                List {
                    seq,
                    events: VecDeque::new(),
                    expires,
                },
            );
            while self.lists.len() > cap {
                let Some((seq, oldest)) = self.list_order.pop_front() else {
                    break;
                };
                if self.lists.get(&oldest).is_some_and(|l| l.seq == seq) {
                    self.lists.remove(&oldest);
                }
            }
        }
        let Some(list) = self.lists.get_mut(a.key) else {
            return;
        };
        list.events.extend(a.events.iter().cloned());
        while list.events.len() > a.keep {
            list.events.pop_front();
        }
        list.expires = expires;
    }

    /// Adds an index entry, dropping entries scored before its `trim_before` and, past `cap`
    /// entries, the lowest-scored.
    fn index(&mut self, i: &IndexEntry<'_>, cap: usize) {
        let index = self.indexes.entry(i.key.to_string()).or_default();
        index.insert((i.score, i.member.to_string()));
        while index
            .first()
            .is_some_and(|(score, _)| *score < i.trim_before)
            || index.len() > cap
        {
            index.pop_first();
        }
    }

    fn version(&self, key: &str, now: Instant) -> u64 {
        self.docs
            .get(key)
            .filter(|e| e.live(now))
            .map_or(0, |e| e.version)
    }

    fn queue(&mut self, queue: Queue) -> &mut QueueState {
        self.queues.entry(queue).or_default()
    }

    /// Enqueues, keeping the recheck queue within `cap`: past it the recheck due last goes
    /// (a payment pending for longest, looked at least often). Notifications are never dropped.
    fn enqueue(&mut self, item: &OutboxItem, cap: usize) {
        let q = self.queue(item.queue);
        q.enqueue(item);
        if item.queue == Queue::Refreshes {
            while q.items.len() > cap {
                let Some((_, id)) = q.due.pop_last() else {
                    break;
                };
                q.items.remove(&id);
            }
        }
    }
}

impl MemoryStore {
    pub fn new(max_documents: usize) -> Self {
        MemoryStore {
            inner: Mutex::new(Inner::default()),
            max_documents,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-written entry (every write is a
        // single insert), so a poisoned lock is safe to keep using.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Drops expired documents; returns how many remain.
    pub fn sweep(&self) -> usize {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.docs.retain(|_, e| e.live(now));
        inner.lists.retain(|_, l| l.expires > now);
        let Inner {
            docs,
            created,
            lists,
            list_order,
            ..
        } = &mut *inner;
        created.retain(|(seq, key)| docs.get(key).is_some_and(|e| e.seq == *seq));
        list_order.retain(|(seq, key)| lists.get(key).is_some_and(|l| l.seq == *seq));
        inner.docs.len()
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let now = Instant::now();
        let inner = self.lock();
        Ok(inner
            .docs
            .get(key)
            .filter(|e| e.live(now))
            .map(|e| Versioned {
                version: e.version,
                doc: e.doc.clone(),
            }))
    }

    async fn put_if(
        &self,
        key: &str,
        expected: u64,
        doc: &str,
        ttl: Option<Duration>,
        beside: Option<&Beside<'_>>,
    ) -> Result<bool, StoreError> {
        let now = Instant::now();
        let beside = beside.copied().unwrap_or_default();
        let mut inner = self.lock();
        if inner.version(key, now) != expected {
            return Ok(false);
        }
        let expires = ttl.map(|t| now + t);
        match inner.docs.get_mut(key).filter(|_| expected > 0) {
            Some(e) => {
                e.version = expected + 1;
                e.doc = doc.to_string();
                e.expires = expires;
            }
            None => {
                let seq = inner.next_seq;
                inner.next_seq += 1;
                inner.docs.insert(
                    key.to_string(),
                    Entry {
                        seq,
                        version: 1,
                        doc: doc.to_string(),
                        expires,
                    },
                );
                inner.created.push_back((seq, key.to_string()));
                while inner.docs.len() > self.max_documents {
                    let Some((seq, oldest)) = inner.created.pop_front() else {
                        break;
                    };
                    if inner.docs.get(&oldest).is_some_and(|e| e.seq == seq) {
                        inner.docs.remove(&oldest);
                    }
                }
            }
        }
        if let Some(item) = beside.outbox {
            inner.enqueue(item, self.max_documents / 2);
        }
        if let Some(t) = &beside.timeline {
            inner.append(t, now, self.max_documents);
        }
        if let Some(i) = &beside.index {
            inner.index(i, self.max_documents);
        }
        Ok(true)
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Result<bool, StoreError> {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.version(key, now) != expected || expected == 0 {
            return Ok(false);
        }
        inner.docs.remove(key);
        Ok(true)
    }

    async fn outbox_step(
        &self,
        step: QueueStep,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<bool, StoreError> {
        let mut inner = self.lock();
        let taken = match step {
            QueueStep::Push => {
                inner.enqueue(item, self.max_documents / 2);
                true
            }
            QueueStep::Done => {
                inner.queue(item.queue).remove(&item.id);
                true
            }
            QueueStep::Retry => {
                let q = inner.queue(item.queue);
                let live = q.items.contains_key(&item.id);
                if live {
                    q.enqueue(item);
                }
                live
            }
            QueueStep::Dead => {
                let q = inner.queue(item.queue);
                q.remove(&item.id);
                q.dead.insert(item.id.clone(), item.doc.clone());
                true
            }
            QueueStep::Revive => {
                let q = inner.queue(item.queue);
                let dead = q.dead.remove(&item.id).is_some();
                if dead {
                    q.enqueue(item);
                }
                dead
            }
        };
        if taken {
            if let Some(t) = timeline {
                inner.append(t, Instant::now(), self.max_documents);
            }
        }
        Ok(taken || step != QueueStep::Revive)
    }

    async fn outbox_claim(
        &self,
        queue: Queue,
        _partition: Partition,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Claimed, StoreError> {
        let mut inner = self.lock();
        let q = inner.queue(queue);
        let due: Vec<(i64, String)> = q
            .due
            .iter()
            .take_while(|(at, _)| *at <= now_ms)
            .take(limit)
            .cloned()
            .collect();
        let mut claimed = Vec::with_capacity(due.len());
        for (at, id) in due {
            q.due.remove(&(at, id.clone()));
            q.due.insert((lease_until_ms, id.clone()));
            if let Some(item) = q.items.get_mut(&id) {
                item.due_ms = lease_until_ms;
                claimed.push(OutboxItem {
                    due_ms: at,
                    ..item.clone()
                });
            }
        }
        let next_due_ms = if claimed.is_empty() {
            q.due.first().map(|(at, _)| *at)
        } else {
            None
        };
        Ok(Claimed {
            items: claimed,
            next_due_ms,
        })
    }

    async fn outbox_extend(
        &self,
        queue: Queue,
        _partition: Partition,
        ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let q = inner.queue(queue);
        for id in ids {
            if q.due.remove(&(from_ms, id.clone())) {
                q.due.insert((to_ms, id.clone()));
                if let Some(item) = q.items.get_mut(id) {
                    item.due_ms = to_ms;
                }
            }
        }
        Ok(())
    }

    async fn outbox_get(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
        dead: bool,
    ) -> Result<Option<OutboxItem>, StoreError> {
        let mut inner = self.lock();
        let q = inner.queue(queue);
        Ok(if dead {
            q.dead.get(id).map(|doc| OutboxItem {
                queue,
                partition,
                id: id.to_string(),
                doc: doc.clone(),
                due_ms: 0,
            })
        } else {
            q.items.get(id).cloned()
        })
    }

    async fn outbox_pending_page(
        &self,
        queue: Queue,
        _partition: Partition,
        query: &PageQuery,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut inner = self.lock();
        let q = inner.queue(queue);
        Ok(page(&q.due, query)
            .into_iter()
            .filter_map(|(_, id)| q.items.get(&id).cloned())
            .collect())
    }

    async fn timeline_append(&self, append: &Append<'_>) -> Result<(), StoreError> {
        self.lock()
            .append(append, Instant::now(), self.max_documents);
        Ok(())
    }

    async fn timeline(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let now = Instant::now();
        Ok(self
            .lock()
            .lists
            .get(key)
            .filter(|l| l.expires > now)
            .map(|l| l.events.iter().cloned().collect())
            .unwrap_or_default())
    }

    async fn index_page(
        &self,
        key: &str,
        query: &PageQuery,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        Ok(self
            .lock()
            .indexes
            .get(key)
            .map(|index| page(index, query))
            .unwrap_or_default())
    }

    async fn outbox_stats(&self, queue: Queue) -> Result<OutboxStats, StoreError> {
        let mut inner = self.lock();
        let q = inner.queue(queue);
        Ok(OutboxStats {
            pending: q.items.len() as u64,
            oldest_due_ms: q.due.first().map(|(at, _)| *at),
            dead: q.dead.len() as u64,
        })
    }

    /// One page holding every dead letter: the embedded store keeps them in one map.
    async fn outbox_dead_page(
        &self,
        queue: Queue,
        _partition: Partition,
        _cursor: u64,
        _count: usize,
    ) -> Result<(Vec<(String, String)>, u64), StoreError> {
        let mut inner = self.lock();
        let dead = &inner.queue(queue).dead;
        Ok((
            dead.iter()
                .map(|(id, doc)| (id.clone(), doc.clone()))
                .collect(),
            0,
        ))
    }

    async fn outbox_dead_forget(
        &self,
        queue: Queue,
        _partition: Partition,
        ids: &[String],
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let dead = &mut inner.queue(queue).dead;
        for id in ids {
            dead.remove(id);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// One process: its system clock is every user's clock.
    async fn now_ms(&self) -> Result<i64, StoreError> {
        Ok(chrono::Utc::now().timestamp_millis())
    }

    async fn persistent(&self) -> Result<Option<bool>, StoreError> {
        Ok(Some(false))
    }
}

/// A page of a sorted set, as the Redis store's `page` script reads one.
fn page(set: &BTreeSet<(i64, String)>, q: &PageQuery) -> Vec<(i64, String)> {
    if q.min > q.max {
        return Vec::new();
    }
    use std::ops::Bound::{Excluded, Included, Unbounded};
    let upper = match q.max.checked_add(1) {
        Some(next) => Excluded((next, String::new())),
        None => Unbounded,
    };
    let in_range = set.range((Included((q.min, String::new())), upper));
    let after = |entry: &&(i64, String)| match &q.after {
        None => true,
        Some(After { score, member }) => {
            let at = (*score, member.as_str());
            let here = (entry.0, entry.1.as_str());
            if q.descending {
                here < at
            } else {
                here > at
            }
        }
    };
    let count = q.count.max(1);
    if q.descending {
        in_range.rev().filter(after).take(count).cloned().collect()
    } else {
        in_range.filter(after).take(count).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_documents_go_first_past_the_cap() {
        let store = MemoryStore::new(3);
        for k in ["a", "b", "c"] {
            assert!(store.put_if(k, 0, k, None, None).await.unwrap());
        }
        assert!(
            store.put_if("a", 1, "a2", None, None).await.unwrap(),
            "an update is not a new document"
        );
        assert!(store.put_if("d", 0, "d", None, None).await.unwrap());
        assert!(
            store.get("a").await.unwrap().is_none(),
            "created first, dropped first"
        );
        for k in ["b", "c", "d"] {
            assert!(store.get(k).await.unwrap().is_some(), "{k}");
        }
    }

    #[tokio::test]
    async fn the_recheck_queue_is_capped_notifications_are_not() {
        let store = MemoryStore::new(4);
        for (queue, n) in [(Queue::Refreshes, 5), (Queue::Notifications, 5)] {
            for i in 0..n {
                let item = OutboxItem {
                    partition: Partition(0),
                    queue,
                    id: format!("{i}"),
                    doc: String::new(),
                    due_ms: i,
                };
                store.outbox_push(&item, None).await.unwrap();
            }
        }
        for (queue, pending) in [(Queue::Refreshes, 2), (Queue::Notifications, 5)] {
            let stats = store.outbox_stats(queue).await.unwrap();
            assert_eq!(stats.pending, pending, "{queue:?}");
        }
        let kept = store
            .outbox_claim(Queue::Refreshes, Partition(0), 10, 20, 10)
            .await
            .unwrap();
        assert_eq!(
            kept.items.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(),
            ["0", "1"],
            "the soonest due stay"
        );
    }

    #[tokio::test]
    async fn index_pages_follow_score_then_member_past_the_cursor() {
        let store = MemoryStore::new(10);
        for (member, score) in [("a", 5), ("b", 5), ("c", 7), ("d", 3), ("old", 1)] {
            let entry = IndexEntry {
                key: "i",
                member,
                score,
                trim_before: 2,
                ttl: Duration::from_secs(60),
            };
            let beside = Beside {
                index: Some(entry),
                ..Default::default()
            };
            assert!(store
                .put_if(member, 0, "{}", None, Some(&beside))
                .await
                .unwrap());
        }
        let read = |descending, after: Option<(i64, &str)>, count| PageQuery {
            descending,
            min: 0,
            max: i64::MAX,
            after: after.map(|(score, member)| After {
                score,
                member: member.into(),
            }),
            count,
        };
        let members = |page: Vec<(i64, String)>| -> Vec<String> {
            page.into_iter().map(|(_, m)| m).collect()
        };
        let first = store.index_page("i", &read(true, None, 2)).await.unwrap();
        assert_eq!(
            members(first),
            ["c", "b"],
            "trimmed below 2; ties by member"
        );
        let next = store
            .index_page("i", &read(true, Some((5, "b")), 2))
            .await
            .unwrap();
        assert_eq!(members(next), ["a", "d"]);
        let up = store
            .index_page("i", &read(false, Some((5, "a")), 5))
            .await
            .unwrap();
        assert_eq!(members(up), ["b", "c"]);
    }

    #[tokio::test]
    async fn a_timeline_keeps_its_newest_events() {
        let store = MemoryStore::new(10);
        let events: Vec<String> = (0..5).map(|i| i.to_string()).collect();
        let append = Append {
            key: "t",
            events: &events,
            keep: 3,
            ttl: Duration::from_secs(60),
        };
        store.timeline_append(&append).await.unwrap();
        assert_eq!(store.timeline("t").await.unwrap(), ["2", "3", "4"]);
        assert!(store.timeline("other").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn expired_documents_are_absent_and_swept() {
        let store = MemoryStore::new(10);
        assert!(store
            .put_if("t", 0, "x", Some(Duration::from_millis(20)), None)
            .await
            .unwrap());
        assert!(
            !store.put_if("t", 0, "y", None, None).await.unwrap(),
            "still there"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert!(store.get("t").await.unwrap().is_none());
        assert_eq!(store.sweep(), 0);
        assert!(
            store.put_if("t", 0, "y", None, None).await.unwrap(),
            "gone, so absent again"
        );
    }
}
