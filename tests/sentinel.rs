//! payrouter on a primary watched by Sentinel: notifications queued before the primary dies
//! are all delivered after the sentinel promotes its replica, and a router started with
//! `REDIS_SENTINELS` serves payments through the primary the sentinel names.

mod common;

use common::delivery::{redis_store, start_backlog};
use common::fena_env::env_on;
use common::*;
use payrouter::store::RedisTarget;
use serde_json::json;

fn target(line: &str) -> RedisTarget {
    let sentinel = line.split('"').nth(1).unwrap().to_string();
    RedisTarget::Sentinel {
        sentinels: vec![sentinel],
        master: "mymaster".into(),
    }
}

#[tokio::test]
async fn every_notification_is_delivered_across_a_sentinel_failover() {
    let mut redis = RedisServer::start_sentinel().await;
    let store = redis_store(target(&redis.config_line())).await;
    let backlog = start_backlog(store, "sentinel").await;
    redis.fail_over().await;
    let delivered = backlog.all_delivered().await;
    assert_eq!(delivered.len(), 200);
}

#[tokio::test]
async fn a_router_on_sentinel_serves_a_payment() {
    const PID: &str = "64b48c5b6ba2cd6a040b3e01";
    let e = env_on(Some(RedisServer::start_sentinel().await), "").await;
    e.created_as(PID, "sentinel-1", "paid").await;
    let router = &e.router;
    assert_eq!(router.status("fena", PID).await["status"], "ACCEPTED");
    e.receiver.notified(PID, "ACCEPTED", "PAYMENT").await;
    let (s, ready) = router.get("/readyz").await;
    assert_eq!((s, ready["status"].clone()), (200, json!("ready")));
}
