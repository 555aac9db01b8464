//! The adapter against a mock Feennex over real HTTP: exact signed bodies, answer mapping,
//! transport failures, configuration and callbacks through the public factory.

use httpmock::prelude::*;
use httpmock::When;
use payrouter_feennex::{sign, Feennex, Settings, NAME};
use payrouter_provider::{
    CallbackError, CallbackRequest, CallbackSubject, Currency, Money, Operation, PayOrder,
    PayOutcome, PaymentStatusKind, PaymentTag, Provider, ProviderContext, ProviderError,
    ProviderFactory, Redirect, RefundOrder, SecretString,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;

use payrouter_feennex::sign::vectors::{self, SECRET};
/// base64url("4126")
const PAYMENT_ID: &str = "NDEyNg";

fn settings(base_url: &str, extra: Value) -> Settings {
    let mut v =
        json!({"base_url": base_url, "shop_id": 5, "secret_key": SECRET, "payway": "card_usd"});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    serde_json::from_value(v).unwrap()
}

fn ctx() -> ProviderContext {
    ProviderContext {
        public_base_url: Some("https://router.example/".into()),
        route_timeout: None,
        payment_tag_secret: None,
    }
}

/// The adapter at `base_url`, with `extra` settings over the test shop's.
fn feennex_at(base_url: &str, extra: Value) -> Arc<dyn Provider> {
    Feennex::build(settings(base_url, extra), &ctx()).unwrap()
}

fn provider(server: &MockServer) -> Arc<dyn Provider> {
    feennex_at(&server.base_url(), json!({}))
}

fn usd_order(provider_data: Value) -> PayOrder {
    PayOrder {
        amount: Money::new(1234, Currency::from_code("USD").unwrap()),
        shop_transaction_id: "4126".into(),
        success_redirect_url: Some("https://shop.example/ok".into()),
        failure_redirect_url: Some("https://shop.example/ko".into()),
        provider_data: provider_data.as_object().cloned().unwrap_or_default(),
        provider_order_id: None,
    }
}

/// The tag the adapter puts in the description of order 4126 when no `PAYMENT_TAG_SECRET` is
/// set: keyed by a key derived from the shop's secret.
fn tag_4126() -> String {
    PaymentTag::derived(NAME, &SecretString::from(SECRET)).tag("4126")
}

fn expected_create_body() -> Value {
    let mut body = vectors::invoice_create_body();
    body["description"] = json!(format!("Order 4126 [pr:{}]", tag_4126()));
    body["success_url"] = json!("https://shop.example/ok");
    body["failed_url"] = json!("https://shop.example/ko");
    body
}

fn pay_data() -> Value {
    json!({"email": "payer@example.com", "description": "Order 4126"})
}

fn refusal(code: i64, message: &str) -> Value {
    json!({"data": null, "error_code": code, "message": message, "result": false})
}

#[tokio::test]
async fn pay_sends_the_exact_signed_body_and_follows_a_get_redirect() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/invoice/create")
                .header("content-type", "application/json")
                .json_body(expected_create_body());
            then.status(200).json_body(json!({
                "data": {"data": {"session_id": "3067894a"}, "id": 499564464, "method": "GET",
                         "url": "https://pay.example/3067894a"},
                "error_code": 0, "message": "Ok", "result": true
            }));
        })
        .await;
    let outcome = provider(&server).pay(&usd_order(pay_data())).await.unwrap();
    mock.assert_async().await;
    let PayOutcome::Created(created) = outcome else {
        panic!("expected Created, got {outcome:?}")
    };
    assert_eq!(created.payment_id, PAYMENT_ID);
    assert_eq!(
        created.redirect,
        Redirect::Get {
            url: "https://pay.example/3067894a".into()
        }
    );
    assert_eq!(created.state.provider_status, "1");
    assert_eq!(created.state.status, PaymentStatusKind::Pending);
    assert!(!created.state.is_final);
    assert_eq!(created.reference, None);
}

#[tokio::test]
async fn pay_without_public_url_leaves_callbacks_to_the_shop_settings() {
    let server = MockServer::start_async().await;
    let mut body = expected_create_body();
    body.as_object_mut().unwrap().remove("callback_url");
    body.as_object_mut()
        .unwrap()
        .remove("callback_rejected_url");
    let mock = server
        .mock_async(|when, then| {
            when.method(POST).path("/invoice/create").json_body(body);
            // A raw body: the number token 12.30 must reach the payer's form unchanged.
            then.status(200).body(
                r#"{"data": {"id": 1, "method": "POST", "url": "https://pay.example/form",
                    "data": {"m_shop": "77", "m_amount": 12.30, "m_orderid": 4126}},
                    "error_code": 0, "message": "Ok", "result": true}"#,
            );
        })
        .await;
    let feennex = Feennex::build(
        settings(&server.base_url(), json!({})),
        &ProviderContext::default(),
    )
    .unwrap();
    let outcome = feennex.pay(&usd_order(pay_data())).await.unwrap();
    mock.assert_async().await;
    let PayOutcome::Created(created) = outcome else {
        panic!("expected Created, got {outcome:?}")
    };
    let Redirect::Post { url, fields } = created.redirect else {
        panic!("expected a POST redirect")
    };
    assert_eq!(url, "https://pay.example/form");
    let mut fields = fields;
    fields.sort();
    assert_eq!(
        fields,
        vec![
            ("m_amount".to_string(), "12.30".to_string()),
            ("m_orderid".to_string(), "4126".to_string()),
            ("m_shop".to_string(), "77".to_string()),
        ]
    );
}

#[tokio::test]
async fn payway_from_provider_data_is_signed() {
    let server = MockServer::start_async().await;
    let sign = sign::sign(
        &[
            ("amount", "12.34"),
            ("currency", "840"),
            ("payway", "bank_h2h_usd"),
            ("shop_id", "5"),
            ("shop_order_id", "4126"),
        ],
        &SecretString::from(SECRET),
    );
    let mock = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/invoice/create")
                .json_body_includes(json!({"payway": "bank_h2h_usd", "sign": sign}).to_string());
            then.status(200).json_body(refusal(
                3,
                "Payway (alias = bank_h2h_usd) is not available for shop",
            ));
        })
        .await;
    let outcome = provider(&server)
        .pay(&usd_order(
            json!({"email": "payer@example.com", "payway": "bank_h2h_usd"}),
        ))
        .await
        .unwrap();
    mock.assert_async().await;
    let PayOutcome::Declined { message } = outcome else {
        panic!("expected Declined, got {outcome:?}")
    };
    assert_eq!(
        message,
        "Feennex: Payway (alias = bank_h2h_usd) is not available for shop"
    );
}

#[tokio::test]
async fn invalid_orders_never_reach_feennex() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            when.any_request();
            then.status(500);
        })
        .await;
    let p = provider(&server);
    let err = p.pay(&usd_order(json!({}))).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidRequest { field, message }
            if field == "providerData.email" && message == "required by Feennex: the payer's e-mail"),
        "{err:?}"
    );
    let no_default = feennex_at(&server.base_url(), json!({"payway": null}));
    let err = no_default.pay(&usd_order(pay_data())).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::InvalidRequest { field, .. } if field == "providerData.payway"),
        "{err:?}"
    );
    let err = p.fetch("not*an*id").await.unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { .. }),
        "{err:?}"
    );
    assert_eq!(mock.calls_async().await, 0);
}

/// A mock Feennex that gives `answer` to every POST to `path`.
async fn answering(
    path: &'static str,
    answer: impl FnOnce(httpmock::Then) + Send + 'static,
) -> MockServer {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            when.method(POST).path(path);
            answer(then);
        })
        .await;
    server
}

async fn pay_answer(
    answer: impl FnOnce(httpmock::Then) + Send + 'static,
) -> Result<PayOutcome, ProviderError> {
    let server = answering("/invoice/create", answer).await;
    provider(&server).pay(&usd_order(pay_data())).await
}

async fn fetch_error(answer: impl FnOnce(httpmock::Then) + Send + 'static) -> ProviderError {
    let server = answering("/invoice/check", answer).await;
    provider(&server).fetch(PAYMENT_ID).await.unwrap_err()
}

#[tokio::test]
async fn refusals_over_http() {
    let outcome = pay_answer(|t| {
        t.status(200)
            .json_body(refusal(4, "Payer price amount is too small, min: 1.0"));
    })
    .await
    .unwrap();
    assert!(
        matches!(&outcome, PayOutcome::Declined { message } if message == "Feennex: Payer price amount is too small, min: 1.0"),
        "{outcome:?}"
    );
    let outcome = pay_answer(|t| {
        t.status(200)
            .json_body(refusal(6, "Operation is not unique"));
    })
    .await
    .unwrap();
    assert!(matches!(outcome, PayOutcome::Declined { .. }));
}

#[tokio::test]
async fn configuration_errors_over_http() {
    let cases = [
        (
            refusal(
                10,
                "Invalid sign, string_to_sign: 12.34:840:card_usd:5:4126",
            ),
            "check FEENNEX_SECRET_KEY",
        ),
        (
            refusal(11, "Shop not found"),
            "check FEENNEX_SHOP_ID and the shop's status",
        ),
        (
            refusal(12, "Shop is not active"),
            "check FEENNEX_SHOP_ID and the shop's status",
        ),
        (
            refusal(15, "Shop ip 10.0.0.1 denied"),
            "add this server's IP to the shop's allowed IPs",
        ),
    ];
    for (body, hint) in cases {
        let m = misconfigured(move |t| {
            t.status(200).json_body(body);
        })
        .await;
        assert!(m.contains(hint), "{m}");
        assert!(!m.contains(SECRET) && !m.contains("string_to_sign"), "{m}");
    }
    // A Feennex refusal passed through with a 4xx status is still read as a refusal.
    let m = misconfigured(|t| {
        t.status(400).json_body(refusal(10, "Invalid sign"));
    })
    .await;
    assert!(m.contains("FEENNEX_SECRET_KEY"), "{m}");
    let m = misconfigured(|t| {
        t.status(404).body("Not Found");
    })
    .await;
    assert!(m.contains("FEENNEX_BASE_URL"), "{m}");
    let m = misconfigured(|t| {
        t.status(301)
            .header("location", "https://elsewhere.example/invoice/create");
    })
    .await;
    assert!(m.contains("FEENNEX_BASE_URL"), "{m}");
}

/// The message of the Misconfigured error a payment meets when Feennex gives `answer`.
async fn misconfigured(answer: impl FnOnce(httpmock::Then) + Send + 'static) -> String {
    match pay_answer(answer).await {
        Err(ProviderError::Misconfigured(m)) => m,
        other => panic!("expected Misconfigured, got {other:?}"),
    }
}

#[tokio::test]
async fn feennex_failures_are_unavailable() {
    let err = pay_answer(|t| {
        t.status(200).json_body(refusal(2000, "Other exception"));
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    for status in [500, 502, 503] {
        let err = pay_answer(move |t| {
            t.status(status).body("<html>oops</html>");
        })
        .await
        .unwrap_err();
        assert!(
            matches!(&err, ProviderError::Unavailable(m) if m.contains(&status.to_string())),
            "{err:?}"
        );
    }
    let err = pay_answer(|t| {
        t.status(200).body("<html>maintenance</html>");
    })
    .await
    .unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_slow_answer_is_a_timeout() {
    let server = answering("/invoice/create", |then| {
        then.status(200)
            .delay(std::time::Duration::from_millis(1500))
            .json_body(refusal(4, "late"));
    })
    .await;
    let p = feennex_at(&server.base_url(), json!({"timeout_ms": 200}));
    let err = p.pay(&usd_order(pay_data())).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout { provider } if provider == NAME),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let p = feennex_at(&format!("http://127.0.0.1:{port}"), json!({}));
    let err = p.pay(&usd_order(pay_data())).await.unwrap_err();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_connect_timeout_is_unavailable_as_for_fena() {
    // Nothing was sent, so the outcome is known: 502, the same as Fena's adapter answers.
    let port = payrouter_provider::testing::SaturatedPort::new();
    let p = feennex_at(&port.url(), json!({"connect_timeout_ms": 100}));
    let err = p.pay(&usd_order(pay_data())).await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable(m) if m == "could not connect to Feennex"),
        "{err:?}"
    );
}

/// True when `req` is an invoice/check for 4126 whose sign is right for the `now` it sent.
fn is_signed_check(req: &HttpMockRequest) -> bool {
    let Ok(body) = serde_json::from_slice::<Map<String, Value>>(req.body_ref()) else {
        return false;
    };
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort();
    let Some(now) = body.get("now").and_then(Value::as_str) else {
        return false;
    };
    let now_ok =
        chrono::NaiveDateTime::parse_from_str(now, "%Y-%m-%dT%H:%M:%S").is_ok() && now.len() == 19;
    let expected = sign::sign(
        &[("now", now), ("shop_id", "5"), ("shop_order_id", "4126")],
        &SecretString::from(SECRET),
    );
    keys == ["now", "shop_id", "shop_order_id", "sign"]
        && now_ok
        && body["shop_id"] == json!(5)
        && body["shop_order_id"] == json!("4126")
        && body["sign"] == json!(expected)
}

/// A POST to /invoice/check signed as `is_signed_check` demands.
fn signed_check(when: When) -> When {
    when.method(POST)
        .path("/invoice/check")
        .is_true(is_signed_check)
}

#[tokio::test]
async fn fetch_sends_a_signed_check_and_maps_the_answer() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            signed_check(when).header("content-type", "application/json");
            then.status(200).body(format!(
                r#"{{"data":{{"client_price":12.34,"created":"2024-04-10 12:59:13","is_unique":true,
                    "description":"Order 4126 [pr:{}]",
                    "payment_id":11639480,"payway":"card_usd","processed":"2024-04-10 13:00:00",
                    "ps_currency":840,"ps_data":null,"shop_amount":12.34,"shop_currency":840,
                    "shop_id":5,"shop_order_id":"4126","shop_refund":11.9,"status":4,"updated":null}},
                    "error_code":0,"message":"Ok","result":true}}"#,
                tag_4126()
            ));
        })
        .await;
    let fetched = provider(&server).fetch(PAYMENT_ID).await.unwrap();
    mock.assert_async().await;
    assert_eq!(fetched.payment_id, PAYMENT_ID);
    assert_eq!(fetched.shop_transaction_id.as_deref(), Some("4126"));
    assert_eq!(
        fetched.amount,
        Some(Money::new(1234, Currency::from_code("USD").unwrap()))
    );
    assert_eq!(fetched.state.provider_status, "4");
    assert_eq!(fetched.state.status, PaymentStatusKind::Accepted);
    assert!(fetched.state.is_final);
}

#[tokio::test]
async fn the_check_matcher_refuses_a_wrong_sign() {
    let server = MockServer::start_async().await;
    let mock = server
        .mock_async(|when, then| {
            signed_check(when);
            then.status(200).json_body(refusal(7, "not found"));
        })
        .await;
    let wrong_secret = feennex_at(&server.base_url(), json!({"secret_key": "SecretKey02"}));
    // Unmatched, the mock server answers 404, which points at the base URL.
    let err = wrong_secret.fetch(PAYMENT_ID).await.unwrap_err();
    assert!(matches!(err, ProviderError::Misconfigured(_)), "{err:?}");
    assert_eq!(mock.calls_async().await, 0);
}

#[tokio::test]
async fn fetch_of_a_recalculated_payment_carries_both_amounts() {
    let server = MockServer::start_async().await;
    server
        .mock_async(|when, then| {
            signed_check(when);
            then.status(200).body(
                r#"{"data":{"client_price":9.5,"ps_currency":840,"shop_amount":9.5,
                    "shop_original_amount":12.34,"shop_currency":840,"shop_order_id":"4126",
                    "status":12},"error_code":0,"message":"Ok","result":true}"#,
            );
        })
        .await;
    let fetched = provider(&server).fetch(PAYMENT_ID).await.unwrap();
    assert_eq!(fetched.state.status, PaymentStatusKind::Failed);
    assert!(fetched.state.is_final);
    assert_eq!(
        Value::Object(fetched.state.metadata),
        json!({"requestedAmount": 1234, "paidAmount": 950})
    );
}

#[tokio::test]
async fn fetch_errors_over_http() {
    let err = fetch_error(|then| {
        then.status(200)
            .json_body(refusal(7, "Invoice (shop_order_id=4126) wasn't found"));
    })
    .await;
    assert!(matches!(err, ProviderError::NotFound(_)), "{err:?}");
    let err = fetch_error(|then| {
        then.status(200).json_body(refusal(11, "Shop not found"));
    })
    .await;
    assert!(matches!(err, ProviderError::Misconfigured(_)), "{err:?}");
    let err = fetch_error(|then| {
        then.status(503);
    })
    .await;
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn refunds_and_automatic_subscriptions_are_not_supported() {
    let server = MockServer::start_async().await;
    let p = provider(&server);
    let err = p
        .refund(&RefundOrder {
            payment_id: PAYMENT_ID.into(),
            amount: Money::new(100, Currency::from_code("USD").unwrap()),
            provider_data: Map::new(),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(err, ProviderError::NotSupported { provider: NAME, operation: Operation::Refund, hint: Some(h) }
            if h == "refunds are arranged with the Feennex account manager"),
        "{err:?}"
    );
    // Feennex runs no subscriptions of its own (the router keeps manual ones): a token the
    // router does not keep is unknown, and none can be scheduled.
    let err = p.fetch_subscription("t").await.unwrap_err();
    assert!(
        matches!(&err, ProviderError::NotFound(m) if m.contains("'t'")),
        "{err:?}"
    );
    let err = p.expire_subscription("t").await.unwrap_err();
    assert!(matches!(err, ProviderError::NotFound(_)), "{err:?}");
    assert!(!p.capabilities().supports(Operation::SubscriptionSchedule));
    assert!(!p.capabilities().supports(Operation::SubscriptionUpdate));
    assert!(p.capabilities().supports(Operation::SubscriptionStart));
    assert!(p.capabilities().supports(Operation::SubscriptionPay));
}

#[test]
fn capabilities_and_ack() {
    let p = feennex_at("https://core.feennex.com", json!({}));
    assert_eq!(p.name(), "feennex");
    let caps = p.capabilities();
    for op in [
        Operation::Pay,
        Operation::Status,
        Operation::Check,
        Operation::Callback,
    ] {
        assert!(caps.supports(op), "{op:?}");
    }
    assert!(!caps.supports(Operation::Refund));
    assert!(!caps.supports(Operation::SubscriptionSchedule));
    assert!(caps.currencies.accepts(Currency::from_code("JPY").unwrap()));
    assert!(!caps.partial_refunds);
    assert_eq!(caps.min_poll_interval, std::time::Duration::from_secs(10));
    let documented: Vec<&str> = caps.pay_provider_data.iter().map(|(k, _)| *k).collect();
    assert_eq!(documented, ["email", "payway", "description"]);
    let ack = p.callback_ack();
    assert_eq!((ack.content_type, ack.body), ("text/plain", "OK"));
    assert!(p.check_payment_id(PAYMENT_ID).is_ok());
    assert!(p.check_payment_id("NDEyNg==").is_err());
}

#[test]
fn settings_problems_name_the_keys() {
    let problems = |v: Value| match Feennex::build(serde_json::from_value(v).unwrap(), &ctx()) {
        Ok(_) => Vec::new(),
        Err(p) => p,
    };
    assert_eq!(
        problems(json!({})),
        [
            "FEENNEX_SHOP_ID: required while feennex is enabled",
            "FEENNEX_SECRET_KEY: required while feennex is enabled",
        ]
    );
    let p = problems(
        json!({"shop_id": "abc", "secret_key": "", "base_url": "core.feennex.com",
                            "timeout_ms": 0, "connect_timeout_ms": 0}),
    );
    assert_eq!(p.len(), 5, "{p:?}");
    for key in [
        "FEENNEX_SHOP_ID:",
        "FEENNEX_SECRET_KEY:",
        "FEENNEX_BASE_URL:",
        "FEENNEX_TIMEOUT_MS:",
        "FEENNEX_CONNECT_TIMEOUT_MS:",
    ] {
        assert!(p.iter().any(|m| m.starts_with(key)), "{key} in {p:?}");
    }
    for bad in [
        json!(-5),
        json!("0"),
        json!("5a"),
        json!(" "),
        json!("99999999999999999999"),
    ] {
        let p = problems(json!({"shop_id": bad, "secret_key": SECRET}));
        assert_eq!(p.len(), 1, "{bad}: {p:?}");
        assert!(p[0].starts_with("FEENNEX_SHOP_ID:"), "{p:?}");
    }
    for good in [json!(5), json!("5"), json!(" 5 ")] {
        assert!(
            problems(json!({"shop_id": good, "secret_key": SECRET})).is_empty(),
            "{good}"
        );
    }
    let s: Settings = serde_json::from_value(json!({"shop_id": 5, "secret_key": SECRET})).unwrap();
    assert_eq!(s.base_url, "https://core.feennex.com");
    assert_eq!((s.connect_timeout_ms, s.timeout_ms), (3000, 15000));
    assert_eq!(s.payway, None);
    // The secret never shows in the settings' debug output.
    assert!(!format!("{s:?}").contains(SECRET));
}

fn worked_callback_form() -> Vec<u8> {
    let mut form = form_urlencoded_pairs();
    form.push(("sign", vectors::CALLBACK_SIGN));
    form.iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect::<Vec<_>>()
        .join("&")
        .into_bytes()
}

fn form_urlencoded_pairs() -> Vec<(&'static str, &'static str)> {
    vectors::CALLBACK.to_vec()
}

/// Percent-encodes everything but unreserved characters (spaces as %20, as some senders do).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn callbacks_through_the_provider() {
    let p = feennex_at("https://core.feennex.com", json!({}));
    let req = |content_type: Option<&str>, body: Vec<u8>| CallbackRequest {
        content_type: content_type.map(str::to_string),
        query: None,
        body,
    };
    assert_eq!(
        p.authenticate_callback(&req(
            Some("application/x-www-form-urlencoded"),
            worked_callback_form()
        )),
        Ok(CallbackSubject::Payment {
            payment_id: PAYMENT_ID.into()
        })
    );
    let forged = String::from_utf8(worked_callback_form())
        .unwrap()
        .replace("status=success", "status=rejected");
    assert_eq!(
        p.authenticate_callback(&req(None, forged.into_bytes())),
        Err(CallbackError::Unauthenticated("sign does not match".into()))
    );
    let other_secret = feennex_at(
        "https://core.feennex.com",
        json!({"secret_key": "SecretKey02"}),
    );
    assert!(matches!(
        other_secret.authenticate_callback(&req(None, worked_callback_form())),
        Err(CallbackError::Unauthenticated(_))
    ));
    let other_shop = feennex_at("https://core.feennex.com", json!({"shop_id": "6"}));
    assert!(matches!(
        other_shop.authenticate_callback(&req(None, worked_callback_form())),
        Err(CallbackError::Unauthenticated(_))
    ));
}
