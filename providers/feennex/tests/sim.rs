//! The real Feennex adapter against the offline simulator over real HTTP: the payer's journey
//! with signed callbacks the adapter verifies, error codes, the POST-redirect payway, Python
//! number semantics, fault rules and the control API. Needs `--features sim`.
#![cfg(feature = "sim")]

use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use payrouter_feennex::sim::{SimConfig, Simulator};
use payrouter_feennex::{sign, transform, Feennex, Settings};
use payrouter_provider::assert_matches;
use payrouter_provider::testing::{self, Inbox};
use payrouter_provider::PaymentStatusKind::{Accepted, Failed, Pending};
use payrouter_provider::{
    CallbackError, CallbackRequest, CallbackSubject, CreatedPayment, Currency, Money, PayOrder,
    PayOutcome, PaymentTag, Provider, ProviderContext, ProviderError, ProviderFactory,
    ProviderState, QuoteOrder, QuoteOutcome, ReceiptFile, ReceiptOutcome, ReceiptReview, Redirect,
    SecretString,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

use payrouter_feennex::sign::vectors::SECRET;

async fn receive(
    State(inbox): State<Inbox<CallbackRequest>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> &'static str {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    let content_type = content_type.map(str::to_string);
    let body = body.to_vec();
    let callback = CallbackRequest {
        content_type,
        query: None,
        body,
    };
    inbox.push(callback);
    "OK"
}

/// A callback's form fields.
fn fields(callback: &CallbackRequest) -> HashMap<String, String> {
    form_urlencoded::parse(&callback.body)
        .into_owned()
        .collect()
}

struct Env {
    base: String,
    inbox: Inbox<CallbackRequest>,
    feennex: Arc<dyn Provider>,
    receiver: String,
    http: reqwest::Client,
}

/// The adapter of shop `shop_id`; with `tag_secret` (`PAYMENT_TAG_SECRET`) it tags invoices.
fn adapter(
    base: &str,
    receiver: &str,
    shop_id: &str,
    secret: &str,
    tag_secret: Option<&str>,
) -> Arc<dyn Provider> {
    let settings = json!({
        "base_url": base, "shop_id": shop_id, "secret_key": secret, "payway": "card_usd",
        "connect_timeout_ms": 1000, "timeout_ms": 500,
    });
    let settings: Settings = serde_json::from_value(settings).unwrap();
    let public_base_url = Some(receiver.to_string());
    Feennex::build(
        settings,
        &ProviderContext {
            public_base_url,
            route_timeout: None,
            payment_tag_secret: tag_secret.map(SecretString::from),
        },
    )
    .unwrap()
}

async fn start() -> Env {
    let inbox = Inbox::default();
    let app = Router::new()
        .route("/v3/feennex/callback", post(receive))
        .with_state(inbox.clone());
    let (listener, receiver) = testing::loopback().await;
    testing::serve(listener, app);
    // The simulator's own URL must be known before it is built: bind first, then serve.
    let (listener, url) = testing::loopback().await;
    let base = format!("{url}/feennex");
    let secret_key = SECRET.to_string();
    let public_base_url = base.clone();
    let sim = Simulator::new(SimConfig {
        shop_id: 5,
        secret_key,
        public_base_url,
    });
    testing::serve(listener, Router::new().nest("/feennex", sim.router()));
    let feennex = adapter(&base, &receiver, "5", SECRET, None);
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
    let http = http.build().unwrap();
    Env {
        base,
        inbox,
        feennex,
        receiver,
        http,
    }
}

fn order(shop_order_id: &str, minor: i64, payway: &str) -> PayOrder {
    let data = json!({"email": "payer@example.com", "payway": payway, "description": "Order <7>"});
    PayOrder {
        amount: Money::new(minor, Currency::from_code("USD").unwrap()),
        shop_transaction_id: shop_order_id.into(),
        success_redirect_url: Some("https://shop.example/ok".into()),
        failure_redirect_url: Some("https://shop.example/ko".into()),
        provider_data: data.as_object().cloned().unwrap(),
        provider_order_id: None,
    }
}

impl Env {
    /// Pays through the adapter: (payment id, redirect).
    async fn pay(&self, shop_order_id: &str, minor: i64, payway: &str) -> (String, Redirect) {
        let created = self.created(shop_order_id, minor, payway).await;
        (created.payment_id, created.redirect)
    }

    /// Pays through the adapter: the invoice it created.
    async fn created(&self, shop_order_id: &str, minor: i64, payway: &str) -> CreatedPayment {
        created_by(&*self.feennex, &order(shop_order_id, minor, payway)).await
    }

    async fn declined(&self, order: PayOrder) -> String {
        let outcome = self.feennex.pay(&order).await.unwrap();
        let PayOutcome::Declined { message } = outcome else {
            panic!("expected a refusal, got {outcome:?}");
        };
        message
    }

    async fn state(&self, payment_id: &str) -> ProviderState {
        self.feennex.fetch(payment_id).await.unwrap().state
    }

    /// Presses a payer-page button (a form POST).
    async fn page(&self, url: &str) -> String {
        let resp = self.http.get(url).send().await.unwrap();
        resp.text().await.unwrap()
    }

    async fn press(&self, url: String) -> reqwest::Response {
        self.http.post(url).send().await.unwrap()
    }

    /// A JSON request to the simulator; an answer that is not JSON reads as null.
    async fn call(&self, method: Method, path: &str, body: Value) -> (u16, Value) {
        let url = format!("{}/{path}", self.base);
        let resp = self.http.request(method, url).json(&body).send().await;
        let resp = resp.unwrap();
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }

    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, body).await
    }
}

/// The invoice `feennex` created for `order`.
async fn created_by(feennex: &dyn Provider, order: &PayOrder) -> CreatedPayment {
    let outcome = feennex.pay(order).await;
    let PayOutcome::Created(created) = outcome.unwrap() else {
        panic!("the invoice was not created");
    };
    created
}

fn url_of(redirect: Redirect) -> String {
    let Redirect::Get { url } = redirect else {
        panic!("expected a GET redirect, got {redirect:?}");
    };
    url
}

#[tokio::test]
async fn payer_pays_and_the_signed_callback_verifies() {
    let env = start().await;
    let (payment_id, redirect) = env.pay("4126", 1234, "card_usd").await;
    let url = url_of(redirect);
    assert_eq!(url, format!("{}/pay/1", env.base));
    let state = env.state(&payment_id).await;
    assert_eq!(
        (state.provider_status.as_str(), state.status),
        ("2", Pending)
    );

    let page = env.http.get(&url).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains("12.34 USD") && page.contains("Order &lt;7&gt;"),
        "{page}"
    );
    let resp = env.press(format!("{url}/pay")).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()["location"], "https://shop.example/ok");

    let callbacks = env.inbox.take();
    assert_eq!(
        callbacks.len(),
        1,
        "the callback is sent before the redirect"
    );
    let callback = &callbacks[0];
    let form = "application/x-www-form-urlencoded";
    assert_eq!(callback.content_type.as_deref(), Some(form));
    let subject = env.feennex.authenticate_callback(callback).unwrap();
    assert_matches!(subject, CallbackSubject::Payment { payment_id: p } if *p == payment_id);
    let f = fields(callback);
    let field = |k: &str| f[k].as_str();
    assert_eq!(
        (field("status"), field("shop_amount")),
        ("success", "12.34")
    );
    assert_eq!(
        (field("shop_order_id"), field("shop_currency")),
        ("4126", "840")
    );
    assert_eq!((field("payment_id"), field("shop_id")), ("1", "5"));
    assert!(serde_json::from_str::<Value>(&f["ps_data"]).is_ok());

    // One changed byte and the adapter refuses it.
    let mut forged = callback.clone();
    let body = String::from_utf8(forged.body).unwrap();
    forged.body = body.replace("12.34", "99.99").into_bytes();
    let refused = env.feennex.authenticate_callback(&forged);
    assert_matches!(refused, Err(CallbackError::Unauthenticated(_)));

    let fetched = env.feennex.fetch(&payment_id).await.unwrap();
    let status = fetched.state.provider_status.as_str();
    assert_eq!((status, fetched.state.status), ("4", Accepted));
    assert_eq!(fetched.amount.map(|m| m.minor), Some(1234));
    let again = env.press(format!("{url}/reject")).await;
    assert_eq!(again.status(), 409, "a final invoice stays final");
}

/// With `PAYMENT_TAG_SECRET`, the description carries the payment tag; the simulator gives it
/// back in invoice/check and in the signed callback, and only tagged invoices are the router's.
#[tokio::test]
async fn only_invoices_carrying_the_payment_tag_are_the_routers() {
    const TAG_SECRET: &str = "tag-secret";
    let env = start().await;
    let tagged = adapter(&env.base, &env.receiver, "5", SECRET, Some(TAG_SECRET));
    let own = order("own-1", 1234, "card_usd");
    let created = created_by(&*tagged, &own).await;
    let tags = PaymentTag::new(SecretString::from(TAG_SECRET));
    let description = format!("Order <7> [pr:{}]", tags.tag("own-1"));
    let resp = env.press(format!("{}/pay", url_of(created.redirect))).await;
    assert_eq!(resp.status(), 303);
    let callback = &env.inbox.take()[0];
    assert_eq!(fields(callback)["description"], description);
    let subject = tagged.authenticate_callback(callback);
    assert!(
        subject.is_ok(),
        "the description is signed with the rest: {subject:?}"
    );
    let fetched = tagged.fetch(&created.payment_id).await.unwrap();
    assert_eq!(fetched.shop_transaction_id.as_deref(), Some("own-1"));
    let (_, listed) = env.call(Method::GET, "_sim/payments", Value::Null).await;
    assert_eq!(listed[0]["description"], description, "{listed}");

    // An invoice of the same shop made without the tag (another system's) is not the router's.
    let (foreign, _) = env.pay("other-1", 1234, "card_usd").await;
    let fetched = tagged.fetch(&foreign).await.unwrap();
    assert_eq!(fetched.shop_transaction_id, None);
    let untagged = env.feennex.fetch(&foreign).await.unwrap();
    let untagged = untagged.shop_transaction_id;
    assert_eq!(untagged.as_deref(), Some("other-1"), "without tags any is");
    // A retry does not answer it as the router's payment: invoice/create refuses the id.
    let other = order("other-1", 1234, "card_usd");
    let retried = tagged.resume_pay(&other, "other-1", false).await.unwrap();
    assert_matches!(retried, PayOutcome::Declined { message } if message.contains("not unique"));
    let retried = tagged.resume_pay(&own, "own-1", false).await.unwrap();
    let own_id = &created.payment_id;
    assert_matches!(retried, PayOutcome::Existing(f) if f.payment_id == *own_id);
}

#[tokio::test]
async fn payer_rejects_and_amounts_are_written_as_feennex_writes_them() {
    let env = start().await;
    let (payment_id, redirect) = env.pay("order-1", 100, "card_usd").await;
    let resp = env.press(format!("{}/reject", url_of(redirect))).await;
    assert_eq!(resp.headers()["location"], "https://shop.example/ko");
    let callback = &env.inbox.take()[0];
    let f = fields(callback);
    let status_and_amount = (f["status"].as_str(), f["shop_amount"].as_str());
    assert_eq!(status_and_amount, ("rejected", "1.0"));
    assert!(env.feennex.authenticate_callback(callback).is_ok());
    let state = env.state(&payment_id).await;
    assert_eq!(
        (state.provider_status.as_str(), state.status),
        ("6", Failed)
    );
}

#[tokio::test]
async fn error_codes_reach_the_adapter_as_feennex_sends_them() {
    let env = start().await;
    let wrong_key = adapter(&env.base, &env.receiver, "5", "NotTheKey", None);
    let wrong_shop = adapter(&env.base, &env.receiver, "6", SECRET, None);
    for wrong in [&wrong_key, &wrong_shop] {
        let refused = wrong.pay(&order("o-1", 500, "card_usd")).await;
        assert_matches!(refused, Err(ProviderError::Misconfigured(_)));
    }
    let (payment_id, _) = env.pay("o-1", 500, "card_usd").await;
    let refused = wrong_key.fetch(&payment_id).await;
    assert_matches!(refused, Err(ProviderError::Misconfigured(_)));

    let too_small = env.declined(order("o-2", 50, "card_usd")).await;
    assert!(too_small.contains("min: 1.0"), "{too_small}");
    let too_large = env.declined(order("o-2", 10_000_001, "card_usd")).await;
    assert!(too_large.contains("max: 100000.0"), "{too_large}");
    let payway = env.declined(order("o-2", 500, "card_xyz")).await;
    let expected = "Payway (alias = card_xyz) is not available for shop";
    assert!(payway.contains(expected), "{payway}");
    let duplicate = env.declined(order("o-1", 500, "card_usd")).await;
    assert!(duplicate.contains("Operation is not unique"), "{duplicate}");
    let unknown = transform::payment_id_for("never-sent");
    let unknown = env.feennex.fetch(&unknown).await;
    assert_matches!(unknown, Err(ProviderError::NotFound(_)));

    let (status, refusal) = env.post("invoice/create", json!({"shop_id": 5})).await;
    assert_eq!(status, 200, "Feennex refuses with HTTP 200");
    let keys = (&refusal["result"], &refusal["error_code"], &refusal["data"]);
    assert_eq!(keys, (&json!(false), &json!(10), &Value::Null));
}

#[tokio::test]
async fn post_redirect_payways_reach_the_page_by_form() {
    let env = start().await;
    let (_, redirect) = env.pay("post-1", 2500, "card_post_usd").await;
    let Redirect::Post { url, fields } = redirect else {
        panic!("expected a POST redirect, got {redirect:?}");
    };
    assert_eq!(url, format!("{}/pay-form", env.base));
    let expected = [("invoice_id", "1"), ("lang", "en")].map(|(k, v)| (k.into(), v.into()));
    assert_eq!(fields, expected);
    let page = env.http.post(&url).form(&fields).send().await.unwrap();
    let page = page.text().await.unwrap();
    assert!(page.contains("25.00 USD"), "{page}");
    assert!(page.contains(&format!("action=\"{}/pay/1/pay\"", env.base)));
}

#[tokio::test]
async fn numbers_are_signed_as_python_reads_them() {
    let env = start().await;
    let secret = SecretString::from(SECRET);
    let create = |signed_amount: &str| {
        let signed = [
            ("amount", signed_amount),
            ("currency", "840"),
            ("payway", "card_usd"),
            ("shop_id", "5"),
            ("shop_order_id", "n-1"),
        ];
        let sign = sign::sign(&signed, &secret);
        // Written by hand: the raw number token 12.30 is what is under test.
        let body = format!(
            r#"{{"amount":12.30,"currency":840,"payway":"card_usd","shop_id":5,
            "shop_order_id":"n-1","sign":"{sign}","email":"p@example.com"}}"#
        );
        let url = format!("{}/invoice/create", env.base);
        let req = env
            .http
            .post(url)
            .header("content-type", "application/json");
        req.body(body).send()
    };
    let refused: Value = create("12.30").await.unwrap().json().await.unwrap();
    let code_and_message = (&refused["error_code"], &refused["message"]);
    assert_eq!(code_and_message, (&json!(10), &json!("Invalid sign")));
    let created: Value = create("12.3").await.unwrap().json().await.unwrap();
    assert_eq!(created["result"], true, "{created}");

    let now = "2024-04-12T06:18:34";
    let signed = [("now", now), ("shop_id", "5"), ("shop_order_id", "n-1")];
    let sign = sign::sign(&signed, &secret);
    let check = json!({"now": now, "shop_id": 5, "shop_order_id": "n-1", "sign": sign});
    let url = format!("{}/invoice/check", env.base);
    let answer = env.http.post(url).json(&check).send().await.unwrap();
    let text = answer.text().await.unwrap();
    assert!(text.contains(r#""shop_amount":12.3,"#), "{text}");
    assert!(text.contains(r#""status":2"#), "{text}");
}

#[tokio::test]
async fn fault_rules_fail_slow_down_drop_and_lose_callbacks() {
    let env = start().await;
    let fault = |rule: Value| env.post("_sim/faults", rule);
    let rule = json!({"operation": "create", "status": 503, "count": 1});
    assert_eq!(fault(rule).await.0, 201);
    let failed = env.feennex.pay(&order("f-1", 500, "card_usd")).await;
    assert_matches!(failed, Err(ProviderError::Unavailable(_)));
    let (payment_id, redirect) = env.pay("f-1", 500, "card_usd").await;

    // The adapter gives up after 500 ms.
    let check = || env.feennex.fetch(&payment_id);
    testing::assert_late_and_dropped_answers("check", fault, check).await;
    assert_eq!(env.state(&payment_id).await.provider_status, "2");

    fault(json!({"operation": "callback", "drop": true, "count": 1})).await;
    env.press(format!("{}/pay", url_of(redirect))).await;
    assert!(env.inbox.take().is_empty(), "the callback was lost");
    let (_, replay) = env.post("_sim/payments/1/callback", json!({})).await;
    assert_eq!(replay, json!({"requested": 1, "delivered": 1}));
    let replayed = &env.inbox.take()[0];
    assert!(env.feennex.authenticate_callback(replayed).is_ok());
    let unknown = json!({"operation": "refund", "status": 503});
    assert_eq!(fault(unknown).await.0, 400, "Feennex has no refund call");
}

#[tokio::test]
async fn control_api_sets_states_and_replays_callbacks() {
    let env = start().await;
    let (payment_id, _) = env.pay("c-1", 1234, "card_usd").await;
    let success = json!({"status": 4, "callback": true});
    let (_, view) = env.post("_sim/payments/1/state", success).await;
    assert_eq!(
        (&view["status"], &view["payment_id"]),
        (&json!(4), &json!(1))
    );
    assert_eq!(fields(&env.inbox.take()[0])["status"], "success");

    // Out of order and duplicated: the bodies claim `rejected`, the stored state stays 4.
    let replay = json!({"status": 6, "times": 2});
    let (_, answer) = env.post("_sim/payments/c-1/callback", replay).await;
    assert_eq!(answer, json!({"requested": 2, "delivered": 2}));
    let callbacks = env.inbox.take();
    assert_eq!(callbacks.len(), 2);
    for callback in &callbacks {
        assert_eq!(fields(callback)["status"], "rejected");
        assert!(env.feennex.authenticate_callback(callback).is_ok());
    }
    assert_eq!(env.state(&payment_id).await.provider_status, "4");

    // Recalculated: the payer paid 10.00 of 12.34.
    let (payment_id, _) = env.pay("c-2", 1234, "card_usd").await;
    let recalculated = json!({"status": 12, "clientPrice": "10.00", "callback": true});
    env.post("_sim/payments/2/state", recalculated).await;
    let f = fields(&env.inbox.take()[0]);
    let amounts = (
        f["client_price"].as_str(),
        f["shop_original_amount"].as_str(),
    );
    assert_eq!(
        (f["status"].as_str(), amounts),
        ("recalculated", ("10.0", "12.34"))
    );
    let state = env.state(&payment_id).await;
    assert_eq!(
        (state.provider_status.as_str(), state.status),
        ("12", Failed)
    );
    let requested = state.metadata["requestedAmount"].as_i64();
    assert_eq!(
        (requested, state.metadata["paidAmount"].as_i64()),
        (Some(1234), Some(1000))
    );

    let (_, list) = env.call(Method::GET, "_sim/payments", Value::Null).await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    let unknown = env
        .post("_sim/payments/9/state", json!({"status": 4}))
        .await;
    assert_eq!(unknown.0, 404);
    assert_eq!(env.post("_sim/reset", Value::Null).await.0, 204);
    let forgotten = env.feennex.fetch(&payment_id).await;
    assert_matches!(forgotten, Err(ProviderError::NotFound(_)));
}

#[tokio::test]
async fn the_payer_page_reads_well_on_a_phone() {
    let env = start().await;
    let (_, redirect) = env.pay("order-9", 1299, "card_usd").await;
    let url = url_of(redirect);
    let page = env.page(&url).await;
    testing::assert_payer_page(&page, "Simulated Feennex", "12.99 USD");
    assert!(page.contains(r#"<dd id="order">order-9</dd>"#), "{page}");
    assert!(page.contains(r#"<dd id="status-label">Waiting for the payer <small class="code">(<span id="status">2</span>)</small></dd>"#), "{page}");
    env.press(format!("{url}/pay")).await;
    let page = env.page(&url).await;
    assert!(
        page.contains(r#"Paid <small class="code">(<span id="status">4</span>)"#),
        "{page}"
    );
}

#[tokio::test]
async fn the_control_api_has_an_index() {
    let env = start().await;
    let index = testing::control_index(&env.base, "Simulated Feennex").await;
    let routes = index["routes"].as_array().unwrap();
    assert!(routes
        .iter()
        .any(|r| r["path"] == "/_sim/payments/{id}/state"
            && r["body"].as_str().unwrap().contains("clientPrice")));
    assert_eq!(
        index["faults"]["operations"],
        json!(["create", "try", "check", "callback"])
    );
    assert_eq!(index["statuses"]["4"], "Paid");
    assert_eq!(index["statuses"]["12"], "Paid a different amount");
}

#[tokio::test]
async fn try_and_receipts_work_end_to_end_through_the_adapter() {
    let env = start().await;
    let quote = QuoteOrder {
        amount: Money::new(1234, Currency::from_code("USD").unwrap()),
        provider_data: json!({"payway": "bank_usd"}).as_object().cloned().unwrap(),
    };
    let QuoteOutcome::Quoted(q) = env.feennex.quote(&quote).await.unwrap() else {
        panic!("not quoted")
    };
    assert_eq!(q.payer_amount.minor, 1272, "3% rounded up, exactly");
    assert_eq!(q.payer_fee.minor, 38);
    assert_eq!(q.required_fields, vec!["email", "phone"]);

    let created = env.created("r-1", 1000, "bank_usd").await;
    let target = env
        .feennex
        .receipt_target(&created.payment_id, &created.extras)
        .unwrap();
    let file = |content_type: &'static str, bytes: &[u8]| ReceiptFile {
        file_name: "receipt".into(),
        content_type,
        bytes: bytes.to_vec(),
    };
    let taken = env
        .feennex
        .upload_receipt(&target, file("image/png", b"\x89PNG...."))
        .await
        .unwrap();
    assert_eq!(taken, ReceiptOutcome::Accepted);
    let refused = env
        .feennex
        .upload_receipt(&target, file("application/zip", b"PK.."))
        .await
        .unwrap();
    assert_eq!(
        refused,
        ReceiptOutcome::Declined {
            message: "Feennex refused the receipt: File type: application/zip not allowed".into()
        }
    );
    let receipts = env.feennex.receipt_status(&target).await.unwrap();
    assert_eq!(receipts.len(), 1);
    assert_eq!(receipts[0].status, ReceiptReview::Pending);

    let card = env.created("r-2", 1000, "card_usd").await;
    assert!(card.extras.is_empty());
}
