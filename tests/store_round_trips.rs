//! What a pay costs the store: a first pay makes one round trip before the provider call (the
//! reservation), one between Fena's two phases (the draft id kept in the reservation) and two
//! after them (the payment with its first recheck, then the stored answer); a replay makes two
//! and never reaches the provider. The store's clock, which judges leases, is read once a
//! minute per process. Counted on a store that counts its calls.

mod common;

use async_trait::async_trait;
use common::*;
use payrouter::engine::{Engine, RecheckSchedule};
use payrouter::notify::NotifyHandle;
use payrouter::store::records::{Keys, Records};
use payrouter::store::{
    Append, Beside, Claimed, MemoryStore, OutboxItem, OutboxStats, PageQuery, Partition, Queue,
    Store, StoreError, Versioned,
};
use payrouter_provider::{Currency, Money, PayOrder};
use serde_json::Map;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The embedded store, counting every call made to it.
struct Counting {
    inner: MemoryStore,
    calls: AtomicUsize,
}

impl Counting {
    fn count(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Store for Counting {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        self.count();
        self.inner.get(key).await
    }

    async fn put_if(
        &self,
        key: &str,
        expected: u64,
        doc: &str,
        ttl: Option<Duration>,
        beside: Option<&Beside<'_>>,
    ) -> Result<bool, StoreError> {
        self.count();
        self.inner.put_if(key, expected, doc, ttl, beside).await
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Result<bool, StoreError> {
        self.count();
        self.inner.delete_if(key, expected).await
    }

    async fn outbox_push(
        &self,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<(), StoreError> {
        self.count();
        self.inner.outbox_push(item, timeline).await
    }

    async fn outbox_claim(
        &self,
        queue: Queue,
        partition: Partition,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Claimed, StoreError> {
        self.count();
        self.inner
            .outbox_claim(queue, partition, now_ms, lease_until_ms, limit)
            .await
    }

    async fn outbox_extend(
        &self,
        queue: Queue,
        partition: Partition,
        ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError> {
        self.count();
        self.inner
            .outbox_extend(queue, partition, ids, from_ms, to_ms)
            .await
    }

    async fn outbox_done(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
        timeline: Option<&Append<'_>>,
    ) -> Result<(), StoreError> {
        self.count();
        self.inner.outbox_done(queue, partition, id, timeline).await
    }

    async fn outbox_retry(
        &self,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<(), StoreError> {
        self.count();
        self.inner.outbox_retry(item, timeline).await
    }

    async fn outbox_dead(
        &self,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<(), StoreError> {
        self.count();
        self.inner.outbox_dead(item, timeline).await
    }

    async fn outbox_revive(
        &self,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<bool, StoreError> {
        self.count();
        self.inner.outbox_revive(item, timeline).await
    }

    async fn outbox_get(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
    ) -> Result<Option<OutboxItem>, StoreError> {
        self.count();
        self.inner.outbox_get(queue, partition, id).await
    }

    async fn outbox_dead_get(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
    ) -> Result<Option<String>, StoreError> {
        self.count();
        self.inner.outbox_dead_get(queue, partition, id).await
    }

    async fn outbox_pending_page(
        &self,
        queue: Queue,
        partition: Partition,
        query: &PageQuery,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        self.count();
        self.inner
            .outbox_pending_page(queue, partition, query)
            .await
    }

    async fn timeline_append(&self, append: &Append<'_>) -> Result<(), StoreError> {
        self.count();
        self.inner.timeline_append(append).await
    }

    async fn timeline(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.count();
        self.inner.timeline(key).await
    }

    async fn index_page(
        &self,
        key: &str,
        query: &PageQuery,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        self.count();
        self.inner.index_page(key, query).await
    }

    async fn outbox_stats(&self, queue: Queue) -> Result<OutboxStats, StoreError> {
        self.count();
        self.inner.outbox_stats(queue).await
    }

    async fn outbox_dead_page(
        &self,
        queue: Queue,
        partition: Partition,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<(String, String)>, u64), StoreError> {
        self.count();
        self.inner
            .outbox_dead_page(queue, partition, cursor, count)
            .await
    }

    async fn outbox_dead_forget(
        &self,
        queue: Queue,
        partition: Partition,
        ids: &[String],
    ) -> Result<(), StoreError> {
        self.count();
        self.inner.outbox_dead_forget(queue, partition, ids).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.count();
        self.inner.ping().await
    }

    async fn now_ms(&self) -> Result<i64, StoreError> {
        self.count();
        self.inner.now_ms().await
    }
}

#[tokio::test]
async fn a_pay_costs_four_store_round_trips_and_a_replay_two() {
    const PID: &str = "64b48c5b6ba2cd6a040b2d04";
    const PID2: &str = "64b48c5b6ba2cd6a040b2d05";
    let fena = FenaMock::start().await;
    let create = fena.on_create(PID, "trips-1", "12.99").await;
    fena.on_create(PID2, "trips-2", "12.99").await;
    let cfg = config(None, &fena.base(), "http://127.0.0.1:9/notify", "");
    let providers = providers_of(&cfg);
    let store = Arc::new(Counting {
        inner: MemoryStore::new(100),
        calls: AtomicUsize::new(0),
    });
    let records = Records::new(
        store.clone(),
        Keys::default(),
        Duration::from_secs(3600),
        NotifyHandle::default(),
    );
    let schedule = RecheckSchedule {
        initial: Duration::from_secs(600),
        max: Duration::from_secs(600),
    };
    let engine = Engine::new(records, providers, Duration::from_secs(5), None, schedule);
    let order = PayOrder {
        amount: Money::new(1299, Currency::from_code("GBP").unwrap()),
        shop_transaction_id: "trips-1".into(),
        success_redirect_url: None,
        failure_redirect_url: None,
        provider_data: Map::new(),
        provider_order_id: None,
    };
    let first = engine
        .pay(engine.provider("fena").unwrap(), order.clone())
        .await
        .unwrap();
    assert_eq!(first.payment_id.as_deref(), Some(PID));
    assert_eq!(
        store.calls.load(Ordering::SeqCst),
        5,
        "the store's clock, then four"
    );
    let replay = engine
        .pay(engine.provider("fena").unwrap(), order.clone())
        .await
        .unwrap();
    assert_eq!(replay, first);
    assert_eq!(store.calls.load(Ordering::SeqCst), 7);
    assert_eq!(create.calls_async().await, 1);
    let other = PayOrder {
        shop_transaction_id: "trips-2".into(),
        ..order
    };
    let second = engine
        .pay(engine.provider("fena").unwrap(), other)
        .await
        .unwrap();
    assert_eq!(second.payment_id.as_deref(), Some(PID2));
    assert_eq!(
        store.calls.load(Ordering::SeqCst),
        11,
        "the clock reading is carried forward"
    );
}
