//! Fault suites over real processes: the `payrouter` binary as replicas on a private Redis with
//! its append-only file on, the provider simulators on their own port, and a notification
//! receiver that fails part of its attempts. Every fault is bounded in count and time, and each
//! suite writes a one-line summary of its figures to stderr, so the CI log shows them.

mod common;

use common::binary::fena_at_simulator;
use common::durable_redis::DurableRedis;
use common::flaky_receiver::FlakyReceiver;
use common::sim_client::fena_sim_paid;
use common::supervisor::{free_port, Replica};
use common::{eventually, read};
use futures::StreamExt;
use payrouter::simulate;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const PAYMENTS: usize = 200;
const KILLS: usize = 3;
const RECEIVER_FAIL_PERCENT: u8 = 30;

/// Writes `line` to the process's stderr directly: the test harness captures only `print!`
/// and `eprint!`, so the figures reach the CI log also when the suite passes.
fn report(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// The ids among `ids` that still have no ACCEPTED notification after up to `secs` seconds.
async fn undelivered_within(receiver: &FlakyReceiver, ids: &[&String], secs: u64) -> Vec<String> {
    let undelivered = || {
        ids.iter()
            .filter(|id| receiver.accepted(id, "ACCEPTED").is_empty())
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !undelivered().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    undelivered()
}

/// Reports the run's figures, then requires an ACCEPTED notification for every payment.
fn report_all_delivered(summary: &str, missing: &[String]) {
    report(summary);
    assert!(
        missing.is_empty(),
        "no ACCEPTED notification for {missing:?}; {summary}"
    );
}

/// Both simulators on a port of their own, sending Fena webhooks to `router_base`; returns
/// their base URL.
async fn start_simulators(router_base: &str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_base = format!("http://{}", listener.local_addr().unwrap());
    let app = simulate::router(&sim_base, router_base);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    sim_base
}

/// A replica's environment: Fena at the simulators, Redis, the receiver, and retry, recheck
/// and timeout settings short enough for a test (first retry after 50 ms, rechecks every
/// 300 ms to 1 s).
fn replica_env(
    redis: &DurableRedis,
    sim_base: &str,
    receiver: &str,
    public: &str,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("SIMULATE", "false".into()),
        ("LOG_LEVEL", "error".into()),
        ("REDIS_URL", redis.url()),
        ("ENABLED_PROVIDERS", "fena".into()),
        ("PUBLIC_BASE_URL", public.into()),
        ("PAYMENT_CALLBACK_URL", receiver.into()),
        ("NOTIFY_RETRY_INITIAL_MS", "50".into()),
        ("NOTIFY_RETRY_MAX_MS", "200".into()),
        ("NOTIFY_TIMEOUT_MS", "1000".into()),
        ("RECHECK_INITIAL_MS", "300".into()),
        ("RECHECK_MAX_MS", "1000".into()),
        ("ROUTE_TIMEOUT_MS", "3000".into()),
        ("SHUTDOWN_GRACE_MS", "500".into()),
        ("FENA_CONNECT_TIMEOUT_MS", "500".into()),
        ("FENA_TIMEOUT_MS", "1000".into()),
    ];
    env.extend(fena_at_simulator(sim_base));
    env
}

fn pay_body(shop_tx: &str) -> Value {
    json!({"amount": 1299, "currency": "GBP", "shopTransactionId": shop_tx})
}

/// Pays `shop_tx` at the first replica of `bases` that answers 200, trying the others when one
/// is down or busy (a retry with the same body is idempotent); the payment id.
async fn pay_anywhere(http: &reqwest::Client, bases: &[&str], shop_tx: &str) -> String {
    let mut last = String::new();
    for attempt in 0..60 {
        let base = bases[attempt % bases.len()];
        let sent = http
            .post(format!("{base}/v3/fena/pay"))
            .json(&pay_body(shop_tx))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        match sent {
            Ok(resp) => {
                let (status, body) = read(resp).await;
                if status == 200 {
                    return body["paymentId"].as_str().expect("paymentId").to_string();
                }
                last = format!("{status} {body}");
            }
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no replica paid {shop_tx}; last answer: {last}");
}

/// Moves a payment to `paid` at the Fena simulator, which sends its webhook.
async fn pay_at_provider(http: &reqwest::Client, sim_base: &str, payment_id: &str) {
    fena_sim_paid(http, &format!("{sim_base}/fena"), payment_id).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_chaos_loses_no_accepted_notification() {
    let redis = DurableRedis::start().await;
    let receiver = FlakyReceiver::start(RECEIVER_FAIL_PERCENT).await;
    // Fena webhooks go to the replica that is killed: those sent while it is down are lost,
    // and only the rechecks of the surviving replica (or of the restarted one) find them.
    let port_a = free_port();
    let base_a = format!("http://127.0.0.1:{port_a}");
    let sim_base = start_simulators(&base_a).await;
    let env = replica_env(&redis, &sim_base, &receiver.url, &base_a);
    let mut a = Replica::start(port_a, &env).await;
    let mut b = Replica::start(free_port(), &env).await;
    let base_b = b.base.clone();

    let http = reqwest::Client::new();
    let progress = AtomicUsize::new(0);
    let paid_at: Mutex<HashMap<String, Instant>> = Mutex::new(HashMap::new());
    let payments = futures::stream::iter(0..PAYMENTS).for_each_concurrent(8, |i| {
        let (http, sim_base, paid_at, progress) = (&http, &sim_base, &paid_at, &progress);
        let bases = if i % 2 == 0 {
            [base_a.as_str(), base_b.as_str()]
        } else {
            [base_b.as_str(), base_a.as_str()]
        };
        async move {
            let id = pay_anywhere(http, &bases, &format!("chaos-{i}")).await;
            paid_at.lock().unwrap().insert(id.clone(), Instant::now());
            pay_at_provider(http, sim_base, &id).await;
            progress.fetch_add(1, Ordering::SeqCst);
        }
    });
    // Kills fall in the middle of the traffic: after 50, 100 and 150 payments, each down
    // while another 15 are paid.
    let chaos = async {
        for round in 1..=KILLS {
            let at = round * PAYMENTS / (KILLS + 1);
            eventually(60, || async {
                (progress.load(Ordering::SeqCst) >= at).then_some(())
            })
            .await;
            a.kill();
            eventually(60, || async {
                (progress.load(Ordering::SeqCst) >= at + 15).then_some(())
            })
            .await;
            a.restart().await;
        }
    };
    let started = Instant::now();
    tokio::join!(payments, chaos);
    let paid_at = paid_at.into_inner().unwrap();
    assert_eq!(paid_at.len(), PAYMENTS);

    let ids: Vec<&String> = paid_at.keys().collect();
    let missing = undelivered_within(&receiver, &ids, 120).await;

    let attempts = receiver.attempts();
    let failed = attempts.iter().filter(|a| !a.accepted).count();
    let accepted: Vec<_> = attempts.iter().filter(|a| a.accepted).collect();
    // Every accepted delivery of one change (payment, status, action) must carry one webhook-id.
    let mut ids_per_change: BTreeMap<(String, String, String), BTreeSet<String>> = BTreeMap::new();
    for a in &accepted {
        let change = (
            a.body["paymentId"].as_str().unwrap_or_default().to_string(),
            a.body["status"].as_str().unwrap_or_default().to_string(),
            a.body["action"].as_str().unwrap_or_default().to_string(),
        );
        ids_per_change
            .entry(change)
            .or_default()
            .insert(a.webhook_id.clone());
    }
    let changes_with_two_ids: Vec<_> = ids_per_change
        .iter()
        .filter(|(_, ids)| ids.len() > 1)
        .collect();
    let duplicates = accepted.len() - ids_per_change.len();
    let worst = paid_at
        .iter()
        .filter_map(|(id, at)| {
            let first = receiver
                .accepted(id, "ACCEPTED")
                .into_iter()
                .map(|a| a.at)
                .min()?;
            Some(first.saturating_duration_since(*at))
        })
        .max()
        .unwrap_or_default();
    let summary = format!(
        "faults/kill-9 chaos: {PAYMENTS} payments on 2 replicas, {KILLS} SIGKILLs of one; receiver \
         attempts {} ({failed} failed, {} accepted, {duplicates} duplicate deliveries); ACCEPTED \
         delivered for {}/{PAYMENTS}; worst paid-to-notified delay {worst:?}; run {:?}",
        attempts.len(),
        accepted.len(),
        PAYMENTS - missing.len(),
        started.elapsed()
    );
    report_all_delivered(&summary, &missing);
    assert!(
        changes_with_two_ids.is_empty(),
        "one change delivered under several webhook-ids: {changes_with_two_ids:?}; {summary}"
    );
    assert!(failed > 0, "the receiver failed no attempt; {summary}");
    assert_eq!(a.starts, 1 + KILLS as u32, "{summary}");
    assert!(
        a.exited().is_none() && b.exited().is_none(),
        "a replica died by itself; {summary}"
    );
}

/// Asserts an ErrorResponse with `status` and an `x-request-id`; answers its message.
async fn expect_error(resp: reqwest::Response, status: u16, what: &str) -> String {
    let has_request_id = resp.headers().contains_key("x-request-id");
    let (got, body) = read(resp).await;
    assert_eq!(got, status, "{what}: {body}");
    assert!(has_request_id, "{what}: no x-request-id");
    assert_eq!(body["statusCode"], status, "{what}: {body}");
    assert!(
        body["error"].as_str().is_some_and(|e| !e.is_empty()),
        "{what}: {body}"
    );
    body["message"]
        .as_str()
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| panic!("{what}: no message in {body}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_answers_503_and_recovers_without_a_restart() {
    let mut redis = DurableRedis::start().await;
    // Refuses every notification until Redis is back, so they stay queued through the outage.
    let receiver = FlakyReceiver::start(100).await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let sim_base = start_simulators(&base).await;
    let mut router =
        Replica::start(port, &replica_env(&redis, &sim_base, &receiver.url, &base)).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();

    // Before: ten payments paid (their notifications queued), five more created, unpaid.
    let mut before = Vec::new();
    for i in 0..10 {
        let id = pay_anywhere(&http, &[&base], &format!("outage-before-{i}")).await;
        pay_at_provider(&http, &sim_base, &id).await;
        before.push(id);
    }
    for id in &before {
        eventually(10, || async {
            let (_, st) = read(
                http.get(router.url(&format!("/v3/fena/status?paymentId={id}")))
                    .send()
                    .await
                    .ok()?,
            )
            .await;
            (st["status"] == "ACCEPTED").then_some(())
        })
        .await;
    }
    let mut during = Vec::new();
    for i in 0..5 {
        during.push(pay_anywhere(&http, &[&base], &format!("outage-during-{i}")).await);
    }

    // Traffic runs all through the outage: every answer is a 200 or a 503 ErrorResponse.
    let traffic_done = AtomicBool::new(false);
    let traffic = async {
        let mut answers: BTreeMap<u16, usize> = BTreeMap::new();
        let mut bad = Vec::new();
        let mut slowest = Duration::ZERO;
        let mut n = 0;
        while !traffic_done.load(Ordering::SeqCst) {
            n += 1;
            let sent_at = Instant::now();
            let pay = http
                .post(format!("{base}/v3/fena/pay"))
                .json(&pay_body(&format!("outage-traffic-{n}")))
                .send()
                .await;
            let status = http
                .get(format!(
                    "{base}/v3/fena/status?paymentId={}",
                    before[n % before.len()]
                ))
                .send()
                .await;
            slowest = slowest.max(sent_at.elapsed());
            for (what, sent) in [("pay", pay), ("status", status)] {
                let resp = match sent {
                    Ok(resp) => resp,
                    Err(e) => {
                        bad.push(format!("{what}: no answer ({e})"));
                        continue;
                    }
                };
                let request_id = resp.headers().contains_key("x-request-id");
                let (code, body) = read(resp).await;
                *answers.entry(code).or_default() += 1;
                let error_response = request_id
                    && body["statusCode"] == 503
                    && body["message"].as_str().is_some_and(|m| !m.is_empty());
                if !(code == 200 || code == 503 && error_response) {
                    bad.push(format!("{what}: {code} {body}"));
                }
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (answers, bad, slowest)
    };
    let outage = async {
        redis.stop();
        let down = Instant::now();
        // During: the payer pays; the webhook reaches a router without its store.
        for id in &during {
            pay_at_provider(&http, &sim_base, id).await;
        }
        eventually(10, || async {
            let resp = http.get(router.url("/readyz")).send().await.ok()?;
            (resp.status() == 503).then_some(resp)
        })
        .await;
        let readyz = expect_error(
            http.get(router.url("/readyz")).send().await.unwrap(),
            503,
            "/readyz",
        )
        .await;
        let mut answered = 0;
        for (i, id) in before.iter().take(2).enumerate() {
            let pay = http
                .post(router.url("/v3/fena/pay"))
                .json(&pay_body(&format!("outage-new-{i}")));
            expect_error(pay.send().await.unwrap(), 503, "pay during the outage").await;
            let status = http.get(router.url(&format!("/v3/fena/status?paymentId={id}")));
            expect_error(
                status.send().await.unwrap(),
                503,
                "status during the outage",
            )
            .await;
            let refund = http
                .post(router.url("/v3/fena/refund"))
                .json(&json!({"paymentId": id, "amount": 100, "currency": "GBP"}));
            expect_error(
                refund.send().await.unwrap(),
                503,
                "refund during the outage",
            )
            .await;
            answered += 3;
        }
        let health = http.get(router.url("/healthz")).send().await.unwrap();
        assert_eq!(health.status(), 200, "/healthz during the outage");
        assert!(
            router.exited().is_none(),
            "payrouter died during the Redis outage"
        );

        let outage_took = down.elapsed();
        redis.restart().await;
        let back = Instant::now();
        eventually(30, || async {
            let resp = http.get(router.url("/readyz")).send().await.ok()?;
            (resp.status() == 200).then_some(())
        })
        .await;
        traffic_done.store(true, Ordering::SeqCst);
        (readyz, answered, outage_took, back.elapsed())
    };
    let ((traffic_answers, traffic_bad, slowest), (readyz, answered, outage_took, recovery)) =
        tokio::join!(traffic, outage);
    receiver.set_fail_percent(0);
    // A new payment works again (pay_anywhere insists on a 200).
    pay_anywhere(&http, &[&base], "outage-after").await;
    let all: Vec<&String> = before.iter().chain(&during).collect();
    let missing = undelivered_within(&receiver, &all, 60).await;
    let summary = format!(
        "faults/redis outage ({outage_took:?}): {answered} provider calls answered 503 (/readyz: \
         {readyz}); background traffic answers {traffic_answers:?} (slowest pay + status pair \
         {slowest:?}); ready again {recovery:?} after Redis was back, without a restart; ACCEPTED \
         delivered for {}/{} payments paid before ({}) and during ({}) the outage",
        all.len() - missing.len(),
        all.len(),
        before.len(),
        during.len()
    );
    report_all_delivered(&summary, &missing);
    assert!(
        traffic_bad.is_empty(),
        "answers during the outage that are neither 200 nor a 503 ErrorResponse: \
         {traffic_bad:?}; {summary}"
    );
    assert!(
        traffic_answers.contains_key(&503),
        "the background traffic never met the outage; {summary}"
    );
    assert_eq!(router.starts, 1, "{summary}");
    assert!(router.exited().is_none(), "payrouter died; {summary}");
}
