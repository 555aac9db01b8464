//! The real Fena adapter against the offline simulator over real HTTP: the payer's journey,
//! refunds, refusals, fault rules, the control API and standing orders. Needs `--features sim`.
#![cfg(feature = "sim")]

mod common;

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use payrouter_fena::sim::{SimConfig, Simulator};
use payrouter_fena::{Fena, Settings};
use payrouter_provider::testing::{self, money, Inbox};
use payrouter_provider::PaymentStatusKind::{Accepted, Failed, Pending};
use payrouter_provider::{
    assert_matches, Action, CallbackRequest, CallbackSubject, PayOrder, PayOutcome, PreparedPay,
    Provider, ProviderContext, ProviderError, ProviderFactory, ProviderState, Redirect,
    RefundOrder, RefundOutcome, SecretString,
};
use reqwest::Method;
use serde_json::{json, Map, Value};
use std::sync::Arc;

const TERMINAL_ID: &str = "62b48adf6ba2cd6a040b1eec";
const SECRET: &str = "3858f642-e92f-431c-9d38-46d15efb7fba";

/// The members named in `keys` (space-separated) of a JSON object, to compare several at once.
fn pick(value: &Value, keys: &str) -> Value {
    let members = keys.split(' ').map(|k| (k.to_string(), value[k].clone()));
    Value::Object(members.collect())
}

struct Env {
    base: String,
    /// Webhooks received by the test's tiny receiver, in arrival order.
    inbox: Inbox<Value>,
    fena: Arc<dyn Provider>,
    http: reqwest::Client,
}

fn adapter(base: &str, secret: &str) -> Arc<dyn Provider> {
    adapter_of(base, TERMINAL_ID, secret)
}

/// The adapter with the terminal key `terminal_id` and `secret`.
fn adapter_of(base: &str, terminal_id: &str, secret: &str) -> Arc<dyn Provider> {
    let settings = Settings {
        base_url: base.to_string(),
        terminal_id: Some(terminal_id.into()),
        terminal_secret: Some(SecretString::from(secret)),
        connect_timeout_ms: 1000,
        timeout_ms: 500,
        ..Settings::default()
    };
    Fena::build(settings, &ProviderContext::default()).unwrap()
}

async fn receive(State(inbox): State<Inbox<Value>>, Json(body): Json<Value>) -> Json<Value> {
    inbox.push(body);
    Json(json!({"received": true}))
}

async fn start() -> Env {
    let inbox = Inbox::default();
    let receiver = Router::new()
        .route("/v3/fena/callback", post(receive))
        .with_state(inbox.clone());
    let webhook_url = format!("{}/v3/fena/callback", common::serve(receiver).await);
    let (base, _) = common::serve_simulator(|base| {
        Simulator::new(SimConfig {
            terminal_id: TERMINAL_ID.into(),
            terminal_secret: SECRET.into(),
            public_base_url: base.into(),
            webhook_url,
        })
    })
    .await;
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let fena = adapter(&base, SECRET);
    let http = http.build().unwrap();
    Env {
        base,
        inbox,
        fena,
        http,
    }
}

fn order(shop_tx: &str, minor: i64, redirect: Option<&str>) -> PayOrder {
    PayOrder {
        amount: money(minor, "GBP"),
        shop_transaction_id: shop_tx.into(),
        success_redirect_url: redirect.map(str::to_string),
        failure_redirect_url: None,
        provider_data: Map::new(),
        provider_order_id: None,
    }
}

impl Env {
    /// Pays through the adapter; answers (payment id, payer link).
    async fn pay(&self, shop_tx: &str, minor: i64, back: Option<&str>) -> (String, String) {
        let outcome = self.fena.pay(&order(shop_tx, minor, back)).await;
        let PayOutcome::Created(created) = outcome.unwrap() else {
            panic!("the payment was not created");
        };
        let Redirect::Get { url } = created.redirect else {
            panic!("Fena redirects with GET");
        };
        (created.payment_id, url)
    }

    async fn state(&self, id: &str) -> ProviderState {
        self.fena.fetch(id).await.unwrap().state
    }

    async fn refund(&self, id: &str, minor: i64) -> RefundOutcome {
        let (payment_id, amount) = (id.to_string(), money(minor, "GBP"));
        let provider_data = Map::new();
        let order = RefundOrder {
            payment_id,
            amount,
            provider_data,
        };
        self.fena.refund(&order).await.unwrap()
    }

    async fn page(&self, url: &str) -> String {
        let resp = self.http.get(url).send().await.unwrap();
        resp.text().await.unwrap()
    }

    /// Presses a payer-page button (a form POST).
    async fn press(&self, url: &str) -> reqwest::Response {
        self.http.post(url).send().await.unwrap()
    }

    /// A request to the simulator: Fena's API (`open/...`, with the right credentials) or the
    /// control API (`_sim/...`). A null body is not sent; an answer that is not JSON is null.
    async fn call(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let mut req = self.http.request(method, format!("{}/{path}", self.base));
        if path.starts_with("open/") {
            req = req.header("terminal-id", TERMINAL_ID);
            req = req.header("terminal-secret", SECRET);
        }
        if !body.is_null() {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }
}

#[tokio::test]
async fn payer_pays_then_refunds_start_and_complete() {
    let env = start().await;
    let back = Some("https://shop.example/ok");
    let (id, link) = env.pay("order-1", 1299, back).await;
    assert_eq!(id.len(), 24);
    assert_eq!(link, format!("{}/pay/{id}", env.base));
    let state = env.state(&id).await;
    assert_eq!(state.provider_status, "sent");
    assert_eq!(state.status, Pending);

    let page = env.page(&link).await;
    assert!(page.contains("12.99 GBP") && page.contains("order-1"));
    assert!(page.contains(&format!("action=\"{link}/pay\"")));
    let resp = env.press(&format!("{link}/pay")).await;
    assert_eq!(resp.status(), 303);
    let back = "https://shop.example/ok?order_id=order-1&status=paid";
    assert_eq!(resp.headers()["location"], back);

    let webhooks = env.inbox.take();
    assert_eq!(webhooks.len(), 1, "the webhook is sent before the redirect");
    let w = &webhooks[0];
    let keys = "eventScope eventName id status amount reference currency";
    let expected = json!({
        "eventScope": "single-payments", "eventName": "status-update", "id": id,
        "status": "paid", "amount": "12.99", "reference": "order-1", "currency": "GBP",
    });
    assert_eq!(pick(w, keys), expected);
    let content_type = Some("application/json".to_string());
    let body = serde_json::to_vec(w).unwrap();
    let callback = CallbackRequest {
        content_type,
        query: None,
        body,
    };
    let subject = env.fena.authenticate_callback(&callback).unwrap();
    assert_matches!(subject, CallbackSubject::Payment { payment_id } if *payment_id == id);
    let fetched = env.fena.fetch(&id).await.unwrap();
    assert_eq!(fetched.state.status, Accepted);
    assert_eq!(fetched.amount, Some(money(1299, "GBP")));
    assert_eq!(fetched.shop_transaction_id.as_deref(), Some("order-1"));

    assert_eq!(env.refund(&id, 500).await, RefundOutcome::Pending);
    let state = env.state(&id).await;
    assert_eq!(state.provider_status, "refund_started");
    assert_eq!(state.action, Action::Refund);
    assert_eq!(
        common::wait_for(&env.inbox, 1).await[0]["status"],
        "refund_started"
    );
    // A second refund waits until the first one is settled.
    assert_matches!(env.refund(&id, 100).await, RefundOutcome::Declined { .. });
    let approve = format!("{}/refund/{id}/approve", env.base);
    assert_eq!(env.press(&approve).await.status(), 200);
    assert_eq!(env.state(&id).await.provider_status, "partial_refund");
    assert_eq!(env.inbox.take()[0]["status"], "partial_refund");

    let over = env.refund(&id, 800).await;
    assert_matches!(over, RefundOutcome::Declined { message } if message.contains("7.99"));
    assert_eq!(env.refund(&id, 799).await, RefundOutcome::Pending);
    common::wait_for(&env.inbox, 1).await;
    env.press(&approve).await;
    assert_eq!(env.state(&id).await.provider_status, "refunded");
}

#[tokio::test]
async fn payer_can_reject_retry_and_cancel() {
    let env = start().await;
    // The adapter sends the shopTransactionId as the description, shown (escaped) on the page.
    let (id, link) = env.pay(r#"<b>"x"</b>"#, 500, None).await;
    let page = env.page(&link).await;
    assert!(page.contains("&lt;b&gt;&quot;x&quot;&lt;/b&gt;") && !page.contains("<b>"));
    let resp = env.press(&format!("{link}/reject")).await;
    assert_eq!(resp.status(), 200, "no redirect URL: a done page");
    assert!(resp.text().await.unwrap().contains("rejected"));
    let state = env.state(&id).await;
    assert_eq!(state.status, Failed);
    assert!(!state.is_final);
    // Fena lets the payer retry a rejected payment.
    env.press(&format!("{link}/pay")).await;
    assert_eq!(env.state(&id).await.provider_status, "paid");
    assert_eq!(env.press(&format!("{link}/cancel")).await.status(), 409);

    let (id, link) = env.pay("order-3", 500, None).await;
    env.press(&format!("{link}/cancel")).await;
    assert_eq!(env.state(&id).await.provider_status, "cancelled");
    let webhooks = env.inbox.take();
    let statuses: Vec<_> = webhooks.iter().map(|w| w["status"].clone()).collect();
    assert_eq!(statuses, ["rejected", "paid", "cancelled"]);
    assert_matches!(env.refund(&id, 500).await, RefundOutcome::Declined { .. });
}

#[tokio::test]
async fn refusals_are_the_ones_fena_gives() {
    let env = start().await;
    let wrong = adapter(&env.base, "not-the-secret");
    let refused = wrong.pay(&order("order-4", 100, None)).await;
    assert_matches!(refused, Err(ProviderError::Misconfigured(_)));
    let (id, _) = env.pay("order-4", 100, None).await;
    let refused = wrong.fetch(&id).await;
    assert_matches!(refused, Err(ProviderError::Misconfigured(_)));
    let url = format!("{}/open/payments/single/{id}", env.base);
    let anonymous = env.http.get(url).send().await.unwrap();
    assert_eq!(anonymous.status(), 401);
    let answer: Value = anonymous.json().await.unwrap();
    assert_eq!(answer, json!({"message": "Unauthorized"}));
    let unknown = env.fena.fetch("62b48c5b6ba2cd6a040b20a8").await;
    assert_matches!(unknown, Err(ProviderError::NotFound(_)));

    let too_small = "Amount cannot be empty or less than 0.01";
    let too_long = "Reference cannot be greater than 12 characters";
    let bad_chars = "Reference must contain only letters, numbers and dashes";
    for (reference, amount, message) in [
        ("r1", Some("1.5"), "Number must be 2 decimal places"),
        ("r1", Some("0.00"), too_small),
        ("r1", None, too_small),
        ("abcdefghijklm", Some("1.00"), too_long),
        ("a_b", Some("1.00"), bad_chars),
    ] {
        let body = json!({"reference": reference, "amount": amount});
        let path = "open/payments/single/create-and-process";
        let answer = env.call(Method::POST, path, body).await;
        assert_eq!(answer, (400, json!({"message": message})));
    }
}

#[tokio::test]
async fn fault_rules_fail_slow_down_drop_and_lose_webhooks() {
    let env = start().await;
    let fault = |rule: Value| env.call(Method::POST, "_sim/faults", rule);
    let rule = json!({"operation": "create", "status": 503, "count": 1});
    assert_eq!(fault(rule).await.0, 201);
    let failed = env.fena.pay(&order("order-5", 100, None)).await;
    assert_matches!(failed, Err(ProviderError::Unavailable(_)));
    let (id, link) = env.pay("order-5", 100, None).await;

    // The adapter gives up after 500 ms.
    testing::assert_late_and_dropped_answers("get", fault, || env.fena.fetch(&id)).await;
    fault(json!({"operation": "get", "latencyMs": 50})).await;
    assert_eq!(env.state(&id).await.provider_status, "sent");
    let (_, rules) = env.call(Method::GET, "_sim/faults", Value::Null).await;
    assert_eq!(rules["faults"].as_array().unwrap().len(), 1);
    env.call(Method::DELETE, "_sim/faults", Value::Null).await;

    fault(json!({"operation": "webhook", "drop": true, "count": 1})).await;
    env.press(&format!("{link}/pay")).await;
    assert!(env.inbox.take().is_empty(), "the webhook was lost");
    let path = format!("_sim/payments/{id}/callback");
    let replay = env.call(Method::POST, &path, json!({})).await;
    assert_eq!(replay.1, json!({"requested": 1, "delivered": 1}));
    assert_eq!(env.inbox.take()[0]["status"], "paid");

    for bad in [
        json!({"operation": "teleport", "status": 503}),
        json!({"operation": "get", "status": 503, "drop": true}),
    ] {
        assert_eq!(fault(bad).await.0, 400);
    }
}

#[tokio::test]
async fn control_api_sets_states_and_replays_webhooks() {
    let env = &start().await;
    let (id, _) = env.pay("order-6", 250, None).await;
    let control =
        |path: String, body: Value| async move { env.call(Method::POST, &path, body).await };
    let state = format!("_sim/payments/{id}/state");
    let paid = json!({"status": "paid", "callback": true});
    let (_, view) = control(state.clone(), paid).await;
    let expected = json!({"status": "paid", "kind": "single"});
    assert_eq!(pick(&view, "status kind"), expected);
    assert_eq!(env.inbox.take()[0]["status"], "paid");

    // Out of order and duplicated: the body claims `sent`, the stored state stays `paid`.
    let replay = json!({"status": "sent", "times": 3});
    let (_, answer) = control(format!("_sim/payments/{id}/callback"), replay).await;
    assert_eq!(answer, json!({"requested": 3, "delivered": 3}));
    let webhooks = env.inbox.take();
    assert_eq!(webhooks.len(), 3);
    let claimed = |w: &Value| w["status"] == "sent" && w["id"] == id.as_str();
    assert!(webhooks.iter().all(claimed));
    assert_eq!(env.state(&id).await.provider_status, "paid");

    control(state, json!({"status": "refund-started"})).await;
    assert_eq!(env.state(&id).await.action, Action::Refund);
    assert!(env.inbox.take().is_empty(), "no callback unless asked");
    let unknown = json!({"status": "paid"});
    assert_eq!(
        control("_sim/payments/x/state".into(), unknown).await.0,
        404
    );

    let (_, list) = env.call(Method::GET, "_sim/payments", Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["amount"], "2.50");
    assert_eq!(control("_sim/reset".into(), Value::Null).await.0, 204);
    let forgotten = env.fena.fetch(&id).await;
    assert_matches!(forgotten, Err(ProviderError::NotFound(_)));
}

#[tokio::test]
async fn standing_orders_can_be_cancelled_only_before_set_up() {
    let env = &start().await;
    let body = |reference: &str| {
        json!({
            "reference": reference, "recurringAmount": "9.99", "frequency": "one_month",
            "recurringPaymentDate": "2030-01-07T00:00:00Z", "numberOfPayments": 12,
            "customerName": "Ann", "customerEmail": "ann@example.com",
        })
    };
    let post = |path: String, b: Value| async move { env.call(Method::POST, &path, b).await };
    let create = |b: Value| post("open/payments/recurring/create-and-process".into(), b);
    let (status, created) = create(body("sub-1")).await;
    assert_eq!(status, 201);
    assert_eq!(created["created"], true);
    let r = &created["result"];
    let expected = json!({"status": "sent", "invoiceRefNumber": "sub-1"});
    assert_eq!(pick(r, "status invoiceRefNumber"), expected);
    let id = r["id"].as_str().unwrap();
    assert_eq!(r["link"], format!("{}/recurring/{id}", env.base));
    let deleted = post(format!("open/payments/recurring/{id}/delete"), Value::Null).await;
    assert_eq!(deleted, (200, json!({"deleted": true})));
    assert_eq!(
        common::wait_for(&env.inbox, 1).await[0]["status"],
        "cancelled"
    );

    let (_, created) = create(body("sub-2")).await;
    let id = created["result"]["id"].as_str().unwrap().to_string();
    let page = env.page(&format!("{}/recurring/{id}", env.base)).await;
    assert!(page.contains("Set up standing order") && page.contains("9.99 GBP"));
    let setup = format!("{}/recurring/{id}/setup", env.base);
    assert_eq!(env.press(&setup).await.status(), 200);
    let keys = "eventScope eventName status";
    let webhooks: Vec<_> = env.inbox.take().iter().map(|w| pick(w, keys)).collect();
    let event =
        |name| json!({"eventScope": "recurring-payments", "eventName": name, "status": "active"});
    assert_eq!(webhooks, [event("status-update"), event("payment_made")]);
    let path = format!("open/payments/recurring/{id}");
    let (_, fetched) = env.call(Method::GET, &path, Value::Null).await;
    let tx = &fetched["data"]["transactions"][0];
    let expected = json!({"status": "completed", "amount": "9.99"});
    assert_eq!(pick(tx, "status amount"), expected);
    let delete = format!("open/payments/recurring/{id}/delete");
    let (status, refused) = post(delete, Value::Null).await;
    assert_eq!(status, 400);
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("only be cancelled by the payer"));

    let mut two_weeks = body("sub-3");
    two_weeks["frequency"] = json!("two_weeks");
    assert_eq!(create(two_weeks).await.0, 400);

    // Editing is possible only while a draft or overdue; the initial payment is its own item.
    let mut with_initial = body("sub-4");
    with_initial["initialPaymentAmount"] = json!("5.00");
    let (_, created) = create(with_initial).await;
    let r = &created["result"];
    assert_eq!(r["initialPayment"]["status"], "sent");
    let id = r["id"].as_str().unwrap().to_string();
    let edit = format!("open/payments/recurring/{id}/edit");
    assert_eq!(post(edit.clone(), body("sub-4")).await.0, 400);
    let overdue = json!({"status": "overdue"});
    post(format!("_sim/payments/{id}/state"), overdue).await;
    let mut cheaper = body("sub-4");
    cheaper["recurringAmount"] = json!("7.50");
    let (status, edited) = post(edit, cheaper).await;
    assert_eq!(status, 200);
    let expected = json!({"recurringAmount": "7.50", "status": "overdue"});
    assert_eq!(pick(&edited["result"], "recurringAmount status"), expected);
}

#[tokio::test]
async fn the_payer_page_reads_well_on_a_phone() {
    let env = start().await;
    let (id, link) = env.pay("order-9", 1299, None).await;
    let page = env.page(&link).await;
    testing::assert_payer_page(&page, "Simulated Fena", "12.99 GBP");
    assert!(
        page.contains(r#"<dd id="reference">order-9</dd>"#),
        "{page}"
    );
    // The status in words, with Fena's own word aside.
    assert!(page.contains(r#"<dd id="status-label">Waiting for the payer <small class="code">(<span id="status">sent</span>)</small></dd>"#), "{page}");
    env.press(&format!("{link}/pay")).await;
    let page = env.page(&link).await;
    assert!(page.contains(">Paid <small"), "{page}");
    assert_eq!(env.state(&id).await.provider_status, "paid");
}

#[tokio::test]
async fn the_control_api_has_an_index() {
    let env = start().await;
    let index = testing::control_index(&env.base, "Simulated Fena").await;
    let paths: Vec<&str> = index["routes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["path"].as_str().unwrap())
        .collect();
    for path in [
        "/_sim/payments",
        "/_sim/payments/{id}/state",
        "/_sim/payments/{id}/callback",
        "/_sim/faults",
        "/_sim/reset",
    ] {
        assert!(paths.contains(&path), "{path} missing from {paths:?}");
    }
    let operations = index["faults"]["operations"].as_array().unwrap();
    for operation in ["create", "get", "refund", "webhook"] {
        assert!(operations.contains(&json!(operation)), "{operations:?}");
    }
    assert_eq!(index["statuses"]["paid"], "Paid");
}

#[tokio::test]
async fn a_draft_has_no_link_until_processed_and_resuming_answers_the_same_payment() {
    let env = start().await;
    let o = order("order-2p", 1299, None);
    let PreparedPay::Handle(draft) = env.fena.prepare_pay(&o).await.unwrap() else {
        panic!("two-phase is the default");
    };
    let (s, b) = env
        .call(
            Method::GET,
            &format!("open/payments/single/{draft}"),
            Value::Null,
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["status"], "draft");
    assert!(b["data"].get("link").is_none(), "a draft has no link: {b}");
    // Resuming a draft nobody processed processes it.
    let PayOutcome::Created(first) = env.fena.resume_pay(&o, &draft, false).await.unwrap() else {
        panic!("the draft was not processed");
    };
    assert_eq!(first.payment_id, draft);
    assert_eq!(first.state.provider_status, "sent");
    // Resuming it again (fresh or not) answers the same payment and link.
    for fresh in [false, true] {
        let PayOutcome::Created(again) = env.fena.resume_pay(&o, &draft, fresh).await.unwrap()
        else {
            panic!("the processed payment was not answered");
        };
        assert_eq!(again.payment_id, draft);
        assert_eq!(again.redirect, first.redirect);
    }
    let (_, payments) = env.call(Method::GET, "_sim/payments", Value::Null).await;
    assert_eq!(payments.as_array().unwrap().len(), 1, "{payments}");
}

/// Each key is a company of its own: the adapter of one merchant account cannot see, refund
/// or process another's payment (404, as Fena answers for an id it does not know).
#[tokio::test]
async fn a_key_sees_only_its_own_companys_payments() {
    use payrouter_fena::sim::SimKey;
    let (base, _) = common::serve_simulator(|base| {
        Simulator::with_keys(
            SimConfig {
                terminal_id: TERMINAL_ID.into(),
                terminal_secret: SECRET.into(),
                public_base_url: base.into(),
                webhook_url: "http://127.0.0.1:9/v3/fena/callback".into(),
            },
            [SimKey {
                terminal_id: "other-terminal".into(),
                terminal_secret: "other-secret".into(),
            }],
        )
    })
    .await;
    let other = adapter_of(&base, "other-terminal", "other-secret");
    let ours = adapter(&base, SECRET);

    let PayOutcome::Created(created) = ours.pay(&order("order-1", 1299, None)).await.unwrap()
    else {
        panic!("not created");
    };
    let id = created.payment_id;
    assert_eq!(ours.fetch(&id).await.unwrap().payment_id, id);
    assert_matches!(other.fetch(&id).await, Err(ProviderError::NotFound(_)));
    let refund = RefundOrder {
        payment_id: id.clone(),
        amount: money(1299, "GBP"),
        provider_data: Map::new(),
    };
    assert_matches!(
        other.refund(&refund).await,
        Ok(RefundOutcome::Declined { message }) if message.contains("Payment not found")
    );
    assert_eq!(ours.fetch(&id).await.unwrap().state.status, Pending);
    // A key the simulator does not know is refused as Fena refuses it.
    let stranger = adapter(&base, "not-a-secret");
    assert!(stranger.fetch(&id).await.is_err());
}
