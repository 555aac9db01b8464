//! payrouter on a Redis Cluster: the keys of many payments and their queues spread over every
//! primary with no script refused for crossing slots, and notifications survive a primary
//! failing over to its replica in the middle of delivery. The route and contract suites run a
//! representative subset on a cluster too (`tests/routes.rs`, `tests/contract.rs`).

mod common;

use common::delivery::{notification, records, redis_store, start_backlog};
use common::redis_server::PASSWORD;
use common::*;
use payrouter::store::records::{Notification, Work};
use payrouter::store::{Queue, RedisTarget};

fn seeds(cluster: &RedisServer) -> RedisTarget {
    let line = cluster.config_line();
    let nodes = line.split('"').nth(1).unwrap();
    RedisTarget::Cluster(nodes.split(',').map(String::from).collect())
}

#[tokio::test]
async fn a_thousand_payments_spread_over_every_primary_without_crossing_slots() {
    let cluster = RedisServer::start_cluster(3, 0, true).await;
    let store = redis_store(seeds(&cluster)).await;
    let records = records(store.clone());
    let keys = records.keys().clone();
    for i in 0..1000 {
        let id = format!("64b48c5b6ba2cd6a{i:08}");
        // A payment's record with its first notification (one script, one slot), its poll
        // window and its idempotency reservation, as the engine writes them.
        let payment = keys.payment("fena", &id);
        let work = notification(&format!("msg_{i}"), &id);
        assert!(store
            .put_if(
                &payment.to_string(),
                0,
                "{}",
                None,
                Some(&payrouter::store::Beside {
                    outbox: Some(&work_item(&work, payment.partition())),
                    ..Default::default()
                })
            )
            .await
            .unwrap());
        let poll = keys.poll_window("fena", &id);
        assert!(store
            .put_if(&poll.to_string(), 0, "{}", None, None)
            .await
            .unwrap());
        let held = keys.pay_reservation("fena", &format!("shop-{i}"));
        assert!(store
            .put_if(&held.to_string(), 0, "{}", None, None)
            .await
            .unwrap());
    }
    let stats = store.outbox_stats(Queue::Notifications).await.unwrap();
    assert_eq!(stats.pending, 1000);
    let per_node = cluster.keys_per_primary().await;
    println!("keys per primary: {per_node:?}");
    assert_eq!(per_node.len(), 3);
    assert_eq!(per_node.iter().map(|(_, n)| n).sum::<u64>(), 3000 + 2 * 16);
    // The partitions' hash tags sit in equal ranges of slots: the load is even (±20 %).
    let mean = (3000 + 2 * 16) as f64 / 3.0;
    for (port, n) in &per_node {
        let off = (*n as f64 - mean).abs() / mean;
        assert!(off <= 0.2, "primary {port} holds {n} keys: {per_node:?}");
    }
    // Every partition's queue is claimed and emptied on its own primary.
    let mut taken = 0;
    for partition in keys.all_partitions() {
        let batch = records
            .outbox()
            .claim::<Notification>(partition, i64::MAX - 1, i64::MAX, 1000)
            .await
            .unwrap();
        for n in &batch.items {
            records.outbox().done(n, &[]).await.unwrap();
        }
        taken += batch.items.len();
    }
    assert_eq!(taken, 1000);
    assert_eq!(
        store
            .outbox_stats(Queue::Notifications)
            .await
            .unwrap()
            .pending,
        0
    );
}

fn work_item(work: &Work, partition: payrouter::store::Partition) -> payrouter::store::OutboxItem {
    let Work::Notify(n) = work else {
        unreachable!("notification() makes notifications")
    };
    payrouter::store::OutboxItem {
        queue: Queue::Notifications,
        partition,
        id: n.id.clone(),
        doc: serde_json::to_string(n).unwrap(),
        due_ms: 0,
    }
}

#[tokio::test]
async fn every_notification_is_delivered_across_a_primary_failover() {
    let mut cluster = RedisServer::start_cluster(3, 1, true).await;
    let store = redis_store(seeds(&cluster)).await;
    // Deliveries fail for a while, so that notifications are being retried when the primary
    // goes away.
    let backlog = start_backlog(store, "failover").await;
    let victim = cluster.primaries().await[0];
    let replica = cluster.replicas_of(victim).await[0];
    cluster.kill(victim);
    eventually(60, || async {
        let primaries = cluster.primaries().await;
        (primaries.len() == 3 && primaries.contains(&replica)).then_some(())
    })
    .await;
    cluster.wait_cluster_ok().await;
    let delivered = backlog.all_delivered().await;
    assert_eq!(delivered.len(), 200);
}

#[tokio::test]
async fn two_redis_modes_at_once_are_refused_naming_both() {
    let cfg = format!(
        "redis_url = \"redis://127.0.0.1:1\"\nredis_cluster_nodes = \"redis://default:{PASSWORD}@127.0.0.1:2\"\n"
    );
    let fig = figment::Figment::new()
        .merge(<figment::providers::Toml as figment::providers::Format>::string(&cfg));
    let problems = payrouter::config::from_figment(&fig).err().unwrap();
    assert!(
        problems
            .iter()
            .any(|p| p.contains("REDIS_URL") && p.contains("REDIS_CLUSTER_NODES")),
        "{problems:?}"
    );
    assert!(
        problems.iter().all(|p| !p.contains(PASSWORD)),
        "{problems:?}"
    );
}

#[tokio::test]
async fn sentinel_settings_come_in_pairs_and_partitions_in_range() {
    let fig = |toml: &str| {
        figment::Figment::new()
            .merge(<figment::providers::Toml as figment::providers::Format>::string(toml))
    };
    let problems = payrouter::config::from_figment(&fig(
        "redis_sentinels = \"127.0.0.1:26379\"\nredis_partitions = 0\n",
    ))
    .err()
    .unwrap();
    for expected in [
        "REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS",
        "REDIS_PARTITIONS: expected a number of partitions from 1 to 1024, found 0",
    ] {
        assert!(
            problems.iter().any(|p| p.starts_with(expected)),
            "{expected} not in {problems:?}"
        );
    }
    let loaded = payrouter::config::from_figment(&fig(
        "redis_sentinels = \"127.0.0.1:26379, 127.0.0.1:26380\"\nredis_sentinel_master = \"mymaster\"\nsimulate = true\n",
    ))
    .unwrap_or_else(|p| panic!("{p:?}"));
    match loaded.config.redis_target() {
        Some(RedisTarget::Sentinel { sentinels, master }) => {
            assert_eq!(sentinels, ["127.0.0.1:26379", "127.0.0.1:26380"]);
            assert_eq!(master, "mymaster");
        }
        _ => panic!("expected the Sentinel mode"),
    }
    assert_eq!(loaded.config.redis_partitions, 16);
}
