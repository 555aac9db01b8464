//! Every store key payrouter writes, built in this one place.
//!
//! Keys are typed: a [`DocKey<D>`] can only be read as, and written with, the document `D` it
//! names, so a payment key cannot be read as a subscription. All keys start with the prefix
//! given at construction (`payrouter` by default).
//!
//! Two layouts. The partitioned one (Redis, `REDIS_PARTITIONS`) puts every key in one of N
//! partitions, named by a Redis Cluster hash tag after the prefix (`payrouter:{p07}:payment:…`):
//! a payment's keys by (provider, payment id), a reservation by (provider, shopTransactionId),
//! a subscription by (provider, token), and each partition has its own queues. A step that
//! writes a document and queues work writes the work to the document's partition, so every
//! atomic step touches one hash slot. A payment's timeline sits in its payment's partition,
//! and each partition has an index of its payments. The flat layout (no tags, one queue each) is the one
//! written before partitions existed; the embedded store keeps it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use super::documents::{PaymentRecord, PollWindow, Reservation, SubscriptionRecord};
use crate::contract::{PayResponse, SubscriptionResponse};
use crate::notify::StuckMarker;
use crate::store::{Partition, Queue};

/// The prefix of every key unless configured otherwise.
pub const DEFAULT_PREFIX: &str = "payrouter";

/// The key of one document of type `D`, and the partition it lives in.
pub struct DocKey<D> {
    key: String,
    partition: Partition,
    doc: PhantomData<fn() -> D>,
}

impl<D> DocKey<D> {
    fn new(key: String, partition: Partition) -> Self {
        DocKey {
            key,
            partition,
            doc: PhantomData,
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.key
    }

    /// The partition whose queues take the work written together with this document.
    pub fn partition(&self) -> Partition {
        self.partition
    }
}

impl<D> fmt::Display for DocKey<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key)
    }
}

/// The three keys of a durable queue.
pub(crate) struct QueueKeys {
    pub items: String,
    pub due: String,
    pub dead: String,
}

/// Builds keys under one prefix, flat or in `partitions` partitions.
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: Arc<str>,
    /// 0: the flat layout.
    partitions: u16,
    /// Each partition's hash tag (without braces).
    tags: Arc<[String]>,
}

/// The hash slots of a Redis Cluster.
const SLOTS: u32 = 16384;

/// The hash tag of partition `i` of `n`: `p07`, or `p07.k` with the smallest `k` that puts
/// it near the middle of the i-th of n equal ranges of hash slots. A cluster gives its
/// primaries equal ranges of slots, so the partitions spread over the primaries as evenly as
/// their number allows (plain `p00`…`p15` would land 4/5/7 on three primaries).
fn tag(i: u16, n: u16) -> String {
    let width = SLOTS / u32::from(n);
    let middle = u32::from(i) * width + width / 2;
    let reach = (width / 16).max(1);
    let (lo, hi) = (middle - reach, middle + reach);
    (0u32..)
        .map(|k| match k {
            0 => format!("p{i:02}"),
            k => format!("p{i:02}.{k}"),
        })
        .find(|t| {
            let slot = u32::from(crc16::State::<crc16::XMODEM>::calculate(t.as_bytes())) % SLOTS;
            (lo..hi).contains(&slot)
        })
        .unwrap_or_else(|| format!("p{i:02}"))
}

impl Default for Keys {
    fn default() -> Self {
        Keys::new(DEFAULT_PREFIX)
    }
}

impl Keys {
    /// The flat layout under `prefix`.
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.into(),
            partitions: 0,
            tags: Arc::new([]),
        }
    }

    /// The partitioned layout: `partitions` partitions (at least 1) under `prefix`.
    pub fn partitioned(prefix: &str, partitions: u16) -> Self {
        let n = partitions.max(1);
        Keys {
            prefix: prefix.into(),
            partitions: n,
            tags: (0..n).map(|i| tag(i, n)).collect(),
        }
    }

    /// The same prefix in the flat layout (to find what was written before partitions).
    pub fn flat(&self) -> Keys {
        Keys::new(&self.prefix)
    }

    /// How many partitions there are (1 in the flat layout).
    pub fn partition_count(&self) -> u16 {
        self.partitions.max(1)
    }

    pub fn all_partitions(&self) -> impl Iterator<Item = Partition> {
        (0..self.partition_count()).map(Partition)
    }

    /// The partition of a (provider, id) pair: FNV-1a of both, so that it is the same in every
    /// replica and every release.
    pub fn partition_of(&self, provider: &str, id: &str) -> Partition {
        if self.partitions == 0 {
            return Partition(0);
        }
        let mut hash: u32 = 0x811c_9dc5;
        for byte in provider.bytes().chain([0]).chain(id.bytes()) {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        Partition((hash % u32::from(self.partitions)) as u16)
    }

    /// Whether this is the flat layout (no partitions).
    pub(crate) fn is_flat(&self) -> bool {
        self.partitions == 0
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Where a key of the flat layout (`prefix:payment:fena:p1`) lives in this layout (None
    /// when this layout is the flat one).
    pub(crate) fn relocate(&self, flat: &str) -> Option<String> {
        if self.is_flat() {
            return None;
        }
        let rest = flat.strip_prefix(&*self.prefix)?.strip_prefix(':')?;
        let (kind, rest) = rest.split_once(':')?;
        let (provider, id) = rest.split_once(':')?;
        let key = match kind {
            "payment" => self.payment(provider, id).key,
            "subscription" => self.subscription(provider, id).key,
            "poll" => self.poll_window(provider, id).key,
            "idem" => match id.strip_prefix("schedule:") {
                Some(tx) => self.schedule_reservation(provider, tx).key,
                None => self.pay_reservation(provider, id).key,
            },
            _ => return None,
        };
        Some(key)
    }

    /// The partition a key built here lives in, read from its hash tag (0 when flat).
    pub(crate) fn partition_in(&self, key: &str) -> Partition {
        key.split_once(":{p")
            .and_then(|(_, rest)| rest.split_once('}'))
            .and_then(|(tag, _)| tag.split('.').next()?.parse().ok())
            .map_or(Partition(0), Partition)
    }

    /// The start of every key of `partition`: `prefix:{p07}`, or `prefix` when flat.
    fn base(&self, partition: Partition) -> String {
        if self.partitions == 0 {
            self.prefix.to_string()
        } else {
            format!(
                "{}:{{{}}}",
                self.prefix,
                self.tags[usize::from(partition.0)]
            )
        }
    }

    /// A key of the document named by `parts`, in the partition of (`parts[0]`, `owner`).
    fn doc<D>(&self, kind: &str, owner: &str, parts: &[&str]) -> DocKey<D> {
        let partition = self.partition_of(parts[0], owner);
        let mut key = format!("{}:{kind}", self.base(partition));
        for part in parts {
            key.push(':');
            key.push_str(part);
        }
        DocKey::new(key, partition)
    }

    pub fn payment(&self, provider: &str, payment_id: &str) -> DocKey<PaymentRecord> {
        self.doc("payment", payment_id, &[provider, payment_id])
    }

    pub fn subscription(&self, provider: &str, token: &str) -> DocKey<SubscriptionRecord> {
        self.doc("subscription", token, &[provider, token])
    }

    /// The idempotency reservation of a pay (and of a manual subscription's instalment).
    pub fn pay_reservation(
        &self,
        provider: &str,
        shop_transaction_id: &str,
    ) -> DocKey<Reservation<PayResponse>> {
        self.doc(
            "idem",
            shop_transaction_id,
            &[provider, shop_transaction_id],
        )
    }

    /// The idempotency reservation of a provider-run subscription's creation.
    pub fn schedule_reservation(
        &self,
        provider: &str,
        shop_transaction_id: &str,
    ) -> DocKey<Reservation<SubscriptionResponse>> {
        self.doc(
            "idem",
            shop_transaction_id,
            &[provider, "schedule", shop_transaction_id],
        )
    }

    /// The marker that holds a payment's provider poll window shut while it lives.
    pub fn poll_window(&self, provider: &str, payment_id: &str) -> DocKey<PollWindow> {
        self.doc("poll", payment_id, &[provider, payment_id])
    }

    /// The marker that a payment's `payment.stuck` alert was queued (at most one per payment),
    /// in the payment's partition so that it is written in one step with the alert.
    pub fn stuck_alert(&self, provider: &str, payment_id: &str) -> DocKey<StuckMarker> {
        self.doc("stuck", payment_id, &[provider, payment_id])
    }

    /// The timeline of a payment: a list beside its document, in the same partition.
    pub(crate) fn timeline(&self, provider: &str, payment_id: &str) -> String {
        self.doc::<()>("timeline", payment_id, &[provider, payment_id])
            .key
    }

    /// The index of the payments of `partition`, by creation time.
    pub(crate) fn payment_index(&self, partition: Partition) -> String {
        format!("{}:index:payments", self.base(partition))
    }

    /// The keys of `partition`'s `queue`.
    pub(crate) fn queue(&self, queue: Queue, partition: Partition) -> QueueKeys {
        let base = self.base(partition);
        let key = |part: &str| format!("{base}:{}:{part}", queue.name());
        QueueKeys {
            items: key("items"),
            due: key("due"),
            dead: key("dead"),
        }
    }
}

/// The id of a payment's recheck in the refresh queue. A callback's look is kept apart from
/// the payment's schedule, so neither replaces (and postpones) the other.
pub(crate) fn recheck_id(provider: &str, payment_id: &str, after_callback: bool) -> String {
    if after_callback {
        format!("{provider}:{payment_id}:callback")
    } else {
        format!("{provider}:{payment_id}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_ones_stored_today() {
        let k = Keys::default();
        let q = k.queue(Queue::Notifications, Partition(0));
        let built = [
            k.payment("fena", "p1").to_string(),
            k.subscription("fena", "sub_1").to_string(),
            k.pay_reservation("fena", "tx").to_string(),
            k.schedule_reservation("fena", "tx").to_string(),
            k.poll_window("fena", "p1").to_string(),
            q.items,
            q.due,
            q.dead,
            recheck_id("fena", "p1", false),
            recheck_id("fena", "p1", true),
            k.timeline("fena", "p1"),
            k.payment_index(Partition(0)),
        ];
        let stored = [
            "payrouter:payment:fena:p1",
            "payrouter:subscription:fena:sub_1",
            "payrouter:idem:fena:tx",
            "payrouter:idem:fena:schedule:tx",
            "payrouter:poll:fena:p1",
            "payrouter:notify:items",
            "payrouter:notify:due",
            "payrouter:notify:dead",
            "fena:p1",
            "fena:p1:callback",
            "payrouter:timeline:fena:p1",
            "payrouter:index:payments",
        ];
        assert_eq!(built, stored);
    }

    #[test]
    fn the_prefix_is_given_at_construction() {
        let k = Keys::new("blue");
        assert_eq!(k.payment("fena", "p1").to_string(), "blue:payment:fena:p1");
        assert_eq!(
            k.queue(Queue::Refreshes, Partition(0)).due,
            "blue:refresh:due"
        );
    }

    #[test]
    fn a_payment_and_the_work_written_with_it_share_a_hash_tag() {
        let k = Keys::partitioned("payrouter", 16);
        let key = k.payment("fena", "64b48c5b6ba2cd6a040b2a01");
        let p = key.partition();
        let tag = &k.tags[usize::from(p.0)];
        assert!(tag.starts_with(&p.to_string()), "{tag}");
        assert_eq!(
            key.to_string(),
            format!("payrouter:{{{tag}}}:payment:fena:64b48c5b6ba2cd6a040b2a01")
        );
        assert_eq!(
            k.poll_window("fena", "64b48c5b6ba2cd6a040b2a01")
                .partition(),
            p
        );
        let q = k.queue(Queue::Notifications, p);
        assert_eq!(q.items, format!("payrouter:{{{tag}}}:notify:items"));
        assert_eq!(k.partition_in(&key.to_string()), p);
        assert_eq!(
            k.timeline("fena", "64b48c5b6ba2cd6a040b2a01"),
            format!("payrouter:{{{tag}}}:timeline:fena:64b48c5b6ba2cd6a040b2a01")
        );
        assert_eq!(
            k.payment_index(p),
            format!("payrouter:{{{tag}}}:index:payments")
        );
        assert_eq!(
            k.relocate("payrouter:payment:fena:64b48c5b6ba2cd6a040b2a01"),
            Some(key.to_string())
        );
        assert_eq!(
            k.relocate("payrouter:idem:fena:schedule:tx"),
            Some(k.schedule_reservation("fena", "tx").to_string())
        );
    }

    #[test]
    fn partition_tags_spread_evenly_over_the_hash_slots() {
        let k = Keys::partitioned("payrouter", 16);
        let mut per_primary = [0; 3];
        for (i, tag) in k.tags.iter().enumerate() {
            let slot = crc16::State::<crc16::XMODEM>::calculate(tag.as_bytes()) % 16384;
            assert_eq!(u32::from(slot) * 16 / 16384, i as u32, "{tag}");
            assert_eq!(
                k.partition_in(&format!("payrouter:{{{tag}}}:poll:x")).0,
                i as u16
            );
            // The ranges `redis-cli --cluster create` gives three primaries.
            per_primary[usize::from(slot / 5461).min(2)] += 1;
        }
        assert!(
            per_primary.iter().all(|n| (5..=6).contains(n)),
            "{per_primary:?}"
        );
    }

    #[test]
    fn partitions_are_stable_and_all_used() {
        let k = Keys::partitioned("payrouter", 16);
        assert_eq!(k.partition_of("fena", "p1"), k.partition_of("fena", "p1"));
        let mut seen = std::collections::BTreeSet::new();
        for i in 0..1000 {
            seen.insert(k.partition_of("fena", &format!("64b48c5b6ba2cd6a{i:08}")));
        }
        assert_eq!(seen.len(), 16);
        assert_eq!(
            Keys::new("payrouter").partition_of("fena", "p1"),
            Partition(0)
        );
    }
}
