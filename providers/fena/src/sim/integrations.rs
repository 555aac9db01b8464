//! The simulated Fena's companies as a partner and `payrouter fena setup` see them: the partner
//! key and the companies it manages, each company's integrations (list with paging, create,
//! edit) and bank accounts (verified or not, sandbox or not), and the delivery of a webhook to
//! an integration's `webhookUrl`, retried on a 5xx or a network error when the integration
//! asks for it (Fena's 30, 60 and 120 seconds, scaled down to milliseconds).
//!
//! Routes, relative to where the simulator is nested (the default partner path templates):
//! - `GET /open/company/bank-accounts/list` (terminal key: its own company's accounts),
//! - `GET /open/partner/companies/{companyId}/bank-accounts/list`,
//! - `GET /open/partner/companies/{companyId}/integrations/list?page=&limit=`,
//! - `POST /open/partner/companies/{companyId}/integrations/create`,
//! - `POST /open/partner/companies/{companyId}/integrations/{id}/edit`.
//!
//! A partner call needs the partner's `terminal-id`/`terminal-secret` and one of its companies
//! (another company: 404, as if it did not exist). Control routes (no credentials):
//! `GET /_sim/companies/{companyId}` (its integrations, bank accounts and how many times setup
//! changed them), `POST /_sim/companies/{companyId}/integrations/{id}` (overwrite fields, to
//! make one drift) and `POST /_sim/companies/{companyId}/bank-accounts` (add one).

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use payrouter_provider::sim::control::refusal;
use payrouter_provider::sim::Faults;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use super::api::Answer;
use super::partner::at;
use super::{new_id, Simulator};
use crate::partner::PartnerCall;

/// Fena retries a webhook after 30, 60 and 120 seconds; the simulator after as many ms.
pub const RETRY_DELAYS: [Duration; 3] = [
    Duration::from_millis(30),
    Duration::from_millis(60),
    Duration::from_millis(120),
];

/// Fena's default page size for lists.
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;

/// The partner key and the companies it manages. (No `Debug`: it holds the secret.)
#[derive(Clone)]
pub struct PartnerKey {
    pub terminal_id: String,
    pub terminal_secret: String,
    pub companies: Vec<String>,
}

/// Companies by id, and the partner key that manages some of them.
#[derive(Default)]
pub(super) struct Companies {
    state: Mutex<Registry>,
}

#[derive(Default)]
struct Registry {
    partner: Option<PartnerKey>,
    companies: BTreeMap<String, Company>,
    /// Payments and standing orders made through the partner API, by id.
    made: HashMap<String, Made>,
}

/// What a payment made through the partner API belongs to.
#[derive(Debug, Clone)]
struct Made {
    company: String,
    integration: Option<String>,
}

#[derive(Debug, Clone)]
struct Company {
    integrations: Vec<Map<String, Value>>,
    bank_accounts: Vec<Value>,
    /// Integrations created or edited through the API.
    changes: u64,
}

impl Company {
    /// Its integration `id`.
    fn integration_mut(&mut self, id: &str) -> Option<&mut Map<String, Value>> {
        self.integrations
            .iter_mut()
            .find(|i| i.get("id").and_then(Value::as_str) == Some(id))
    }

    /// A new company has one verified sandbox bank account, as Fena makes at sign-up.
    fn new(id: &str) -> Self {
        Company {
            integrations: Vec::new(),
            bank_accounts: vec![json!({
                "id": default_bank_account(id),
                "name": "Sandbox account",
                "status": "verified",
                "isSandbox": true,
                "providerExternalId": "ob-sandbox",
            })],
            changes: 0,
        }
    }

    fn view(&self, id: &str) -> Value {
        json!({
            "id": id,
            "integrations": self.integrations,
            "bankAccounts": self.bank_accounts,
            "changes": self.changes,
        })
    }
}

/// The id of the verified sandbox bank account every simulated company starts with.
pub fn default_bank_account(company: &str) -> String {
    hex::encode(&Sha256::digest(format!("bank-account:{company}"))[..12])
}

impl Companies {
    fn state(&self) -> MutexGuard<'_, Registry> {
        // Each change is one assignment or push: a poisoned lock is still consistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Lets `key` act for its companies.
    pub(super) fn set_partner(&self, key: PartnerKey) {
        let mut state = self.state();
        for company in &key.companies {
            state
                .companies
                .entry(company.clone())
                .or_insert_with(|| Company::new(company));
        }
        state.partner = Some(key);
    }

    /// Whether the headers carry the partner key and `company` is one of its companies:
    /// None when they do, else the refusal.
    pub(super) fn partner_refusal(&self, headers: &HeaderMap, company: &str) -> Option<Response> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let state = self.state();
        let Some(partner) = &state.partner else {
            return Some(refusal(StatusCode::UNAUTHORIZED, "Unauthorized"));
        };
        if header("terminal-id") != Some(partner.terminal_id.as_str())
            || header("terminal-secret") != Some(partner.terminal_secret.as_str())
        {
            return Some(refusal(StatusCode::UNAUTHORIZED, "Unauthorized"));
        }
        if !partner.companies.iter().any(|c| c == company) {
            return Some(refusal(StatusCode::NOT_FOUND, "Company not found"));
        }
        None
    }

    /// The integration `id` of `company`: where its webhooks go and whether they are retried.
    pub(super) fn webhook_target(&self, company: &str, id: &str) -> Option<(String, bool)> {
        let state = self.state();
        let integration = state
            .companies
            .get(company)?
            .integrations
            .iter()
            .find(|i| i.get("id").and_then(Value::as_str) == Some(id))?;
        let url = integration.get("webhookUrl")?.as_str()?.to_string();
        let retry = integration
            .get("isRetryWebhookEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        Some((url, retry))
    }

    /// Whether `company` has the integration `id` (a payment may name only its own).
    pub(super) fn has_integration(&self, company: &str, id: &str) -> bool {
        self.webhook_target(company, id).is_some()
    }

    /// Records that the payment (or standing order) `id` was made for `company`.
    pub(super) fn record(&self, id: &str, company: &str, integration: Option<String>) {
        let made = Made {
            company: company.to_string(),
            integration,
        };
        self.state().made.insert(id.to_string(), made);
    }

    /// Whether the payment `id` was made for `company` through the partner API.
    pub(super) fn owns(&self, company: &str, id: &str) -> bool {
        self.state()
            .made
            .get(id)
            .is_some_and(|m| m.company == company)
    }

    /// Adds `companyId` and `integration` to a payment's control view when it was made
    /// through the partner API.
    pub(super) fn annotate(&self, view: &mut Value) {
        let Some(id) = view.get("id").and_then(Value::as_str) else {
            return;
        };
        if let Some(made) = self.state().made.get(id) {
            view["companyId"] = json!(made.company);
            view["integration"] = json!(made.integration);
        }
    }

    /// Where the webhook `body` of a partner payment goes, in the partner spelling: its
    /// integration's `webhookUrl` (retried when the integration says so), else `fallback`
    /// (the partner's own webhook URL). None for a payment not made through the partner API.
    pub(super) fn partner_delivery(
        &self,
        body: &Value,
        fallback: &str,
    ) -> Option<(String, bool, Value)> {
        let id = body.get("id").and_then(Value::as_str)?;
        let made = self.state().made.get(id).cloned()?;
        let (url, retry) = made
            .integration
            .and_then(|i| self.webhook_target(&made.company, &i))
            .unwrap_or_else(|| (fallback.to_string(), false));
        Some((url, retry, partner_webhook(body.clone())))
    }

    fn with_company<T>(&self, company: &str, f: impl FnOnce(&mut Company) -> T) -> T {
        let mut state = self.state();
        let entry = state
            .companies
            .entry(company.to_string())
            .or_insert_with(|| Company::new(company));
        f(entry)
    }

    /// Forgets integrations and added bank accounts (the partner key and its companies stay).
    pub(super) fn forget(&self) {
        let mut state = self.state();
        state.made.clear();
        for (id, company) in state.companies.iter_mut() {
            *company = Company::new(id);
        }
    }
}

impl Simulator {
    /// Lets the partner key act for its companies through `/open/partner/...`.
    pub fn set_partner(&self, key: PartnerKey) {
        self.inner.companies.set_partner(key);
    }

    /// The terminal headers the partner's calls for `company` are carried out with (the
    /// simulator's first key): the partner side records which company each of its payments
    /// belongs to, and lets a partner call reach only its company's.
    pub(super) fn company_headers(&self, _company: &str) -> HeaderMap {
        let config = &self.inner.config;
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("terminal-id", &config.terminal_id),
            ("terminal-secret", &config.terminal_secret),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        headers
    }

    /// The company of the terminal key in `headers`: each key is its own company, named by
    /// its terminal id.
    fn terminal_company(&self, headers: &HeaderMap) -> Option<String> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (id, secret) = (header("terminal-id")?, header("terminal-secret")?);
        self.inner
            .keys
            .iter()
            .find(|k| k.terminal_id == id && k.terminal_secret == secret)
            .map(|k| k.terminal_id.clone())
    }
}

/// The routes of this module, merged into the simulator's router.
pub(super) fn routes() -> Router<Simulator> {
    Router::new()
        .route(
            "/open/company/bank-accounts/list",
            get(terminal_bank_accounts),
        )
        .route(
            &at(PartnerCall::BankAccountsList),
            get(partner_bank_accounts),
        )
        .route(&at(PartnerCall::IntegrationsList), get(list_integrations))
        .route(&at(PartnerCall::IntegrationCreate), post(save_integration))
        .route(&at(PartnerCall::IntegrationUpdate), post(save_integration))
        .route("/_sim/companies/{company}", get(company_view))
        .route(
            "/_sim/companies/{company}/integrations/{id}",
            post(drift_integration),
        )
        .route(
            "/_sim/companies/{company}/bank-accounts",
            post(add_bank_account),
        )
}

/// Applies a fault rule for `operation` (a fault answers before credentials are checked).
async fn fault(sim: &Simulator, operation: &str) -> Option<Response> {
    sim.inner.faults.take(operation)?.response().await
}

/// Applies a fault rule for `operation`, then refuses a call without `company`'s partner key.
async fn partner_gate(
    sim: &Simulator,
    operation: &str,
    headers: &HeaderMap,
    company: &str,
) -> Result<(), Response> {
    if let Some(response) = fault(sim, operation).await {
        return Err(response);
    }
    sim.inner
        .companies
        .partner_refusal(headers, company)
        .map_or(Ok(()), Err)
}

/// The company's bank accounts, on one page.
fn bank_accounts_page(sim: &Simulator, company: &str) -> Response {
    let docs = sim
        .inner
        .companies
        .with_company(company, |c| c.bank_accounts.clone());
    Json(json!({"data": paged(docs, 1, MAX_LIMIT)})).into_response()
}

async fn terminal_bank_accounts(State(sim): State<Simulator>, headers: HeaderMap) -> Response {
    if let Some(response) = fault(&sim, "bank_accounts").await {
        return response;
    }
    let Some(company) = sim.terminal_company(&headers) else {
        return refusal(StatusCode::UNAUTHORIZED, "Unauthorized");
    };
    bank_accounts_page(&sim, &company)
}

async fn partner_bank_accounts(
    State(sim): State<Simulator>,
    Path(company): Path<String>,
    headers: HeaderMap,
) -> Answer {
    partner_gate(&sim, "bank_accounts", &headers, &company).await?;
    Ok(bank_accounts_page(&sim, &company))
}

#[derive(Deserialize)]
struct Paging {
    page: Option<String>,
    limit: Option<String>,
}

async fn list_integrations(
    State(sim): State<Simulator>,
    Path(company): Path<String>,
    Query(paging): Query<Paging>,
    headers: HeaderMap,
) -> Answer {
    partner_gate(&sim, "integrations", &headers, &company).await?;
    let number = |text: Option<String>, default: usize| match text {
        None => Ok(default),
        Some(t) => t.parse::<usize>().ok().filter(|&n| n >= 1).ok_or(t),
    };
    let (page, limit) = match (number(paging.page, 1), number(paging.limit, DEFAULT_LIMIT)) {
        (Ok(page), Ok(limit)) => (page, limit.min(MAX_LIMIT)),
        _ => {
            return Err(refusal(
                StatusCode::BAD_REQUEST,
                "page and limit must be positive integers",
            )
            .into())
        }
    };
    let docs: Vec<Value> = sim.inner.companies.with_company(&company, |c| {
        c.integrations.iter().cloned().map(Value::Object).collect()
    });
    Ok(Json(json!({"data": paged(docs, page, limit)})).into_response())
}

/// Fena's page envelope of `docs`.
fn paged(docs: Vec<Value>, page: usize, limit: usize) -> Value {
    let total = docs.len();
    let total_pages = total.div_ceil(limit).max(1);
    let docs: Vec<Value> = docs
        .into_iter()
        .skip((page - 1) * limit)
        .take(limit)
        .collect();
    json!({
        "page": page,
        "limit": limit,
        "totalDocs": total,
        "totalPages": total_pages,
        "hasNextPage": page < total_pages,
        "docs": docs,
    })
}

/// An integration body (seed 000): the required fields, with their types.
fn integration_body(body: &[u8]) -> Result<Map<String, Value>, String> {
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(body) else {
        return Err("Request body must be a JSON object".into());
    };
    let mut integration = Map::new();
    for key in ["name", "webhookUrl", "redirectUrl"] {
        match body.get(key) {
            Some(Value::String(s)) if !s.trim().is_empty() => {
                integration.insert(key.into(), json!(s));
            }
            _ => return Err(format!("{key} is required and must be a non-empty string")),
        }
    }
    let webhook = integration["webhookUrl"].as_str().unwrap_or_default();
    if !(webhook.starts_with("http://") || webhook.starts_with("https://")) {
        return Err("webhookUrl must be a URL address".into());
    }
    match body.get("fenaPaymentPageRedirectEnabled") {
        Some(Value::Bool(b)) => {
            integration.insert("fenaPaymentPageRedirectEnabled".into(), json!(b));
        }
        _ => return Err("fenaPaymentPageRedirectEnabled is required and must be a boolean".into()),
    }
    match body.get("isRetryWebhookEnabled") {
        None | Some(Value::Null) => {
            integration.insert("isRetryWebhookEnabled".into(), json!(false));
        }
        Some(Value::Bool(b)) => {
            integration.insert("isRetryWebhookEnabled".into(), json!(b));
        }
        Some(_) => return Err("isRetryWebhookEnabled must be a boolean".into()),
    }
    match body.get("bankAccount") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => {
            integration.insert("bankAccount".into(), json!(s));
        }
        Some(_) => return Err("bankAccount must be a string".into()),
    }
    Ok(integration)
}

/// Creates an integration (a path without an id) or replaces the one the path names.
async fn save_integration(
    State(sim): State<Simulator>,
    Path(params): Path<Vec<String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let mut params = params.into_iter();
    let company = params.next().unwrap_or_default();
    partner_gate(&sim, "integrations", &headers, &company).await?;
    let mut integration =
        integration_body(&body).map_err(|message| refusal(StatusCode::BAD_REQUEST, &message))?;
    let Some(id) = params.next() else {
        integration.insert("id".into(), json!(new_id()));
        let result = Value::Object(integration.clone());
        sim.inner.companies.with_company(&company, |c| {
            c.integrations.push(integration);
            c.changes += 1;
        });
        return Ok((
            StatusCode::CREATED,
            Json(json!({"created": true, "result": result})),
        )
            .into_response());
    };
    integration.insert("id".into(), json!(id));
    let saved = sim.inner.companies.with_company(&company, |c| {
        let found = c.integration_mut(&id)?;
        *found = integration.clone();
        c.changes += 1;
        Some(Value::Object(integration))
    });
    match saved {
        Some(result) => Ok(Json(json!({"saved": true, "result": result})).into_response()),
        None => Err(refusal(StatusCode::NOT_FOUND, "Integration not found").into()),
    }
}

async fn company_view(State(sim): State<Simulator>, Path(company): Path<String>) -> Response {
    let view = sim
        .inner
        .companies
        .with_company(&company, |c| c.view(&company));
    Json(view).into_response()
}

/// Overwrites fields of an integration without counting it as a change made by setup: how a
/// test makes one drift, as someone editing it in Fena's dashboard would.
async fn drift_integration(
    State(sim): State<Simulator>,
    Path((company, id)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "expected a JSON object of fields");
    };
    let changed = sim.inner.companies.with_company(&company, |c| {
        let found = c.integration_mut(&id)?;
        for (key, value) in fields {
            if key != "id" {
                found.insert(key, value);
            }
        }
        Some(Value::Object(found.clone()))
    });
    match changed {
        Some(integration) => Json(integration).into_response(),
        None => refusal(StatusCode::NOT_FOUND, "no such integration"),
    }
}

/// Adds a bank account: `{"name", "status", "isSandbox", "id"?}`.
async fn add_bank_account(
    State(sim): State<Simulator>,
    Path(company): Path<String>,
    body: Bytes,
) -> Response {
    let Ok(Value::Object(mut account)) = serde_json::from_slice::<Value>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "expected a JSON object");
    };
    if !matches!(account.get("id"), Some(Value::String(_))) {
        account.insert("id".into(), json!(new_id()));
    }
    let account = Value::Object(account);
    sim.inner
        .companies
        .with_company(&company, |c| c.bank_accounts.push(account.clone()));
    (StatusCode::CREATED, Json(account)).into_response()
}

/// POSTs `body` to `url`; when `retry`, a 5xx or a network error is retried after each of
/// [`RETRY_DELAYS`]. True when the receiver answered 2xx. A `webhook` fault rule applies to
/// each attempt.
pub(super) async fn deliver_retried(
    http: &reqwest::Client,
    faults: &Faults,
    url: &str,
    body: &Value,
    retry: bool,
) -> bool {
    let what = format!("fena webhook of {} to its integration", body["id"]);
    let delays = if retry { &RETRY_DELAYS[..] } else { &[] };
    let mut attempt = 0;
    loop {
        let request = http.post(url).json(body);
        let outcome = match faults.take("webhook") {
            Some(fault) if !fault.allows_delivery().await => Err(true),
            _ => match request.send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(r.status().is_server_error()),
                Err(_) => Err(true),
            },
        };
        match outcome {
            Ok(()) => return true,
            // Fena retries a 5xx or a network error, never a refusal (4xx).
            Err(retryable) => {
                let Some(delay) = delays.get(attempt).filter(|_| retryable) else {
                    tracing::info!(
                        callback = what,
                        attempts = attempt + 1,
                        "simulator: webhook not delivered"
                    );
                    return false;
                };
                tokio::time::sleep(*delay).await;
                attempt += 1;
            }
        }
    }
}

/// The partner spelling of a webhook (`scope`/`event_name`, seed 001) for a terminal one.
pub(super) fn partner_webhook(mut body: Value) -> Value {
    let Some(map) = body.as_object_mut() else {
        return body;
    };
    if let Some(Value::String(scope)) = map.remove("eventScope") {
        let scope = match scope.as_str() {
            "single-payments" => "single-payment",
            "recurring-payments" => "recurring-payment",
            other => other,
        };
        map.insert("scope".into(), json!(scope));
    }
    if let Some(Value::String(name)) = map.remove("eventName") {
        let name = match name.as_str() {
            "status-update" => "payment_status_update",
            other => other,
        };
        map.insert("event_name".into(), json!(name));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_split_the_docs() {
        let docs: Vec<Value> = (0..30).map(|i| json!(i)).collect();
        let first = paged(docs.clone(), 1, 25);
        assert_eq!(first["docs"].as_array().unwrap().len(), 25);
        assert_eq!(first["hasNextPage"], true);
        assert_eq!(first["totalPages"], 2);
        let second = paged(docs, 2, 25);
        assert_eq!(second["docs"], json!([25, 26, 27, 28, 29]));
        assert_eq!(second["hasNextPage"], false);
        assert_eq!(paged(Vec::new(), 1, 25)["totalPages"], 1);
    }

    #[test]
    fn a_partner_webhook_round_trips_to_the_terminal_spelling() {
        let terminal =
            json!({"eventScope": "single-payments", "eventName": "status-update", "id": "p1"});
        let partner = partner_webhook(terminal);
        assert_eq!(
            partner,
            json!({"scope": "single-payment", "event_name": "payment_status_update", "id": "p1"})
        );
        let Value::Object(map) = partner else {
            unreachable!()
        };
        let back = crate::partner::terminal_webhook(map);
        assert_eq!(back["eventScope"], "single-payments");
        assert_eq!(back["eventName"], "status-update");
    }
}
