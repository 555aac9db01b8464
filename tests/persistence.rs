//! Whether Redis keeps its data across a restart is checked at start and exported as
//! `payrouter_store_persistent` (issue 10.15). Alone in its test binary: the gauge lives in
//! the process-wide recorder, which another test's router would set meanwhile.

mod common;

use common::*;

async fn persistent_gauge(router: &TestRouter) -> String {
    let (s, body) = router.get("/metrics").await;
    assert_eq!(s, 200);
    let text = body.as_str().unwrap().to_string();
    text.lines()
        .find(|l| l.starts_with("payrouter_store_persistent "))
        .unwrap_or_else(|| panic!("no payrouter_store_persistent in {text}"))
        .to_string()
}

/// Both cases in one test: the gauge lives in the process-wide recorder.
#[tokio::test]
async fn the_store_persistent_gauge_follows_redis_persistence() {
    let redis = RedisServer::start().await;
    let cfg = config(
        Some(&redis),
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/n",
        "",
    );
    let mut router = TestRouter::start(&cfg).await;
    assert_eq!(
        persistent_gauge(&router).await,
        "payrouter_store_persistent 0"
    );
    router.stop().await;
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("CONFIG")
        .arg("SET")
        .arg("appendonly")
        .arg("yes")
        .query_async::<()>(&mut c)
        .await
        .unwrap();
    let mut router = TestRouter::start(&cfg).await;
    assert_eq!(
        persistent_gauge(&router).await,
        "payrouter_store_persistent 1"
    );
    router.stop().await;
    // On a cluster every primary is asked: none of these persists.
    let cluster = RedisServer::start_cluster(3, 0, false).await;
    let cfg = config(
        Some(&cluster),
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/n",
        "",
    );
    let router = TestRouter::start(&cfg).await;
    assert_eq!(
        persistent_gauge(&router).await,
        "payrouter_store_persistent 0"
    );
}
