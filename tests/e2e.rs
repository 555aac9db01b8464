//! End to end: the router with both provider simulators in-process (`simulate = true`), driven
//! as the PGM, the payer and the merchant would drive them: over real HTTP, through the
//! simulators' HTML pages and their webhooks and signed callbacks, with a recording
//! notification receiver. Every lifecycle runs on the embedded store and on a real Redis;
//! one test presses Pay in headless Chromium.

mod common;

use common::browser::Browser;
use common::feennex_mock::payment_id_of;
use common::pages::{form_with, forms, labels, location};
use common::sim_client::SimClient;
use common::stores::on_both_stores;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const OK_URL: &str = "https://shop.example/ok";
const KO_URL: &str = "https://shop.example/ko";

/// A router in simulation mode, its notification receiver and a client of its simulators.
struct Env {
    router: TestRouter,
    receiver: Receiver,
    sim: SimClient,
    _redis: Option<RedisServer>,
}

impl Env {
    /// `sections` is appended to the configuration (e.g. a `[fena]` section).
    async fn start(kind: StoreKind, sections: &str) -> Env {
        let receiver = Receiver::start().await;
        let redis = kind.start_redis().await;
        let redis_url = redis
            .as_ref()
            .map_or(String::new(), RedisServer::config_line);
        let router = TestRouter::start(&format!(
            r#"simulate = true
sim_port = 0
enabled_providers = "fena,feennex"
payment_callback_url = "{}"
notify_retry_initial_ms = 50
notify_retry_max_ms = 200
log_level = "warn"
{redis_url}
{sections}
"#,
            receiver.url
        ))
        .await;
        let sim_addr = router.running.as_ref().unwrap().sim_addr.unwrap();
        Env {
            router,
            receiver,
            sim: SimClient::new(format!("http://127.0.0.1:{}", sim_addr.port())),
            _redis: redis,
        }
    }

    /// Creates the Feennex payment `feennex_pay` describes: its id and the payer's link.
    async fn feennex_payment(
        &self,
        shop_tx: &str,
        amount: i64,
        payway: Option<&str>,
    ) -> (String, String) {
        self.router
            .create_payment("feennex", &feennex_pay(shop_tx, amount, payway))
            .await
    }
}

impl Env {
    /// A Fena payment of 12.99 GBP for `shop_tx`: its id and the payer's link.
    async fn pay_fena(&self, shop_tx: &str) -> (String, String) {
        let body = fena_pay(shop_tx, 1299);
        self.router.create_payment("fena", &body).await
    }
}

fn fena_pay(shop_tx: &str, amount: i64) -> Value {
    json!({"amount": amount, "currency": "GBP", "shopTransactionId": shop_tx,
           "successRedirectUrl": OK_URL, "failureRedirectUrl": KO_URL})
}

fn feennex_pay(shop_tx: &str, amount: i64, payway: Option<&str>) -> Value {
    let mut data = json!({"email": "payer@example.com"});
    if let Some(payway) = payway {
        data["payway"] = json!(payway);
    }
    json!({"amount": amount, "currency": "USD", "shopTransactionId": shop_tx,
           "successRedirectUrl": OK_URL, "failureRedirectUrl": KO_URL, "providerData": data})
}

/// The Payment Status of a Fena payment of 12.99 GBP.
fn fena_view(id: &str, shop_tx: &str, status: &str, provider_status: &str) -> Value {
    json!({"status": status, "paymentId": id, "shopTransactionId": shop_tx,
           "providerName": "fena", "paymentMethod": "external", "action": "PAYMENT",
           "metadata": {"providerStatus": provider_status, "amount": 1299, "currency": "GBP",
                        "refundedAmount": 0}})
}

// 1. Fena: the payer's Pay, Reject and Cancel buttons.

async fn fena_pay_button_accepts(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.pay_fena("e2e-pay-1").await;
    assert_eq!(link, e.sim.url(&format!("/fena/pay/{id}")));
    assert_eq!(
        e.router.status("fena", &id).await,
        fena_view(&id, "e2e-pay-1", "PENDING", "sent")
    );

    let html = e.sim.page(&link).await;
    assert!(html.contains("12.99 GBP"), "{html}");
    assert_eq!(labels(&html), ["Pay", "Reject", "Cancel"]);
    let resp = e.sim.submit(&form_with(&html, "Pay")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        location(&resp),
        format!("{OK_URL}?order_id=e2e-pay-1&status=paid")
    );

    let n = e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    let accepted = fena_view(&id, "e2e-pay-1", "ACCEPTED", "paid");
    assert_eq!(n, accepted);
    assert_eq!(e.router.status("fena", &id).await, accepted);
    assert_eq!(
        e.receiver.notifications(&id).len(),
        1,
        "one change, one notification"
    );
}

async fn fena_reject_then_pay(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.pay_fena("e2e-rej-1").await;
    let resp = e.sim.press(&link, "Reject").await;
    assert_eq!(resp.status(), 303);
    assert!(location(&resp).ends_with("status=rejected"), "{resp:?}");
    let n = e.receiver.notified(&id, "FAILED", "PAYMENT").await;
    let rejected = fena_view(&id, "e2e-rej-1", "FAILED", "rejected");
    assert_eq!(n, rejected);
    assert_eq!(e.router.status("fena", &id).await, rejected);

    // Rejected is not final: the payer tries again and pays. (This webhook comes inside
    // Fena's poll window, so the router applies it when the window reopens.)
    let resp = e.sim.press(&link, "Pay").await;
    assert_eq!(resp.status(), 303);
    let n = e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    let accepted = fena_view(&id, "e2e-rej-1", "ACCEPTED", "paid");
    assert_eq!(n, accepted);
    assert_eq!(e.router.status("fena", &id).await, accepted);
    let statuses: Vec<_> = e
        .receiver
        .notifications(&id)
        .iter()
        .map(|n| n["status"].clone())
        .collect();
    assert_eq!(statuses, ["FAILED", "ACCEPTED"]);
}

async fn fena_cancel_is_final(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.pay_fena("e2e-can-1").await;
    let pay_form = form_with(&e.sim.page(&link).await, "Pay");
    let resp = e.sim.press(&link, "Cancel").await;
    assert_eq!(resp.status(), 303);
    let n = e.receiver.notified(&id, "FAILED", "PAYMENT").await;
    let cancelled = fena_view(&id, "e2e-can-1", "FAILED", "cancelled");
    assert_eq!(n, cancelled);

    // Nothing left to press; a stale Pay form is refused by Fena.
    let html = e.sim.page(&link).await;
    assert!(labels(&html).is_empty(), "{html}");
    assert_eq!(e.sim.submit(&pay_form).await.status(), 409);
    assert_eq!(e.router.status("fena", &id).await, cancelled);
    assert_eq!(e.receiver.notifications(&id).len(), 1);
}

// 2. Feennex: GET and POST redirects, Pay and Reject, signed form callbacks.

async fn feennex_pay_button_accepts(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.feennex_payment("e2e-fx-1", 1234, None).await;
    assert_eq!(id, payment_id_of("e2e-fx-1"));
    assert!(
        link.starts_with(&e.sim.url("/feennex/pay/")),
        "GET redirect to the simulator: {link}"
    );
    // This status opens Feennex's 10 s poll window; the payer's callback comes inside it.
    assert_eq!(e.router.status("feennex", &id).await["status"], "PENDING");

    let html = e.sim.page(&link).await;
    assert!(html.contains("12.34 USD"), "{html}");
    assert!(html.contains("card_usd"), "the default payway: {html}");
    assert_eq!(labels(&html), ["Pay", "Reject"]);
    let resp = e.sim.submit(&form_with(&html, "Pay")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), OK_URL);

    let n = e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["shopTransactionId"], "e2e-fx-1");
    assert_eq!(n["providerName"], "feennex");
    assert_eq!(n["metadata"]["amount"], 1234);
    assert_eq!(n["metadata"]["currency"], "USD");
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "ACCEPTED", "{st}");
    assert_eq!(st["action"], "PAYMENT", "{st}");
    // (The status call above may also have been notified: Feennex's invoice moved from 1,
    // Created, to 2, Waiting. Only the one change to ACCEPTED counts here.)
    let notified: Vec<_> = e.receiver.notifications(&id);
    assert_eq!(
        notified.iter().filter(|n| n["status"] != "PENDING").count(),
        1,
        "{notified:#?}"
    );
}

async fn feennex_reject_button_fails(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.feennex_payment("e2e-fx-2", 500, None).await;
    let resp = e.sim.press(&link, "Reject").await;
    assert_eq!(resp.status(), 303);
    assert_eq!(location(&resp), KO_URL);
    let n = e.receiver.notified(&id, "FAILED", "PAYMENT").await;
    assert_eq!(n["shopTransactionId"], "e2e-fx-2");
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "FAILED", "{st}");
    assert!(
        labels(&e.sim.page(&link).await).is_empty(),
        "final: no buttons"
    );
    assert_eq!(e.receiver.notifications(&id).len(), 1);
}

async fn feennex_post_redirect(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e
        .feennex_payment("e2e-fx-3", 2000, Some("card_post_usd"))
        .await;
    assert_eq!(link, e.router.url(&format!("/v3/feennex/redirect/{id}")));

    // The router's page: one form that POSTs Feennex's fields to the simulator.
    let html = e.sim.page(&link).await;
    let all = forms(&html);
    assert_eq!(all.len(), 1, "{html}");
    let form = &all[0];
    assert_eq!(form.action, e.sim.url("/feennex/pay-form"));
    let invoice = e.sim.payments("feennex").await[0]["payment_id"].clone();
    assert!(
        form.hidden
            .contains(&("invoice_id".into(), invoice.to_string())),
        "{form:?}"
    );

    // Submitting it lands on the payer's page of that invoice.
    let resp = e.sim.submit(form).await;
    assert_eq!(resp.status(), 200);
    let payer_page = resp.text().await.unwrap();
    assert!(payer_page.contains("20.00 USD"), "{payer_page}");
    assert!(payer_page.contains("card_post_usd"), "{payer_page}");
    let resp = e.sim.submit(&form_with(&payer_page, "Pay")).await;
    assert_eq!(resp.status(), 303);

    let n = e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["metadata"]["amount"], 2000);
    assert_eq!(e.router.status("feennex", &id).await["status"], "ACCEPTED");
}

// 3. Fena refunds complete on the merchant's approval page.

async fn fena_partial_refund(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.pay_fena("e2e-ref-1").await;
    assert_eq!(e.sim.press(&link, "Pay").await.status(), 303);
    e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;

    let refund = |amount: i64| json!({"amount": amount, "currency": "GBP", "paymentId": id});
    let (s, b) = e.router.post("/v3/fena/refund", &refund(500)).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "PENDING", "{b}");
    let n = e.receiver.notified(&id, "PENDING", "REFUND").await;
    assert_eq!(n["metadata"]["providerStatus"], "refund_started");
    // The pending refund is reserved: more than the remainder is refused, saying how much.
    let (s, b) = e.router.post("/v3/fena/refund", &refund(800)).await;
    assert_eq!(s, 200, "{b}");
    assert_ko_naming(&b, "799");

    // The merchant approves the refund on Fena's page.
    let payment = e.sim.payment("fena", &id).await;
    let refund_link = payment["refundLink"].as_str().expect("refundLink");
    assert_eq!(refund_link, e.sim.url(&format!("/fena/refund/{id}")));
    let html = e.sim.page(refund_link).await;
    assert!(html.contains("5.00 GBP"), "{html}");
    let resp = e.sim.press(refund_link, "Approve refund").await;
    assert_eq!(resp.status(), 200);

    let n = e.receiver.notified(&id, "ACCEPTED", "REFUND").await;
    assert_eq!(n["metadata"]["providerStatus"], "partial_refund");
    assert_eq!(n["metadata"]["refundedAmount"], 500);
    let st = e.router.status("fena", &id).await;
    assert_eq!(st["status"], "ACCEPTED", "{st}");
    assert_eq!(st["action"], "REFUND", "{st}");
    assert_eq!(st["metadata"]["refundedAmount"], 500, "{st}");
    assert_eq!(st["metadata"]["amount"], 1299, "{st}");
    assert!(st["metadata"].get("refundPendingAmount").is_none(), "{st}");
    let payment = e.sim.payment("fena", &id).await;
    assert_eq!(payment["refundedAmount"], "5.00");
}

// 4. Fena subscriptions: a standing order, and a manual subscription kept by the router.

async fn fena_standing_order(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let schedule = json!({"amount": 999, "currency": "GBP", "shopTransactionId": "e2e-so-1",
        "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "expiresAfter": 12}});
    let (token, b) = e.router.subscribe("fena", "schedule", &schedule).await;
    let link = text(&b, "redirectToUrl");
    assert_eq!(link, e.sim.url(&format!("/fena/recurring/{token}")));
    let st = e.router.subscription_status("fena", &token).await;
    assert_eq!(st["status"], "PENDING", "{st}");

    let html = e.sim.page(&link).await;
    assert!(html.contains("9.99 GBP"), "{html}");
    let resp = e.sim.press(&link, "Set up standing order").await;
    assert_eq!(resp.status(), 200);

    // The bank's first instalment is notified, tied to the subscription.
    let transaction = e.sim.payment("fena", &token).await["transactions"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let n = e
        .receiver
        .notified(&transaction, "ACCEPTED", "PAYMENT")
        .await;
    assert_eq!(n["metadata"]["subscriptionToken"], token.as_str());
    assert_eq!(n["metadata"]["amount"], 999);
    assert_eq!(n["shopTransactionId"], "e2e-so-1");
    assert_eq!(n["providerName"], "fena");

    let st = e.router.subscription_status("fena", &token).await;
    assert_eq!(st["status"], "ACTIVE", "{st}");
    assert_eq!(st["metadata"]["completedPayments"], 1, "{st}");

    // Set up at the payer's bank: Fena can no longer cancel it.
    let (s, b) = e
        .router
        .delete(&format!("/v3/fena/subscription/expire/{token}"))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_ko_naming(&b, "bank");
    let st = e.router.subscription_status("fena", &token).await;
    assert_eq!(st["status"], "ACTIVE", "{st}");
    assert_eq!(
        e.receiver.delivered().len(),
        1,
        "two webhooks, one instalment, one notification"
    );
}

async fn fena_manual_subscription(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let start = json!({"amount": 1500, "currency": "GBP", "shopTransactionId": "e2e-ms-1",
        "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "expiresAfter": 3}});
    let (token, b) = e.router.subscribe("fena", "start", &start).await;
    let first = text(&b, "paymentId");
    assert_eq!(b["redirectToUrl"], e.sim.url(&format!("/fena/pay/{first}")));
    assert_eq!(
        e.router.subscription_status("fena", &token).await["status"],
        "PENDING"
    );

    assert_eq!(
        e.sim
            .press(b["redirectToUrl"].as_str().unwrap(), "Pay")
            .await
            .status(),
        200
    );
    let n = e.receiver.notified(&first, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["metadata"]["subscriptionToken"], token.as_str());
    let st = e.router.subscription_status("fena", &token).await;
    assert_eq!(st["status"], "ACTIVE", "{st}");
    assert_eq!(st["metadata"]["payments"], 1, "{st}");

    // The next instalment: a new payment and a new link for the payer.
    let b = e
        .router
        .redirected(
            "/v3/fena/subscription/pay",
            &json!({"amount": 1500, "currency": "GBP", "shopTransactionId": "e2e-ms-2",
                    "subscriptionInfo": {"token": token}}),
        )
        .await;
    assert_eq!(b["subscriptionToken"], token.as_str());
    let second = text(&b, "paymentId");
    assert_ne!(second, first);
    let link = text(&b, "redirectToUrl");
    assert_eq!(link, e.sim.url(&format!("/fena/pay/{second}")));
    assert!(e.sim.page(&link).await.contains("15.00 GBP"));
    assert_eq!(e.sim.press(&link, "Pay").await.status(), 200);
    let n = e.receiver.notified(&second, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["metadata"]["subscriptionToken"], token.as_str());
    assert_eq!(n["shopTransactionId"], "e2e-ms-2");
    let st = e.router.subscription_status("fena", &token).await;
    assert_eq!(st["status"], "ACTIVE", "{st}");
    assert_eq!(st["metadata"]["payments"], 2, "{st}");
    assert_eq!(st["metadata"]["lastPaymentId"], second.as_str(), "{st}");
}

// 5. Faults injected at the simulators.

async fn fena_create_5xx_then_retry(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    e.sim
        .fault("fena", json!({"operation": "create", "status": 503}))
        .await;
    let body = fena_pay("e2e-5xx-1", 1299);
    let (s, b) = e.router.post("/v3/fena/pay", &body).await;
    assert_error_response(s, &b, 502);
    assert!(e.sim.payments("fena").await.is_empty());

    e.sim.clear_faults("fena").await;
    let (s, first) = e.router.post("/v3/fena/pay", &body).await;
    assert_eq!(
        s, 200,
        "the failure did not stick to the shopTransactionId: {first}"
    );
    assert_eq!(first["result"], "REDIRECT_TO_URL");
    let (s, again) = e.router.post("/v3/fena/pay", &body).await;
    assert_eq!((s, &again), (200, &first), "idempotent replay");
    assert_eq!(e.sim.payments("fena").await.len(), 1, "one payment at Fena");
}

async fn fena_hanging_get_is_504(kind: StoreKind) {
    let e = Env::start(kind, "[fena]\ntimeout_ms = 1000\n").await;
    let (id, _) = e.pay_fena("e2e-hang-1").await;
    e.sim
        .fault("fena", json!({"operation": "get", "hang": true}))
        .await;
    let started = Instant::now();
    let (s, b) = e
        .router
        .get(&format!("/v3/fena/status?paymentId={id}"))
        .await;
    let took = started.elapsed();
    assert_error_response(s, &b, 504);
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(3),
        "answered after {took:?}, not at the 1 s adapter timeout"
    );

    e.sim.clear_faults("fena").await;
    let st = eventually(5, || async {
        let (s, b) = e
            .router
            .get(&format!("/v3/fena/status?paymentId={id}"))
            .await;
        (s == 200).then_some(b)
    })
    .await;
    assert_eq!(st, fena_view(&id, "e2e-hang-1", "PENDING", "sent"));
}

async fn fena_dropped_create_is_502(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    e.sim
        .fault(
            "fena",
            json!({"operation": "create", "drop": true, "count": 1}),
        )
        .await;
    let body = fena_pay("e2e-drop-1", 1299);
    let (s, b) = e.router.post("/v3/fena/pay", &body).await;
    assert_error_response(s, &b, 502);
    let (id, _) = e.router.create_payment("fena", &body).await;
    let payments = e.sim.payments("fena").await;
    assert_eq!(payments.len(), 1);
    assert_eq!(payments[0]["id"], id.as_str());
}

async fn fena_lost_webhook_recovered_by_check(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    let (id, link) = e.pay_fena("e2e-lost-1").await;
    // This status opens Fena's poll window: until it closes the router answers from its store.
    let window = Instant::now();
    let pending = fena_view(&id, "e2e-lost-1", "PENDING", "sent");
    assert_eq!(e.router.status("fena", &id).await, pending);

    e.sim
        .fault(
            "fena",
            json!({"operation": "webhook", "drop": true, "count": 1}),
        )
        .await;
    assert_eq!(e.sim.press(&link, "Pay").await.status(), 303);
    assert_eq!(
        e.router.status("fena", &id).await,
        pending,
        "the router did not hear"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(e.receiver.notifications(&id).is_empty());

    tokio::time::sleep(Duration::from_millis(1100).saturating_sub(window.elapsed())).await;
    let b = e.router.check("fena", &id).await;
    let accepted = fena_view(&id, "e2e-lost-1", "ACCEPTED", "paid");
    assert_eq!(b, accepted);
    assert_eq!(
        e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await,
        accepted
    );
    assert_eq!(e.router.status("fena", &id).await, accepted);
    assert_eq!(e.receiver.notifications(&id).len(), 1);
}

async fn feennex_faults(kind: StoreKind) {
    let e = Env::start(kind, "").await;
    e.sim
        .fault("feennex", json!({"operation": "create", "status": 500}))
        .await;
    let body = feennex_pay("e2e-fx-5xx", 1000, None);
    let (s, b) = e.router.post("/v3/feennex/pay", &body).await;
    assert_error_response(s, &b, 502);
    e.sim.clear_faults("feennex").await;
    let (id, link) = e.router.create_payment("feennex", &body).await;

    // The signed callback is lost; /check asks Feennex and notifies.
    e.sim
        .fault("feennex", json!({"operation": "callback", "drop": true}))
        .await;
    assert_eq!(e.sim.press(&link, "Pay").await.status(), 303);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(e.receiver.notifications(&id).is_empty());
    let b = e.router.check("feennex", &id).await;
    assert_eq!(b["status"], "ACCEPTED", "{b}");
    let n = e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    assert_eq!(n["shopTransactionId"], "e2e-fx-5xx");
}

on_both_stores!(
    fena_pay_button_accepts,
    fena_reject_then_pay,
    fena_cancel_is_final,
    feennex_pay_button_accepts,
    feennex_reject_button_fails,
    feennex_post_redirect,
    fena_partial_refund,
    fena_standing_order,
    fena_manual_subscription,
    fena_create_5xx_then_retry,
    fena_hanging_get_is_504,
    fena_dropped_create_is_502,
    fena_lost_webhook_recovered_by_check,
    feennex_faults,
);

// 6. A real browser presses Pay.

#[tokio::test]
async fn fena_payer_page_works_in_chromium() {
    let e = Env::start(StoreKind::Memory, "").await;
    // The payer comes back to a page of this machine, so the browser never leaves it.
    let back = e.router.url("/healthz");
    let (id, link) = e
        .router
        .create_payment(
            "fena",
            &json!({"amount": 1299, "currency": "GBP", "shopTransactionId": "e2e-web-1",
                    "successRedirectUrl": back}),
        )
        .await;

    let mut browser = Browser::launch().await;
    browser.open(&link).await;
    assert_eq!(
        browser
            .eval("document.querySelector('#status').textContent")
            .await,
        "sent"
    );
    assert_eq!(
        browser
            .eval("document.querySelector('form[action$=\"/pay\"] button').click(); true")
            .await,
        true
    );

    let st = eventually(10, || async {
        Some(e.router.status("fena", &id).await).filter(|st| st["status"] == "ACCEPTED")
    })
    .await;
    assert_eq!(st, fena_view(&id, "e2e-web-1", "ACCEPTED", "paid"));
    e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    // Fena sent the browser back to the shop with the outcome.
    browser
        .wait_for(&format!(
            "location.href === {}",
            json!(format!("{back}?order_id=e2e-web-1&status=paid"))
        ))
        .await;
}
