//! An offline, stateful Feennex: an axum router that speaks the Piastrix-platform API the way
//! [`crate::Feennex`] uses it (signed JSON to `invoice/create` and `invoice/check`, answers in
//! the `{data, error_code, message, result}` envelope with HTTP 200 even for refusals), keeps
//! invoices in memory, serves the payer's page, sends signed form-encoded callbacks, and has a
//! control API (`/_sim/...`) for tests: set states, replay callbacks, inject faults.
//!
//! ```no_run
//! # async fn demo() {
//! use payrouter_feennex::sim::{SimConfig, Simulator};
//! let sim = Simulator::new(SimConfig {
//!     shop_id: 5,
//!     secret_key: "SecretKey01".into(),
//!     public_base_url: "http://127.0.0.1:8081/feennex".into(),
//! });
//! let app = axum::Router::new().nest("/feennex", sim.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! Bank-transfer payways (`bank_*`) answer invoice/create with the receipt endpoints
//! (`receipt_url`, `receipt_status_url`: the `receipts` module; `receipt_web`: the invoice's
//! payer page, standing in for Feennex's upload form).
//!
//! Routes (relative to where the router is nested): `POST /invoice/create`,
//! `POST /invoice/check`, `POST /invoice/try` (a fee of 3% of the amount, rounded up to the
//! minor unit, in the invoice's currency; the same checks as create, nothing stored), and the payer's page `GET /pay/{id}` (or `POST /pay-form` with the
//! `invoice_id` form of a POST-redirect payway) whose Pay / Reject buttons send the callback
//! before answering.
//!
//! Values are signed and compared the way Feennex's Python server sees them: a JSON string as
//! sent, a JSON number as Python's `str()` of it (`12.30` is signed as `12.3`, `5` as `5`).
//! Amounts go out the same way, as Python floats (`12.34`, `1.0`).
//!
//! Control API (no signature), for tests and demos: the shared one of
//! `payrouter_provider::sim::control` (`GET /_sim` lists it), where a state change is
//! `{"status": 4, "callback": false, "clientPrice": null}` (any integer; `clientPrice`, a
//! decimal string, is what the payer paid, for 12) and a replayed callback claims an integer
//! status. `GET /_sim/payments` lists every invoice as `invoice/check` gives its `data`.
//!
//! `{id}` is the Feennex invoice id (`payment_id`), or else a `shop_order_id`. A callback with
//! status 6 (`rejected`) goes to the invoice's `callback_rejected_url`, any other (4 `success`,
//! 12 `recalculated`, other numbers as their digits) to its `callback_url`.
//!
//! A fault rule is `{"operation", "status", "latencyMs", "hang", "drop", "count",
//! "probability", "after"}`; `operation` is `create`, `try` or `check` (API calls) or `callback`. On an API
//! call, `latencyMs` waits first (alone, the call then goes on normally); `status` answers
//! that HTTP status with `{"message":"simulated fault"}`; `hang` never answers (an hour, then
//! as `drop`); `drop` aborts the connection before a complete answer (reqwest reports a
//! connection error). On `callback`, `latencyMs` delays it and any of the others loses it.
//! `count` applies the rule to the next n matching calls, `probability` to each call with that
//! chance; rules are tried in the order they were added. An `after` rule on `create` applies
//! once the invoice was made, to its answer only: the invoice exists, but its answer is late,
//! never comes or is cut.

mod api;
mod control;
mod pages;
mod receipts;

pub use receipts::RECEIPT_MAX_BYTES;

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, Utc};
use payrouter_provider::{Money, SecretString};
use serde::Serialize;
use serde_json::value::RawValue;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::sign;
use payrouter_provider::sim::{callback_client, deliver, Faults};

/// The shop the offline mode gives the simulator and the adapter; its secret only ever exists
/// on this machine.
pub const DEMO_SHOP_ID: u64 = 5;
pub const DEMO_SECRET_KEY: &str = "SecretKey01";
pub const DEMO_PAYWAY: &str = "card_usd";

/// The offline mode's hooks (`ProviderFactory::SIMULATED`): a simulator of the demo shop.
/// Callbacks go wherever each invoice says, so payrouter's URL is not needed.
pub const SIMULATED: payrouter_provider::sim::Simulated = payrouter_provider::sim::Simulated {
    router: |base, _router_base| {
        Simulator::new(SimConfig {
            shop_id: DEMO_SHOP_ID,
            secret_key: DEMO_SECRET_KEY.into(),
            public_base_url: base.into(),
        })
        .router()
    },
    settings: |base| {
        let settings = serde_json::json!({
            "base_url": base,
            "shop_id": DEMO_SHOP_ID,
            "secret_key": DEMO_SECRET_KEY,
            "payway": DEMO_PAYWAY,
        });
        settings.as_object().cloned().unwrap_or_default()
    },
    example_pay: r#"{"amount":1299,"currency":"USD","shopTransactionId":"demo-2","providerData":{"email":"payer@example.com"}}"#,
};

/// What the simulated Feennex shop is and where it answers. (No `Debug`: it holds the secret.)
#[derive(Clone)]
pub struct SimConfig {
    /// The only shop the simulator knows; any other `shop_id` is error 11.
    pub shop_id: u64,
    /// The shop's secret key: requests must be signed with it, callbacks are.
    pub secret_key: String,
    /// Where the router is reachable, nest prefix included (`http://127.0.0.1:8081/feennex`):
    /// payer links and form actions are built from it.
    pub public_base_url: String,
}

/// The simulator: shared state behind an `Arc`, cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    secret: SecretString,
    http: reqwest::Client,
    store: Mutex<Store>,
    faults: Faults,
}

/// The payways the simulated shop has; a payway containing `post` asks for a POST redirect.
pub const PAYWAYS: &[&str] = &[
    "card_usd",
    "card_eur",
    "card_gbp",
    "card_rub",
    "card_uah",
    "bank_usd",
    "bank_eur",
    "card_post_usd",
    "card_post_eur",
];

/// Bank-transfer payways: the payer transfers the money and uploads the bank's receipt.
fn is_bank_transfer(payway: &str) -> bool {
    payway.starts_with("bank_")
}

/// Operations a fault rule can name.
const OPERATIONS: &[&str] = &["create", "try", "check", "callback"];

/// Where the simulated payment system says the payer came from.
const PAYER_IP: &str = "127.0.0.1";
/// What the payment system reports about the payer, as the JSON text Feennex forwards.
const PS_DATA: &str =
    r#"{"ps_payer_account": "424242XXXXXX4242", "card_holder_name": "TEST PAYER"}"#;

#[derive(Default)]
struct Store {
    /// In creation order, so the control API lists them as they were made.
    invoices: Vec<Invoice>,
    last_id: u64,
    /// Every request that reached the receipt upload endpoint, taken or not.
    receipt_requests: usize,
}

/// A receipt the simulated Feennex took.
#[derive(Debug, Clone)]
pub struct SimReceipt {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: usize,
}

#[derive(Debug, Clone)]
struct Invoice {
    id: u64,
    shop_order_id: String,
    amount: Money,
    payway: String,
    email: String,
    description: Option<String>,
    success_url: Option<String>,
    failed_url: Option<String>,
    callback_url: Option<String>,
    callback_rejected_url: Option<String>,
    /// The invoice status enum (feennex-api.md §3.3): 2 Waiting when created.
    status: i64,
    created: DateTime<Utc>,
    processed: Option<DateTime<Utc>>,
    /// What the payer paid when it differs from `amount` (status 12, Recalculated).
    paid: Option<Money>,
    /// Receipts sent for a bank-transfer invoice.
    receipts: Vec<SimReceipt>,
}

/// `data` of `invoice/check`; amounts are number tokens written as Feennex writes them.
#[derive(Serialize)]
struct CheckData {
    client_price: Box<RawValue>,
    created: String,
    description: Option<String>,
    email: String,
    is_unique: bool,
    payment_id: u64,
    payway: String,
    processed: Option<String>,
    ps_currency: u16,
    ps_data: String,
    shop_amount: Box<RawValue>,
    shop_currency: u16,
    shop_id: u64,
    shop_order_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    shop_original_amount: Option<Box<RawValue>>,
    shop_refund: Box<RawValue>,
    status: i64,
}

impl Simulator {
    pub fn new(mut config: SimConfig) -> Self {
        config.public_base_url = config.public_base_url.trim_end_matches('/').to_string();
        Simulator {
            inner: Arc::new(Inner {
                secret: SecretString::from(config.secret_key.clone()),
                config,
                http: callback_client(),
                store: Mutex::new(Store::default()),
                faults: Faults::new(OPERATIONS),
            }),
        }
    }

    /// All routes, relative: the caller nests them, e.g. `Router::new().nest("/feennex", sim.router())`.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/invoice/create", post(api::create))
            .route("/invoice/check", post(api::check))
            .route("/invoice/try", post(api::try_invoice))
            .route(
                "/api/v1/order/{id}/receipt",
                // Room for the multipart framing around the largest file.
                post(receipts::upload).layer(DefaultBodyLimit::max(RECEIPT_MAX_BYTES + 64 * 1024)),
            )
            .route("/api/v1/order/{id}/receipt/status", get(receipts::status))
            .route("/pay/{id}", get(pages::invoice_page))
            .route("/pay-form", post(pages::pay_form))
            .route("/pay/{id}/{action}", post(pages::invoice_action))
            .merge(payrouter_provider::sim::control::routes::<Simulator>())
            .with_state(self.clone())
    }

    /// How many requests reached the receipt upload endpoint, taken or refused.
    pub fn receipt_requests(&self) -> usize {
        self.store().receipt_requests
    }

    /// The receipts taken for the invoice of `shop_order_id`.
    pub fn receipts(&self, shop_order_id: &str) -> Vec<SimReceipt> {
        self.store()
            .invoices
            .iter()
            .find(|i| i.shop_order_id == shop_order_id)
            .map(|i| i.receipts.clone())
            .unwrap_or_default()
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // Every change to the store is a single assignment or push: a panic cannot leave it
        // half-changed, so a poisoned lock is still consistent.
        self.inner.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base(&self) -> &str {
        &self.inner.config.public_base_url
    }

    /// Sends a callback unless a `callback` fault drops it. Its outcome is only logged; true
    /// when the receiver answered 2xx.
    async fn send_callback(&self, callback: Callback) -> bool {
        let what = format!("feennex callback of invoice {}", callback.payment_id);
        let request = callback.url.map(|url| {
            self.inner
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(callback.body)
        });
        deliver(&self.inner.faults, "callback", request, &what).await
    }
}

/// A callback ready to send: where, and the exact form-encoded body.
#[derive(Clone)]
pub struct Callback {
    payment_id: u64,
    url: Option<String>,
    body: String,
}

impl Invoice {
    fn uses_post_redirect(&self) -> bool {
        self.payway.contains("post")
    }

    fn is_final(&self) -> bool {
        matches!(self.status, 4 | 6 | 7 | 9 | 12)
    }

    /// Moves to `status`; `paid` is what the payer paid when it is a recalculation (12).
    fn set_status(&mut self, status: i64, paid: Option<Money>) {
        self.status = status;
        if status == 12 {
            self.paid = paid.or(self.paid);
        }
        if self.is_final() {
            self.processed.get_or_insert_with(Utc::now);
        }
    }

    /// Requested, and paid: what the payer paid differs only after a recalculation.
    fn amounts(&self) -> (Money, Money) {
        let paid = match self.status {
            12 => self.paid.unwrap_or(self.amount),
            _ => self.amount,
        };
        (self.amount, paid)
    }

    fn check_data(&self, shop_id: u64) -> CheckData {
        let (requested, paid) = self.amounts();
        let currency = requested.currency.numeric();
        CheckData {
            client_price: number(&py_float(paid)),
            created: self.created.format("%Y-%m-%dT%H:%M:%S").to_string(),
            description: self.description.clone(),
            email: self.email.clone(),
            is_unique: true,
            payment_id: self.id,
            payway: self.payway.clone(),
            processed: self
                .processed
                .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()),
            ps_currency: currency,
            ps_data: PS_DATA.into(),
            // After a recalculation Feennex reports the paid amount here and the requested
            // one in `shop_original_amount`.
            shop_amount: number(&py_float(paid)),
            shop_currency: currency,
            shop_id,
            shop_order_id: self.shop_order_id.clone(),
            shop_original_amount: (self.status == 12).then(|| number(&py_float(requested))),
            shop_refund: number(&py_float(paid)),
            status: self.status,
        }
    }

    /// The callback Feennex sends for this invoice; `claimed` replaces the status in the body
    /// only. Every field is signed by the callback rule, exactly as written in the body.
    fn callback(&self, shop_id: u64, claimed: Option<i64>, secret: &SecretString) -> Callback {
        let status = status_word(claimed.unwrap_or(self.status));
        let (requested, paid) = self.amounts();
        let currency = requested.currency.numeric().to_string();
        let timestamp = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M:%S").to_string();
        let mut fields: Vec<(&str, String)> = vec![
            ("client_price", py_float(paid)),
            ("created", timestamp(self.created)),
            ("description", self.description.clone().unwrap_or_default()),
            ("email", self.email.clone()),
            ("lang", "en".into()),
            ("payment_id", self.id.to_string()),
            ("payway", self.payway.clone()),
            (
                "processed",
                self.processed.map(timestamp).unwrap_or_default(),
            ),
            ("ps_currency", currency.clone()),
            ("ps_data", PS_DATA.into()),
            ("shop_amount", py_float(paid)),
            ("shop_currency", currency),
            ("shop_id", shop_id.to_string()),
            ("shop_order_id", self.shop_order_id.clone()),
            ("shop_refund", py_float(paid)),
            ("status", status.clone()),
            ("user_ip", PAYER_IP.into()),
        ];
        if self.status == 12 {
            fields.push(("shop_original_amount", py_float(requested)));
        }
        let signed: Vec<(&str, &str)> = fields
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        let signature = sign::sign(&signed, secret);
        fields.push(("sign", signature));
        fields.sort_by(|a, b| a.0.cmp(b.0));
        let mut form = form_urlencoded::Serializer::new(String::new());
        for (key, value) in &fields {
            form.append_pair(key, value);
        }
        let url = if status == "rejected" {
            &self.callback_rejected_url
        } else {
            &self.callback_url
        };
        Callback {
            payment_id: self.id,
            url: url.clone(),
            body: form.finish(),
        }
    }
}

/// The `status` word of a callback: Feennex sends words, not the numeric enum.
fn status_word(status: i64) -> String {
    match status {
        4 => "success".into(),
        6 => "rejected".into(),
        12 => "recalculated".into(),
        other => other.to_string(),
    }
}

/// An amount with all the digits of its currency (`12.30`, `1299`), from integers only.
fn decimal(m: Money) -> String {
    let exponent = m.currency.exponent();
    if exponent == 0 {
        return m.minor.to_string();
    }
    let unit = 10i64.pow(exponent);
    format!(
        "{}.{:0width$}",
        m.minor / unit,
        m.minor % unit,
        width = exponent as usize
    )
}

/// An amount as Python's `str()` of the float Feennex holds: `12.3`, `1.0`, `1299.0`.
fn py_float(m: Money) -> String {
    let text = decimal(m);
    let (units, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let fraction = fraction.trim_end_matches('0');
    format!(
        "{units}.{}",
        if fraction.is_empty() { "0" } else { fraction }
    )
}

/// Python's `str()` of a JSON number token as Python's `json` parses it: integers verbatim,
/// decimals as the shortest float text. None for the forms this does not reproduce exactly
/// (exponents, more than 15 significant digits, magnitudes below 1e-4): the caller refuses them.
fn py_number(token: &str) -> Option<String> {
    if token.contains(['e', 'E']) {
        return None;
    }
    let Some((units, fraction)) = token.split_once('.') else {
        return Some(token.to_string());
    };
    let fraction = fraction.trim_end_matches('0');
    let significant = format!("{}{fraction}", units.trim_start_matches('-'));
    let significant = significant.trim_start_matches('0');
    if significant.len() > 15 {
        return None;
    }
    let is_zero = significant.is_empty();
    if !is_zero && units.trim_start_matches('-') == "0" && fraction.starts_with("0000") {
        return None;
    }
    Some(format!(
        "{units}.{}",
        if fraction.is_empty() { "0" } else { fraction }
    ))
}

/// A JSON number token from text this module wrote (digits and one point).
fn number(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_string()).expect("a decimal text is a JSON number")
}

impl AsRef<Faults> for Simulator {
    fn as_ref(&self) -> &Faults {
        &self.inner.faults
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payrouter_provider::testing::money;

    #[test]
    fn amounts_are_written_as_python_floats() {
        assert_eq!(py_float(money(1234, "USD")), "12.34");
        assert_eq!(py_float(money(1230, "USD")), "12.3");
        assert_eq!(py_float(money(100, "USD")), "1.0");
        assert_eq!(py_float(money(1299, "JPY")), "1299.0");
        assert_eq!(py_float(money(1230, "KWD")), "1.23");
        assert_eq!(decimal(money(1205, "USD")), "12.05");
        assert_eq!(decimal(money(5, "KWD")), "0.005");
    }

    #[test]
    fn number_tokens_read_as_python_does() {
        assert_eq!(py_number("5").as_deref(), Some("5"));
        assert_eq!(py_number("12.30").as_deref(), Some("12.3"));
        assert_eq!(py_number("1000.0").as_deref(), Some("1000.0"));
        assert_eq!(py_number("0.50").as_deref(), Some("0.5"));
        assert_eq!(py_number("-2.00").as_deref(), Some("-2.0"));
        assert_eq!(py_number("0.0").as_deref(), Some("0.0"));
        assert_eq!(py_number("1e3"), None);
        assert_eq!(py_number("0.00001"), None);
        assert_eq!(py_number("1234567890123.4567"), None);
    }
}
