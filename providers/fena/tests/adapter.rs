//! The Fena adapter against a mock Fena: the exact requests it sends and how it reads answers.

use httpmock::prelude::*;
use httpmock::When;
use payrouter_fena::{transform, Fena, Settings};
use payrouter_provider::{
    Action, CallbackRequest, CallbackSubject, Currency, Money, PayOrder, PayOutcome,
    PaymentStatusKind, PaymentTag, Provider, ProviderContext, ProviderError, ProviderFactory,
    Redirect, RefundOrder, RefundOutcome, SecretString,
};
use serde_json::{json, Map};
use std::sync::Arc;

const ID: &str = "62b48adf6ba2cd6a040b1eec";
const SECRET: &str = "3858f642-e92f-431c-9d38-46d15efb7fba";

/// A request to `path` that carries the terminal's credentials, as Fena requires of every call.
fn from_the_terminal(when: When, method: Method, path: &str) -> When {
    when.method(method)
        .path(path)
        .header("terminal-id", ID)
        .header("terminal-secret", SECRET)
}

/// The description the adapter gives a payment of `shop_tx`: the id and its payment tag,
/// keyed (no PAYMENT_TAG_SECRET here) by a key derived from the terminal secret.
fn described(shop_tx: &str) -> String {
    let tags = PaymentTag::derived("fena", &SecretString::from(SECRET));
    transform::description_for(shop_tx, &tags)
}

fn fena(base: &str, timeout_ms: u64) -> Arc<dyn Provider> {
    fena_connecting(base, 1000, timeout_ms)
}

fn fena_connecting(base: &str, connect_timeout_ms: u64, timeout_ms: u64) -> Arc<dyn Provider> {
    let settings = Settings {
        base_url: base.to_string(),
        terminal_id: Some(ID.into()),
        terminal_secret: Some(SecretString::from(SECRET)),
        connect_timeout_ms,
        timeout_ms,
        ..Settings::default()
    };
    Fena::build(settings, &ProviderContext::default()).unwrap()
}

fn order(shop_tx: &str, minor: i64) -> PayOrder {
    PayOrder {
        amount: Money::new(minor, Currency::from_code("GBP").unwrap()),
        shop_transaction_id: shop_tx.into(),
        success_redirect_url: Some("https://shop.example/ok".into()),
        failure_redirect_url: None,
        provider_data: Map::new(),
        provider_order_id: None,
    }
}

#[tokio::test]
async fn pay_sends_the_documented_request_and_returns_the_link() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            from_the_terminal(when, POST, "/open/payments/single/create-and-process")
                .header("content-type", "application/json")
                .json_body(json!({
                    "reference": "order-1",
                    "amount": "12.99",
                    "customRedirectUrl": "https://shop.example/ok",
                    "description": described("order-1")
                }));
            then.status(201)
                .json_body(json!({"created": true, "result": {
                "id": "64b48c5b6ba2cd6a040b20a8", "reference": "order-1", "amount": "12.99",
                "status": "sent", "link": "https://payment.fena.co/pay/?p=abc"}}));
        })
        .await;
    let outcome = fena(&server.base_url(), 2000)
        .pay(&order("order-1", 1299))
        .await
        .unwrap();
    create.assert_async().await;
    let PayOutcome::Created(c) = outcome else {
        panic!("expected a created payment")
    };
    assert_eq!(c.payment_id, "64b48c5b6ba2cd6a040b20a8");
    assert_eq!(
        c.redirect,
        Redirect::Get {
            url: "https://payment.fena.co/pay/?p=abc".into()
        }
    );
    assert_eq!(c.state.status, PaymentStatusKind::Pending);
    assert_eq!(c.reference.as_deref(), Some("order-1"));
}

#[tokio::test]
async fn long_or_odd_shop_transaction_ids_get_a_valid_deterministic_reference() {
    let server = MockServer::start_async().await;
    let odd = "ORDER #2024/11/21 — café";
    let expected = transform::reference_for(odd);
    assert_eq!(expected.len(), 12);
    assert!(expected
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    assert_eq!(
        expected,
        transform::reference_for(odd),
        "same id, same reference"
    );
    assert_ne!(
        expected,
        transform::reference_for("ORDER #2024/11/22 — café")
    );
    let create = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/open/payments/single/create-and-process")
                .json_body_includes(json!({"reference": expected, "description": described(odd), "amount": "0.05"}).to_string());
            then.status(201).json_body(json!({"created": true, "result": {
                "id": "64b48c5b6ba2cd6a040b20a9", "status": "sent", "link": "https://payment.fena.co/pay/?p=x"}}));
        })
        .await;
    fena(&server.base_url(), 2000)
        .pay(&order(odd, 5))
        .await
        .unwrap();
    create.assert_async().await;
}

#[tokio::test]
async fn provider_data_overrides_reference_and_passes_customer_fields() {
    let server = MockServer::start_async().await;
    let create = server
        .mock_async(|when, then| {
            when.method(POST).json_body(json!({
                "reference": "INV-7",
                "amount": "1.00",
                "bankAccount": "acc-1",
                "customerName": "Ada",
                "customerEmail": "ada@example.com",
                "customRedirectUrl": "https://shop.example/ok",
                "description": described("tx-7")
            }));
            then.status(201).json_body(json!({"created": true, "result": {
                "id": "64b48c5b6ba2cd6a040b20aa", "status": "sent", "link": "https://payment.fena.co/pay/?p=y"}}));
        })
        .await;
    let mut o = order("tx-7", 100);
    o.provider_data = json!({"reference": "INV-7", "bankAccount": "acc-1", "customerName": "Ada",
        "customerEmail": "ada@example.com"})
    .as_object()
    .unwrap()
    .clone();
    fena(&server.base_url(), 2000).pay(&o).await.unwrap();
    create.assert_async().await;

    o.provider_data = json!({"reference": "way-too-long-reference"})
        .as_object()
        .unwrap()
        .clone();
    let err = fena(&server.base_url(), 2000).pay(&o).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::InvalidRequest { ref field, .. } if field == "providerData.reference")
    );
}

#[tokio::test]
async fn fena_errors_map_to_ko_config_unavailable_and_timeout() {
    let server = MockServer::start_async().await;
    let mut m = server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(400)
                .json_body(json!({"message": "Amount cannot be empty or less than 0.01"}));
        })
        .await;
    let p = fena(&server.base_url(), 500);
    match p.pay(&order("a", 1)).await.unwrap() {
        PayOutcome::Declined { message } => {
            assert_eq!(message, "Fena: Amount cannot be empty or less than 0.01")
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    m.delete_async().await;
    for (status, check) in [(401, "Misconfigured"), (503, "Unavailable")] {
        m = server
            .mock_async(|when, then| {
                when.method(POST);
                then.status(status).body("{}");
            })
            .await;
        let err = p.pay(&order("a", 1)).await.unwrap_err();
        assert!(
            format!("{err:?}").starts_with(check),
            "{status} gave {err:?}"
        );
        assert!(!err.to_string().contains(SECRET));
        m.delete_async().await;
    }
    server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(201)
                .delay(std::time::Duration::from_millis(1500))
                .body("{}");
        })
        .await;
    let err = p.pay(&order("a", 1)).await.unwrap_err();
    assert!(
        matches!(err, ProviderError::Timeout { provider: "fena" }),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_connect_timeout_is_unavailable_as_for_feennex() {
    // Nothing was sent, so the outcome is known: 502, the same as Feennex's adapter answers.
    let port = payrouter_provider::testing::SaturatedPort::new();
    let err = fena_connecting(&port.url(), 100, 5000)
        .pay(&order("a", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::Unavailable(m) if m == "could not connect to Fena"),
        "{err:?}"
    );
}

#[tokio::test]
async fn fena_messages_echoing_the_credentials_are_redacted() {
    let server = MockServer::start_async().await;
    let echo = format!("Invalid terminal-secret {SECRET} for terminal {ID}");
    let mut m = server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(400).json_body(json!({"message": echo}));
        })
        .await;
    let p = fena(&server.base_url(), 2000);
    match p.pay(&order("a", 100)).await.unwrap() {
        PayOutcome::Declined { message } => assert_eq!(
            message,
            "Fena: Invalid terminal-secret [redacted] for terminal [redacted]"
        ),
        other => panic!("expected a decline, got {other:?}"),
    }
    m.delete_async().await;
    // The same for a refund refusal, a message given as a list, and a status error.
    m = server
        .mock_async(|when, then| {
            when.method(POST);
            then.status(422)
                .json_body(json!({"message": [echo.clone(), "amount"]}));
        })
        .await;
    let refund = RefundOrder {
        payment_id: "64b48c5b6ba2cd6a040b20a8".into(),
        amount: Money::new(100, Currency::from_code("GBP").unwrap()),
        provider_data: Map::new(),
    };
    match p.refund(&refund).await.unwrap() {
        RefundOutcome::Declined { message } => {
            assert!(
                !message.contains(SECRET) && !message.contains(ID),
                "{message}"
            );
            assert!(message.ends_with("[redacted]; amount"), "{message}");
        }
        other => panic!("expected a decline, got {other:?}"),
    }
    m.delete_async().await;
    server
        .mock_async(|when, then| {
            when.method(GET);
            then.status(409).json_body(json!({"message": echo}));
        })
        .await;
    let err = p.fetch("64b48c5b6ba2cd6a040b20a8").await.unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ProviderError::Unavailable(_)), "{err:?}");
    assert!(!text.contains(SECRET) && !text.contains(ID), "{text}");
}

#[tokio::test]
async fn fetch_reads_state_amount_and_shop_transaction_id() {
    let server = MockServer::start_async().await;
    let get = server
        .mock_async(|when, then| {
            from_the_terminal(when, GET, "/open/payments/single/64b48c5b6ba2cd6a040b20a8");
            then.status(200)
                .json_body(json!({"data": {"id": "64b48c5b6ba2cd6a040b20a8",
                "status": "paid", "amount": "12.99", "currency": "GBP", "reference": "order-1",
                "description": described("order-1")}}));
        })
        .await;
    let f = fena(&server.base_url(), 2000)
        .fetch("64b48c5b6ba2cd6a040b20a8")
        .await
        .unwrap();
    get.assert_async().await;
    assert_eq!(f.state.status, PaymentStatusKind::Accepted);
    assert!(f.state.is_final);
    assert_eq!(f.amount.unwrap().minor, 1299);
    assert_eq!(f.shop_transaction_id.as_deref(), Some("order-1"));

    // A description without this router's tag names no shopTransactionId: not ours.
    for foreign in ["order-2", "order-2 #pr-0123456789abcdef"] {
        let id = "64b48c5b6ba2cd6a040b20a9";
        let get = server
            .mock_async(|when, then| {
                when.method(GET).path(format!("/open/payments/single/{id}"));
                then.status(200)
                    .json_body(json!({"data": {"id": id, "status": "paid",
                    "amount": "12.99", "currency": "GBP", "description": foreign}}));
            })
            .await;
        let f = fena(&server.base_url(), 2000).fetch(id).await.unwrap();
        assert_eq!(f.shop_transaction_id, None, "{foreign}");
        get.delete_async().await;
    }

    server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/open/payments/single/64b48c5b6ba2cd6a040b20ff");
            then.status(404)
                .json_body(json!({"message": "Payment not found"}));
        })
        .await;
    let err = fena(&server.base_url(), 2000)
        .fetch("64b48c5b6ba2cd6a040b20ff")
        .await
        .unwrap_err();
    assert!(matches!(err, ProviderError::NotFound(_)));
}

#[tokio::test]
async fn refund_posts_the_amount_and_is_pending() {
    let server = MockServer::start_async().await;
    let refund = server
        .mock_async(|when, then| {
            from_the_terminal(
                when,
                POST,
                "/open/payments/single/64b48c5b6ba2cd6a040b20a8/refund",
            )
            .json_body(json!({"amount": "5.00"}));
            then.status(200).json_body(json!({"saved": true}));
        })
        .await;
    let order = RefundOrder {
        payment_id: "64b48c5b6ba2cd6a040b20a8".into(),
        amount: Money::new(500, Currency::from_code("GBP").unwrap()),
        provider_data: Map::new(),
    };
    let out = fena(&server.base_url(), 2000).refund(&order).await.unwrap();
    refund.assert_async().await;
    assert_eq!(out, RefundOutcome::Pending);
}

#[test]
fn every_fena_status_maps_explicitly() {
    use Action::*;
    use PaymentStatusKind::*;
    let table = [
        ("draft", Pending, Payment, false),
        ("sent", Pending, Payment, false),
        ("overdue", Pending, Payment, false),
        ("pending", Pending, Payment, false),
        ("paid", Accepted, Payment, true),
        ("rejected", Failed, Payment, false),
        ("cancelled", Failed, Payment, true),
        ("refund_started", Pending, Refund, false),
        ("refund-started", Pending, Refund, false),
        ("Refund started", Pending, Refund, false),
        ("refund_rejected", Failed, Refund, true),
        ("refund rejected", Failed, Refund, true),
        ("refunded", Accepted, Refund, true),
        ("partial_refund", Accepted, Refund, true),
        ("partial-refund", Accepted, Refund, true),
        ("Partial refund", Accepted, Refund, true),
    ];
    for (raw, status, action, fin) in table {
        let s = transform::map_status(raw);
        assert_eq!(
            (s.status, s.action, s.is_final, s.unknown),
            (status, action, fin, false),
            "{raw}"
        );
        assert_eq!(s.provider_status, raw);
    }
    let unknown = transform::map_status("payment-confirmed");
    assert!(unknown.unknown);
    assert_eq!(unknown.status, Pending);
    assert!(!unknown.is_final);
}

#[test]
fn webhooks_name_a_payment_or_are_refused() {
    let req = |body: &str| CallbackRequest {
        content_type: Some("application/json".into()),
        query: None,
        body: body.as_bytes().to_vec(),
    };
    let p = fena("http://127.0.0.1:9", 100);
    assert_eq!(
        p.authenticate_callback(&req(r#"{"eventScope":"single-payments","eventName":"status-update","id":"64b48c5b6ba2cd6a040b20a8","status":"paid"}"#)).unwrap(),
        CallbackSubject::Payment { payment_id: "64b48c5b6ba2cd6a040b20a8".into() }
    );
    assert_eq!(
        p.authenticate_callback(&req(r#"{"id":"64b48c5b6ba2cd6a040b20a8","status":"paid"}"#))
            .unwrap(),
        CallbackSubject::Payment {
            payment_id: "64b48c5b6ba2cd6a040b20a8".into()
        }
    );
    assert!(matches!(
        p.authenticate_callback(&req(r#"{"eventScope":"bank-accounts","id":"abc"}"#))
            .unwrap(),
        CallbackSubject::Ignored { .. }
    ));
    for bad in [
        "not json",
        "[]",
        r#"{"status":"paid"}"#,
        r#"{"id":"../../etc"}"#,
        r#"{"id":42}"#,
    ] {
        assert!(p.authenticate_callback(&req(bad)).is_err(), "{bad}");
    }
}

#[test]
fn missing_credentials_are_reported_by_key() {
    let settings = Settings {
        base_url: "ftp://x".into(),
        terminal_id: None,
        terminal_secret: None,
        bank_account: None,
        pay_mode: Default::default(),
        accounts: Default::default(),
        connect_timeout_ms: 1000,
        timeout_ms: 1000,
        ..Settings::default()
    };
    let problems = Fena::build(settings, &ProviderContext::default())
        .err()
        .unwrap();
    let text = problems.join("\n");
    assert!(text.contains("FENA_TERMINAL_ID"), "{text}");
    assert!(text.contains("FENA_TERMINAL_SECRET"), "{text}");
    assert!(text.contains("FENA_BASE_URL"), "{text}");
}

/// The adapter with the plain key as `default` (unless `plain` is false) and the account
/// `shop-a` with its own key and bank account.
fn with_shop_a(base: &str, plain: bool) -> Arc<dyn Provider> {
    let shop_a = payrouter_fena::accounts::AccountSettings {
        terminal_id: Some("shop-a-id".into()),
        terminal_secret: Some(SecretString::from("shop-a-secret")),
        bank_account: Some("bank-a".into()),
        company_id: None,
    };
    let settings = Settings {
        base_url: base.to_string(),
        terminal_id: plain.then(|| ID.into()),
        terminal_secret: plain.then(|| SecretString::from(SECRET)),
        bank_account: None,
        pay_mode: payrouter_fena::PayMode::OneStep,
        accounts: [("shop-a".to_string(), shop_a)].into_iter().collect(),
        connect_timeout_ms: 1000,
        timeout_ms: 2000,
        ..Settings::default()
    };
    Fena::build(settings, &ProviderContext::default()).unwrap()
}

/// The names of the merchants `fena` has accounts for.
fn merchant_names(fena: &dyn Provider) -> Vec<String> {
    fena.merchants().iter().map(|m| m.to_string()).collect()
}

#[tokio::test]
async fn each_merchant_account_calls_with_its_own_key_and_bank_account() {
    let server = MockServer::start_async().await;
    let fena = with_shop_a(&server.base_url(), true);
    assert_eq!(merchant_names(&*fena), ["default", "shop-a"]);
    let shop_a = fena
        .merchant(&payrouter_provider::Merchant::parse("shop-a").unwrap())
        .expect("shop-a is configured");
    assert!(fena
        .merchant(&payrouter_provider::Merchant::parse("shop-z").unwrap())
        .is_none());

    let created = server
        .mock_async(|when, then| {
            when.method(POST)
                .path("/open/payments/single/create-and-process")
                .header("terminal-id", "shop-a-id")
                .header("terminal-secret", "shop-a-secret")
                .json_body_includes(json!({"bankAccount": "bank-a"}).to_string());
            then.status(201)
                .json_body(json!({"created": true, "result": {
                "id": "64b48c5b6ba2cd6a040b20b1", "reference": "order-1", "amount": "12.99",
                "currency": "GBP", "status": "sent", "link": "https://fena.example/pay/b1"}}));
        })
        .await;
    let paid = shop_a.pay(&order("order-1", 1299)).await.unwrap();
    created.assert_async().await;
    assert!(matches!(paid, PayOutcome::Created(_)), "{paid:?}");

    let fetched = server
        .mock_async(|when, then| {
            when.method(GET)
                .path("/open/payments/single/64b48c5b6ba2cd6a040b20b1")
                .header("terminal-id", "shop-a-id")
                .header("terminal-secret", "shop-a-secret");
            then.status(200)
                .json_body(json!({"data": {"id": "64b48c5b6ba2cd6a040b20b1",
                "status": "sent", "amount": "12.99", "currency": "GBP"}}));
        })
        .await;
    shop_a.fetch("64b48c5b6ba2cd6a040b20b1").await.unwrap();
    fetched.assert_async().await;
}

#[tokio::test]
async fn without_a_default_account_an_unnamed_merchant_is_refused() {
    let server = MockServer::start_async().await;
    let fena = with_shop_a(&server.base_url(), false);
    assert_eq!(merchant_names(&*fena), ["shop-a"]);
    match fena.pay(&order("order-1", 1299)).await {
        Err(ProviderError::InvalidRequest { field, message }) => {
            assert_eq!(field, "providerData.merchant");
            assert!(message.contains("configured: shop-a"), "{message}");
        }
        other => panic!("expected a refusal naming providerData.merchant, got {other:?}"),
    }
}
