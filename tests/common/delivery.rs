//! A notification worker on a store of the test's choosing, fed notifications directly, for
//! the tests of what a failover or a dead worker does to delivery.

use payrouter::config::CallbackMethod;
use payrouter::notify::{Notifier, NotifierSettings, NotifyHandle};
use payrouter::store::records::{Keys, Notification, Records, Work};
use payrouter::store::{RedisStore, RedisTarget, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A Redis store in the partitioned layout (16 partitions) on `target`.
pub async fn redis_store(target: RedisTarget) -> Arc<dyn Store> {
    let keys = Keys::partitioned("payrouter", 16);
    Arc::new(RedisStore::connect(&target, &keys).await.unwrap())
}

/// The typed records over `store`, laid out as `redis_store` lays them out.
pub fn records(store: Arc<dyn Store>) -> Records {
    let keys = if store.partitions() > 1 {
        Keys::partitioned("payrouter", store.partitions())
    } else {
        Keys::default()
    };
    Records::new(
        store,
        keys,
        Duration::from_secs(3600),
        NotifyHandle::default(),
    )
}

/// The notification `id` about payment `payment_id`, as the engine would enqueue it.
pub fn notification(id: &str, payment_id: &str) -> Work {
    let doc = format!(
        r#"{{"id":"{id}","provider":"fena","paymentId":"{payment_id}","body":{{"status":"ACCEPTED","paymentId":"{payment_id}"}},"attempts":0,"createdMs":0}}"#
    );
    Work::Notify(serde_json::from_str::<Notification>(&doc).unwrap())
}

/// A worker posting `store`'s notifications to `url` unsigned, waiting `retry` (first, most)
/// between attempts, up to `max_attempts`.
pub fn unsigned_notifier(
    store: Arc<dyn Store>,
    url: &str,
    retry: (Duration, Duration),
    max_attempts: u32,
    timeout: Duration,
) -> Notifier {
    Notifier::new(
        store,
        NotifierSettings {
            url: Some(url.to_string()),
            method: CallbackMethod::Post,
            signing_secret: None,
            retry_initial: retry.0,
            retry_max: retry.1,
            max_attempts,
            timeout,
        },
        NotifyHandle::default(),
    )
}

/// Runs `notifier` until the returned token is cancelled.
pub fn run(notifier: Notifier) -> (tokio::task::JoinHandle<()>, CancellationToken) {
    let stop = CancellationToken::new();
    (tokio::spawn(notifier.run(stop.clone())), stop)
}

/// Starts a worker delivering `store`'s notifications to `url`, retrying fast, with `lease`.
pub fn spawn_notifier(
    store: Arc<dyn Store>,
    url: &str,
    lease: Duration,
    timeout: Duration,
) -> (tokio::task::JoinHandle<()>, CancellationToken) {
    let retry = (Duration::from_millis(50), Duration::from_millis(200));
    run(unsigned_notifier(store, url, retry, 1000, timeout).with_lease(lease))
}

/// 200 notifications queued on `store` and being delivered to a receiver that fails the first
/// 150 attempts, so that some are being retried when a primary goes away.
pub struct Backlog {
    pub receiver: super::Receiver,
    pub ids: Vec<String>,
    worker: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
}

/// Queues the backlog (ids `msg_{name}_{i}`) and returns once deliveries are under way.
pub async fn start_backlog(store: Arc<dyn Store>, name: &str) -> Backlog {
    let records = records(store.clone());
    let receiver = super::Receiver::start().await;
    receiver.fail_next(150);
    let ids: Vec<String> = (0..200).map(|i| format!("msg_{name}_{i}")).collect();
    for (i, id) in ids.iter().enumerate() {
        records
            .enqueue(&notification(id, &format!("64b48c5b6ba2cd6a{i:08}")))
            .await
            .unwrap();
    }
    let (worker, stop) = spawn_notifier(
        store,
        &receiver.url,
        Duration::from_secs(2),
        Duration::from_secs(2),
    );
    super::eventually(30, || async { (receiver.all().len() >= 50).then_some(()) }).await;
    Backlog {
        receiver,
        ids,
        worker,
        stop,
    }
}

impl Backlog {
    /// Waits until every notification of the backlog was delivered at least once, stops the
    /// worker, and answers the ids delivered.
    pub async fn all_delivered(self) -> std::collections::HashSet<String> {
        let delivered = super::eventually(90, || async {
            let seen: std::collections::HashSet<String> = self
                .receiver
                .delivered()
                .into_iter()
                .map(|r| r.id)
                .collect();
            self.ids.iter().all(|id| seen.contains(id)).then_some(seen)
        })
        .await;
        println!(
            "{} ids delivered, {} deliveries, {} attempts in all",
            delivered.len(),
            self.receiver.delivered().len(),
            self.receiver.all().len()
        );
        self.stop.cancel();
        self.worker.await.unwrap();
        delivered
    }
}
