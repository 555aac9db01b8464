//! The provider contract suite: one list of scenarios, each run against every provider through
//! its simulator and on both stores (2 providers × 2 stores × every scenario, one test each,
//! named `provider::store::scenario`), all over real HTTP. What differs per provider lives in
//! its driver (`common/drivers.rs`); the scenarios below are written once. Tests of what only
//! one provider does stay in its own files (`e2e.rs`, `routes.rs`, `feennex_routes.rs`).
//!
//! A scenario calls `status` before the payer acts only where it means to: the first look at
//! a payment opens the provider's poll window (Feennex: 10 s), and a callback inside it would
//! be applied only when the window closes.

mod common;

use common::contract_env::ContractEnv;
use common::drivers::{Driver, FEENNEX, FENA};
use common::pages::location;
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

const AMOUNT: i64 = 1299;

/// A (status, action) pair, as `ContractEnv::changes` lists the notifications.
fn pair(status: &str, action: &str) -> (String, String) {
    (status.to_string(), action.to_string())
}

/// Creates a payment of `AMOUNT`; returns its paymentId.
async fn create(e: &ContractEnv, d: &Driver, shop_tx: &str) -> String {
    let body = d.pay_body(shop_tx, AMOUNT);
    e.router.create_payment(d.name, &body).await.0
}

/// Creates a payment and has the payer press `button` on the provider's page; the page sends
/// the payer back to the shop. Returns the paymentId.
async fn pay_and_press(e: &ContractEnv, d: &Driver, shop_tx: &str, button: &str) -> String {
    let (id, link) = e
        .router
        .create_payment(d.name, &d.pay_body(shop_tx, AMOUNT))
        .await;
    let resp = e.sim.press(&link, button).await;
    assert_eq!(resp.status(), 303, "{button} on {link}");
    assert!(
        location(&resp).starts_with("https://shop.example/"),
        "{resp:?}"
    );
    id
}

/// Asserts the Payment Status `view` of this suite's payment.
fn assert_view(d: &Driver, view: &Value, id: &str, shop_tx: &str, status: &str, action: &str) {
    assert_eq!(view["paymentId"], id, "{view}");
    assert_eq!(view["shopTransactionId"], shop_tx, "{view}");
    assert_eq!(view["providerName"], d.name, "{view}");
    assert_eq!(view["status"], status, "{view}");
    assert_eq!(view["action"], action, "{view}");
    assert_eq!(view["metadata"]["amount"], AMOUNT, "{view}");
    assert_eq!(view["metadata"]["currency"], d.currency, "{view}");
}

/// The payer presses `button` on the provider's page: the outcome (`status`, with the
/// provider's `provider_status`) is notified once, and status answers the same.
async fn payer_decides(
    d: &Driver,
    kind: StoreKind,
    button: &str,
    status: &str,
    provider_status: &str,
) {
    let e = ContractEnv::start(kind).await;
    let id = pay_and_press(&e, d, "ct-payer", button).await;

    let n = e.receiver.notified(&id, status, "PAYMENT").await;
    assert_view(d, &n, &id, "ct-payer", status, "PAYMENT");
    assert_eq!(n["metadata"]["providerStatus"], provider_status, "{n}");
    assert_eq!(e.router.status(d.name, &id).await, n);
    e.all_notifications_delivered().await;
    assert_eq!(e.changes(&id), [pair(status, "PAYMENT")]);
}

/// pay → redirect → paid → notified: the receiver gets ACCEPTED once.
async fn paid(d: &Driver, kind: StoreKind) {
    payer_decides(d, kind, "Pay", "ACCEPTED", d.paid_status).await;
}

/// The payer rejects: FAILED, notified once.
async fn declined(d: &Driver, kind: StoreKind) {
    payer_decides(d, kind, "Reject", "FAILED", d.rejected_status).await;
}

/// The provider answers 5xx to the pay: 502, nothing kept, and the same pay then works.
async fn provider_5xx_on_pay(d: &Driver, kind: StoreKind) {
    let e = ContractEnv::start(kind).await;
    e.sim
        .fault(d.name, json!({"operation": "create", "status": 503}))
        .await;
    let body = d.pay_body("ct-5xx", AMOUNT);
    let path = format!("/v3/{}/pay", d.name);
    let (s, b) = e.router.post(&path, &body).await;
    assert_error_response(s, &b, 502);
    assert!(e.sim.payments(d.name).await.is_empty());
    e.all_notifications_delivered().await;
    assert!(e.receiver.all().is_empty(), "{:?}", e.receiver.all());

    e.sim.clear_faults(d.name).await;
    let (s, first) = e.router.post(&path, &body).await;
    assert_eq!(
        s, 200,
        "the failure stuck to the shopTransactionId: {first}"
    );
    assert_eq!(first["result"], "REDIRECT_TO_URL", "{first}");
    let (s, again) = e.router.post(&path, &body).await;
    assert_eq!((s, &again), (200, &first), "an idempotent replay");
    assert_eq!(
        e.sim.payments(d.name).await.len(),
        1,
        "one payment at the provider"
    );
    let id = first["paymentId"].as_str().unwrap();
    let st = e.router.status(d.name, id).await;
    assert_view(d, &st, id, "ct-5xx", "PENDING", "PAYMENT");
}

/// The provider does not answer a status fetch in time: 504, and the payment is intact.
async fn provider_timeout(d: &Driver, kind: StoreKind) {
    let e = ContractEnv::start(kind).await;
    let id = create(&e, d, "ct-timeout").await;
    e.sim
        .fault(
            d.name,
            json!({"operation": d.fetch_operation, "hang": true}),
        )
        .await;
    let path = format!("/v3/{}/status?paymentId={id}", d.name);
    let (s, b) = e.router.get(&path).await;
    assert_error_response(s, &b, 504);

    e.sim.clear_faults(d.name).await;
    let st = e.router.status(d.name, &id).await;
    assert_view(d, &st, &id, "ct-timeout", "PENDING", "PAYMENT");
}

/// The provider repeats its callback, a callback claiming an older state comes late, and the
/// provider itself answers an older state (a stale read): one notification for the one
/// change, and the payment never goes back.
async fn duplicate_and_out_of_order_callbacks(d: &Driver, kind: StoreKind) {
    let e = ContractEnv::start(kind).await;
    let id = pay_and_press(&e, d, "ct-dup", "Pay").await;
    let accepted = e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;

    let waiting = (d.sim_state)(d.waiting_status);
    let state = d.control_path(&id, "ct-dup", "state");
    let (s, b) = e
        .sim
        .control(Method::POST, &state, json!({"status": waiting}))
        .await;
    assert_eq!(s, 200, "{b}");
    // A rule that changes nothing and is used up by the next fetch of the payment: once it
    // is gone, the router has asked the provider about these callbacks (at once, or when the
    // poll window reopened) and heard the older state.
    let probe = json!({"operation": d.fetch_operation, "latencyMs": 0, "count": 1});
    e.sim.fault(d.name, probe).await;
    let replay = d.control_path(&id, "ct-dup", "callback");
    let (s, b) = e
        .sim
        .control(Method::POST, &replay, json!({"times": 3}))
        .await;
    assert_eq!((s, &b), (200, &json!({"requested": 3, "delivered": 3})));
    let late = json!({"status": waiting, "times": 1});
    let (s, b) = e.sim.control(Method::POST, &replay, late).await;
    assert_eq!((s, &b), (200, &json!({"requested": 1, "delivered": 1})));

    eventually(15, || async {
        e.sim.faults(d.name).await.is_empty().then_some(())
    })
    .await;
    assert_eq!(e.router.status(d.name, &id).await, accepted);
    e.all_notifications_delivered().await;
    assert_eq!(e.changes(&id), [pair("ACCEPTED", "PAYMENT")]);
}

/// Callbacks made without the provider's secrets change nothing; one about a payment the
/// router never created is refused (4xx), and so is any that can be told forged.
async fn forged_callback(d: &Driver, kind: StoreKind) {
    let e = ContractEnv::start(kind).await;
    let id = create(&e, d, "ct-forged").await;
    let send = |forged: common::drivers::Forged| {
        let req = e
            .router
            .http
            .post(e.router.url(&format!("/v3/{}/callback", d.name)))
            .header("content-type", forged.content_type)
            .body(forged.body);
        async move { read(req.send().await.unwrap()).await }
    };

    let (s, b) = send((d.forge)(&id, "ct-forged")).await;
    if d.signs_callbacks {
        assert!((400..500).contains(&s), "a forgery was accepted: {s} {b}");
        assert_error_response(s, &b, s);
    } else {
        // Only the id of an unsigned callback is used: the state is fetched from the provider.
        assert_eq!(s, 200, "{b}");
    }
    let (s, b) = send((d.forge)("0123456789abcdef01234567", "ct-nobody")).await;
    assert!((400..500).contains(&s), "a forgery was accepted: {s} {b}");
    assert_error_response(s, &b, s);

    let st = e.router.status(d.name, &id).await;
    assert_view(d, &st, &id, "ct-forged", "PENDING", "PAYMENT");
    assert_eq!(st["metadata"]["providerStatus"], d.waiting_status, "{st}");
    e.all_notifications_delivered().await;
    assert!(e.receiver.delivered().is_empty(), "{:?}", e.receiver.all());
}

/// The store is lost after the payment was paid: status still answers, rebuilt from the
/// provider.
async fn status_after_store_loss(d: &Driver, kind: StoreKind) {
    let mut e = ContractEnv::start(kind).await;
    let id = pay_and_press(&e, d, "ct-lost", "Pay").await;
    e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    let before = e.router.status(d.name, &id).await;

    e.lose_store().await;
    assert_eq!(e.router.status(d.name, &id).await, before);
}

/// A partial refund: PENDING, then the provider's outcome as a REFUND notification; or, for a
/// provider without refunds, an honest 501 that changes nothing.
async fn refund(d: &Driver, kind: StoreKind) {
    let e = ContractEnv::start(kind).await;
    let id = pay_and_press(&e, d, "ct-refund", "Pay").await;
    e.receiver.notified(&id, "ACCEPTED", "PAYMENT").await;
    let path = format!("/v3/{}/refund", d.name);
    let body = json!({"amount": 500, "currency": d.currency, "paymentId": id});
    let (s, b) = e.router.post(&path, &body).await;

    let Some(approve) = d.refund_approval else {
        assert_error_response(s, &b, 501);
        let message = b["message"].as_str().unwrap().to_lowercase();
        assert!(
            message.contains(d.name) && message.contains("refund"),
            "{b}"
        );
        let st = e.router.status(d.name, &id).await;
        assert_view(d, &st, &id, "ct-refund", "ACCEPTED", "PAYMENT");
        e.all_notifications_delivered().await;
        assert_eq!(e.changes(&id), [pair("ACCEPTED", "PAYMENT")]);
        return;
    };
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "PENDING", "{b}");
    e.receiver.notified(&id, "PENDING", "REFUND").await;

    let payment = e
        .sim
        .payments(d.name)
        .await
        .into_iter()
        .find(|p| p["id"] == id)
        .expect("the payment at the provider");
    let refund_page = payment["refundLink"].as_str().expect("a refund link");
    let resp = e.sim.press(refund_page, approve).await;
    assert!(resp.status().is_success(), "{approve}: {resp:?}");
    let n = e.receiver.notified(&id, "ACCEPTED", "REFUND").await;
    assert_view(d, &n, &id, "ct-refund", "ACCEPTED", "REFUND");
    assert_eq!(n["metadata"]["refundedAmount"], 500, "{n}");
    assert_eq!(e.router.status(d.name, &id).await, n);
    e.all_notifications_delivered().await;
    assert_eq!(
        e.changes(&id),
        [
            pair("ACCEPTED", "PAYMENT"),
            pair("PENDING", "REFUND"),
            pair("ACCEPTED", "REFUND")
        ]
    );
}

/// The provider reports a state its mapping cannot place: PENDING, and counted.
async fn unknown_provider_state(d: &Driver, kind: StoreKind) {
    let e = ContractEnv::start(kind).await;
    let id = create(&e, d, "ct-unknown").await;
    let counter = format!(
        "payrouter_provider_unknown_state_total{{provider=\"{}\"}}",
        d.name
    );
    // The recorder is shared by every router of this process: only an increase is ours.
    let before = e.metric(&counter).await;
    let state = d.control_path(&id, "ct-unknown", "state");
    let unknown = json!({"status": (d.sim_state)(d.unknown_status)});
    let (s, b) = e.sim.control(Method::POST, &state, unknown).await;
    assert_eq!(s, 200, "{b}");

    let st = e.router.status(d.name, &id).await;
    assert_view(d, &st, &id, "ct-unknown", "PENDING", "PAYMENT");
    assert_eq!(st["metadata"]["providerStatus"], d.unknown_status, "{st}");
    assert!(e.metric(&counter).await > before, "{counter} did not grow");
}

/// Runs each scenario against one provider on one store.
macro_rules! run_on {
    ($driver:ident, $kind:ident: $($scenario:ident),*) => {
        $(#[tokio::test]
        async fn $scenario() {
            crate::$scenario(&crate::$driver, crate::StoreKind::$kind).await
        })*
    };
}

/// Every scenario × every provider (a module name and its driver) × both stores.
macro_rules! contract {
    ([$($provider:ident = $driver:ident),* $(,)?] $scenarios:tt) => {
        $(contract!(@provider $provider $driver $scenarios);)*
    };
    (@provider $provider:ident $driver:ident [$($scenario:ident),* $(,)?]) => {
        mod $provider {
            mod memory { run_on!($driver, Memory: $($scenario),*); }
            mod redis { run_on!($driver, Redis: $($scenario),*); }
            // A representative subset on a Redis Cluster of three primaries.
            mod cluster {
                run_on!($driver, Cluster: paid, duplicate_and_out_of_order_callbacks, refund);
            }
        }
    };
}

contract!(
    [fena = FENA, feennex = FEENNEX]
    [
        paid,
        declined,
        provider_5xx_on_pay,
        provider_timeout,
        duplicate_and_out_of_order_callbacks,
        forged_callback,
        status_after_store_loss,
        refund,
        unknown_provider_state,
    ]
);
