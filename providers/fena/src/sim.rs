//! An offline, stateful Fena: an axum router that speaks Fena's terminal API the way
//! [`crate::Fena`] uses it (paths, `terminal-id`/`terminal-secret` headers, bodies, envelopes),
//! keeps payments in memory, serves the payer's pages that move them on, sends Fena's webhooks,
//! and has a control API (`/_sim/...`) for tests: set states, replay webhooks, inject faults.
//!
//! ```no_run
//! # async fn demo() {
//! use payrouter_fena::sim::{SimConfig, Simulator};
//! let sim = Simulator::new(SimConfig {
//!     terminal_id: "term-1".into(),
//!     terminal_secret: "secret".into(),
//!     public_base_url: "http://127.0.0.1:8081/fena".into(),
//!     webhook_url: "http://127.0.0.1:8080/v3/fena/callback".into(),
//! });
//! let app = axum::Router::new().nest("/fena", sim.router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8081").await.unwrap();
//! axum::serve(listener, app).await.unwrap();
//! # }
//! ```
//!
//! Routes (relative to where the router is nested):
//! - Fena API: `POST /open/payments/single/create-and-process`, `POST
//!   /open/payments/single/create` (a draft: no link), `POST /open/payments/single/{id}/process`
//!   (draft → sent), `GET /open/payments/single/{id}`,
//!   `POST /open/payments/single/{id}/refund`, `POST /open/payments/recurring/create-and-process`,
//!   `GET /open/payments/recurring/{id}`, `POST /open/payments/recurring/{id}/edit` (while a
//!   draft or overdue), `POST /open/payments/recurring/{id}/delete`. Each checks the
//!   `terminal-id` and `terminal-secret` headers (401 `{"message":"Unauthorized"}`). Each key
//!   ([`Simulator::with_keys`]) is a company of its own: another key's payment is 404.
//! - Partner API (`sim/partner.rs`, `sim/integrations.rs`): the same payment calls under
//!   `/open/partner/companies/{companyId}/payments/…` for the key given to
//!   [`Simulator::set_partner`] and its companies only, a company's integrations and bank
//!   accounts, and `GET /open/company/bank-accounts/list` for a terminal key. A payment naming
//!   an integration has its webhooks sent to the integration's URL, partner-spelled.
//! - Payer pages: `GET /pay/{id}` (Pay / Reject / Cancel), `GET /refund/{id}` (the merchant
//!   approves or rejects a started refund), `GET /recurring/{id}` (Set up standing order /
//!   Reject). Each button sends the webhook before answering.
//!
//! Control API (no credentials), for tests and demos: the shared one of
//! `payrouter_provider::sim::control` (`GET /_sim` lists it), where a state change is
//! `{"status": "paid", "callback": false}` (any Fena status, of a single or recurring payment)
//! and a replayed webhook claims a Fena status (`{"status": "paid", "times": 2}`).
//! `GET /_sim/payments` lists single payments (`"kind":"single"`, with `refundedAmount` and
//! `pendingRefundAmount`), then recurring ones (`"kind":"recurring"`).
//!
//! A fault rule is `{"operation", "status", "latencyMs", "hang", "drop", "count",
//! "probability", "after"}`; `operation` is one of `create` (create-and-process or a draft),
//! `process`, `get`, `refund`, `recurring_create`, `recurring_get`, `recurring_edit`,
//! `recurring_delete`, `integrations`, `bank_accounts` (API calls) or `webhook`. On an API call, `latencyMs` waits first
//! (alone, the call then goes on normally); `status` answers that HTTP status with
//! `{"message":"simulated fault"}`; `hang` never answers (an hour, then as `drop`); `drop`
//! aborts the connection before a complete answer (reqwest reports a connection error). On
//! `webhook`, `latencyMs` delays it and any of the others loses it. `count` applies the rule to
//! the next n matching calls, `probability` to each call with that chance; rules are tried in
//! the order they were added. Faults apply before credentials are checked, as they would in
//! front of Fena; an `after` rule (`create`, `process`) applies once the call was carried out,
//! to its answer only: the payment exists, but its answer is late, never comes or is cut.

mod api;
mod control;
mod integrations;
mod pages;
mod partner;

pub use integrations::{default_bank_account, PartnerKey};

use axum::routing::{get, post};
use axum::Router;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use payrouter_provider::sim::{callback_client, deliver, Faults};

/// Credentials the offline mode gives the simulator and the adapter; they only ever exist on
/// this machine.
pub const DEMO_TERMINAL_ID: &str = "62b48adf6ba2cd6a040b1eec";
pub const DEMO_TERMINAL_SECRET: &str = "3858f642-e92f-431c-9d38-46d15efb7fba";

/// The offline mode's two further merchant accounts (`shop-a`, `shop-b`): each key is a
/// company of its own at the simulator, as at Fena.
pub const DEMO_MERCHANTS: [(&str, &str, &str); 2] = [
    (
        "shop-a",
        "7a0c4e1b9d2f3a5c6e8b0d1f",
        "0b6f2c1e-5a4d-4c3b-9e8f-7a6d5c4b3a21",
    ),
    (
        "shop-b",
        "8b1d5f2c0e3a4b6d7f9c1e2a",
        "c4d3e2f1-0a9b-4c8d-8e7f-6a5b4c3d2e1f",
    ),
];

/// The offline mode's hooks (`ProviderFactory::SIMULATED`): a simulator with the demo
/// credentials, sending webhooks to payrouter's `/v3/fena/callback`.
pub const SIMULATED: payrouter_provider::sim::Simulated = payrouter_provider::sim::Simulated {
    router: |base, router_base| {
        let config = SimConfig {
            terminal_id: DEMO_TERMINAL_ID.into(),
            terminal_secret: DEMO_TERMINAL_SECRET.into(),
            public_base_url: base.into(),
            webhook_url: format!(
                "{}/v3/{}/callback",
                router_base.trim_end_matches('/'),
                crate::NAME
            ),
        };
        let more = DEMO_MERCHANTS.map(|(_, id, secret)| SimKey {
            terminal_id: id.into(),
            terminal_secret: secret.into(),
        });
        Simulator::with_keys(config, more).router()
    },
    settings: |base| {
        let accounts: serde_json::Map<String, Value> = DEMO_MERCHANTS
            .iter()
            .map(|(name, id, secret)| {
                let account = json!({"terminal_id": id, "terminal_secret": secret});
                (name.to_string(), account)
            })
            .collect();
        let settings = json!({
            "base_url": base,
            "terminal_id": DEMO_TERMINAL_ID,
            "terminal_secret": DEMO_TERMINAL_SECRET,
            "accounts": accounts,
        });
        settings.as_object().cloned().unwrap_or_default()
    },
    example_pay: r#"{"amount":1299,"currency":"GBP","shopTransactionId":"demo-1"}"#,
};

/// What the simulated Fena accepts and where it answers. (No `Debug`: it holds the secret.)
#[derive(Clone)]
pub struct SimConfig {
    /// The `terminal-id` header every `/open/...` call must carry.
    pub terminal_id: String,
    /// The `terminal-secret` header every `/open/...` call must carry.
    pub terminal_secret: String,
    /// Where the router is reachable, nest prefix included (`http://127.0.0.1:8081/fena`):
    /// payer links and form actions are built from it.
    pub public_base_url: String,
    /// Where webhooks are POSTed (payrouter's `/v3/fena/callback`).
    pub webhook_url: String,
}

/// A further terminal key the simulator accepts: a company of its own, which sees only the
/// payments made with it. (No `Debug`: it holds the secret.)
#[derive(Clone)]
pub struct SimKey {
    pub terminal_id: String,
    pub terminal_secret: String,
}

/// The simulator: shared state behind an `Arc`, cheap to clone.
#[derive(Clone)]
pub struct Simulator {
    inner: Arc<Inner>,
}

struct Inner {
    config: SimConfig,
    /// Every key accepted, `config`'s first; a payment belongs to the company of the key that
    /// made it (named by its terminal id).
    keys: Vec<SimKey>,
    http: reqwest::Client,
    store: Mutex<Store>,
    faults: Faults,
    /// Companies' integrations and bank accounts, and the partner key.
    companies: integrations::Companies,
}

/// Operations a fault rule can name.
const OPERATIONS: &[&str] = &[
    "create",
    "process",
    "get",
    "refund",
    "recurring_create",
    "recurring_get",
    "recurring_edit",
    "recurring_delete",
    "integrations",
    "bank_accounts",
    "webhook",
];

#[derive(Default)]
struct Store {
    payments: Records<Payment>,
    recurring: Records<Recurring>,
}

/// What a store keeps by id, for the company (terminal id) whose key made it.
trait Record {
    fn id(&self) -> &str;
    fn company(&self) -> &str;
}

/// Payments or standing orders in creation order (the control API lists them as they were
/// made), found by id without a scan: benchmarks create tens of thousands.
struct Records<T> {
    list: Vec<T>,
    by_id: HashMap<String, usize>,
}

impl<T> Default for Records<T> {
    fn default() -> Self {
        Records {
            list: Vec::new(),
            by_id: HashMap::new(),
        }
    }
}

impl<T: Record> Records<T> {
    fn push(&mut self, record: T) {
        self.by_id.insert(record.id().to_string(), self.list.len());
        self.list.push(record);
    }

    fn get(&self, id: &str) -> Option<&T> {
        self.by_id.get(id).map(|&i| &self.list[i])
    }

    fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.by_id.get(id).map(|&i| &mut self.list[i])
    }

    fn iter(&self) -> std::slice::Iter<'_, T> {
        self.list.iter()
    }
}

/// A single payment. Amounts are GBP pence.
#[derive(Debug, Clone)]
struct Payment {
    id: String,
    reference: String,
    amount: i64,
    status: String,
    description: Option<String>,
    customer_name: Option<String>,
    customer_email: Option<String>,
    bank_account: Option<String>,
    custom_redirect_url: Option<String>,
    due_date: Option<String>,
    created_at: DateTime<Utc>,
    completed_at: Option<DateTime<Utc>>,
    /// Completed refunds so far.
    refunded: i64,
    /// The refund started and not yet approved or rejected.
    pending_refund: Option<i64>,
    /// The company (terminal id) whose key made it; no other key can see it.
    company: String,
}

/// A recurring payment (standing order).
#[derive(Debug, Clone)]
struct Recurring {
    id: String,
    reference: String,
    recurring_amount: i64,
    /// The immediate payment asked for with `initialPaymentAmount`.
    initial_payment: Option<Transaction>,
    first_payment_date: String,
    number_of_payments: u64,
    frequency: String,
    status: String,
    customer_name: Option<String>,
    customer_email: Option<String>,
    created_at: DateTime<Utc>,
    transactions: Vec<Transaction>,
    /// The company (terminal id) whose key made it; no other key can see it.
    company: String,
}

#[derive(Debug, Clone)]
struct Transaction {
    id: String,
    status: String,
    amount: i64,
    date: String,
}

impl Simulator {
    pub fn new(config: SimConfig) -> Self {
        Self::with_keys(config, [])
    }

    /// A simulator that also accepts the keys `more`, each a company of its own.
    pub fn with_keys(mut config: SimConfig, more: impl IntoIterator<Item = SimKey>) -> Self {
        let first = SimKey {
            terminal_id: config.terminal_id.clone(),
            terminal_secret: config.terminal_secret.clone(),
        };
        let keys = std::iter::once(first).chain(more).collect();
        config.public_base_url = config.public_base_url.trim_end_matches('/').to_string();
        let http = callback_client();
        Simulator {
            inner: Arc::new(Inner {
                config,
                keys,
                http,
                store: Mutex::new(Store::default()),
                faults: Faults::new(OPERATIONS),
                companies: integrations::Companies::default(),
            }),
        }
    }

    /// All routes, relative: the caller nests them, e.g. `Router::new().nest("/fena", sim.router())`.
    pub fn router(&self) -> Router {
        api::routes()
            .route("/pay/{id}", get(pages::payment_page))
            .route("/pay/{id}/{action}", post(pages::payment_action))
            .route("/refund/{id}", get(pages::refund_page))
            .route("/refund/{id}/{action}", post(pages::refund_action))
            .route("/recurring/{id}", get(pages::recurring_page))
            .route("/recurring/{id}/{action}", post(pages::recurring_action))
            .merge(integrations::routes())
            .merge(partner::routes())
            .merge(payrouter_provider::sim::control::routes::<Simulator>())
            .with_state(self.clone())
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // Every change to the store is a single assignment or push: a panic cannot leave it
        // half-changed, so a poisoned lock is still consistent.
        self.inner.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn base(&self) -> &str {
        &self.inner.config.public_base_url
    }

    /// POSTs a webhook to `webhook_url` unless a `webhook` fault drops it. Its outcome is only
    /// logged, as Fena does not retry by default; true when the receiver answered 2xx.
    async fn send_webhook(&self, body: Value) -> bool {
        let config = &self.inner.config;
        if let Some((url, retry, body)) = self
            .inner
            .companies
            .partner_delivery(&body, &config.webhook_url)
        {
            return integrations::deliver_retried(
                &self.inner.http,
                &self.inner.faults,
                &url,
                &body,
                retry,
            )
            .await;
        }
        let what = format!("fena webhook of {}", body["id"]);
        let request = self
            .inner
            .http
            .post(&self.inner.config.webhook_url)
            .json(&body);
        deliver(&self.inner.faults, "webhook", Some(request), &what).await
    }

    /// Sends a webhook without making the caller wait: API calls answer at once, as Fena's do,
    /// so a router that holds a lock while calling cannot deadlock with its own webhook.
    fn spawn_webhook(&self, body: Value) {
        let sim = self.clone();
        tokio::spawn(async move {
            sim.send_webhook(body).await;
        });
    }
}

impl Record for Payment {
    fn id(&self) -> &str {
        &self.id
    }

    fn company(&self) -> &str {
        &self.company
    }
}

impl Record for Recurring {
    fn id(&self) -> &str {
        &self.id
    }

    fn company(&self) -> &str {
        &self.company
    }
}

impl Payment {
    fn link(&self, base: &str) -> String {
        format!("{base}/pay/{}", self.id)
    }

    /// The payment as `GET /open/payments/single/{id}` gives it in `data`.
    fn data(&self, base: &str) -> Value {
        let mut data = json!({
            "id": self.id,
            "reference": self.reference,
            "amount": decimal(self.amount),
            "currency": "GBP",
            "status": self.status,
            "description": self.description,
            "customerName": self.customer_name,
            "customerEmail": self.customer_email,
            "customerEmailCC": [],
            "bankAccount": self.bank_account,
            "paymentMethod": "fena_ob",
            "isSandbox": true,
            "dueDate": self.due_date,
            "createdAt": timestamp(self.created_at),
            "completedAt": self.completed_at.map(timestamp),
        });
        // A draft has no link: nobody can pay it until it is processed.
        if self.status != "draft" {
            data["link"] = json!(self.link(base));
        }
        if self.pending_refund.is_some() {
            data["refundLink"] = json!(format!("{base}/refund/{}", self.id));
        }
        data
    }

    /// A single-payment webhook; `claimed` replaces the status in the body only.
    fn webhook(&self, claimed: Option<&str>) -> Value {
        json!({
            "eventScope": "single-payments",
            "eventName": "status-update",
            "id": self.id,
            "reference": self.reference,
            "amount": decimal(self.amount),
            "currency": "GBP",
            "status": claimed.unwrap_or(&self.status),
            "customerName": self.customer_name,
            "customerEmail": self.customer_email,
            "customerEmailCC": [],
            "paymentMethod": "fena_ob",
            "description": self.description,
            "createdAt": timestamp(self.created_at),
            "completedAt": self.completed_at.map(timestamp),
        })
    }

    /// Moves to `status`, keeping the dates and refund amounts in line with it.
    fn set_status(&mut self, status: &str) {
        match status {
            "paid" => self.completed_at = Some(Utc::now()),
            "refunded" => {
                self.pending_refund = None;
                self.refunded = self.amount;
            }
            "partial_refund" => self.refunded += self.pending_refund.take().unwrap_or(0),
            "refund_rejected" => self.pending_refund = None,
            _ => {}
        }
        self.status = status.to_string();
    }
}

impl Recurring {
    fn link(&self, base: &str) -> String {
        format!("{base}/recurring/{}", self.id)
    }

    /// The recurring payment as `GET /open/payments/recurring/{id}` gives it in `data`.
    fn data(&self, base: &str) -> Value {
        json!({
            "id": self.id,
            "invoiceRefNumber": self.reference,
            "status": self.status,
            "recurringAmount": decimal(self.recurring_amount),
            "initialPayment": self.initial_payment.as_ref().map(Transaction::data),
            "currency": "GBP",
            "frequency": self.frequency,
            "firstPaymentDate": self.first_payment_date,
            "expectedNumberOfPayments": self.number_of_payments,
            "customerName": self.customer_name,
            "customerEmail": self.customer_email,
            "createdAt": timestamp(self.created_at),
            "link": self.link(base),
            "transactions": self.transactions.iter().map(Transaction::data).collect::<Vec<_>>(),
        })
    }

    /// A recurring-payment webhook: `status-update`, or `payment_made` with its transaction.
    fn webhook(
        &self,
        event: &str,
        claimed: Option<&str>,
        transaction: Option<&Transaction>,
    ) -> Value {
        let mut body = json!({
            "eventScope": "recurring-payments",
            "eventName": event,
            "id": self.id,
            "invoiceRefNumber": self.reference,
            "recurringAmount": decimal(self.recurring_amount),
            "frequency": self.frequency,
            "status": claimed.unwrap_or(&self.status),
        });
        if let Some(t) = transaction {
            body["transaction"] = t.data();
        }
        body
    }
}

impl Transaction {
    fn data(&self) -> Value {
        json!({"id": self.id, "status": self.status, "amount": decimal(self.amount), "date": self.date})
    }
}

/// A 24-hex id, like Fena's Mongo ObjectIds.
fn new_id() -> String {
    hex::encode(rand::random::<[u8; 12]>())
}

/// Pence as Fena's 2-decimal string.
fn decimal(pence: i64) -> String {
    format!("{}.{:02}", pence / 100, pence % 100)
}

/// Pence as money a person reads (`12.99 GBP`).
fn gbp(pence: i64) -> String {
    let gbp = payrouter_provider::Currency::from_code("GBP").expect("GBP is ISO 4217");
    payrouter_provider::html::money(payrouter_provider::Money::new(pence, gbp))
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl AsRef<Faults> for Simulator {
    fn as_ref(&self) -> &Faults {
        &self.inner.faults
    }
}
