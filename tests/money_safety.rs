//! Money safety under the faults of issue 10, over real HTTP with Fena mocked: `/check` asks
//! the provider, rejected requests store nothing, instalments stay within `expiresAfter`,
//! the refund ledger matches the provider, states only move forward, and unsigned callbacks
//! cannot make the router hammer the provider. Each scenario runs on both stores.

mod common;

use common::fena_env::{env, pay_body, Env};
use common::stores::on_both_stores;
use common::*;
use serde_json::json;
use std::time::Duration;

const PID: &str = "64b48c5b6ba2cd6a040b20a8";

/// 10.10: inside Fena's poll window, which spaces `/status` fetches, `/check` still asks Fena.
async fn check_asks_the_provider_inside_the_poll_window(kind: StoreKind) {
    let e = env(kind, "").await;
    e.created(PID, "chk-1").await;
    assert_eq!(e.router.status("fena", PID).await["status"], "PENDING");
    e.fena_reports(PID, "paid", "chk-1").await;
    let b = e.router.check("fena", PID).await;
    assert_eq!(b["status"], "ACCEPTED", "{b}");
    assert_eq!(e.fena.gets(PID).await, 1, "the check asked Fena");
    let n = e.receiver.notified(PID, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["shopTransactionId"], "chk-1");
}

/// 10.4: a start refused with 400 stores nothing, so the corrected retry sets the terms.
async fn a_rejected_start_leaves_nothing_behind(kind: StoreKind) {
    let e = env(kind, "").await;
    let second = "64b48c5b6ba2cd6a040b3102";
    e.fena.on_create(PID, "st-1", "5.00").await;
    e.fena.on_create(second, "st-2", "5.00").await;
    let start = |currency: &str, expires_after: u32| {
        json!({"amount": 500, "currency": currency, "shopTransactionId": "st-1",
               "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "expiresAfter": expires_after}})
    };
    let (s, b) = e
        .router
        .post("/v3/fena/subscription/start", &start("EUR", 1))
        .await;
    assert_error_response(s, &b, 400);
    let (s, b) = e
        .router
        .post("/v3/fena/subscription/start", &start("GBP", 3))
        .await;
    assert_eq!((s, b["paymentId"].clone()), (200, json!(PID)), "{b}");
    let token = b["subscriptionToken"].as_str().unwrap();
    let next = json!({"amount": 500, "currency": "GBP", "shopTransactionId": "st-2",
                      "subscriptionInfo": {"token": token}});
    let (s, b) = e.router.post("/v3/fena/subscription/pay", &next).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        (b["result"].clone(), b["paymentId"].clone()),
        (json!("REDIRECT_TO_URL"), json!(second)),
        "the corrected terms (3 payments in GBP) hold, not the refused ones: {b}"
    );
}

/// Answers the draft create for `reference` with payment `id`, after a while (so concurrent
/// requests overlap at the provider), and its processing.
async fn on_slow_create<'a>(e: &'a Env, id: &str, reference: &str) -> httpmock::Mock<'a> {
    e.fena.on_process(id, reference, "5.00").await;
    let (id, reference) = (id.to_string(), reference.to_string());
    e.fena
        .server
        .mock_async(move |when, then| {
            when.method(httpmock::Method::POST)
                .path("/open/payments/single/create")
                .json_body_includes(json!({"reference": reference}).to_string());
            then.status(201)
                .delay(std::time::Duration::from_millis(200))
                .json_body(json!({"created": true, "result": {
                    "id": id, "reference": reference, "amount": "5.00", "currency": "GBP",
                    "status": "draft"}}));
        })
        .await
}

/// 10.3: ten concurrent instalments of a subscription of two payments make one more payment.
async fn concurrent_instalments_stay_within_expires_after(kind: StoreKind) {
    let e = env(kind, "").await;
    e.fena.on_create(PID, "inst-0", "5.00").await;
    let start = json!({"amount": 500, "currency": "GBP", "shopTransactionId": "inst-0",
        "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "expiresAfter": 2}});
    let (s, b) = e.router.post("/v3/fena/subscription/start", &start).await;
    assert_eq!(s, 200, "{b}");
    let token = b["subscriptionToken"].as_str().unwrap().to_string();
    let mut creates = Vec::new();
    for i in 1..=10 {
        let id = format!("64b48c5b6ba2cd6a040b31{i:02}");
        creates.push(on_slow_create(&e, &id, &format!("inst-{i}")).await);
    }
    let calls = (1..=10).map(|i| {
        let body = json!({"amount": 500, "currency": "GBP", "shopTransactionId": format!("inst-{i}"),
                          "subscriptionInfo": {"token": token}});
        let router = &e.router;
        async move { router.post("/v3/fena/subscription/pay", &body).await }
    });
    let answers = futures::future::join_all(calls).await;
    let paid = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["result"] == "REDIRECT_TO_URL")
        .count();
    let refused = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["result"] == "KO")
        .count();
    assert_eq!((paid, refused), (1, 9), "{answers:?}");
    let mut created = 0;
    for mock in &creates {
        created += mock.calls_async().await;
    }
    assert_eq!(created, 1, "one instalment payment was created at Fena");
}

/// 10.2: a refund Fena answered with a 500 and never made is not reported as refunded when a
/// later refund settles, and its reservation is released.
async fn a_refund_the_provider_never_saw_is_not_reported(kind: StoreKind) {
    let e = env(kind, "").await;
    e.accepted(PID, "rf-1").await;
    let failing = e.fena.on_refund(PID, 500).await;
    let (s, b) = e.refund(PID, 400).await;
    assert_error_response(s, &b, 502);
    failing.delete_async().await;
    e.fena.on_refund(PID, 200).await;
    let (s, b) = e.refund(PID, 400).await;
    assert_eq!((s, b["result"].clone()), (200, json!("PENDING")), "{b}");
    e.fena_reports(PID, "partial_refund", "rf-1").await;
    let st = e.router.check("fena", PID).await;
    assert_eq!(st["action"], "REFUND", "{st}");
    assert_eq!(st["metadata"]["refundedAmount"], 400, "{st}");
    assert!(st["metadata"].get("refundPendingAmount").is_none(), "{st}");
    let (s, b) = e.refund(PID, 899).await;
    assert_eq!(
        (s, b["result"].clone()),
        (200, json!("PENDING")),
        "the 899 Fena still holds is refundable: {b}"
    );
}

/// 10.8: a slow answer from an earlier fetch, arriving after a later fetch's answer was
/// applied, does not move the payment back (FAILED → PENDING).
async fn a_stale_answer_does_not_move_the_state_back(kind: StoreKind) {
    let e = env(kind, "").await;
    e.fena.on_create(PID, "st-8", "12.99").await;
    e.router
        .create_payment("fena", &pay_body("st-8", 1299))
        .await;
    let slow = e
        .fena
        .server
        .mock_async(|when, then| {
            when.method(httpmock::Method::GET)
                .path(format!("/open/payments/single/{PID}"));
            then.status(200)
                .delay(std::time::Duration::from_millis(800))
                .json_body(
                    json!({"data": {"id": PID, "status": "sent", "amount": "12.99",
                    "currency": "GBP", "reference": "st-8", "description": "st-8"}}),
                );
        })
        .await;
    let check = format!("/v3/fena/check?paymentId={PID}");
    let (first, second) = tokio::join!(e.router.get(&check), async {
        eventually(5, || async {
            (slow.calls_async().await == 1).then_some(())
        })
        .await;
        slow.delete_async().await;
        e.fena_reports(PID, "rejected", "st-8").await;
        e.router.get(&check).await
    });
    assert_eq!(
        (second.0, second.1["status"].clone()),
        (200, json!("FAILED")),
        "{second:?}"
    );
    assert_eq!(
        (first.0, first.1["status"].clone()),
        (200, json!("FAILED")),
        "the earlier fetch's answer came last and is stale: {first:?}"
    );
    let statuses = eventually(5, || async {
        let n = e.receiver.notifications(PID);
        (n.len() == 2).then(|| n.iter().map(|n| n["status"].clone()).collect::<Vec<_>>())
    })
    .await;
    assert_eq!(statuses, [json!("FAILED"), json!("FAILED")]);
}

/// 10.7: a flood of unsigned callbacks naming ids the router never issued is answered without
/// a Fena call each: callback-triggered fetches stay within CALLBACK_FETCH_RATE (default 20 a
/// second), the rest are told to come back later (429), and the metric counts both.
async fn unsigned_callbacks_do_not_amplify(kind: StoreKind) {
    let e = env(kind, "").await;
    let lookups = e.fena.on_unknown(None, Duration::ZERO).await;
    let started = std::time::Instant::now();
    let calls = (0..100u32).map(|i| {
        let hook = json!({"eventScope": "single-payments", "eventName": "status-update",
                          "id": format!("{i:024x}"), "status": "paid"});
        let router = &e.router;
        async move { router.post("/v3/fena/callback", &hook).await }
    });
    let answers = futures::future::join_all(calls).await;
    let elapsed_secs = started.elapsed().as_secs() + 1;
    for (s, b) in &answers {
        assert!(*s == 404 || *s == 429, "{s} {b}");
        assert_error_response(*s, b, *s);
    }
    let limited = answers.iter().filter(|(s, _)| *s == 429).count();
    let fetched = lookups.calls_async().await;
    assert!(
        fetched as u64 <= 20 * (1 + elapsed_secs),
        "{fetched} Fena calls for 100 callbacks in under {elapsed_secs} s"
    );
    assert_eq!(
        fetched + limited,
        100,
        "every callback was fetched once or refused"
    );
    let (s, text) = e.router.get("/metrics").await;
    assert_eq!(s, 200);
    let text = text.as_str().expect("metrics are text");
    let sample = |outcome: &str| {
        text.lines()
            .find(|l| {
                l.starts_with("payrouter_callback_fetches_total{")
                    && l.contains(&format!("outcome=\"{outcome}\""))
                    && l.contains("provider=\"fena\"")
            })
            .and_then(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    assert!(sample("limited") >= limited as f64, "{text}");
    assert!(sample("fetched") >= fetched as f64, "{text}");
}

/// 10.7: callbacks repeating one id while it is being looked up cost no second Fena call.
async fn one_callback_fetch_per_payment_at_a_time(kind: StoreKind) {
    let e = env(kind, "").await;
    let lookup = e
        .fena
        .on_unknown(Some(PID), Duration::from_millis(300))
        .await;
    let hook = json!({"eventScope": "single-payments", "eventName": "status-update", "id": PID});
    let answers =
        futures::future::join_all((0..10).map(|_| e.router.post("/v3/fena/callback", &hook))).await;
    let codes: Vec<u16> = answers.iter().map(|(s, _)| *s).collect();
    assert_eq!(lookup.calls_async().await, 1, "{answers:?}");
    assert_eq!(codes.iter().filter(|s| **s == 404).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|s| **s == 429).count(), 9, "{codes:?}");
}

on_both_stores!(
    check_asks_the_provider_inside_the_poll_window,
    a_rejected_start_leaves_nothing_behind,
    concurrent_instalments_stay_within_expires_after,
    a_refund_the_provider_never_saw_is_not_reported,
    a_stale_answer_does_not_move_the_state_back,
    unsigned_callbacks_do_not_amplify,
    one_callback_fetch_per_payment_at_a_time,
);
