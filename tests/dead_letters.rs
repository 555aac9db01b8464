//! Dead letters (issue 11): a notification that exhausted its attempts is kept with the reason
//! of its last failure and the time it died, and is forgotten once DEAD_LETTER_RETENTION_DAYS
//! (here a fraction of a second) have passed. On the embedded store and on a real Redis.

mod common;

use common::delivery::{notification, records, redis_store, run, unsigned_notifier};
use common::flaky_receiver::FlakyReceiver;
use common::*;

use payrouter::store::{MemoryStore, OutboxItem, Partition, Queue, QueueStep, RedisTarget, Store};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// A worker that gives up after two attempts and keeps dead letters for `retention`.
fn notifier(store: Arc<dyn Store>, url: &str, retention: Duration) -> CancellationToken {
    let retry = (Duration::from_millis(20), Duration::from_millis(20));
    let worker = unsigned_notifier(store, url, retry, 2, Duration::from_secs(2));
    run(worker.with_dead_letter_retention(retention)).1
}

/// Every dead letter of the notification queue, parsed.
async fn dead_letters(store: &Arc<dyn Store>) -> Vec<Value> {
    let mut all = Vec::new();
    for p in 0..store.partitions().max(1) {
        let mut cursor = 0;
        loop {
            let (page, next) = store
                .outbox_dead_page(Queue::Notifications, Partition(p), cursor, 100)
                .await
                .unwrap();
            all.extend(
                page.iter()
                    .map(|(_, doc)| serde_json::from_str(doc).unwrap()),
            );
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    all
}

async fn the_last_failure_is_kept_and_old_dead_letters_are_forgotten(store: Arc<dyn Store>) {
    let receiver = FlakyReceiver::start(100).await;
    let work = notification("msg_dead_1", "64b48c5b6ba2cd6a040b4401");
    records(store.clone()).enqueue(&work).await.unwrap();

    let long = notifier(store.clone(), &receiver.url, Duration::from_secs(3600));
    let dead = eventually(20, || async {
        let dead = dead_letters(&store).await;
        (!dead.is_empty()).then_some(dead)
    })
    .await;
    long.cancel();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0]["id"], "msg_dead_1");
    assert_eq!(dead[0]["attempts"], 2);
    assert!(
        dead[0]["lastError"]
            .as_str()
            .is_some_and(|e| e.contains("500")),
        "the receiver's answer is the reason: {}",
        dead[0]
    );
    assert!(
        dead[0]["deadMs"].as_i64().is_some_and(|t| t > 0),
        "{}",
        dead[0]
    );

    // A worker keeping dead letters for 200 ms forgets this one.
    let short = notifier(store.clone(), &receiver.url, Duration::from_millis(200));
    eventually(20, || async {
        dead_letters(&store).await.is_empty().then_some(())
    })
    .await;
    short.cancel();
    assert_eq!(
        store.outbox_stats(Queue::Notifications).await.unwrap().dead,
        0
    );
}

#[tokio::test]
async fn memory() {
    the_last_failure_is_kept_and_old_dead_letters_are_forgotten(Arc::new(MemoryStore::new(1000)))
        .await;
}

#[tokio::test]
async fn redis() {
    let server = RedisServer::start().await;
    let store = redis_store(RedisTarget::Node(server.url())).await;
    the_last_failure_is_kept_and_old_dead_letters_are_forgotten(store).await;
}

/// The retention sweep reads the dead letters a page (500) at a time and forgets as it goes:
/// with 1,200 letters in one partition, half of them past retention and spread over every
/// page, exactly the old half is forgotten and every recent one kept.
#[tokio::test]
async fn the_retention_sweep_forgets_across_pages_on_redis() {
    let server = RedisServer::start().await;
    let store = redis_store(RedisTarget::Node(server.url())).await;
    for i in 0..1200 {
        let dead_ms = if i % 2 == 0 { 1_000 } else { 9_000 };
        let id = format!("msg_sweep_{i}");
        let doc = format!(
            r#"{{"id":"{id}","provider":"fena","paymentId":"64b48c5b6ba2cd6a040b4401","body":{{"status":"ACCEPTED"}},"attempts":2,"createdMs":500,"deadMs":{dead_ms}}}"#
        );
        let item = OutboxItem {
            queue: Queue::Notifications,
            partition: Partition(0),
            id,
            doc,
            due_ms: 0,
        };
        store
            .outbox_step(QueueStep::Dead, &item, None)
            .await
            .unwrap();
    }
    assert_eq!(dead_letters(&store).await.len(), 1200);

    let forgotten = records(store.clone())
        .outbox()
        .forget_dead_before(5_000)
        .await
        .unwrap();
    assert_eq!(forgotten, 600);
    let kept = dead_letters(&store).await;
    assert_eq!(kept.len(), 600);
    assert!(
        kept.iter().all(|d| d["deadMs"] == 9_000),
        "only recent letters are kept"
    );
}
