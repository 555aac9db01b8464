//! Partner mode against the offline simulator over real HTTP: merchant accounts that name a
//! `company_id` pay, are paid (the webhook comes to the company's integration in the partner
//! spelling, retried after a 5xx), refund and run standing orders through the partner API,
//! each under its own company and integration, as the simulator records them. Needs
//! `--features sim`.
#![cfg(feature = "sim")]

mod common;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use payrouter_fena::sim::{PartnerKey, SimConfig, Simulator};
use payrouter_fena::{Fena, Settings};
use payrouter_provider::testing::{money, Inbox};
use payrouter_provider::{
    CallbackRequest, CallbackSubject, Interval, Merchant, PayOrder, PayOutcome, PayResult,
    PaymentStatusKind, PreparedPay, Provider, ProviderContext, ProviderError, ProviderFactory,
    RefundOrder, RefundOutcome, SecretString, SubscriptionOrder,
};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

const PARTNER_ID: &str = "65aa00000000000000000001";
const PARTNER_SECRET: &str = "5f1d2a9e-partner-secret";
const COMPANY_A: &str = "65bb000000000000000000a1";
const COMPANY_B: &str = "65bb000000000000000000b2";

/// Webhooks received, by path, and how many more to refuse with a 500 first.
#[derive(Clone, Default)]
struct Receiver {
    received: Inbox<(String, Value)>,
    attempts: Arc<AtomicUsize>,
    refuse: Arc<AtomicUsize>,
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: axum::http::Uri,
    Json(body): Json<Value>,
) -> (StatusCode, Json<Value>) {
    receiver.attempts.fetch_add(1, Ordering::SeqCst);
    let refused = receiver
        .refuse
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if refused {
        return (StatusCode::INTERNAL_SERVER_ERROR, Json(json!({})));
    }
    let path = uri.path().to_string();
    receiver.received.push((path, body));
    (StatusCode::OK, Json(json!({"received": true})))
}

/// The JSON answer to `request`.
async fn answer<T: serde::de::DeserializeOwned>(request: reqwest::RequestBuilder) -> T {
    request.send().await.unwrap().json().await.unwrap()
}

struct Env {
    base: String,
    http: reqwest::Client,
    receiver: Receiver,
    fena: Arc<dyn Provider>,
    /// Company A's integration, whose webhook URL is the receiver's `/integration`.
    integration: String,
}

impl Env {
    fn account(&self, name: &str) -> &dyn Provider {
        self.fena.merchant(&Merchant::parse(name).unwrap()).unwrap()
    }

    /// Moves the payment `id` to paid at the simulator, its webhook sent.
    async fn paid(&self, id: &str) {
        let paid = self
            .http
            .post(format!("{}/_sim/payments/{id}/state", self.base))
            .json(&json!({"status": "paid", "callback": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(paid.status(), 200);
    }

    /// The simulator's record of the payment or standing order `id`.
    async fn recorded(&self, id: &str) -> Value {
        let all: Vec<Value> = answer(self.http.get(format!("{}/_sim/payments", self.base))).await;
        all.into_iter()
            .find(|p| p["id"] == id)
            .unwrap_or_else(|| panic!("the simulator has no {id}"))
    }
}

async fn start() -> Env {
    let receiver = Receiver::default();
    let app = Router::new()
        .route("/integration", post(receive))
        .route("/partner", post(receive))
        .with_state(receiver.clone());
    let hooks = common::serve(app).await;
    let (base, sim) = common::serve_simulator(|base| {
        Simulator::new(SimConfig {
            terminal_id: payrouter_fena::sim::DEMO_TERMINAL_ID.into(),
            terminal_secret: payrouter_fena::sim::DEMO_TERMINAL_SECRET.into(),
            public_base_url: base.into(),
            // The partner's own webhook URL, for payments that name no integration.
            webhook_url: format!("{hooks}/partner"),
        })
    })
    .await;
    sim.set_partner(PartnerKey {
        terminal_id: PARTNER_ID.into(),
        terminal_secret: PARTNER_SECRET.into(),
        companies: vec![COMPANY_A.into(), COMPANY_B.into()],
    });

    let http = reqwest::Client::new();
    let created: Value = answer(
        http.post(format!(
            "{base}/open/partner/companies/{COMPANY_A}/integrations/create"
        ))
        .header("terminal-id", PARTNER_ID)
        .header("terminal-secret", PARTNER_SECRET)
        .json(&json!({
            "name": "payrouter", "webhookUrl": format!("{hooks}/integration"),
            "redirectUrl": "https://shop.example/done",
            "fenaPaymentPageRedirectEnabled": false, "isRetryWebhookEnabled": true,
        })),
    )
    .await;
    let integration = created["result"]["id"].as_str().unwrap().to_string();

    let partner = |company: &str| payrouter_fena::accounts::AccountSettings {
        company_id: Some(company.into()),
        ..Default::default()
    };
    let settings = Settings {
        base_url: base.clone(),
        partner_terminal_id: Some(PARTNER_ID.into()),
        partner_terminal_secret: Some(SecretString::from(PARTNER_SECRET)),
        accounts: BTreeMap::from([
            ("shop-a".to_string(), partner(COMPANY_A)),
            ("shop-b".to_string(), partner(COMPANY_B)),
        ]),
        connect_timeout_ms: 1000,
        timeout_ms: 2000,
        ..Settings::default()
    };
    let fena = Fena::build(settings, &ProviderContext::default()).unwrap();
    Env {
        base,
        http,
        receiver,
        fena,
        integration,
    }
}

fn order(shop_tx: &str, minor: i64) -> PayOrder {
    PayOrder {
        amount: money(minor, "GBP"),
        shop_transaction_id: shop_tx.into(),
        success_redirect_url: None,
        failure_redirect_url: None,
        provider_data: Map::new(),
        provider_order_id: None,
    }
}

/// Pays as the gateway does in two phases: a draft, then processed.
async fn pay(account: &dyn Provider, shop_tx: &str, minor: i64) -> String {
    let order = order(shop_tx, minor);
    let PreparedPay::Handle(draft) = account.prepare_pay(&order).await.unwrap() else {
        panic!("two-phase pay prepares a draft");
    };
    let PayOutcome::Created(created) = account.resume_pay(&order, &draft, true).await.unwrap()
    else {
        panic!("the payment was not created");
    };
    assert_eq!(created.payment_id, draft);
    created.payment_id
}

#[tokio::test]
async fn a_partner_payment_is_made_paid_and_refunded_under_its_company_and_integration() {
    let env = start().await;
    let shop_a = env.account("shop-a");
    let id = pay(shop_a, "order-a1", 1299).await;

    let recorded = env.recorded(&id).await;
    assert_eq!(recorded["companyId"], COMPANY_A);
    assert_eq!(recorded["integration"], env.integration.as_str());
    assert_eq!(recorded["reference"], "order-a1");
    assert_eq!(recorded["status"], "sent");

    // The partner key reaches a payment only under the company it was made for.
    assert!(matches!(
        env.account("shop-b").fetch(&id).await,
        Err(ProviderError::NotFound(_))
    ));

    // The integration's receiver fails once: the simulator retries (isRetryWebhookEnabled).
    env.receiver.refuse.store(1, Ordering::SeqCst);
    env.paid(&id).await;
    let webhooks = common::wait_for(&env.receiver.received, 1).await;
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    assert_eq!(env.receiver.attempts.load(Ordering::SeqCst), 2);
    let (path, body) = &webhooks[0];
    assert_eq!(path, "/integration");
    assert_eq!(body["scope"], "single-payment");
    assert_eq!(body["event_name"], "payment_status_update");
    assert_eq!(body["id"], id.as_str());
    assert!(body.get("eventScope").is_none(), "{body}");

    let callback = CallbackRequest {
        content_type: Some("application/json".into()),
        query: None,
        body: serde_json::to_vec(body).unwrap(),
    };
    match env.fena.authenticate_callback(&callback).unwrap() {
        CallbackSubject::Payment { payment_id } => assert_eq!(payment_id, id),
        other => panic!("{other:?}"),
    }
    let state = shop_a.fetch(&id).await.unwrap().state;
    assert_eq!(state.provider_status, "paid");
    assert_eq!(state.status, PaymentStatusKind::Accepted);

    let payee =
        json!({"name": "A Payer", "externalAccountId": "12345678", "identification": "123456"});
    let refund = RefundOrder {
        payment_id: id.clone(),
        amount: money(500, "GBP"),
        provider_data: Map::from_iter([("payeeAccountInfo".to_string(), payee)]),
    };
    assert!(matches!(
        shop_a.refund(&refund).await.unwrap(),
        RefundOutcome::Pending
    ));
    assert_eq!(env.recorded(&id).await["pendingRefundAmount"], "5.00");
    // Another company's account cannot refund it: Fena does not know it there.
    let elsewhere = env.account("shop-b").refund(&refund).await.unwrap();
    assert!(
        matches!(&elsewhere, RefundOutcome::Declined { message } if message.contains("not found")),
        "{elsewhere:?}"
    );
}

#[tokio::test]
async fn a_company_without_an_integration_pays_and_is_told_at_the_partner_url() {
    let env = start().await;
    let id = pay(env.account("shop-b"), "order-b1", 250).await;
    let recorded = env.recorded(&id).await;
    assert_eq!(recorded["companyId"], COMPANY_B);
    assert_eq!(recorded["integration"], Value::Null);

    env.paid(&id).await;
    let webhooks = common::wait_for(&env.receiver.received, 1).await;
    assert_eq!(webhooks.len(), 1, "{webhooks:?}");
    assert_eq!(webhooks[0].0, "/partner");
    assert_eq!(webhooks[0].1["scope"], "single-payment");
}

#[tokio::test]
async fn a_partner_standing_order_is_scheduled_under_its_company_and_integration() {
    let env = start().await;
    let shop_a = env.account("shop-a");
    let order = SubscriptionOrder {
        amount: money(999, "GBP"),
        shop_transaction_id: "sub-a1".into(),
        interval: Interval::Month,
        interval_count: 1,
        expires_after: Some(12),
        provider_data: Map::new(),
    };
    let outcome = shop_a.schedule_subscription(&order).await.unwrap();
    assert_eq!(outcome.result, PayResult::RedirectToUrl, "{outcome:?}");
    let token = outcome.token.unwrap();
    let link = outcome.redirect_url.unwrap();
    assert_eq!(link, format!("{}/recurring/{token}", env.base));

    let recorded = env.recorded(&token).await;
    assert_eq!(recorded["kind"], "recurring");
    assert_eq!(recorded["companyId"], COMPANY_A);
    assert_eq!(recorded["integration"], env.integration.as_str());
    assert_eq!(recorded["recurringAmount"], "9.99");

    let state = shop_a.fetch_subscription(&token).await.unwrap();
    assert_eq!(state.provider_status, "sent");
    assert!(env
        .account("shop-b")
        .fetch_subscription(&token)
        .await
        .is_err());

    let cancelled = shop_a.expire_subscription(&token).await.unwrap();
    assert_eq!(cancelled.result, PayResult::Ok, "{cancelled:?}");
}

#[test]
fn partner_settings_problems_name_their_keys() {
    let settings = Settings {
        accounts: BTreeMap::from([(
            "shop-a".to_string(),
            payrouter_fena::accounts::AccountSettings {
                company_id: Some("../other".into()),
                ..Default::default()
            },
        )]),
        partner_terminal_secret: Some(SecretString::from(PARTNER_SECRET)),
        partner_paths: payrouter_fena::partner::PartnerPathSettings {
            refund: Some("/open/partner/{companyId}/refund".into()),
            ..Default::default()
        },
        ..Settings::default()
    };
    let problems = Fena::build(settings, &ProviderContext::default())
        .err()
        .unwrap()
        .join("\n");
    for expected in [
        "FENA_PARTNER_TERMINAL_ID: required with the other half of the partner key",
        "FENA_ACCOUNT_SHOP_A_COMPANY_ID: must be a Fena company id",
        "FENA_ACCOUNT_SHOP_A_COMPANY_ID: a partner company needs the partner key",
        "FENA_PARTNER_PATH_REFUND: '/open/partner/{companyId}/refund' is not a path",
    ] {
        assert!(
            problems.contains(expected),
            "missing '{expected}' in:\n{problems}"
        );
    }
    assert!(!problems.contains(PARTNER_SECRET), "{problems}");
}
