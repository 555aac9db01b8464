//! payrouter on Redis over TLS (`rediss://`) in each of its three modes: one node with an ACL
//! user and password, a Redis Cluster whose nodes speak only TLS (clients, cluster bus), and a
//! primary with its replica watched by a sentinel, all over TLS, through a failover too. The
//! servers' certificate is signed by a private CA that the client trusts through
//! `SSL_CERT_FILE` (the system's trust store, as the `redis` crate's rustls support reads it).
//! Alone in its test binary, since it sets that variable for the process.

mod common;

use common::delivery::{redis_store, start_backlog};
use common::redis_server::Tls;
use common::*;
use payrouter::store::RedisTarget;
use serde_json::json;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

fn openssl(dir: &std::path::Path, args: &[&str]) {
    let ok = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is installed")
        .success();
    assert!(ok, "openssl {args:?}");
}

/// A CA and a certificate for 127.0.0.1 signed by it, made once for every test of this binary
/// (they share the process's `SSL_CERT_FILE`), under the target directory.
fn certificates() -> &'static Tls {
    static TLS: OnceLock<Tls> = OnceLock::new();
    TLS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("tls-certificates");
        std::fs::create_dir_all(&dir).unwrap();
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "1",
                "-subj",
                "/CN=payrouter test CA",
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
        openssl(
            &dir,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "1",
                "-extfile",
                "san.ext",
            ],
        );
        std::env::set_var("SSL_CERT_FILE", dir.join("ca.pem"));
        Tls(dir)
    })
}

/// A router on `redis` takes a payment, answers its status from the store, notifies it, and
/// is ready.
async fn pays_and_notifies(redis: &RedisServer, pid: &str, shop_tx: &str) {
    assert!(redis.config_line().contains("rediss://"));
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let router = TestRouter::start(&config(Some(redis), &fena.base(), &receiver.url, "")).await;
    fena.on_create(pid, shop_tx, "12.99").await;
    fena.set_state(pid, "paid", "12.99", shop_tx, shop_tx).await;
    let body = json!({"amount": 1299, "currency": "GBP", "shopTransactionId": shop_tx});
    let (s, b) = router.post("/v3/fena/pay", &body).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(router.status("fena", pid).await["status"], "ACCEPTED");
    receiver.notified(pid, "ACCEPTED", "PAYMENT").await;
    let (s, ready) = router.get("/readyz").await;
    assert_eq!(
        (s, ready["status"].clone()),
        (200, json!("ready")),
        "{ready}"
    );
}

#[tokio::test]
async fn a_router_reaches_redis_over_tls_with_a_password() {
    let redis = RedisServer::start_tls(certificates()).await;
    assert!(redis.url().starts_with("rediss://default:"));
    pays_and_notifies(&redis, "64b48c5b6ba2cd6a040b4301", "tls-1").await;
}

#[tokio::test]
async fn a_router_on_a_tls_cluster_pays_and_notifies() {
    let cluster = RedisServer::start_cluster_tls(3, 0, true, certificates()).await;
    pays_and_notifies(&cluster, "64b48c5b6ba2cd6a040b4302", "tls-cluster-1").await;
}

#[tokio::test]
async fn a_router_on_sentinel_over_tls_pays_and_notifies() {
    let redis = RedisServer::start_sentinel_tls(certificates()).await;
    pays_and_notifies(&redis, "64b48c5b6ba2cd6a040b4303", "tls-sentinel-1").await;
}

#[tokio::test]
async fn every_notification_is_delivered_across_a_sentinel_failover_over_tls() {
    let mut redis = RedisServer::start_sentinel_tls(certificates()).await;
    let line = redis.config_line();
    let sentinel = line.split('"').nth(1).unwrap().to_string();
    assert!(sentinel.starts_with("rediss://"), "{sentinel}");
    let store = redis_store(RedisTarget::Sentinel {
        sentinels: vec![sentinel],
        master: "mymaster".into(),
    })
    .await;
    let backlog = start_backlog(store, "sentinel-tls").await;
    redis.fail_over().await;
    let delivered = backlog.all_delivered().await;
    assert_eq!(delivered.len(), 200);
}
