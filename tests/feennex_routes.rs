//! The contract's routes for Feennex over real HTTP, with Feennex mocked (signed requests
//! only) and a recording notification receiver. Every scenario runs on the embedded store and
//! on a real Redis.
//!
//! Feennex allows one invoice/check per payment every 10 s. Paying does not poll, so the
//! scenarios let the first invoice/check of a payment happen where they want it; the few that
//! need the window to reopen wait for it once.

mod common;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::feennex_mock::{
    created_post, feennex_sign, pay_url, payment_id_of, refused, tag_mark, tagged, PAYWAY,
    SECRET_KEY, SHOP_ID,
};
use common::pages::unescape;
use common::receiver::Received;
use common::stores::on_both_stores;
use common::*;
use httpmock::Method::POST;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const PUBLIC_BASE_URL: &str = "http://127.0.0.1:1";
const CALLBACK_URL: &str = "http://127.0.0.1:1/v3/feennex/callback";
const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const EMAIL: &str = "payer@example.com";
const OK_URL: &str = "https://shop.example/ok";
const KO_URL: &str = "https://shop.example/ko";

/// The configuration for a router paying through the `feennex` mock and notifying
/// `receiver`.
fn feennex_config(store: Option<&RedisServer>, feennex: &FeennexMock, receiver: &str) -> String {
    let redis = store.map_or(String::new(), |r| format!("redis_url = \"{}\"\n", r.url()));
    let section = feennex.config_section();
    format!(
        r#"{redis}enabled_providers = "feennex"
public_base_url = "{PUBLIC_BASE_URL}"
payment_callback_url = "{receiver}"
notify_retry_initial_ms = 50
notify_retry_max_ms = 200
notify_signing_secret = "{WEBHOOK_SECRET}"
log_level = "warn"

{section}"#
    )
}

struct Env {
    feennex: FeennexMock,
    receiver: Receiver,
    router: TestRouter,
    redis: Option<RedisServer>,
}

async fn env(kind: StoreKind) -> Env {
    let feennex = FeennexMock::start().await;
    let receiver = Receiver::start().await;
    let redis = kind.start_redis().await;
    let router = TestRouter::start(&feennex_config(redis.as_ref(), &feennex, &receiver.url)).await;
    Env {
        feennex,
        receiver,
        router,
        redis,
    }
}

impl Env {
    /// Loses the router's state: FLUSHALL on Redis; on memory, a new router with a fresh store
    /// against the same Feennex and receiver takes the place of the first.
    async fn lose_store(&mut self) {
        match &self.redis {
            Some(redis) => redis.flushall().await,
            None => {
                let toml = feennex_config(None, &self.feennex, &self.receiver.url);
                self.router = TestRouter::start(&toml).await;
            }
        }
    }

    /// The notifications delivered about `payment_id`, in order.
    fn notified(&self, payment_id: &str) -> Vec<Value> {
        self.receiver
            .delivered()
            .iter()
            .map(Received::json)
            .filter(|n| n["paymentId"] == payment_id)
            .collect()
    }

    /// Waits up to `secs` for a notification about `payment_id` with `status`.
    async fn notification(&self, secs: u64, payment_id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let notified = self.notified(payment_id);
            if let Some(n) = notified.iter().find(|n| n["status"] == status) {
                return n.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {status} notification about {payment_id} within {secs} s; received: {notified:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn pay_body(shop_tx: &str, amount: i64, currency: &str) -> Value {
    json!({"amount": amount, "currency": currency, "shopTransactionId": shop_tx,
           "successRedirectUrl": OK_URL, "failureRedirectUrl": KO_URL,
           "providerData": {"email": EMAIL}})
}

/// Creates a USD payment through the router (Feennex answering a GET redirect); returns its
/// paymentId.
async fn create(e: &Env, shop_tx: &str, amount: i64) -> String {
    e.feennex.on_create(shop_tx).await;
    let body = pay_body(shop_tx, amount, "USD");
    let (id, _) = e.router.create_payment("feennex", &body).await;
    assert_eq!(id, payment_id_of(shop_tx));
    id
}

/// `create`s a payment of 12.34 USD, which invoice/check then reports in `status`.
async fn invoice(e: &Env, shop_tx: &str, status: i64) -> String {
    let id = create(e, shop_tx, 1234).await;
    e.feennex.set_check(shop_tx, status, "12.34", 840).await;
    id
}

fn status_path(payment_id: &str) -> String {
    format!("/v3/feennex/status?paymentId={payment_id}")
}

/// The invoice/create body the router must send: the signed keys, the sign over them as sent,
/// the unsigned fields and the callback URLs.
fn expected_create(
    shop_tx: &str,
    amount: &str,
    currency: u16,
    payway: &str,
    unsigned: Value,
) -> Value {
    let currency_text = currency.to_string();
    let shop_id = SHOP_ID.to_string();
    let sign = feennex_sign(&[
        ("amount", amount),
        ("currency", currency_text.as_str()),
        ("payway", payway),
        ("shop_id", shop_id.as_str()),
        ("shop_order_id", shop_tx),
    ]);
    let mut body = json!({
        "amount": amount, "currency": currency, "payway": payway, "shop_id": SHOP_ID,
        "shop_order_id": shop_tx, "sign": sign,
        "success_url": OK_URL, "failed_url": KO_URL,
        "callback_url": CALLBACK_URL, "callback_rejected_url": CALLBACK_URL,
    });
    for (k, v) in unsigned.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// A Feennex notification about `shop_tx` as Feennex posts it (reference §4.1), unsigned.
fn notification(shop_tx: &str, status: &str, amount: &str) -> Vec<(String, String)> {
    [
        ("client_price", amount),
        ("created", "2024-12-03 14:39:02"),
        ("email", EMAIL),
        ("lang", "en"),
        ("payment_id", "33733463"),
        ("payway", PAYWAY),
        ("processed", "2024-12-03 15:47:07"),
        ("ps_currency", "840"),
        (
            "ps_data",
            r#"{"ps_payer_account": "424242XXXXXX4242", "rejected_reason": null}"#,
        ),
        ("shop_amount", amount),
        ("shop_currency", "840"),
        ("shop_id", "5"),
        ("shop_order_id", shop_tx),
        ("shop_refund", amount),
        ("status", status),
        ("user_ip", "1.2.3.4"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// `fields` with the `sign` Feennex computes over them, appended.
fn signed(mut fields: Vec<(String, String)>) -> Vec<(String, String)> {
    let sign = feennex_sign(&fields);
    fields.push(("sign".into(), sign));
    fields
}

fn set(fields: &mut [(String, String)], key: &str, value: &str) {
    let field = fields.iter_mut().find(|(k, _)| k == key).unwrap();
    field.1 = value.to_string();
}

fn form(fields: &[(String, String)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

async fn post_callback_to(router: &TestRouter, content_type: &str, body: String) -> (u16, Value) {
    let resp = router
        .http
        .post(router.url("/v3/feennex/callback"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    read(resp).await
}

async fn post_form(e: &Env, fields: &[(String, String)]) -> (u16, Value) {
    post_callback_to(&e.router, "application/x-www-form-urlencoded", form(fields)).await
}

fn ack() -> (u16, Value) {
    (200, Value::String("OK".into()))
}

/// A refused callback: 4xx, as an ErrorResponse.
fn assert_refused(answer: &(u16, Value), want: u16, what: &str) {
    let (s, b) = answer;
    assert_eq!(*s, want, "{what}: {b}");
    assert_eq!(b["statusCode"], want, "{what}: {b}");
    assert!(b["message"].is_string(), "{what}: {b}");
}

/// `resp` answered `status` with a body of media type `media` (parameters aside).
fn assert_answered(resp: &reqwest::Response, status: u16, media: &str) {
    assert_eq!(resp.status(), status);
    let content_type = resp.headers()["content-type"].to_str().unwrap();
    assert!(content_type.starts_with(media), "{content_type}");
}

fn message(b: &Value) -> &str {
    b["message"].as_str().unwrap_or_else(|| panic!("{b}"))
}

// ---------------------------------------------------------------------------------------------
// 1. pay

async fn pay_sends_the_exact_signed_invoice(kind: StoreKind) {
    let e = env(kind).await;
    let tx = "fx-pay-4126";
    let expected = expected_create(
        tx,
        "12.34",
        840,
        PAYWAY,
        json!({"email": EMAIL, "description": tagged("Order 4126", tx)}),
    );
    let create = e.feennex.on_exact_create(tx, expected).await;
    let mut body = pay_body(tx, 1234, "USD");
    body["providerData"]["description"] = json!("Order 4126");
    let (s, b) = e.router.post("/v3/feennex/pay", &body).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(create.calls_async().await, 1, "the exact signed invoice");
    assert_eq!(b["result"], "REDIRECT_TO_URL");
    assert_eq!(b["redirectToUrl"], pay_url(tx));
    assert!(b["resultDescription"].is_string(), "{b}");
    assert!(b.get("redirectToUrlMobile").is_none(), "{b}");
    let id = b["paymentId"].as_str().unwrap();
    let decoded = URL_SAFE_NO_PAD
        .decode(id)
        .expect("base64url without padding");
    assert_eq!(String::from_utf8(decoded).unwrap(), tx);
    // The same request again: the same answer, no second invoice.
    let (s, again) = e.router.post("/v3/feennex/pay", &body).await;
    assert_eq!((s, &again), (200, &b));
    assert_eq!(create.calls_async().await, 1);
    assert_eq!(e.feennex.checks(tx).await, 0, "paying does not poll");

    // Feennex requires the payer's e-mail: refused before Feennex is called.
    let no_email = e
        .feennex
        .server
        .mock_async(|when, then| {
            when.method(POST).path("/invoice/create");
            then.status(500);
        })
        .await;
    let mut without = pay_body("fx-pay-no-email", 1234, "USD");
    for data in [json!({}), json!({"email": ""}), Value::Null] {
        without["providerData"] = data.clone();
        let (s, b) = e.router.post("/v3/feennex/pay", &without).await;
        assert_eq!(s, 400, "providerData {data}: {b}");
        assert_eq!(b["statusCode"], 400);
        assert!(message(&b).contains("providerData.email"), "{b}");
    }
    assert_eq!(no_email.calls_async().await, 0, "Feennex was not called");
    no_email.delete_async().await;

    // Amounts convert by the currency's exponent; the numeric currency code is sent.
    for (tx, amount, currency, numeric, decimal, payway) in [
        ("fx-pay-eur", 1050, "EUR", 978, "10.50", "card_eur"),
        ("fx-pay-jpy", 500, "JPY", 392, "500.00", "card_jpy"),
        ("fx-pay-gbp", 1, "GBP", 826, "0.01", PAYWAY),
    ] {
        let expected = expected_create(
            tx,
            decimal,
            numeric,
            payway,
            json!({"email": EMAIL, "description": tag_mark(tx)}),
        );
        let mock = e.feennex.on_exact_create(tx, expected).await;
        let mut body = pay_body(tx, amount, currency);
        if payway != PAYWAY {
            body["providerData"]["payway"] = json!(payway);
        }
        let (s, b) = e.router.post("/v3/feennex/pay", &body).await;
        assert_eq!(s, 200, "{currency} {amount}: {b}");
        assert_eq!(b["paymentId"], payment_id_of(tx), "{b}");
        assert_eq!(
            mock.calls_async().await,
            1,
            "{currency} {amount} as {decimal}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 2. Feennex's error codes

async fn error_codes_are_refusals_or_configuration_errors(kind: StoreKind) {
    let e = env(kind).await;
    let pay = |tx: String| {
        let body = pay_body(&tx, 1234, "USD");
        let router = &e.router;
        async move { router.post("/v3/feennex/pay", &body).await }
    };
    // The payer's or the business's refusals: KO with Feennex's message.
    let refusals: &[(i64, &str)] = &[
        (1, "Payway (alias = card_usd) not found"),
        (2, "Payway (alias = card_usd) is not used"),
        (3, "Payway (alias = card_usd) is not available for shop"),
        (4, "Payer price amount is too small, min: 1.0"),
        (5, "Payer price amount is too large, max: 100000.0"),
        (6, "Invoice with shop_order_id=fx-err-6 already exists"),
        (8, "Operation is processing"),
        (
            9,
            "Insufficient balance(currency=840): shop_write_off=500.0, balance=0.0",
        ),
        (
            10,
            "Incorrect values for parameters: email=Not a valid email address",
        ),
        (13, "Account not found"),
        (14, "Incorrect account status"),
        (16, "Invalid currency exchange"),
        (18, "Incorrect account type"),
        (100, "Incorrect operation status"),
    ];
    for (code, text) in refusals {
        let tx = format!("fx-err-{code}");
        e.feennex.on_create_answer(&tx, refused(*code, text)).await;
        let (s, b) = pay(tx).await;
        assert_eq!(s, 200, "error {code}: {b}");
        assert_eq!(b["result"], "KO", "error {code}: {b}");
        let description = b["resultDescription"].as_str().unwrap();
        assert!(description.contains(text), "error {code}: {b}");
        assert!(b.get("paymentId").is_none(), "error {code}: {b}");
        assert!(b.get("redirectToUrl").is_none(), "error {code}: {b}");
    }
    // A refusal without a message still says something.
    e.feennex
        .on_create_answer("fx-err-1-bare", refused(1, ""))
        .await;
    let (s, b) = pay("fx-err-1-bare".into()).await;
    assert_eq!((s, &b["result"]), (200, &json!("KO")), "{b}");
    assert!(
        !b["resultDescription"].as_str().unwrap().trim().is_empty(),
        "{b}"
    );

    // Our configuration is at fault: 502, naming what to check.
    let configuration: &[(i64, String, &str)] = &[
        (
            10,
            format!("Invalid sign, string_to_sign: 12.34:840:card_usd:5:fx-cfg-10{SECRET_KEY}"),
            "FEENNEX_SECRET_KEY",
        ),
        (11, "Shop (id=5) not found".into(), "FEENNEX_SHOP_ID"),
        (12, "Shop (id=5) is not active".into(), "FEENNEX_SHOP_ID"),
        (15, "Shop ip 203.0.113.7 denied".into(), "allowed IPs"),
    ];
    for (code, text, setting) in configuration {
        let tx = format!("fx-cfg-{code}");
        e.feennex.on_create_answer(&tx, refused(*code, text)).await;
        let (s, b) = pay(tx).await;
        assert_eq!(s, 502, "error {code}: {b}");
        assert_eq!(b["statusCode"], 502, "{b}");
        assert_eq!(b["error"], "Bad Gateway", "{b}");
        assert!(message(&b).contains(setting), "error {code}: {b}");
        assert!(!b.to_string().contains(SECRET_KEY), "error {code}: {b}");
        assert!(
            !b.to_string().contains("string_to_sign"),
            "error {code} leaks the string to sign: {b}"
        );
    }

    // Neither a refusal of this payment nor ours to fix by configuration alone: never KO.
    for code in [7, 17, 19, 20, 21, 2000, 4242] {
        let tx = format!("fx-other-{code}");
        e.feennex
            .on_create_answer(&tx, refused(code, "Something went wrong"))
            .await;
        let (s, b) = pay(tx).await;
        assert_eq!(s, 502, "error {code}: {b}");
        assert_eq!(b["statusCode"], 502, "{b}");
        assert!(message(&b).to_ascii_lowercase().contains("feennex"), "{b}");
    }

    // Feennex echoing the secret key never carries it into an answer.
    for (code, tx) in [(4, "fx-leak-4"), (11, "fx-leak-11"), (2000, "fx-leak-2000")] {
        let text = format!("Payer price amount is too small (key={SECRET_KEY})");
        e.feennex.on_create_answer(tx, refused(code, &text)).await;
        let (_, b) = pay(tx.into()).await;
        assert!(!b.to_string().contains(SECRET_KEY), "error {code}: {b}");
    }
    assert!(
        e.receiver.all().is_empty(),
        "a refused payment is not notified"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. POST redirects

/// The `<tag …>` elements of `html` with their attributes, values still HTML-escaped.
fn elements(html: &str, tag: &str) -> Vec<Vec<(String, String)>> {
    let open = format!("<{tag}");
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find('>').expect("unterminated tag");
        let mut attrs = Vec::new();
        let mut text = after[..end].trim();
        while let Some(eq) = text.find("=\"") {
            let name = text[..eq].trim().to_ascii_lowercase();
            let value_end = text[eq + 2..].find('"').expect("unterminated attribute");
            attrs.push((name, text[eq + 2..eq + 2 + value_end].to_string()));
            text = text[eq + 2 + value_end + 1..].trim();
        }
        found.push(attrs);
        rest = &after[end..];
    }
    found
}

fn attr<'a>(attrs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

async fn post_redirect_is_served_as_a_form(kind: StoreKind) {
    let e = env(kind).await;
    let tx = "fx-post-1";
    let url = "https://pay.feennex.example/pay?lang=en&shop=5";
    let hostile = r#""><script>alert(1)</script>"#;
    e.feennex
        .on_create_answer(
            tx,
            created_post(
                url,
                json!({"session_id": "c2Vzc2lvbi0x", "m_desc": hostile, "amount": 12.34,
                       "note": "a & b < c"}),
            ),
        )
        .await;
    let (s, b) = e
        .router
        .post("/v3/feennex/pay", &pay_body(tx, 1234, "USD"))
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["result"], "REDIRECT_TO_URL");
    let id = payment_id_of(tx);
    assert_eq!(b["paymentId"], id);
    assert_eq!(
        b["redirectToUrl"],
        format!("{PUBLIC_BASE_URL}/v3/feennex/redirect/{id}")
    );

    let resp = e
        .router
        .http
        .get(e.router.url(&format!("/v3/feennex/redirect/{id}")))
        .send()
        .await
        .unwrap();
    assert_answered(&resp, 200, "text/html");
    let html = resp.text().await.unwrap();
    assert!(!html.contains("<script>"), "unescaped field value: {html}");
    assert!(!html.contains("alert(1)</script>"), "{html}");

    let forms = elements(&html, "form");
    assert_eq!(forms.len(), 1, "{html}");
    assert_eq!(
        attr(&forms[0], "method")
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("post"),
        "{html}"
    );
    assert_eq!(
        attr(&forms[0], "action").map(unescape).as_deref(),
        Some(url)
    );
    let hidden: Vec<_> = elements(&html, "input")
        .into_iter()
        .filter(|a| attr(a, "type") == Some("hidden"))
        .collect();
    let expected = [
        ("session_id", "c2Vzc2lvbi0x"),
        ("m_desc", hostile),
        ("amount", "12.34"),
        ("note", "a & b < c"),
    ];
    assert_eq!(hidden.len(), expected.len(), "{html}");
    for (name, value) in expected {
        let input = hidden
            .iter()
            .find(|a| attr(a, "name") == Some(name))
            .unwrap_or_else(|| panic!("no hidden input {name}: {html}"));
        let raw = attr(input, "value").unwrap();
        assert!(
            !raw.contains(['<', '>', '"']),
            "{name} is not escaped: {raw}"
        );
        assert_eq!(unescape(raw), value, "{html}");
    }
    let submit = elements(&html, "button")
        .into_iter()
        .chain(elements(&html, "input"))
        .any(|a| attr(&a, "type") == Some("submit"));
    assert!(submit, "a visible submit button: {html}");

    // No page for payments the router did not create, nor for GET redirects.
    let get_tx = "fx-post-get";
    create(&e, get_tx, 1234).await;
    for other in [payment_id_of("fx-post-never"), payment_id_of(get_tx)] {
        let (s, b) = e.router.get(&format!("/v3/feennex/redirect/{other}")).await;
        assert_eq!(s, 404, "{b}");
        assert_eq!(b["statusCode"], 404, "{b}");
        assert_eq!(b["error"], "Not Found", "{b}");
        assert!(b["message"].is_string(), "{b}");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Callbacks

/// A JSON callback with number tokens Feennex's serializer would write (`12.30`, `1.0`).
fn json_callback(shop_tx: &str, sign: Option<&str>) -> String {
    let sign = sign.map_or(String::new(), |s| format!(r#", "sign": "{s}""#));
    format!(
        r#"{{"client_price": 12.30, "created": "2024-12-03 14:39:02", "description": null, "email": "{EMAIL}", "lang": "en", "payment_id": 33733465, "payway": "{PAYWAY}", "ps_currency": 840, "ps_data": "{{\"ps_payer_account\": \"424242XXXXXX4242\"}}", "shop_amount": 12.30, "shop_currency": 840, "shop_id": 5, "shop_order_id": "{shop_tx}", "shop_refund": 1.0, "status": "success"{sign}}}"#
    )
}

/// The values of `json_callback` as the signature takes them: tokens verbatim, null dropped.
fn json_callback_fields(
    shop_tx: &str,
    client_price: &str,
    shop_refund: &str,
) -> Vec<(String, String)> {
    [
        ("client_price", client_price),
        ("created", "2024-12-03 14:39:02"),
        ("email", EMAIL),
        ("lang", "en"),
        ("payment_id", "33733465"),
        ("payway", PAYWAY),
        ("ps_currency", "840"),
        ("ps_data", r#"{"ps_payer_account": "424242XXXXXX4242"}"#),
        ("shop_amount", client_price),
        ("shop_currency", "840"),
        ("shop_id", "5"),
        ("shop_order_id", shop_tx),
        ("shop_refund", shop_refund),
        ("status", "success"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

async fn signed_callbacks_are_confirmed_with_feennex(kind: StoreKind) {
    let e = env(kind).await;

    // Form-encoded, as Feennex sends today. Forgeries first: none of them reaches Feennex.
    let form_tx = "fx-cb-form";
    let form_id = create(&e, form_tx, 1234).await;
    e.feennex.set_check(form_tx, 4, "12.34", 840).await;
    let fields = notification(form_tx, "success", "12.34");
    let mut bad_sign = signed(fields.clone());
    let last = bad_sign.len() - 1;
    let flipped = if bad_sign[last].1.starts_with('0') {
        "1"
    } else {
        "0"
    };
    bad_sign[last].1.replace_range(0..1, flipped);
    let mut bad_field = signed(fields.clone());
    set(&mut bad_field, "shop_amount", "0.01");
    let mut other_key = fields.clone();
    let wrong = payrouter_feennex::sign::sign(
        &other_key,
        &payrouter_provider::SecretString::from("SecretKey02"),
    );
    other_key.push(("sign".into(), wrong));
    let mut empty_sign = fields.clone();
    empty_sign.push(("sign".into(), String::new()));
    for (what, forged) in [
        ("tampered sign", &bad_sign),
        ("tampered field", &bad_field),
        ("another shop's key", &other_key),
        ("missing sign", &fields),
        ("empty sign", &empty_sign),
    ] {
        assert_refused(&post_form(&e, forged).await, 401, what);
    }
    assert_eq!(
        e.feennex.checks(form_tx).await,
        0,
        "forgeries are not acted on"
    );

    let resp = e
        .router
        .http
        .post(e.router.url("/v3/feennex/callback"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&signed(fields.clone())))
        .send()
        .await
        .unwrap();
    assert_answered(&resp, 200, "text/plain");
    assert_eq!(resp.text().await.unwrap(), "OK");
    let n = e.notification(5, &form_id, "ACCEPTED").await;
    assert_eq!(
        n,
        json!({"status": "ACCEPTED", "paymentId": form_id, "shopTransactionId": form_tx,
               "providerName": "feennex", "paymentMethod": "external", "action": "PAYMENT",
               "metadata": {"providerStatus": "4", "amount": 1234, "currency": "USD",
                            "refundedAmount": 0}})
    );
    e.receiver
        .delivered()
        .iter()
        .for_each(|r| r.assert_signed(WEBHOOK_SECRET));
    assert_eq!(
        e.feennex.checks(form_tx).await,
        1,
        "confirmed with invoice/check"
    );
    let st = e.router.status("feennex", &form_id).await;
    assert_eq!(st, n, "final: answered from the store");
    assert_eq!(e.feennex.checks(form_tx).await, 1);

    // JSON, number tokens signed as received.
    let json_tx = "fx-cb-json";
    let json_id = create(&e, json_tx, 1230).await;
    e.feennex.set_check(json_tx, 4, "12.3", 840).await;
    let verbatim = feennex_sign(&json_callback_fields(json_tx, "12.30", "1.0"));
    let reformatted = feennex_sign(&json_callback_fields(json_tx, "12.3", "1"));
    let answer = post_callback_to(
        &e.router,
        "application/json",
        json_callback(json_tx, Some(&reformatted)),
    )
    .await;
    assert_refused(&answer, 401, "JSON signed over reformatted numbers");
    let answer =
        post_callback_to(&e.router, "application/json", json_callback(json_tx, None)).await;
    assert_refused(&answer, 401, "JSON without sign");
    assert_eq!(e.feennex.checks(json_tx).await, 0);
    let answer = post_callback_to(
        &e.router,
        "application/json",
        json_callback(json_tx, Some(&verbatim)),
    )
    .await;
    assert_eq!(
        answer,
        ack(),
        "JSON callback signed over 12.30 and 1.0 verbatim"
    );
    let n = e.notification(5, &json_id, "ACCEPTED").await;
    assert_eq!(n["shopTransactionId"], json_tx);
    assert_eq!(n["metadata"]["amount"], 1230);

    // Empty fields are not signed.
    let empty_tx = "fx-cb-empty";
    let empty_id = create(&e, empty_tx, 1234).await;
    e.feennex.set_check(empty_tx, 4, "12.34", 840).await;
    let mut with_empty = notification(empty_tx, "success", "12.34");
    let sign = feennex_sign(&with_empty);
    with_empty.insert(0, ("addons".into(), String::new()));
    with_empty.insert(3, ("description".into(), String::new()));
    let mut signed_with_empty = with_empty.clone();
    signed_with_empty.push(("sign".into(), feennex_sign(&with_empty)));
    assert_refused(
        &post_form(&e, &signed_with_empty).await,
        401,
        "empty values included in the signature",
    );
    with_empty.push(("sign".into(), sign));
    assert_eq!(
        post_form(&e, &with_empty).await,
        ack(),
        "empty fields sent, not signed"
    );
    e.notification(5, &empty_id, "ACCEPTED").await;

    // Forgeries leave a payment as it was.
    let kept_tx = "fx-cb-kept";
    let kept_id = create(&e, kept_tx, 1234).await;
    e.feennex.set_check(kept_tx, 1, "12.34", 840).await;
    let mut tampered_status = signed(notification(kept_tx, "success", "12.34"));
    set(&mut tampered_status, "status", "rejected");
    assert_refused(
        &post_form(&e, &tampered_status).await,
        401,
        "tampered status",
    );
    let mut no_sign = signed(notification(kept_tx, "success", "12.34"));
    no_sign.pop();
    assert_refused(&post_form(&e, &no_sign).await, 401, "missing sign");
    let st = e.router.status("feennex", &kept_id).await;
    assert_eq!(st["status"], "PENDING", "{st}");
    assert_eq!(st["metadata"]["providerStatus"], "1", "{st}");

    // Not ours, or not a callback at all.
    let mut foreign = notification(kept_tx, "success", "12.34");
    set(&mut foreign, "shop_id", "6");
    let answer = post_form(&e, &signed(foreign)).await;
    assert!(
        (400..500).contains(&answer.0),
        "another shop's callback: {answer:?}"
    );
    let answer = post_callback_to(&e.router, "application/json", "[1, 2]".into()).await;
    assert!((400..500).contains(&answer.0), "not an object: {answer:?}");

    // A correctly signed callback about an order Feennex does not know.
    let unknown_tx = "fx-cb-unknown";
    e.feennex
        .set_check_refused(
            unknown_tx,
            7,
            "Invoice (shop_order_id=fx-cb-unknown) wasn't found",
        )
        .await;
    let answer = post_form(&e, &signed(notification(unknown_tx, "success", "12.34"))).await;
    assert_refused(&answer, 404, "unknown order");
    let (s, b) = e.router.get(&status_path(&payment_id_of(unknown_tx))).await;
    assert_eq!(s, 404, "{b}");

    tokio::time::sleep(Duration::from_millis(300)).await;
    for (id, want) in [(&form_id, 1), (&json_id, 1), (&empty_id, 1), (&kept_id, 0)] {
        assert_eq!(e.notified(id).len(), want, "notifications about {id}");
    }
    assert!(e.notified(&payment_id_of(unknown_tx)).is_empty());
}

async fn duplicate_and_late_callbacks_notify_once(kind: StoreKind) {
    let e = env(kind).await;
    let tx = "fx-dup";
    let id = invoice(&e, tx, 4).await;
    let success = signed(notification(tx, "success", "12.34"));
    assert_eq!(post_form(&e, &success).await, ack());
    e.notification(5, &id, "ACCEPTED").await;
    for _ in 0..3 {
        assert_eq!(post_form(&e, &success).await, ack(), "duplicate");
    }
    // Feennex's rejected notification arriving after the success one.
    let rejected = signed(notification(tx, "rejected", "12.34"));
    assert_eq!(post_form(&e, &rejected).await, ack(), "out of order");

    // These came inside the poll window: confirmed once it reopens, once.
    eventually(15, || async {
        (e.feennex.checks(tx).await >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(e.feennex.checks(tx).await, 2, "one invoice/check per 10 s");
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "ACCEPTED", "{st}");
    assert_eq!(st["metadata"]["providerStatus"], "4", "{st}");
    let notified = e.notified(&id);
    assert_eq!(
        notified.len(),
        1,
        "one state change, one notification: {notified:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 5. The poll window

async fn status_respects_the_poll_window(kind: StoreKind) {
    let e = env(kind).await;
    let tx = "fx-poll";
    let id = invoice(&e, tx, 1).await;
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "PENDING");
    assert_eq!(st["shopTransactionId"], tx);
    assert_eq!(e.feennex.checks(tx).await, 1);

    // Feennex has moved on, but the window is closed: the store answers.
    e.feennex.set_check(tx, 2, "12.34", 840).await;
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["metadata"]["providerStatus"], "1", "{st}");
    let (s, st) = e
        .router
        .post("/v3/feennex/status", &json!({"paymentId": id}))
        .await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["metadata"]["providerStatus"], "1", "{st}");
    assert_eq!(
        e.feennex.checks(tx).await,
        1,
        "two status calls, one invoice/check"
    );

    // Each payment has its own window.
    let other_tx = "fx-poll-other";
    let other_id = create(&e, other_tx, 500).await;
    e.feennex.set_check(other_tx, 1, "5.00", 840).await;
    e.router.status("feennex", &other_id).await;
    assert_eq!(e.feennex.checks(other_tx).await, 1);

    // check inside the window: answered from the store, and still notified.
    let (s, st) = e
        .router
        .get(&format!("/v3/feennex/check?paymentId={id}"))
        .await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["status"], "PENDING");
    assert_eq!(st["metadata"]["providerStatus"], "1", "{st}");
    assert_eq!(e.feennex.checks(tx).await, 1);
    let n = e.notification(5, &id, "PENDING").await;
    assert_eq!(n, st);

    // A success callback inside the window: acknowledged at once, confirmed once it reopens.
    e.feennex.set_check(tx, 4, "12.34", 840).await;
    let started = Instant::now();
    let answer = post_form(&e, &signed(notification(tx, "success", "12.34"))).await;
    assert_eq!(answer, ack());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "acknowledged without waiting for the window"
    );
    assert_eq!(e.feennex.checks(tx).await, 1);
    let n = e.notification(15, &id, "ACCEPTED").await;
    assert_eq!(n["metadata"]["providerStatus"], "4", "{n}");
    assert_eq!(e.feennex.checks(tx).await, 2);
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "ACCEPTED", "{st}");
    assert_eq!(e.notified(&id).len(), 2, "check's PENDING, then ACCEPTED");
}

// ---------------------------------------------------------------------------------------------
// 6. Recalculated invoices (status 12)

async fn recalculated_invoices_compare_the_amounts(kind: StoreKind) {
    let e = env(kind).await;
    let cases = [
        // (shop_order_id, what was paid, status)
        ("fx-recalc-over", json!("12.50"), 1250, "ACCEPTED"),
        ("fx-recalc-exact", json!(10.0), 1000, "ACCEPTED"),
        ("fx-recalc-under", json!("7.50"), 750, "FAILED"),
    ];
    for (tx, paid, paid_minor, status) in cases {
        let id = create(&e, tx, 1000).await;
        e.feennex
            .set_check_data(
                tx,
                json!({"status": 12, "shop_id": SHOP_ID, "shop_order_id": tx,
                       "shop_currency": 840, "ps_currency": 840,
                       "shop_original_amount": "10.00", "shop_amount": paid,
                       "client_price": paid, "is_unique": true}),
            )
            .await;
        let (s, st) = e.router.get(&status_path(&id)).await;
        assert_eq!(s, 200, "{tx}: {st}");
        assert_eq!(st["status"], status, "{tx}: {st}");
        assert_eq!(st["action"], "PAYMENT", "{tx}: {st}");
        assert_eq!(st["metadata"]["providerStatus"], "12", "{tx}: {st}");
        assert_eq!(st["metadata"]["requestedAmount"], 1000, "{tx}: {st}");
        assert_eq!(st["metadata"]["paidAmount"], paid_minor, "{tx}: {st}");
        assert_eq!(st["metadata"]["amount"], 1000, "{tx}: {st}");
        let n = e.notification(5, &id, status).await;
        assert_eq!(n, st, "{tx}");
    }
}

// ---------------------------------------------------------------------------------------------
// 7. The store lost

/// `invoice`, after which the router loses its store: the environment and the payment id.
async fn invoiced_then_store_lost(kind: StoreKind, shop_tx: &str, status: i64) -> (Env, String) {
    let mut e = env(kind).await;
    let id = invoice(&e, shop_tx, status).await;
    e.lose_store().await;
    (e, id)
}

async fn status_is_rebuilt_after_the_store_is_lost(kind: StoreKind) {
    let tx = "fx-lost";
    let (e, id) = invoiced_then_store_lost(kind, tx, 4).await;
    let st = e.router.status("feennex", &id).await;
    assert_eq!(
        st,
        json!({"status": "ACCEPTED", "paymentId": id, "shopTransactionId": tx,
               "providerName": "feennex", "paymentMethod": "external", "action": "PAYMENT",
               "metadata": {"providerStatus": "4", "amount": 1234, "currency": "USD",
                            "refundedAmount": 0}})
    );
    assert_eq!(e.feennex.checks(tx).await, 1);
    assert_eq!(e.router.status("feennex", &id).await, st);
    assert_eq!(e.feennex.checks(tx).await, 1, "final: kept once rebuilt");

    // A paymentId Feennex does not know, and one this router could not have issued.
    let never = "fx-lost-never";
    e.feennex
        .set_check_refused(
            never,
            7,
            "Invoice (shop_order_id=fx-lost-never) wasn't found",
        )
        .await;
    let (s, b) = e.router.get(&status_path(&payment_id_of(never))).await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(b["statusCode"], 404, "{b}");
    let (s, b) = e.router.get(&status_path("not*base64")).await;
    assert_eq!(s, 400, "{b}");
    assert!(message(&b).contains("paymentId"), "{b}");
}

async fn rebuilding_a_pending_payment_polls_once(kind: StoreKind) {
    let tx = "fx-lost-pending";
    let (e, id) = invoiced_then_store_lost(kind, tx, 2).await;
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "PENDING", "{st}");
    assert_eq!(st["shopTransactionId"], tx, "{st}");
    assert_eq!(st["metadata"]["providerStatus"], "2", "{st}");
    e.router.status("feennex", &id).await;
    assert_eq!(
        e.feennex.checks(tx).await,
        1,
        "Feennex allows one invoice/check per payment every 10 s, rebuild included"
    );
}

async fn callback_after_the_store_is_lost_is_notified(kind: StoreKind) {
    let tx = "fx-lost-callback";
    let (e, id) = invoiced_then_store_lost(kind, tx, 4).await;
    let answer = post_form(&e, &signed(notification(tx, "success", "12.34"))).await;
    assert_eq!(answer, ack());
    let st = e.router.status("feennex", &id).await;
    assert_eq!(st["status"], "ACCEPTED", "{st}");
    let n = e.notification(5, &id, "ACCEPTED").await;
    assert_eq!(n, st, "the PGM learns that the payment was paid");
}

// ---------------------------------------------------------------------------------------------
// 8. What Feennex does not offer (manual subscriptions: tests/feennex_subscriptions.rs)

async fn refunds_and_automatic_subscriptions_are_not_offered(kind: StoreKind) {
    let e = env(kind).await;
    let tx = "fx-refund";
    let id = invoice(&e, tx, 4).await;
    for id in [id.clone(), payment_id_of("fx-refund-never")] {
        let (s, b) = e
            .router
            .post(
                "/v3/feennex/refund",
                &json!({"amount": 1234, "currency": "USD", "paymentId": id}),
            )
            .await;
        assert_eq!(s, 501, "{b}");
        assert_eq!(b["statusCode"], 501, "{b}");
        assert_eq!(b["error"], "Not Implemented", "{b}");
        let m = message(&b);
        assert!(m.to_ascii_lowercase().contains("feennex"), "{b}");
        assert!(m.contains("refund"), "{b}");
        assert!(
            m.contains("refunds are arranged with the Feennex account manager"),
            "{b}"
        );
    }
    assert_eq!(e.feennex.checks(tx).await, 0, "Feennex is not asked");

    let sub = json!({"amount": 1234, "currency": "USD", "shopTransactionId": "fx-sub-1",
                     "subscriptionInfo": {"interval": "MONTH", "intervalCount": 1, "token": "tok-1"},
                     "providerData": {"email": EMAIL}});
    let http = &e.router.http;
    let url = |p: &str| e.router.url(&format!("/v3/feennex/subscription/{p}"));
    // Feennex runs no automatic subscriptions; manual ones (start, pay) are kept by the
    // router (tests/feennex_subscriptions.rs).
    let requests = [
        http.post(url("schedule")).json(&sub),
        http.post(url("update/tok-1")).json(&sub),
    ];
    for request in requests {
        let (s, b) = read(request.send().await.unwrap()).await;
        assert_eq!(s, 501, "{b}");
        assert_eq!(b["statusCode"], 501, "{b}");
        let m = message(&b).to_ascii_lowercase();
        assert!(m.contains("feennex") && m.contains("subscription"), "{b}");
    }
    // A token the router does not keep is unknown: Feennex has none of its own to ask about.
    for request in [
        http.delete(url("expire/tok-1")),
        http.post(url("expire/tok-1")),
        http.get(url("status/tok-1")),
    ] {
        let (s, b) = read(request.send().await.unwrap()).await;
        assert_error_response(s, &b, 404);
        assert!(message(&b).contains("tok-1"), "{b}");
    }
    assert!(e.receiver.all().is_empty());
}

on_both_stores!(
    pay_sends_the_exact_signed_invoice,
    error_codes_are_refusals_or_configuration_errors,
    post_redirect_is_served_as_a_form,
    signed_callbacks_are_confirmed_with_feennex,
    duplicate_and_late_callbacks_notify_once,
    status_respects_the_poll_window,
    recalculated_invoices_compare_the_amounts,
    status_is_rebuilt_after_the_store_is_lost,
    rebuilding_a_pending_payment_polls_once,
    callback_after_the_store_is_lost_is_notified,
    refunds_and_automatic_subscriptions_are_not_offered,
);
