//! The admin API (`/admin/api`, CONTRACT.md §8) over real HTTP: its own token, the payment
//! list and its filters and pages, a payment's timeline from pay to redelivery (with the
//! receiver seeing the same `webhook-id` before and after), dead letters sent again, and a
//! recheck held to Feennex's poll limit. Every scenario runs on the embedded store and on a
//! real Redis; two replicas share one Redis in the last.

mod common;

use common::fena_env::{env, pay_body, Env};
use common::stores::on_both_stores;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ADMIN_TOKEN: &str = "admin-test-token-1";
const PGM_TOKEN: &str = "pgm-test-token-1";
/// Admin on, the PGM routes behind a token of their own, and a notification dead after two
/// failed attempts.
const EXTRA: &str = "admin_api_token = \"admin-test-token-1\"\nnotify_max_attempts = 2";

async fn admin(
    router: &TestRouter,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> (u16, Value) {
    let mut req = router.http.request(method, router.url(path));
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    read(req.send().await.unwrap()).await
}

async fn admin_get(router: &TestRouter, path: &str) -> Value {
    let (s, b) = admin(router, reqwest::Method::GET, path, Some(ADMIN_TOKEN)).await;
    assert_eq!(s, 200, "GET {path}: {b}");
    b
}

async fn admin_post(router: &TestRouter, path: &str) -> (u16, Value) {
    admin(router, reqwest::Method::POST, path, Some(ADMIN_TOKEN)).await
}

/// Creates Fena payment `id` for `shop_tx` through `router`, reported by Fena as `sent`.
async fn pay_on(fena: &FenaMock, router: &TestRouter, id: &str, shop_tx: &str) {
    fena.on_create(id, shop_tx, "12.99").await;
    fena.set_state(id, "sent", "12.99", shop_tx, shop_tx).await;
    let (s, b) = router.post("/v3/fena/pay", &pay_body(shop_tx, 1299)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["paymentId"], id, "{b}");
}

async fn pay(e: &Env, id: &str, shop_tx: &str) {
    pay_on(&e.fena, &e.router, id, shop_tx).await;
}

/// Fena reports payment `id` paid and says so in a callback to `router`.
async fn paid_by_callback_on(fena: &FenaMock, router: &TestRouter, id: &str, shop_tx: &str) {
    fena.set_state(id, "paid", "12.99", shop_tx, shop_tx).await;
    let webhook = json!({"eventScope": "single-payments", "eventName": "status-update",
                         "id": id, "status": "paid", "amount": "12.99", "reference": shop_tx});
    let (s, b) = router.post("/v3/fena/callback", &webhook).await;
    assert_eq!(s, 200, "{b}");
}

async fn paid_by_callback(e: &Env, id: &str, shop_tx: &str) {
    paid_by_callback_on(&e.fena, &e.router, id, shop_tx).await;
}

/// The string `key` of each element of the array `list`, in order.
fn strings(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[key].as_str().unwrap().to_string())
        .collect()
}

/// The payment ids of a page of the list.
fn ids(page: &Value) -> Vec<String> {
    strings(&page["items"], "paymentId")
}

/// The event types of a payment's timeline, in order.
fn event_types(detail: &Value) -> Vec<String> {
    strings(&detail["events"], "type")
}

/// Waits until payment `id`'s timeline holds an event of `kind`; answers the timeline.
async fn timeline_with(router: &TestRouter, id: &str, kind: &str) -> Value {
    let path = format!("/admin/api/payments/fena/{id}");
    eventually(10, || async {
        let detail = admin_get(router, &path).await;
        event_types(&detail)
            .iter()
            .any(|t| t == kind)
            .then_some(detail)
    })
    .await
}

async fn the_admin_api_takes_only_its_own_token(kind: StoreKind) {
    let extra = format!("{EXTRA}\ninbound_api_token = \"{PGM_TOKEN}\"");
    let e = env(kind, &extra).await;
    let get = reqwest::Method::GET;
    for token in [
        None,
        Some("wrong"),
        Some(PGM_TOKEN),
        Some("admin-test-token-"),
    ] {
        let (s, b) = admin(&e.router, get.clone(), "/admin/api/payments", token).await;
        assert_error_response(s, &b, 401);
        assert!(
            b["message"].as_str().unwrap().contains("ADMIN_API_TOKEN"),
            "{b}"
        );
    }
    let (s, b) = admin(
        &e.router,
        reqwest::Method::POST,
        "/admin/api/notifications/redeliver?state=dead",
        None,
    )
    .await;
    assert_error_response(s, &b, 401);
    let (s, b) = admin(
        &e.router,
        get.clone(),
        "/admin/api/payments",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_eq!((s, b), (200, json!({"items": [], "nextCursor": null})));
    // The PGM routes keep their own token: the admin one does not open them.
    let (s, b) = admin(
        &e.router,
        get,
        "/v3/fena/status?paymentId=64b48c5b6ba2cd6a040b20a8",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_error_response(s, &b, 401);
}

async fn without_a_token_there_is_no_admin_surface(kind: StoreKind) {
    let e = env(kind, "").await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/api/payments"),
        (reqwest::Method::GET, "/admin/api/notifications?state=dead"),
        (
            reqwest::Method::POST,
            "/admin/api/notifications/redeliver?state=dead",
        ),
        (
            reqwest::Method::POST,
            "/admin/api/payments/fena/64b48c5b6ba2cd6a040b20a8/recheck",
        ),
    ] {
        for token in [None, Some(ADMIN_TOKEN), Some("")] {
            let (s, b) = admin(&e.router, method.clone(), path, token).await;
            assert_error_response(s, &b, 404);
        }
    }
}

async fn payments_are_listed_newest_first_filtered_and_paged(kind: StoreKind) {
    let e = env(kind, EXTRA).await;
    let all: Vec<(String, String)> = (0..5)
        .map(|i| (format!("64b48c5b6ba2cd6a040b30a{i}"), format!("list-{i}")))
        .collect();
    for (id, tx) in &all {
        pay(&e, id, tx).await;
    }
    paid_by_callback(&e, &all[3].0, &all[3].1).await;

    // Pages of two, newest first, each payment once.
    let mut seen = Vec::new();
    let mut created = Vec::new();
    let mut path = "/admin/api/payments?limit=2".to_string();
    loop {
        let page = admin_get(&e.router, &path).await;
        assert!(page["items"].as_array().unwrap().len() <= 2, "{page}");
        for p in page["items"].as_array().unwrap() {
            created.push(p["createdMs"].as_i64().unwrap());
            assert_eq!(p["provider"], "fena");
            assert_eq!(p["amount"], 1299, "money in minor units: {p}");
            assert_eq!(p["currency"], "GBP");
        }
        seen.extend(ids(&page));
        match page["nextCursor"].as_str() {
            Some(c) => path = format!("/admin/api/payments?limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(
        seen.iter().cloned().collect::<BTreeSet<_>>(),
        all.iter().map(|(id, _)| id.clone()).collect()
    );
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );
    let newest = admin_get(&e.router, "/admin/api/payments").await;
    assert_eq!(
        ids(&newest),
        seen,
        "one page of the default size holds them all"
    );

    // Filters.
    let accepted = admin_get(&e.router, "/admin/api/payments?status=ACCEPTED").await;
    assert_eq!(ids(&accepted), [all[3].0.clone()]);
    assert_eq!(accepted["items"][0]["providerStatus"], "paid");
    let pending = admin_get(
        &e.router,
        "/admin/api/payments?status=pending&provider=fena",
    )
    .await;
    assert_eq!(ids(&pending).len(), 4);
    let by_tx = admin_get(&e.router, "/admin/api/payments?shopTransactionId=list-2").await;
    assert_eq!(ids(&by_tx), [all[2].0.clone()]);
    let none = admin_get(
        &e.router,
        "/admin/api/payments?shopTransactionId=list-2&status=FAILED",
    )
    .await;
    assert_eq!(ids(&none), Vec::<String>::new());
    let (first, last) = (created[created.len() - 1], created[0]);
    let window = admin_get(
        &e.router,
        &format!("/admin/api/payments?since={first}&until={last}"),
    )
    .await;
    assert_eq!(ids(&window).len(), 5);
    let future = admin_get(
        &e.router,
        &format!("/admin/api/payments?since={}", last + 1),
    )
    .await;
    assert_eq!(ids(&future), Vec::<String>::new());
    let rfc3339 = admin_get(&e.router, "/admin/api/payments?until=2000-01-01T00:00:00Z").await;
    assert_eq!(ids(&rfc3339), Vec::<String>::new());

    // Bad parameters are 400s that name them.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=ten", "limit"),
        ("status=PAID", "status"),
        ("provider=stripe", "provider"),
        ("since=yesterday", "since"),
        ("until=12:00", "until"),
        ("cursor=not-a-cursor", "cursor"),
        ("sort=asc", "sort"),
        ("limit=1&limit=2", "limit"),
    ] {
        let (s, b) = admin(
            &e.router,
            reqwest::Method::GET,
            &format!("/admin/api/payments?{query}"),
            Some(ADMIN_TOKEN),
        )
        .await;
        assert_error_response(s, &b, 400);
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .starts_with(&format!("{field}:")),
            "{query}: {b}"
        );
    }
    let (s, b) = admin(
        &e.router,
        reqwest::Method::GET,
        "/admin/api/notifications?state=gone",
        Some(ADMIN_TOKEN),
    )
    .await;
    assert_error_response(s, &b, 400);
    assert!(b["message"].as_str().unwrap().starts_with("state:"), "{b}");

    // Unknown ids are 404s.
    for path in [
        "/admin/api/payments/fena/64b48c5b6ba2cd6a040bffff",
        "/admin/api/payments/stripe/64b48c5b6ba2cd6a040b30a0",
    ] {
        let (s, b) = admin(&e.router, reqwest::Method::GET, path, Some(ADMIN_TOKEN)).await;
        assert_error_response(s, &b, 404);
    }
    let (s, b) = admin_post(&e.router, "/admin/api/notifications/msg_unknown/redeliver").await;
    assert_error_response(s, &b, 404);
}

async fn a_timeline_follows_a_payment_from_pay_to_redelivery(kind: StoreKind) {
    let e = env(kind, EXTRA).await;
    let (id, tx) = ("64b48c5b6ba2cd6a040b40a1", "timeline-1");
    let (other, other_tx) = ("64b48c5b6ba2cd6a040b40a2", "timeline-2");
    pay(&e, id, tx).await;
    pay(&e, other, other_tx).await;
    e.receiver.fail_next(4);
    paid_by_callback(&e, id, tx).await;
    paid_by_callback(&e, other, other_tx).await;

    // Both notifications fail twice (500) and die.
    let dead = eventually(10, || async {
        let page = admin_get(&e.router, "/admin/api/notifications?state=dead").await;
        (page["items"].as_array().unwrap().len() == 2).then_some(page)
    })
    .await;
    let letter = dead["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["paymentId"] == id)
        .unwrap()
        .clone();
    assert_eq!(letter["state"], "dead");
    assert_eq!(letter["status"], "ACCEPTED");
    assert_eq!(letter["attempts"], 2);
    assert_eq!(letter["lastError"], "receiver answered HTTP 500");
    assert!(letter["deadMs"].as_i64().unwrap() > 0, "{letter}");
    let webhook_id = letter["id"].as_str().unwrap().to_string();
    let failed: Vec<_> = e
        .receiver
        .all()
        .into_iter()
        .filter(|r| r.id == webhook_id)
        .collect();
    assert_eq!(failed.len(), 2, "two attempts before it died");
    assert!(failed.iter().all(|r| r.status == 500));
    let pending = admin_get(&e.router, "/admin/api/notifications").await;
    assert_eq!(pending["items"], json!([]), "{pending}");

    let detail = timeline_with(&e.router, id, "dead").await;
    assert_eq!(detail["payment"]["status"], "ACCEPTED");
    assert_eq!(detail["paymentStatus"]["status"], "ACCEPTED");
    assert_eq!(
        event_types(&detail),
        [
            "created",
            "stateSeen",
            "notificationEnqueued",
            "deliveryFailed",
            "deliveryFailed",
            "dead"
        ]
    );
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events[0]["providerStatus"], "sent");
    assert_eq!(events[0]["result"], "REDIRECT_TO_URL");
    assert_eq!(events[1]["source"], "callback");
    assert_eq!(events[1]["providerStatus"], "paid");
    assert_eq!(events[1]["status"], "ACCEPTED");
    assert_eq!(events[2]["notificationId"], webhook_id);
    assert_eq!(events[3]["httpStatus"], 500);
    assert_eq!(events[3]["error"], "receiver answered HTTP 500");
    assert!(events[3]["latencyMs"].is_u64());
    assert_eq!(events[4]["attempt"], 2);
    assert_eq!(events[5]["reason"], "receiver answered HTTP 500");
    assert!(events
        .windows(2)
        .all(|w| w[0]["atMs"].as_i64() <= w[1]["atMs"].as_i64()));

    // Redelivered by its id: the same webhook-id and body reach the receiver.
    let (s, b) = admin_post(
        &e.router,
        &format!("/admin/api/notifications/{webhook_id}/redeliver"),
    )
    .await;
    assert_eq!((s, b), (200, json!({"id": webhook_id, "was": "dead"})));
    let delivered = eventually(10, || async {
        e.receiver
            .delivered()
            .into_iter()
            .find(|r| r.id == webhook_id)
    })
    .await;
    assert_eq!(delivered.body, failed[0].body, "the same body");
    let detail = timeline_with(&e.router, id, "delivered").await;
    let types = event_types(&detail);
    assert_eq!(&types[6..], ["admin", "delivered"], "{types:?}");
    let events = detail["events"].as_array().unwrap();
    assert_eq!(events[6]["actor"], "admin");
    assert_eq!(events[6]["action"], "redeliver");
    assert_eq!(events[7]["notificationId"], webhook_id);
    assert_eq!(events[7]["attempt"], 1, "a fresh attempt budget");
    assert_eq!(events[7]["httpStatus"], 200);
    let (s, b) = admin_post(
        &e.router,
        &format!("/admin/api/notifications/{webhook_id}/redeliver"),
    )
    .await;
    assert_error_response(s, &b, 404);

    // The other dead letter goes with "all of them".
    let other_id = dead["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["paymentId"] == other)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = admin_post(&e.router, "/admin/api/notifications/redeliver?state=dead").await;
    assert_eq!((s, b), (200, json!({"queued": 1})));
    eventually(10, || async {
        e.receiver
            .delivered()
            .into_iter()
            .find(|r| r.id == other_id)
    })
    .await;
    let dead = admin_get(&e.router, "/admin/api/notifications?state=dead").await;
    assert_eq!(dead["items"], json!([]));
    let (s, b) = admin_post(&e.router, "/admin/api/notifications/redeliver?state=dead").await;
    assert_eq!((s, b), (200, json!({"queued": 0})));
    let (s, b) = admin_post(&e.router, "/admin/api/notifications/redeliver").await;
    assert_error_response(s, &b, 400);
    assert!(b["message"].as_str().unwrap().starts_with("state:"), "{b}");
}

async fn refunds_are_on_the_timeline(kind: StoreKind) {
    let e = env(kind, EXTRA).await;
    let (id, tx) = ("64b48c5b6ba2cd6a040b60a1", "refund-1");
    pay(&e, id, tx).await;
    paid_by_callback(&e, id, tx).await;
    e.fena.on_refund(id, 200).await;
    let refund = json!({"amount": 500, "currency": "GBP", "paymentId": id});
    let (s, b) = e.router.post("/v3/fena/refund", &refund).await;
    assert_eq!((s, &b["result"]), (200, &json!("PENDING")), "{b}");

    // Fena settles it; its callback is looked at once Fena's poll window reopens.
    e.fena
        .set_state(id, "partial_refund", "12.99", tx, tx)
        .await;
    let webhook = json!({"eventScope": "single-payments", "eventName": "status-update",
                         "id": id, "status": "partial_refund"});
    let (s, b) = e.router.post("/v3/fena/callback", &webhook).await;
    assert_eq!(s, 200, "{b}");
    let detail = eventually(10, || async {
        let detail = admin_get(&e.router, &format!("/admin/api/payments/fena/{id}")).await;
        let refunded = detail["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "stateSeen" && e["action"] == "REFUND");
        refunded.then_some(detail)
    })
    .await;
    let events: Vec<&Value> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("refund") || t == "stateSeen")
        })
        .collect();
    let refund_id = events[1]["refundId"].as_str().unwrap();
    assert_eq!(events[0]["providerStatus"], "paid");
    assert_eq!(
        (&events[1]["type"], &events[1]["amount"]),
        (&json!("refundRequested"), &json!(500))
    );
    assert_eq!(events[2]["type"], "refundSettled");
    assert_eq!(events[2]["refundId"], refund_id);
    assert_eq!(
        events[2]["state"], "pending",
        "Fena took it; it settles later"
    );
    assert_eq!(events[3]["providerStatus"], "partial_refund");
    assert_eq!(events[3]["status"], "ACCEPTED");
    assert_eq!(detail["payment"]["refundedAmount"], 500);
    assert_eq!(detail["refunds"][0]["state"], "completed");
}

/// A router on Feennex (mocked), with the admin API on.
fn feennex_config(redis: Option<&RedisServer>, feennex: &FeennexMock, receiver: &str) -> String {
    let redis = redis.map_or(String::new(), RedisServer::config_line);
    let section = feennex.config_section();
    format!(
        r#"{redis}enabled_providers = "feennex"
public_base_url = "http://127.0.0.1:1"
payment_callback_url = "{receiver}"
admin_api_token = "{ADMIN_TOKEN}"
log_level = "warn"

{section}"#
    )
}

async fn a_recheck_keeps_to_feennex_poll_limit(kind: StoreKind) {
    let feennex = FeennexMock::start().await;
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let router = TestRouter::start(&feennex_config(redis.as_ref(), &feennex, &receiver.url)).await;
    let tx = "admin-recheck";
    let id = feennex.paid_through(&router, tx).await;
    feennex.set_check(tx, 4, "12.34", 840).await;

    let recheck = format!("/admin/api/payments/feennex/{id}/recheck");
    let (s, st) = admin_post(&router, &recheck).await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["status"], "ACCEPTED");
    assert_eq!(st["metadata"]["providerStatus"], "4");
    assert_eq!(feennex.checks(tx).await, 1);

    // Feennex allows one invoice/check per payment every 10 s.
    let resp = router
        .http
        .post(router.url(&recheck))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["retry-after"], "10");
    let (s, b) = read(resp).await;
    assert_error_response(s, &b, 429);
    assert_eq!(feennex.checks(tx).await, 1, "the provider was not asked");

    let detail = admin_get(&router, &format!("/admin/api/payments/feennex/{id}")).await;
    // The notification's delivery runs meanwhile; its events are left out here.
    let events: Vec<&Value> = detail["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] != "delivered")
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "created",
            "stateSeen",
            "notificationEnqueued",
            "admin",
            "admin"
        ],
        "{detail}"
    );
    assert_eq!(events[1]["source"], "admin");
    assert_eq!(events[1]["providerStatus"], "4");
    assert_eq!(events[3]["actor"], "admin");
    assert_eq!(events[3]["action"], "recheck");
    assert!(
        events[4]["detail"].as_str().unwrap().starts_with("refused"),
        "{detail}"
    );

    let (s, b) = admin_post(&router, &format!("/admin/api/payments/stripe/{id}/recheck")).await;
    assert_error_response(s, &b, 404);
}

/// A callback that changes nothing is on the timeline too (one deferred by the poll window is
/// noted with its recheck); the one that paid is a `stateSeen`.
async fn callbacks_that_change_nothing_are_on_the_timeline(kind: StoreKind) {
    let e = env(kind, EXTRA).await;
    let (id, tx) = ("64b48c5b6ba2cd6a040b40a3", "timeline-3");
    pay(&e, id, tx).await;
    paid_by_callback(&e, id, tx).await;
    // The same webhook again at once: inside Fena's poll window, accepted for a recheck.
    paid_by_callback(&e, id, tx).await;
    let detail = timeline_with(&e.router, id, "callbackReceived").await;
    let events = detail["events"].as_array().unwrap();
    let from_callbacks: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "callbackReceived" || e["source"] == "callback")
        .collect();
    assert_eq!(from_callbacks.len(), 2, "{detail}");
    assert_eq!(from_callbacks[0]["type"], "stateSeen");
    assert_eq!(from_callbacks[0]["providerStatus"], "paid");
    assert_eq!(from_callbacks[1]["accepted"], true, "{detail}");
    assert!(
        from_callbacks[1]["reason"]
            .as_str()
            .unwrap()
            .contains("no change to notify"),
        "{detail}"
    );
}

on_both_stores!(
    the_admin_api_takes_only_its_own_token,
    without_a_token_there_is_no_admin_surface,
    payments_are_listed_newest_first_filtered_and_paged,
    a_timeline_follows_a_payment_from_pay_to_redelivery,
    a_recheck_keeps_to_feennex_poll_limit,
    refunds_are_on_the_timeline,
    callbacks_that_change_nothing_are_on_the_timeline,
);

/// On a Redis Cluster of three primaries: every step's keys (document, queue, timeline,
/// index) share one hash slot, and the lists merge every partition.
mod cluster {
    #[tokio::test]
    async fn payments_are_listed_newest_first_filtered_and_paged() {
        super::payments_are_listed_newest_first_filtered_and_paged(super::StoreKind::Cluster).await
    }

    #[tokio::test]
    async fn a_timeline_follows_a_payment_from_pay_to_redelivery() {
        super::a_timeline_follows_a_payment_from_pay_to_redelivery(super::StoreKind::Cluster).await
    }
}

#[tokio::test]
async fn two_replicas_on_one_redis_see_the_same_lists() {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let redis = RedisServer::start().await;
    let cfg = config(Some(&redis), &fena.base(), &receiver.url, EXTRA);
    let a = TestRouter::start(&cfg).await;
    let b = TestRouter::start(&cfg).await;
    let (id, tx) = ("64b48c5b6ba2cd6a040b50a1", "replica-1");
    pay_on(&fena, &a, id, tx).await;
    receiver.fail_next(2);
    paid_by_callback_on(&fena, &a, id, tx).await;
    let on_a = admin_get(&a, "/admin/api/payments").await;
    let on_b = admin_get(&b, "/admin/api/payments").await;
    assert_eq!(ids(&on_b), [id.to_string()]);
    assert_eq!(on_a, on_b);
    let dead = eventually(10, || async {
        let page = admin_get(&b, "/admin/api/notifications?state=dead").await;
        (page["items"].as_array().unwrap().len() == 1).then_some(page)
    })
    .await;
    assert_eq!(
        admin_get(&a, "/admin/api/notifications?state=dead").await,
        dead
    );
    let detail_b = timeline_with(&b, id, "dead").await;
    assert_eq!(
        admin_get(&a, &format!("/admin/api/payments/fena/{id}")).await,
        detail_b
    );
    // Redelivered through one replica, delivered by either.
    let webhook_id = dead["items"][0]["id"].as_str().unwrap().to_string();
    let (s, _) = admin_post(
        &b,
        &format!("/admin/api/notifications/{webhook_id}/redeliver"),
    )
    .await;
    assert_eq!(s, 200);
    eventually(10, || async {
        receiver
            .delivered()
            .into_iter()
            .find(|r| r.id == webhook_id)
    })
    .await;
    timeline_with(&a, id, "delivered").await;
}

/// The Redis store's paging script reads a page of an index as the embedded store does: by
/// score, then by member among equal scores, strictly past the cursor, in either direction;
/// and entries older than the trim point are gone.
#[tokio::test]
async fn redis_and_the_embedded_store_page_an_index_alike() {
    use payrouter::store::records::Keys;
    use payrouter::store::{
        After, Beside, IndexEntry, MemoryStore, PageQuery, RedisStore, RedisTarget, Store,
    };
    use std::time::Duration;

    let redis = RedisServer::start().await;
    let keys = Keys::partitioned("payrouter", 1);
    let on_redis = RedisStore::connect(&RedisTarget::Node(redis.url()), &keys)
        .await
        .unwrap();
    let in_memory = MemoryStore::new(100);
    let index = keys
        .payment("fena", "index-test")
        .to_string()
        .replace(":payment:fena:index-test", ":test-index");
    let entries = [
        ("m", 5),
        ("k", 5),
        ("z", 5),
        ("c", 7),
        ("d", 3),
        ("old", 1),
        ("x", 9),
    ];
    for store in [&on_redis as &dyn Store, &in_memory] {
        for (member, score) in entries {
            let doc = keys.payment("fena", member).to_string();
            let beside = Beside {
                index: Some(IndexEntry {
                    key: &index,
                    member,
                    score,
                    trim_before: 2,
                    ttl: Duration::from_secs(60),
                }),
                ..Default::default()
            };
            assert!(store
                .put_if(&doc, 0, "{}", None, Some(&beside))
                .await
                .unwrap());
        }
    }
    let mut queries = Vec::new();
    for descending in [true, false] {
        for count in [1, 2, 3, 10] {
            queries.push(PageQuery {
                descending,
                min: 0,
                max: i64::MAX,
                after: None,
                count,
            });
            for (member, score) in entries {
                queries.push(PageQuery {
                    descending,
                    min: 0,
                    max: i64::MAX,
                    after: Some(After {
                        score,
                        member: member.into(),
                    }),
                    count,
                });
            }
        }
        queries.push(PageQuery {
            descending,
            min: 4,
            max: 7,
            after: None,
            count: 10,
        });
    }
    for q in &queries {
        let got = on_redis.index_page(&index, q).await.unwrap();
        let want = in_memory.index_page(&index, q).await.unwrap();
        assert_eq!(got, want, "{q:?}");
    }
    let all = PageQuery {
        descending: true,
        min: 0,
        max: i64::MAX,
        after: None,
        count: 10,
    };
    let newest_first = on_redis.index_page(&index, &all).await.unwrap();
    assert_eq!(
        newest_first,
        [(9, "x"), (7, "c"), (5, "z"), (5, "m"), (5, "k"), (3, "d")]
            .map(|(s, m)| (s, m.to_string())),
        "trimmed below 2"
    );
}

/// `make run`: the demo profile turns the admin API on with a token it makes up and prints,
/// and `config check` shows a configured token only as redacted.
#[tokio::test]
async fn the_demo_profile_prints_an_admin_token_and_config_check_hides_one() {
    use common::binary::{free_port, payrouter, Served};

    let (port, sim_port) = (free_port(), free_port());
    let served = Served::demo(port, sim_port).await;
    let (s, b) = read(served.get("/admin/api/payments").await).await;
    assert_error_response(s, &b, 401);
    let out = served.stop().await;
    let banner = String::from_utf8_lossy(&out.stdout);
    let line = banner
        .lines()
        .find(|l| {
            l.contains(&format!(
                "curl -s http://localhost:{port}/admin/api/payments"
            ))
        })
        .unwrap_or_else(|| panic!("no admin line in:\n{banner}"));
    let token = line
        .split("Bearer ")
        .nth(1)
        .and_then(|t| t.strip_suffix('\''))
        .unwrap_or_else(|| panic!("{line}"));
    assert!(token.starts_with("demo-") && token.len() > 30, "{token}");

    let out = payrouter(&["config", "check"])
        .env("PAYROUTER_PROFILE", "demo")
        .env("ADMIN_API_TOKEN", ADMIN_TOKEN)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{listing}");
    let line = listing
        .lines()
        .find(|l| l.split_whitespace().next() == Some("ADMIN_API_TOKEN"))
        .unwrap_or_else(|| panic!("ADMIN_API_TOKEN not listed in:\n{listing}"));
    assert!(
        line.contains("[redacted]") && line.contains("environment"),
        "{line}"
    );
    assert!(
        !listing.contains(ADMIN_TOKEN),
        "a secret was printed:\n{listing}"
    );
}
