//! The contract's routes over real HTTP, with Fena mocked and a recording notification
//! receiver. Every scenario runs on the embedded store and on a real Redis, and a
//! representative subset on a Redis Cluster of three primaries.

mod common;

use common::fena_env::{env, pay_body, Env};
use common::stores::{on_both_stores, on_stores};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const PID: &str = "64b48c5b6ba2cd6a040b20a8";
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn webhook(id: &str, claimed_status: &str) -> Value {
    json!({"eventScope": "single-payments", "eventName": "status-update", "id": id,
           "status": claimed_status, "amount": "999999.00", "reference": "forged"})
}

/// The router takes a Fena webhook about PID claiming `claimed` (200).
async fn webhook_taken(e: &Env, claimed: &str) {
    let (s, b) = e
        .router
        .post("/v3/fena/callback", &webhook(PID, claimed))
        .await;
    assert_eq!(s, 200, "{b}");
}

async fn pay_webhook_status_notification(kind: StoreKind) {
    let e = env(kind, "").await;
    // Answered REDIRECT_TO_URL with PID (`created` checks both) and Fena's link.
    let link = e.created(PID, "order-1").await;
    assert_eq!(link, format!("https://payment.fena.co/pay/?p=h{PID}"));

    let st = e.router.status("fena", PID).await;
    assert_eq!(st["status"], "PENDING");
    assert_eq!(st["metadata"]["providerStatus"], "sent");

    e.fena_moves(PID, "paid", "order-1").await;
    let (s, ack) = e
        .router
        .post("/v3/fena/callback", &webhook(PID, "paid"))
        .await;
    assert_eq!((s, ack), (200, json!({"received": true})));

    let n = eventually(5, || async { e.receiver.delivered().into_iter().next() }).await;
    let sent = n.json();
    assert_eq!(sent["status"], "ACCEPTED");
    assert_eq!(sent["paymentId"], PID);
    assert_eq!(sent["shopTransactionId"], "order-1");
    assert_eq!(sent["providerName"], "fena");
    assert_eq!(sent["action"], "PAYMENT");
    n.assert_signed(SECRET);

    let st = e.router.status("fena", PID).await;
    assert_eq!(
        st,
        json!({"status": "ACCEPTED", "paymentId": PID, "shopTransactionId": "order-1",
               "providerName": "fena", "paymentMethod": "external", "action": "PAYMENT",
               "metadata": {"providerStatus": "paid", "amount": 1299, "currency": "GBP", "refundedAmount": 0}})
    );
    // Final: answered from the store, Fena is not asked again.
    let before = e.fena.gets(PID).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (_, again) = e
        .router
        .post("/v3/fena/status", &json!({"paymentId": PID}))
        .await;
    assert_eq!(again["status"], "ACCEPTED");
    assert_eq!(e.fena.gets(PID).await, before);
    assert_eq!(
        e.receiver.delivered().len(),
        1,
        "one state change, one notification"
    );
}

async fn idempotent_pay(kind: StoreKind) {
    let e = env(kind, "").await;
    let create = e.fena.on_create(PID, "order-2", "12.99").await;
    let (s1, b1) = e
        .router
        .post("/v3/fena/pay", &pay_body("order-2", 1299))
        .await;
    let (s2, b2) = e
        .router
        .post("/v3/fena/pay", &pay_body("order-2", 1299))
        .await;
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(b1, b2);
    assert_eq!(create.calls_async().await, 1);

    let slow = e
        .fena
        .server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST)
                .path("/open/payments/single/create")
                .json_body_includes(json!({"reference": "order-3"}).to_string());
            then.status(201)
                .delay(Duration::from_millis(300))
                .json_body(json!({"created": true,
                "result": {"id": "64b48c5b6ba2cd6a040b2003", "status": "draft"}}));
        })
        .await;
    e.fena
        .on_process("64b48c5b6ba2cd6a040b2003", "order-3", "5.00")
        .await;
    let body = pay_body("order-3", 500);
    let calls = (0..20).map(|_| e.router.post("/v3/fena/pay", &body));
    let answers = futures::future::join_all(calls).await;
    for (s, b) in &answers {
        assert_eq!(*s, 200, "{b}");
        assert_eq!(b["paymentId"], "64b48c5b6ba2cd6a040b2003");
    }
    assert_eq!(
        slow.calls_async().await,
        1,
        "20 concurrent identical pays, one payment at Fena"
    );
}

async fn conflicting_pay(kind: StoreKind) {
    let e = env(kind, "").await;
    let create = e.fena.on_create(PID, "order-4", "12.99").await;
    assert_eq!(
        e.router
            .post("/v3/fena/pay", &pay_body("order-4", 1299))
            .await
            .0,
        200
    );
    let (s, b) = e
        .router
        .post("/v3/fena/pay", &pay_body("order-4", 1300))
        .await;
    assert_eq!(s, 409);
    assert_eq!(b["statusCode"], 409);
    assert!(b["message"].as_str().unwrap().contains("order-4"), "{b}");
    let mut other_data = pay_body("order-4", 1299);
    other_data["providerData"] = json!({"customerName": "Someone else"});
    assert_eq!(e.router.post("/v3/fena/pay", &other_data).await.0, 409);
    assert_eq!(create.calls_async().await, 1);
}

async fn bad_inputs_are_4xx_error_responses(kind: StoreKind) {
    let e = env(kind, "").await;
    let create = e
        .fena
        .server
        .mock_async(|when, then| {
            when.method(httpmock::Method::POST);
            then.status(500);
        })
        .await;
    let ok = pay_body("bad-1", 100);
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let pay = "/v3/fena/pay";
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (pay, without("amount"), 400, "amount"),
        (pay, with("amount", json!(0)), 400, "amount"),
        (pay, with("amount", json!(-5)), 400, "amount"),
        (pay, with("amount", json!(12.5)), 400, "amount"),
        (pay, with("amount", json!("1299")), 400, "amount"),
        (pay, with("amount", json!(1e30)), 400, "amount"),
        (
            pay,
            with("amount", json!(18446744073709551615u64)),
            400,
            "amount",
        ),
        (pay, without("currency"), 400, "currency"),
        (pay, with("currency", json!("gbp")), 400, "currency"),
        (pay, with("currency", json!("EUR")), 400, "GBP"),
        (pay, with("currency", json!(826)), 400, "currency"),
        (pay, without("shopTransactionId"), 400, "shopTransactionId"),
        (
            pay,
            with("shopTransactionId", json!("")),
            400,
            "shopTransactionId",
        ),
        (
            pay,
            with("shopTransactionId", json!("x".repeat(256))),
            400,
            "shopTransactionId",
        ),
        (
            pay,
            with("shopTransactionId", json!("a\nb")),
            400,
            "shopTransactionId",
        ),
        (
            pay,
            with("successRedirectUrl", json!("ftp://shop/ok")),
            400,
            "successRedirectUrl",
        ),
        (
            pay,
            with("failureRedirectUrl", json!("/relative")),
            400,
            "failureRedirectUrl",
        ),
        (pay, with("providerData", json!("x")), 400, "providerData"),
        (
            pay,
            with("providerData", json!({"reference": "far-too-long-ref"})),
            400,
            "providerData.reference",
        ),
        (
            pay,
            with("providerData", json!({"customerEmail": 7})),
            400,
            "providerData.customerEmail",
        ),
        (pay, json!([1, 2]), 400, "body"),
        ("/v3/nope/pay", ok.clone(), 404, "nope"),
        (
            "/v3/fena/refund",
            json!({"amount": 100, "currency": "GBP"}),
            400,
            "paymentId",
        ),
        (
            "/v3/fena/refund",
            json!({"amount": 100, "paymentId": PID}),
            400,
            "currency",
        ),
        ("/v3/fena/status", json!({}), 400, "paymentId"),
        (
            "/v3/fena/status",
            json!({"paymentId": "../../etc/passwd"}),
            400,
            "paymentId",
        ),
        (
            "/v3/fena/subscription/schedule",
            ok.clone(),
            400,
            "subscriptionInfo",
        ),
    ];
    assert!(cases.len() >= 15);
    for (path, body, want, needle) in cases {
        let (s, b) = e.router.post(path, &body).await;
        assert_eq!(s, want, "{path} {body} -> {b}");
        assert_eq!(b["statusCode"], want, "{b}");
        assert!(b["error"].is_string(), "{b}");
        assert!(
            b["message"].as_str().unwrap().contains(needle),
            "{path} {body}: {b} should name {needle}"
        );
    }
    for (path, want, needle) in [
        ("/v3/fena/status", 400, "paymentId"),
        ("/v3/fena/check?paymentId=a/b", 400, "paymentId"),
        ("/v3/fena/nothing", 404, "route"),
    ] {
        let (s, b) = e.router.get(path).await;
        assert_eq!(s, want, "{path}: {b}");
        assert!(b["message"].as_str().unwrap().contains(needle), "{b}");
    }
    let raw = |body: &'static str| {
        e.router
            .http
            .post(e.router.url(pay))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let (s, b) = read(raw("{not json").await.unwrap()).await;
    assert_eq!((s, b["statusCode"].clone()), (400, json!(400)));
    let big = json!({"amount": 1, "currency": "GBP", "shopTransactionId": "big", "providerData": {"x": "y".repeat(70_000)}});
    let (s, b) = e.router.post(pay, &big).await;
    assert_eq!(s, 413, "{b}");
    assert_eq!(b["statusCode"], 413);
    assert_eq!(create.calls_async().await, 0, "no bad input reached Fena");
    let (s, _) = e
        .router
        .get(&format!("/v3/fena/status?paymentId={PID}"))
        .await;
    assert_eq!(s, 404, "no payment was created");
}

async fn hostile_webhooks_change_nothing(kind: StoreKind) {
    let e = env(kind, "").await;
    e.created(PID, "order-5").await;
    // Malformed or anonymous bodies.
    for bad in [
        json!("x"),
        json!({"status": "paid"}),
        json!({"id": "<script>"}),
    ] {
        let (s, b) = e.router.post("/v3/fena/callback", &bad).await;
        assert_eq!(s, 400, "{bad}: {b}");
    }
    // An id Fena does not know.
    let unknown = "64b48c5b6ba2cd6a040b0000";
    e.fena.on_unknown(Some(unknown), Duration::ZERO).await;
    let (s, _) = e
        .router
        .post("/v3/fena/callback", &webhook(unknown, "paid"))
        .await;
    assert_eq!(s, 404);
    // A body claiming "paid" while Fena says "sent": acknowledged, nothing changes.
    let (s, _) = e
        .router
        .post("/v3/fena/callback", &webhook(PID, "paid"))
        .await;
    assert_eq!(s, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let st = e.router.status("fena", PID).await;
    assert_eq!(st["status"], "PENDING");
    assert!(
        e.receiver.all().is_empty(),
        "a forged state is not notified"
    );

    // Duplicates: one change, one notification.
    e.fena_moves(PID, "paid", "order-5").await;
    for _ in 0..3 {
        webhook_taken(&e, "paid").await;
    }
    eventually(5, || async {
        (e.receiver.delivered().len() == 1).then_some(())
    })
    .await;
    // Out of order: Fena (stale) says "sent" again; the paid payment stays paid.
    e.fena_moves(PID, "sent", "order-5").await;
    webhook_taken(&e, "sent").await;
    assert_eq!(
        e.router
            .get(&format!("/v3/fena/callback?paymentId={PID}"))
            .await
            .0,
        200
    );
    tokio::time::sleep(Duration::from_millis(1300)).await;
    let st = e.router.status("fena", PID).await;
    assert_eq!(st["status"], "ACCEPTED");
    assert_eq!(
        e.receiver.all().len(),
        1,
        "duplicates and stale states are not notified"
    );
    // Fena reporting another amount for this id: not applied, refused with a 4xx.
    e.fena
        .set_state(PID, "refunded", "1.00", "order-5", "order-5")
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (s, b) = e
        .router
        .post("/v3/fena/callback", &webhook(PID, "refunded"))
        .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(e.router.status("fena", PID).await["status"], "ACCEPTED");
}

async fn refunds_follow_the_ledger(kind: StoreKind) {
    let e = env(kind, "").await;
    e.created(PID, "order-6").await;
    let (s, b) = e.refund(PID, 100).await;
    assert_eq!(s, 200);
    assert_ko_naming(&b, "not paid");

    e.fena_moves(PID, "paid", "order-6").await;
    assert_eq!(e.router.status("fena", PID).await["status"], "ACCEPTED");
    let fena_refund = e.fena.on_refund(PID, 200).await;
    let (_, b) = e.refund(PID, 500).await;
    assert_eq!(b["result"], "PENDING", "{b}");
    let (_, b) = e.refund(PID, 1000).await;
    assert_eq!(b["result"], "KO");
    assert!(
        b["resultDescription"].as_str().unwrap().contains("799"),
        "remainder named: {b}"
    );
    let (_, b) = e.refund(PID, 799).await;
    assert_eq!(b["result"], "PENDING");
    let (_, b) = e.refund(PID, 1).await;
    assert_eq!(b["result"], "KO");
    assert_eq!(fena_refund.calls_async().await, 2);
    let (s, b) = e
        .router
        .post(
            "/v3/fena/refund",
            &json!({"amount": 1, "currency": "EUR", "paymentId": PID}),
        )
        .await;
    assert_eq!(s, 400, "{b}");

    e.fena_moves(PID, "refunded", "order-6").await;
    webhook_taken(&e, "refunded").await;
    let n = eventually(5, || async {
        e.receiver
            .delivered()
            .into_iter()
            .find(|r| r.json()["action"] == "REFUND")
    })
    .await;
    assert_eq!(n.json()["status"], "ACCEPTED");
    let st = e.router.status("fena", PID).await;
    assert_eq!(st["action"], "REFUND");
    assert_eq!(st["metadata"]["refundedAmount"], 1299);
}

async fn notifications_are_retried_with_a_stable_id(kind: StoreKind) {
    let e = env(kind, "").await;
    e.receiver.fail_next(3);
    e.created(PID, "order-7").await;
    e.router.check("fena", PID).await;
    let delivered = eventually(10, || async { e.receiver.delivered().into_iter().next() }).await;
    let all = e.receiver.all();
    assert_eq!(all.len(), 4, "3 failures then a success");
    assert!(
        all.iter().all(|r| r.id == delivered.id),
        "same webhook-id on every attempt"
    );
    all.iter().for_each(|r| r.assert_signed(SECRET));
    assert_eq!(
        delivered.json()["status"],
        "PENDING",
        "check notifies even without a change"
    );
}

async fn provider_substeps_are_recorded_but_not_notified(kind: StoreKind) {
    let e = env(kind, "").await;
    e.created(PID, "order-8").await;
    e.fena_reports(PID, "overdue", "order-8").await;
    let st = e.router.status("fena", PID).await;
    assert_eq!(st["status"], "PENDING");
    assert_eq!(st["metadata"]["providerStatus"], "overdue", "recorded");
    // A check still notifies, even when the step it saw was not a visible change.
    e.fena_moves(PID, "sent", "order-8").await;
    e.router.check("fena", PID).await;
    let checked = eventually(5, || async { e.receiver.delivered().into_iter().next() }).await;
    assert_eq!(checked.json()["metadata"]["providerStatus"], "sent");
    e.fena_moves(PID, "paid", "order-8").await;
    assert_eq!(e.router.status("fena", PID).await["status"], "ACCEPTED");
    let n = eventually(5, || async { e.receiver.delivered().into_iter().nth(1) }).await;
    assert_eq!(n.json()["status"], "ACCEPTED");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        e.receiver.all().len(),
        2,
        "the check's notification and the payment's; sent → overdue → sent is not notified"
    );
}

async fn undeliverable_notifications_end_as_counted_dead_letters(kind: StoreKind) {
    let e = env(kind, "notify_max_attempts = 3").await;
    e.receiver.fail_next(1000);
    e.created(PID, "order-10").await;
    e.router.check("fena", PID).await;
    // Dead and no longer queued.
    eventually(10, || async {
        let dead = e.router.gauge("payrouter_notification_dead_letters").await;
        let queued = e.router.gauge("payrouter_notification_queue_depth").await;
        (dead == Some(1.0) && queued == Some(0.0)).then_some(())
    })
    .await;
    assert_eq!(
        e.receiver.all().len(),
        3,
        "exactly NOTIFY_MAX_ATTEMPTS attempts"
    );
}

async fn a_missed_callback_is_caught_by_a_recheck(kind: StoreKind) {
    let e = env(kind, "recheck_initial_ms = 300").await;
    e.created(PID, "order-11").await;
    // Fena moves on and its webhook never arrives; nobody asks for the status either.
    e.fena_reports(PID, "paid", "order-11").await;
    let n = eventually(10, || async { e.receiver.delivered().into_iter().next() }).await;
    assert_eq!(n.json()["status"], "ACCEPTED");
    assert_eq!(n.json()["paymentId"], PID);
}

async fn refund_outcomes_are_neither_lost_nor_doubled(kind: StoreKind) {
    let e = env(kind, "").await;
    e.accepted(PID, "order-12").await;
    let ok = e.fena.on_refund(PID, 200).await;
    assert_eq!(e.refund(PID, 500).await.1["result"], "PENDING");
    e.fena_moves(PID, "partial_refund", "order-12").await;
    webhook_taken(&e, "partial_refund").await;
    let refunds = || {
        e.receiver
            .delivered()
            .into_iter()
            .filter(|r| r.json()["action"] == "REFUND")
            .collect::<Vec<_>>()
    };
    let first = eventually(5, || async { refunds().into_iter().next() }).await;
    assert_eq!(first.json()["metadata"]["refundedAmount"], 500);

    // A second partial refund whose "refund started" step the router never saw: Fena reports
    // "partial refund" again, and that settles the second refund.
    assert_eq!(e.refund(PID, 300).await.1["result"], "PENDING");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    webhook_taken(&e, "partial_refund").await;
    let second = eventually(5, || async { refunds().into_iter().nth(1) }).await;
    assert_eq!(second.json()["metadata"]["refundedAmount"], 800);
    assert!(second.json()["metadata"]
        .get("refundPendingAmount")
        .is_none());

    // Fena fails after the request may have reached it: the amount stays reserved, so a retry
    // cannot refund it twice.
    ok.delete_async().await;
    e.fena.on_refund(PID, 503).await;
    let (s, _) = e.refund(PID, 499).await;
    assert_eq!(s, 502);
    let (s, b) = e.refund(PID, 499).await;
    assert_eq!(s, 200, "{b}");
    assert_ko_naming(&b, "awaiting");
}

// A representative subset on a Redis Cluster of three primaries.
on_stores!(
    [cluster = Cluster]
    [
        pay_webhook_status_notification,
        idempotent_pay,
        hostile_webhooks_change_nothing,
        refunds_follow_the_ledger,
        notifications_are_retried_with_a_stable_id,
        a_missed_callback_is_caught_by_a_recheck,
    ]
);

on_both_stores!(
    pay_webhook_status_notification,
    idempotent_pay,
    conflicting_pay,
    bad_inputs_are_4xx_error_responses,
    hostile_webhooks_change_nothing,
    refunds_follow_the_ledger,
    notifications_are_retried_with_a_stable_id,
    provider_substeps_are_recorded_but_not_notified,
    undeliverable_notifications_end_as_counted_dead_letters,
    a_missed_callback_is_caught_by_a_recheck,
    refund_outcomes_are_neither_lost_nor_doubled,
);

#[tokio::test]
async fn bearer_token_guards_pgm_routes_only() {
    let e = env(StoreKind::Memory, "inbound_api_token = \"t0ken\"").await;
    let (s, b) = e.router.post("/v3/fena/pay", &pay_body("a", 1)).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["statusCode"], 401);
    // A wrong token stops a request; the right one lets it through, into validation.
    for (path, token, want) in [
        ("/v3/fena/status?paymentId=x", "wrong", 401),
        ("/v3/fena/status?paymentId=a/b", "t0ken", 400),
    ] {
        let req = e.router.http.get(e.router.url(path)).bearer_auth(token);
        let (s, b) = read(req.send().await.unwrap()).await;
        assert_error_response(s, &b, want);
    }
    assert_eq!(
        e.router.post("/v3/fena/callback", &json!({})).await.0,
        400,
        "callbacks stay open"
    );
    assert_eq!(e.router.get("/healthz").await.0, 200);
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let e = env(StoreKind::Memory, "").await;
    let resp = e
        .router
        .http
        .get(e.router.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = e
        .router
        .http
        .get(e.router.url("/v3/x/status"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    assert!(!resp.headers()["x-request-id"].is_empty());
}

/// A router on the embedded store paying through `fena` and notifying `url` (`extra`: more
/// settings), which has created payment PID for `shop_tx`, reported by Fena as `state`.
async fn paid_through(
    fena: &FenaMock,
    url: &str,
    extra: &str,
    shop_tx: &str,
    state: &str,
) -> TestRouter {
    let router = TestRouter::start(&config(None, &fena.base(), url, extra)).await;
    fena.on_create(PID, shop_tx, "12.99").await;
    fena.set_state(PID, state, "12.99", shop_tx, shop_tx).await;
    let (id, _) = router
        .create_payment("fena", &pay_body(shop_tx, 1299))
        .await;
    assert_eq!(id, PID);
    router
}

#[tokio::test]
async fn a_hanging_receiver_does_not_hold_up_the_routes() {
    let fena = FenaMock::start().await;
    // Accepts connections into its backlog and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/notify", silent.local_addr().unwrap());
    let extra = "notify_timeout_ms = 20000\nroute_timeout_ms = 3000";
    let router = paid_through(&fena, &url, extra, "order-9", "paid").await;
    // Each of these enqueues a notification the receiver will never take; a route that waited
    // for delivery would run into its 3 s budget and answer 504.
    for _ in 0..5 {
        router.check("fena", PID).await;
    }
    assert_eq!(router.status("fena", PID).await["status"], "ACCEPTED");
    drop(silent);
}

#[tokio::test]
async fn get_notifications_ping_a_url_built_from_placeholders() {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let url = format!(
        "{}?provider={{provider}}&paymentId={{paymentId}}",
        receiver.url
    );
    let extra = "payment_callback_method = \"GET\"";
    let router = paid_through(&fena, &url, extra, "order-13", "sent").await;
    router.check("fena", PID).await;
    let ping = eventually(5, || async { receiver.delivered().into_iter().next() }).await;
    assert_eq!(ping.method, "GET");
    assert_eq!(ping.uri, format!("/notify?provider=fena&paymentId={PID}"));
    assert!(ping.body.is_empty(), "a GET ping carries no body");
    assert!(!ping.id.is_empty(), "still identified");
    let ts: i64 = ping.timestamp.parse().unwrap();
    let expected = payrouter::notify::signature(SECRET, &ping.id, ts, "");
    assert_eq!(
        ping.signature.as_deref(),
        Some(expected.as_str()),
        "signed over an empty body"
    );
}
