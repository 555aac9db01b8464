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
    QueueStep, Store, StoreError, Versioned,
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

/// Implements [`Store`] for `Counting`: each method counts the call, then hands it to the
/// inner store as it is.
macro_rules! counted {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $out:ty;)*) => {
        #[async_trait]
        impl Store for Counting {
            $(
                async fn $name(&self, $($arg: $ty),*) -> Result<$out, StoreError> {
                    self.count();
                    self.inner.$name($($arg),*).await
                }
            )*
        }
    };
}

counted! {
    get(key: &str) -> Option<Versioned>;
    put_if(key: &str, expected: u64, doc: &str, ttl: Option<Duration>,
        beside: Option<&Beside<'_>>) -> bool;
    delete_if(key: &str, expected: u64) -> bool;
    outbox_step(step: QueueStep, item: &OutboxItem, timeline: Option<&Append<'_>>) -> bool;
    outbox_claim(queue: Queue, partition: Partition, now_ms: i64, lease_until_ms: i64,
        limit: usize) -> Claimed;
    outbox_extend(queue: Queue, partition: Partition, ids: &[String], from_ms: i64,
        to_ms: i64) -> ();
    outbox_get(queue: Queue, partition: Partition, id: &str, dead: bool) -> Option<OutboxItem>;
    outbox_pending_page(queue: Queue, partition: Partition, query: &PageQuery) -> Vec<OutboxItem>;
    timeline_append(append: &Append<'_>) -> ();
    timeline(key: &str) -> Vec<String>;
    index_page(key: &str, query: &PageQuery) -> Vec<(i64, String)>;
    outbox_stats(queue: Queue) -> OutboxStats;
    outbox_dead_page(queue: Queue, partition: Partition, cursor: u64, count: usize)
        -> (Vec<(String, String)>, u64);
    outbox_dead_forget(queue: Queue, partition: Partition, ids: &[String]) -> ();
    ping() -> ();
    now_ms() -> i64;
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
