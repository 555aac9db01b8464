//! Subscriptions over real HTTP: Fena standing orders against a mock Fena, router-kept manual
//! subscriptions on the memory store and on Redis, recurring webhooks notified once.

mod common;

use common::*;
use httpmock::prelude::*;
use httpmock::Mock;
use serde_json::{json, Value};

const RID: &str = "64b48c5b6ba2cd6a040b3001";

async fn env(kind: StoreKind) -> (FenaMock, Receiver, TestRouter, Option<RedisServer>) {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let router = TestRouter::start(&config(redis.as_ref(), &fena.base(), &receiver.url, "")).await;
    (fena, receiver, router, redis)
}

fn schedule_body(interval: &str, count: u32) -> Value {
    json!({"amount": 999, "currency": "GBP", "shopTransactionId": "sub-1",
           "subscriptionInfo": {"interval": interval, "intervalCount": count, "expiresAfter": 12},
           "providerData": {"recurringPaymentDate": "2099-06-01", "customerEmail": "ada@example.com"}})
}

/// From now on Fena reports the recurring payment with `status` and `transactions`.
async fn recurring_state<'a>(
    fena: &'a FenaMock,
    previous: Option<Mock<'a>>,
    status: &str,
    transactions: Value,
) -> Mock<'a> {
    if let Some(m) = previous {
        m.delete_async().await;
    }
    let (status, transactions) = (status.to_string(), transactions.clone());
    fena.server
        .mock_async(move |when, then| {
            when.method(GET).path(format!("/open/payments/recurring/{RID}"));
            then.status(200).json_body(json!({"data": {"id": RID, "status": status, "reference": "sub-1",
                "recurringAmount": "9.99", "frequency": "one_month", "transactions": transactions}}));
        })
        .await
}

#[tokio::test]
async fn schedule_creates_a_fena_standing_order_and_follows_it() {
    let (fena, receiver, router, _redis) = env(StoreKind::Memory).await;
    let create = fena
        .server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/open/payments/recurring/create-and-process")
                .header("terminal-id", "62b48adf6ba2cd6a040b1eec")
                .json_body(json!({"reference": "sub-1", "recurringAmount": "9.99",
                    "recurringPaymentDate": "2099-06-01T00:00:00Z", "numberOfPayments": 12,
                    "frequency": "three_months", "customerEmail": "ada@example.com"}));
            then.status(201).json_body(
                json!({"created": true, "result": {"id": RID, "status": "sent",
                "link": "https://payment.fena.co/recurring/abc"}}),
            );
        })
        .await;
    let (s, b) = router
        .post("/v3/fena/subscription/schedule", &schedule_body("MONTH", 3))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "REDIRECT_TO_URL");
    assert_eq!(b["subscriptionToken"], RID);
    assert_eq!(b["redirectToUrl"], "https://payment.fena.co/recurring/abc");
    // Idempotent on shopTransactionId.
    assert_eq!(
        router
            .post("/v3/fena/subscription/schedule", &schedule_body("MONTH", 3))
            .await
            .1,
        b
    );
    assert_eq!(create.calls_async().await, 1);

    let state = recurring_state(&fena, None, "sent", json!([])).await;
    let (_, st) = router
        .get(&format!("/v3/fena/subscription/status/{RID}"))
        .await;
    assert_eq!(st["status"], "PENDING");
    assert_eq!(st["providerName"], "fena");

    // The payer sets it up; two instalments complete; webhooks arrive twice and out of order.
    let state = recurring_state(
        &fena,
        Some(state),
        "active",
        json!([
        {"id": "t1", "status": "completed", "amount": "9.99"},
        {"id": "t2", "status": "pending", "amount": "9.99"}]),
    )
    .await;
    let hook = json!({"eventScope": "recurring-payments", "eventName": "payment_made", "id": RID});
    for _ in 0..2 {
        assert_eq!(router.post("/v3/fena/callback", &hook).await.0, 200);
    }
    let _state = recurring_state(
        &fena,
        Some(state),
        "active",
        json!([
        {"id": "t1", "status": "completed", "amount": "9.99"},
        {"id": "t2", "status": "completed", "amount": "9.99"}]),
    )
    .await;
    assert_eq!(router.post("/v3/fena/callback", &hook).await.0, 200);
    assert_eq!(router.post("/v3/fena/callback", &hook).await.0, 200);
    let delivered = eventually(5, || async {
        Some(receiver.delivered()).filter(|d| d.len() >= 2)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(
        receiver.delivered().len(),
        2,
        "each completed instalment notified exactly once"
    );
    let ids: Vec<Value> = delivered
        .iter()
        .map(|r| r.json()["paymentId"].clone())
        .collect();
    assert_eq!(ids, vec![json!("t1"), json!("t2")]);
    for r in &delivered {
        let n = r.json();
        assert_eq!(n["status"], "ACCEPTED");
        assert_eq!(n["shopTransactionId"], "sub-1");
        assert_eq!(n["metadata"]["subscriptionToken"], RID);
        assert_eq!(n["metadata"]["amount"], 999);
    }
    let (_, st) = router
        .get(&format!("/v3/fena/subscription/status/{RID}"))
        .await;
    assert_eq!(st["status"], "ACTIVE");
    assert_eq!(st["metadata"]["completedPayments"], 2);

    // Active: Fena can neither change nor cancel it.
    let (s, b) = router
        .post(
            &format!("/v3/fena/subscription/update/{RID}"),
            &schedule_body("MONTH", 1),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_ko_naming(&b, "draft or overdue");
    let resp = router
        .http
        .delete(router.url(&format!("/v3/fena/subscription/expire/{RID}")))
        .send()
        .await
        .unwrap();
    let (s, b) = read(resp).await;
    assert_eq!(s, 200, "{b}");
    assert_ko_naming(&b, "at their bank");
}

#[tokio::test]
async fn draft_standing_orders_can_be_updated_and_cancelled() {
    let (fena, _receiver, router, _redis) = env(StoreKind::Memory).await;
    let _state = recurring_state(&fena, None, "draft", json!([])).await;
    let edit = fena
        .server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("/open/payments/recurring/{RID}/edit"))
                .json_body_includes(
                    json!({"recurringAmount": "9.99", "frequency": "one_month"}).to_string(),
                );
            then.status(200).json_body(json!({"saved": true}));
        })
        .await;
    let delete = fena
        .server
        .mock_async(|when, then| {
            when.method(POST)
                .path(format!("/open/payments/recurring/{RID}/delete"));
            then.status(200).json_body(json!({"deleted": true}));
        })
        .await;
    let (s, b) = router
        .post(
            &format!("/v3/fena/subscription/update/{RID}"),
            &schedule_body("MONTH", 1),
        )
        .await;
    assert_eq!((s, b["result"].clone()), (200, json!("OK")), "{b}");
    let (s, b) = router
        .post(&format!("/v3/fena/subscription/expire/{RID}"), &json!({}))
        .await;
    assert_eq!((s, b["result"].clone()), (200, json!("OK")), "{b}");
    assert_eq!(edit.calls_async().await, 1);
    assert_eq!(delete.calls_async().await, 1);
}

#[tokio::test]
async fn bad_subscription_requests_are_explained() {
    let (fena, _receiver, router, _redis) = env(StoreKind::Memory).await;
    fena.server
        .mock_async(|when, then| {
            when.method(GET).path_includes("/open/payments/recurring/");
            then.status(404).json_body(json!({"message": "not found"}));
        })
        .await;
    let mut no_info = schedule_body("MONTH", 1);
    no_info.as_object_mut().unwrap().remove("subscriptionInfo");
    let cases = [
        (
            "/v3/fena/subscription/schedule",
            no_info,
            400,
            "subscriptionInfo",
        ),
        (
            "/v3/fena/subscription/schedule",
            schedule_body("MONTH", 0),
            400,
            "intervalCount",
        ),
        (
            "/v3/fena/subscription/schedule",
            schedule_body("DAY", 1),
            400,
            "WEEK×1, MONTH×1, MONTH×3 or YEAR×1",
        ),
        (
            "/v3/fena/subscription/schedule",
            schedule_body("FORTNIGHT", 1),
            400,
            "interval",
        ),
        (
            "/v3/fena/subscription/pay",
            json!({"amount": 1, "currency": "GBP", "shopTransactionId": "x", "subscriptionInfo": {}}),
            400,
            "subscriptionInfo.token",
        ),
        (
            "/v3/fena/subscription/pay",
            json!({"amount": 1, "currency": "GBP", "shopTransactionId": "x", "subscriptionInfo": {"token": "sub_nope"}}),
            404,
            "sub_nope",
        ),
    ];
    for (path, body, want, needle) in cases {
        let (s, b) = router.post(path, &body).await;
        assert_eq!(s, want, "{path}: {b}");
        assert!(
            b["message"].as_str().unwrap().contains(needle),
            "{b} should name {needle}"
        );
    }
    let mut weekend = schedule_body("MONTH", 1);
    weekend["providerData"]["recurringPaymentDate"] = json!("2099-06-06");
    let (s, b) = router
        .post("/v3/fena/subscription/schedule", &weekend)
        .await;
    assert_eq!(s, 400);
    assert!(b["message"].as_str().unwrap().contains("weekday"), "{b}");
    for path in [
        format!("/v3/fena/subscription/status/{RID}"),
        "/v3/fena/subscription/status/sub_unknown".into(),
    ] {
        assert_eq!(router.get(&path).await.0, 404, "{path}");
    }
}

async fn sub_status(router: &TestRouter, token: &str) -> Value {
    router
        .get(&format!("/v3/fena/subscription/status/{token}"))
        .await
        .1
}

async fn manual_subscription_lifecycle(kind: StoreKind) {
    let (fena, _receiver, router, _redis) = env(kind).await;
    let first = "64b48c5b6ba2cd6a040b3101";
    let second = "64b48c5b6ba2cd6a040b3102";
    fena.on_create(first, "m-1", "5.00").await;
    fena.on_create(second, "m-2", "5.00").await;
    fena.set_state(first, "sent", "5.00", "m-1", "m-1").await;
    let start = json!({"amount": 500, "currency": "GBP", "shopTransactionId": "m-1",
        "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "expiresAfter": 2}});
    let (s, b) = router.post("/v3/fena/subscription/start", &start).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "REDIRECT_TO_URL");
    assert_eq!(b["paymentId"], first);
    let token = b["subscriptionToken"].as_str().unwrap().to_string();
    assert_eq!(
        router.post("/v3/fena/subscription/start", &start).await.1,
        b,
        "a retried start is the same"
    );
    assert_eq!(sub_status(&router, &token).await["status"], "PENDING");
    fena.set_state(first, "paid", "5.00", "m-1", "m-1").await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let st = sub_status(&router, &token).await;
    assert_eq!(st["status"], "ACTIVE", "{st}");
    let (_, payment) = router
        .get(&format!("/v3/fena/status?paymentId={first}"))
        .await;
    assert_eq!(payment["metadata"]["subscriptionToken"], token.as_str());

    let next = json!({"amount": 500, "currency": "GBP", "shopTransactionId": "m-2", "subscriptionInfo": {"token": token}});
    let (s, b) = router.post("/v3/fena/subscription/pay", &next).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["paymentId"], second);
    fena.set_state(second, "rejected", "5.00", "m-2", "m-2")
        .await;
    assert_eq!(sub_status(&router, &token).await["status"], "PAST_DUE");
    let third = json!({"amount": 500, "currency": "GBP", "shopTransactionId": "m-3", "subscriptionInfo": {"token": token}});
    let (_, b) = router.post("/v3/fena/subscription/pay", &third).await;
    assert_eq!(b["result"], "KO", "expiresAfter 2 reached: {b}");

    let (s, b) = router
        .post(&format!("/v3/fena/subscription/expire/{token}"), &json!({}))
        .await;
    assert_eq!((s, b["result"].clone()), (200, json!("OK")));
    assert_eq!(sub_status(&router, &token).await["status"], "CANCELED");
    let (_, b) = router.post("/v3/fena/subscription/pay", &next).await;
    assert_eq!(b["result"], "KO");
}

#[tokio::test]
async fn manual_subscription_lifecycle_on_memory() {
    manual_subscription_lifecycle(StoreKind::Memory).await;
}

#[tokio::test]
async fn manual_subscription_lifecycle_on_redis() {
    manual_subscription_lifecycle(StoreKind::Redis).await;
}

#[tokio::test]
async fn a_recurring_webhook_about_another_reference_changes_nothing() {
    let (fena, receiver, router, _redis) = env(StoreKind::Memory).await;
    fena.server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/open/payments/recurring/create-and-process");
            then.status(201).json_body(
                json!({"created": true, "result": {"id": RID, "status": "sent",
                "reference": "sub-1", "link": "https://payment.fena.co/recurring/abc"}}),
            );
        })
        .await;
    assert_eq!(
        router
            .post("/v3/fena/subscription/schedule", &schedule_body("MONTH", 1))
            .await
            .0,
        200
    );
    // Fena, asked about this id, describes a standing order with another reference.
    let _state = fena
        .server
        .mock_async(|when, then| {
            when.method(GET)
                .path(format!("/open/payments/recurring/{RID}"));
            then.status(200).json_body(
                json!({"data": {"id": RID, "status": "active", "reference": "someone-else",
                "transactions": [{"id": "t9", "status": "completed", "amount": "9.99"}]}}),
            );
        })
        .await;
    let hook = json!({"eventScope": "recurring-payments", "eventName": "payment_made", "id": RID});
    let (s, b) = router.post("/v3/fena/callback", &hook).await;
    assert_eq!(s, 400, "{b}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        receiver.all().is_empty(),
        "nothing notified for a standing order that is not ours"
    );
}
