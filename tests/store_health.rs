//! What the router does when part of its store goes: how soon a dead worker's claimed
//! notifications come back and that a slow delivery keeps its lease (issue 10.14), and that a
//! cluster partition without a primary fails only its own payments.

mod common;

use common::delivery::{notification, records, redis_store, spawn_notifier};
use common::*;
use payrouter::store::RedisTarget;
use serde_json::json;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A receiver that takes the request and answers 200 only after `hold`.
async fn slow_receiver(hold: Duration) -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 65536];
        let n = sock.read(&mut buf).await.unwrap();
        tokio::time::sleep(hold).await;
        sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        n
    });
    (url, task)
}

#[tokio::test]
async fn a_killed_workers_notification_is_delivered_after_one_short_lease() {
    let redis = RedisServer::start().await;
    let store = redis_store(RedisTarget::Node(redis.url())).await;
    records(store.clone())
        .enqueue(&notification("msg_lease_1", "64b48c5b6ba2cd6a040b4101"))
        .await
        .unwrap();
    // The first worker takes it and hangs in delivery; then it is killed.
    let (hanging, took) = slow_receiver(Duration::from_secs(600)).await;
    let (first, _) = spawn_notifier(
        store.clone(),
        &hanging,
        Duration::from_secs(1),
        Duration::from_secs(600),
    );
    let leased_until = eventually(10, || async {
        let s = store
            .outbox_stats(payrouter::store::Queue::Notifications)
            .await
            .unwrap();
        s.oldest_due_ms
            .filter(|due| *due > payrouter::engine::now_ms())
    })
    .await;
    assert!(leased_until > 0, "the first worker holds a lease");
    first.abort();
    let _ = first.await;
    let receiver = Receiver::start().await;
    let (_second, _stop) = spawn_notifier(
        store.clone(),
        &receiver.url,
        Duration::from_secs(1),
        Duration::from_secs(5),
    );
    // One lease (1 s) after the kill, not the 60 s of old.
    let got = eventually(5, || async { receiver.delivered().into_iter().next() }).await;
    assert_eq!(got.id, "msg_lease_1");
    took.abort();
}

#[tokio::test]
async fn a_slow_delivery_keeps_its_lease_and_is_not_taken_twice() {
    let redis = RedisServer::start().await;
    let store = redis_store(RedisTarget::Node(redis.url())).await;
    records(store.clone())
        .enqueue(&notification("msg_lease_2", "64b48c5b6ba2cd6a040b4102"))
        .await
        .unwrap();
    // The delivery takes four leases; a second worker runs all along.
    let (slow, answered) = slow_receiver(Duration::from_millis(1600)).await;
    let (first, stop_first) = spawn_notifier(
        store.clone(),
        &slow,
        Duration::from_millis(400),
        Duration::from_secs(10),
    );
    let receiver = Receiver::start().await;
    let (second, stop_second) = spawn_notifier(
        store.clone(),
        &receiver.url,
        Duration::from_millis(400),
        Duration::from_secs(5),
    );
    assert!(
        answered.await.unwrap() > 0,
        "the slow receiver got the notification"
    );
    eventually(10, || async {
        let s = store
            .outbox_stats(payrouter::store::Queue::Notifications)
            .await
            .unwrap();
        (s.pending == 0).then_some(())
    })
    .await;
    stop_first.cancel();
    stop_second.cancel();
    first.await.unwrap();
    second.await.unwrap();
    assert!(
        receiver.all().is_empty(),
        "the second worker took a notification under lease: {:?}",
        receiver.all().iter().map(|r| &r.id).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_partition_without_a_primary_fails_only_its_own_payments() {
    let mut cluster = RedisServer::start_cluster(3, 0, false).await;
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let router = TestRouter::start(&config(Some(&cluster), &fena.base(), &receiver.url, "")).await;
    let mut ids = Vec::new();
    for i in 0..12 {
        let id = format!("64b48c5b6ba2cd6a040b42{i:02}");
        let tx = format!("part-{i}");
        fena.on_create(&id, &tx, "12.99").await;
        fena.set_state(&id, "paid", "12.99", &tx, &tx).await;
        let body = json!({"amount": 1299, "currency": "GBP", "shopTransactionId": tx});
        assert_eq!(router.post("/v3/fena/pay", &body).await.0, 200);
        ids.push(id);
    }
    // Which primary holds each payment.
    let mut home = Vec::new();
    for port in cluster.primaries().await {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg("*:payment:*")
            .query_async(&mut c)
            .await
            .unwrap();
        for id in &ids {
            if keys.iter().any(|k| k.ends_with(id.as_str())) {
                home.push((id.clone(), port));
            }
        }
    }
    let victim = home[0].1;
    cluster.kill(victim);
    let (lost, kept): (Vec<_>, Vec<_>) = home.iter().partition(|(_, p)| *p == victim);
    assert!(!kept.is_empty(), "every payment on one primary: {home:?}");
    for (id, _) in &lost {
        let (s, b) = router.get(&format!("/v3/fena/status?paymentId={id}")).await;
        assert_error_response(s, &b, 503);
    }
    for (id, _) in &kept {
        assert_eq!(router.status("fena", id).await["status"], "ACCEPTED");
    }
    let (s, b) = router.get("/readyz").await;
    assert_error_response(s, &b, 503);
    assert!(b["message"].as_str().unwrap().contains("partitions"), "{b}");
}
