//! Fena's partner API: one partner key (`FENA_PARTNER_TERMINAL_ID`/`_SECRET`) acting for many
//! managed companies, each call naming its `companyId` in the path. Pure: the table of path
//! templates, the partner's additions to request bodies, its webhook spelling, and the
//! integration and bank-account documents `payrouter fena setup` reads and writes.
//!
//! The partner API's path lines are not published in any source we have (its reference gives
//! bodies and headers only; the migration guide gives the base, `/open/partner/`), so every
//! path is a template overridable in configuration, and the defaults mirror the terminal API's
//! paths under `/open/partner/companies/{companyId}/…`. They must be confirmed against Fena's
//! sandbox.

use payrouter_provider::config::opt_string;
use payrouter_provider::transport::Reply;
use payrouter_provider::{ProviderError, Redactor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::transform::{sort, Answer, PaymentRequest};

pub mod api;

/// Where a template takes the managed company's id.
pub const COMPANY: &str = "{companyId}";
/// Where a template takes the payment's, standing order's or integration's id.
pub const ID: &str = "{id}";

/// Every partner call once: its variant, its key in `[fena.partner_paths]` (upper-cased after
/// `FENA_PARTNER_PATH_`, and the field of [`PartnerPathSettings`]) and its default template,
/// the terminal API's path of the same call under the company: an educated guess.
macro_rules! partner_calls {
    ($($call:ident $key:ident $template:literal,)*) => {
        /// One call made through the partner API.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum PartnerCall {
            $($call,)*
        }

        impl PartnerCall {
            pub const ALL: [PartnerCall; 13] = [$(PartnerCall::$call,)*];

            /// The key in `[fena.partner_paths]` (upper-cased after `FENA_PARTNER_PATH_`).
            pub fn key(self) -> &'static str {
                match self {
                    $(PartnerCall::$call => stringify!($key),)*
                }
            }

            /// The terminal API's path of the same call, under the company: an educated guess.
            pub fn default_template(self) -> &'static str {
                match self {
                    $(PartnerCall::$call => $template,)*
                }
            }
        }

        /// `[fena.partner_paths]` / `FENA_PARTNER_PATH_<NAME>`: the templates that replace
        /// defaults.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct PartnerPathSettings {
            $(
                #[serde(deserialize_with = "opt_string")]
                pub $key: Option<String>,
            )*
        }

        impl PartnerPathSettings {
            fn get(&self, call: PartnerCall) -> Option<&str> {
                match call {
                    $(PartnerCall::$call => self.$key.as_deref(),)*
                }
            }
        }
    };
}

partner_calls! {
    PaymentCreate payment_create "/open/partner/companies/{companyId}/payments/single/create",
    PaymentCreateAndProcess payment_create_and_process
        "/open/partner/companies/{companyId}/payments/single/create-and-process",
    PaymentProcess payment_process
        "/open/partner/companies/{companyId}/payments/single/{id}/process",
    PaymentGet payment_get "/open/partner/companies/{companyId}/payments/single/{id}",
    Refund refund "/open/partner/companies/{companyId}/payments/single/{id}/refund",
    RecurringCreateAndProcess recurring_create_and_process
        "/open/partner/companies/{companyId}/payments/recurring/create-and-process",
    RecurringGet recurring_get "/open/partner/companies/{companyId}/payments/recurring/{id}",
    RecurringEdit recurring_edit
        "/open/partner/companies/{companyId}/payments/recurring/{id}/edit",
    RecurringCancel recurring_cancel
        "/open/partner/companies/{companyId}/payments/recurring/{id}/delete",
    IntegrationsList integrations_list "/open/partner/companies/{companyId}/integrations/list",
    IntegrationCreate integration_create
        "/open/partner/companies/{companyId}/integrations/create",
    IntegrationUpdate integration_update
        "/open/partner/companies/{companyId}/integrations/{id}/edit",
    BankAccountsList bank_accounts_list "/open/partner/companies/{companyId}/bank-accounts/list",
}

impl PartnerCall {
    /// The terminal API's path of the same call for the key's own company; None for the
    /// integrations, which only the partner API has.
    pub fn terminal_path(self, id: &str) -> Option<String> {
        use crate::transform::paths;
        Some(match self {
            PartnerCall::PaymentCreate => paths::CREATE_DRAFT.into(),
            PartnerCall::PaymentCreateAndProcess => paths::CREATE_AND_PROCESS.into(),
            PartnerCall::PaymentProcess => paths::process(id),
            PartnerCall::PaymentGet => paths::single(id),
            PartnerCall::Refund => paths::refund(id),
            PartnerCall::RecurringCreateAndProcess => paths::RECURRING_CREATE_AND_PROCESS.into(),
            PartnerCall::RecurringGet => paths::recurring(id),
            PartnerCall::RecurringEdit => paths::recurring_edit(id),
            PartnerCall::RecurringCancel => paths::recurring_delete(id),
            PartnerCall::BankAccountsList => api::TERMINAL_BANK_ACCOUNTS.into(),
            PartnerCall::IntegrationsList
            | PartnerCall::IntegrationCreate
            | PartnerCall::IntegrationUpdate => return None,
        })
    }

    /// Whether the call is about one object, so its template must hold `{id}`.
    fn takes_id(self) -> bool {
        self.default_template().contains(ID)
    }
}

/// The keys of `[fena.partner_paths]`, for the configuration's check of names.
pub fn path_keys() -> &'static [&'static str] {
    serde_aux::serde_introspection::serde_introspect::<PartnerPathSettings>()
}

/// The partner API's paths: every template checked once, at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerPaths {
    templates: Vec<(PartnerCall, String)>,
}

impl Default for PartnerPaths {
    fn default() -> Self {
        PartnerPaths {
            templates: PartnerCall::ALL
                .iter()
                .map(|&c| (c, c.default_template().to_string()))
                .collect(),
        }
    }
}

impl PartnerPaths {
    /// The defaults with the configured overrides; each bad template is one problem
    /// `(key, message)`, the key in `[fena.partner_paths]`.
    pub fn new(settings: &PartnerPathSettings) -> Result<Self, Vec<(String, String)>> {
        let mut problems = Vec::new();
        let mut templates = Vec::new();
        for call in PartnerCall::ALL {
            let template = settings.get(call).unwrap_or(call.default_template()).trim();
            if let Err(message) = check_template(call, template) {
                problems.push((call.key().to_string(), message));
            }
            templates.push((call, template.to_string()));
        }
        if problems.is_empty() {
            Ok(PartnerPaths { templates })
        } else {
            Err(problems)
        }
    }

    /// The path of `call` for the company `company_id`, about the object `id` when it takes one.
    pub fn path(&self, call: PartnerCall, company_id: &str, id: Option<&str>) -> String {
        let template = self
            .templates
            .iter()
            .find(|(c, _)| *c == call)
            .map_or(call.default_template(), |(_, t)| t.as_str());
        let path = template.replace(COMPANY, company_id);
        match id {
            Some(id) => path.replace(ID, id),
            None => path,
        }
    }
}

fn check_template(call: PartnerCall, template: &str) -> Result<(), String> {
    let expected = if call.takes_id() {
        "a path starting with '/' holding {companyId} and {id}"
    } else {
        "a path starting with '/' holding {companyId} (and no {id})"
    };
    let fits = template.starts_with('/')
        && template.contains(COMPANY)
        && template.contains(ID) == call.takes_id()
        && !template.contains(char::is_whitespace)
        && !template.contains(['?', '#']);
    if fits {
        Ok(())
    } else {
        Err(format!("'{template}' is not {expected}"))
    }
}

/// Whether `id` could be a Fena company id (used in paths, so nothing that could leave them).
pub fn check_company_id(id: &str) -> Result<(), String> {
    if (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
        Ok(())
    } else {
        Err("must be a Fena company id (letters, digits and '-', at most 64)".into())
    }
}

/// A single payment's body through the partner API: the terminal body, the partner reference
/// spelling (`invoiceRefNumber`, seed 001) and the company's integration (seed 000), so its
/// webhooks go to the integration's `webhookUrl`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartnerPaymentRequest<'a> {
    #[serde(flatten)]
    pub payment: &'a PaymentRequest,
    pub invoice_ref_number: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub integration: Option<&'a str>,
}

impl<'a> PartnerPaymentRequest<'a> {
    pub fn new(payment: &'a PaymentRequest, integration: Option<&'a str>) -> Self {
        PartnerPaymentRequest {
            payment,
            invoice_ref_number: &payment.reference,
            integration,
        }
    }
}

/// A body with the company's integration added (recurring payments, seed 002), when it has one.
pub fn with_integration<T: Serialize>(
    body: &T,
    integration: Option<&str>,
) -> Result<Value, ProviderError> {
    let mut value = serde_json::to_value(body)
        .map_err(|e| ProviderError::Unavailable(format!("cannot encode a Fena request ({e})")))?;
    if let (Some(id), Value::Object(map)) = (integration, &mut value) {
        map.insert("integration".into(), Value::String(id.to_string()));
    }
    Ok(value)
}

/// A partner webhook in the terminal spelling: Fena's partner API names the event with
/// `scope`/`event_name` (`single-payment`, `payment_status_update`) where the terminal API
/// says `eventScope`/`eventName` (`single-payments`, `status-update`). A body that already has
/// the terminal fields is left as it is.
pub fn terminal_webhook(mut body: Map<String, Value>) -> Map<String, Value> {
    if !body.contains_key("eventScope") {
        if let Some(Value::String(scope)) = body.get("scope") {
            let scope = match scope.as_str() {
                "single-payment" => "single-payments",
                "recurring-payment" => "recurring-payments",
                "bank-account" => "bank-accounts",
                other => other,
            };
            body.insert("eventScope".into(), Value::String(scope.to_string()));
        }
    }
    if !body.contains_key("eventName") {
        if let Some(Value::String(name)) = body.get("event_name") {
            let name = match name.as_str() {
                "payment_status_update" | "recurring_payment_status_update" => "status-update",
                other => other,
            };
            body.insert("eventName".into(), Value::String(name.to_string()));
        }
    }
    body
}

/// What `fena setup` wants a company's integration to be (seed 000's body).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IntegrationSpec {
    pub name: String,
    pub webhook_url: String,
    pub redirect_url: String,
    pub fena_payment_page_redirect_enabled: bool,
    pub is_retry_webhook_enabled: bool,
    /// The partner reference (seed 001) requires the bank account payments go to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bank_account: Option<String>,
}

/// An integration as Fena lists it; fields it may leave out are optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    pub id: String,
    pub name: String,
    pub webhook_url: Option<String>,
    pub redirect_url: Option<String>,
    pub fena_payment_page_redirect_enabled: Option<bool>,
    pub is_retry_webhook_enabled: Option<bool>,
    /// An id, or the bank account itself (seed 001 embeds it).
    pub bank_account: Option<Value>,
}

impl Integration {
    /// The fields where this integration differs from `wanted`, by their Fena names.
    pub fn drift(&self, wanted: &IntegrationSpec) -> Vec<&'static str> {
        let mut fields = Vec::new();
        if self.webhook_url.as_deref() != Some(wanted.webhook_url.as_str()) {
            fields.push("webhookUrl");
        }
        if self.redirect_url.as_deref() != Some(wanted.redirect_url.as_str()) {
            fields.push("redirectUrl");
        }
        if self.fena_payment_page_redirect_enabled
            != Some(wanted.fena_payment_page_redirect_enabled)
        {
            fields.push("fenaPaymentPageRedirectEnabled");
        }
        if self.is_retry_webhook_enabled != Some(wanted.is_retry_webhook_enabled) {
            fields.push("isRetryWebhookEnabled");
        }
        if let Some(bank) = &wanted.bank_account {
            let found = match &self.bank_account {
                Some(Value::String(id)) => Some(id.as_str()),
                Some(Value::Object(o)) => o.get("id").and_then(Value::as_str),
                _ => None,
            };
            if found != Some(bank.as_str()) {
                fields.push("bankAccount");
            }
        }
        fields
    }
}

/// What `fena setup` does to a company's integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntegrationPlan {
    Create,
    /// The integration `id` differs in these fields.
    Update {
        id: String,
        fields: Vec<&'static str>,
    },
    Keep {
        id: String,
    },
}

/// Create when no integration has the wanted name, update when the first that has it drifted,
/// leave it when it is right.
pub fn plan_integration(found: &[Integration], wanted: &IntegrationSpec) -> IntegrationPlan {
    match found.iter().find(|i| i.name == wanted.name) {
        None => IntegrationPlan::Create,
        Some(i) => {
            let fields = i.drift(wanted);
            if fields.is_empty() {
                IntegrationPlan::Keep { id: i.id.clone() }
            } else {
                IntegrationPlan::Update {
                    id: i.id.clone(),
                    fields,
                }
            }
        }
    }
}

/// One page of `GET …/integrations/list?page=&limit=` (`{"data": {docs, page, totalPages,
/// hasNextPage}}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct IntegrationPage {
    pub docs: Vec<Integration>,
    pub has_next_page: bool,
}

/// The integration a create or update answered with: in `result` (seed 000's create, seed
/// 001), or the object itself (seed 000's edit). A 4xx but the credentials' is Fena refusing it.
pub fn integration_of(
    reply: &Reply,
    redactor: &Redactor,
) -> Result<Answer<Integration>, ProviderError> {
    let value = match sort::<Value>(reply, not_found, redactor)? {
        Answer::Done(v) => v,
        Answer::Refused(message) => return Ok(Answer::Refused(message)),
    };
    let inner = value
        .get("result")
        .or_else(|| value.get("data"))
        .unwrap_or(&value);
    serde_json::from_value(inner.clone())
        .map(Answer::Done)
        .map_err(|_| {
            ProviderError::Unavailable("Fena answered an integration without id or name".into())
        })
}

/// A page of integrations.
pub fn integration_page(
    reply: &Reply,
    redactor: &Redactor,
) -> Result<Answer<IntegrationPage>, ProviderError> {
    #[derive(Deserialize)]
    struct Envelope {
        data: IntegrationPage,
    }
    Ok(match sort::<Envelope>(reply, not_found, redactor)? {
        Answer::Done(e) => Answer::Done(e.data),
        Answer::Refused(message) => Answer::Refused(message),
    })
}

/// The company is unknown to the partner key (or the path template is wrong).
fn not_found() -> ProviderError {
    ProviderError::NotFound(
        "Fena does not know this company under the partner key (or the partner path is wrong)"
            .into(),
    )
}

/// A bank account as Fena lists it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BankAccount {
    #[serde(alias = "_id")]
    pub id: Option<String>,
    pub name: Option<String>,
    pub status: Option<String>,
    pub is_sandbox: Option<bool>,
}

impl BankAccount {
    pub fn is_verified(&self) -> bool {
        self.status.as_deref() == Some("verified")
    }
}

/// The bank accounts of `GET …/bank-accounts/list`: `{"data": {"docs": [...]}}` (the terminal
/// API, as Fena's plugins read it) or `{"data": [...]}` (the partner reference).
pub fn bank_accounts(
    reply: &Reply,
    redactor: &Redactor,
) -> Result<Answer<Vec<BankAccount>>, ProviderError> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Listed {
        Paged { docs: Vec<BankAccount> },
        Plain(Vec<BankAccount>),
    }
    #[derive(Deserialize)]
    struct Envelope {
        data: Listed,
    }
    Ok(match sort::<Envelope>(reply, not_found, redactor)? {
        Answer::Done(Envelope {
            data: Listed::Paged { docs } | Listed::Plain(docs),
        }) => Answer::Done(docs),
        Answer::Refused(message) => Answer::Refused(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transform::Payer;
    use serde_json::json;

    #[test]
    fn fields_fena_leaves_out_are_none() {
        let bare: Integration = serde_json::from_value(json!({"id": "i1", "name": "n"})).unwrap();
        assert!(bare.webhook_url.is_none() && bare.redirect_url.is_none());
        assert!(bare.fena_payment_page_redirect_enabled.is_none());
        assert!(bare.is_retry_webhook_enabled.is_none() && bare.bank_account.is_none());
        assert!(serde_json::from_value::<Integration>(json!({"id": "i1"})).is_err());
        let bank: BankAccount = serde_json::from_value(json!({"_id": "b1"})).unwrap();
        assert_eq!(bank.id.as_deref(), Some("b1"));
        assert!(bank.name.is_none() && bank.status.is_none() && bank.is_sandbox.is_none());
        let page: IntegrationPage = serde_json::from_value(json!({})).unwrap();
        assert!(page.docs.is_empty() && !page.has_next_page);
    }

    #[test]
    fn defaults_mirror_the_terminal_paths_under_the_company() {
        let paths = PartnerPaths::default();
        assert_eq!(
            paths.path(PartnerCall::PaymentGet, "c1", Some("p1")),
            "/open/partner/companies/c1/payments/single/p1"
        );
        assert_eq!(
            paths.path(PartnerCall::PaymentCreateAndProcess, "c1", None),
            "/open/partner/companies/c1/payments/single/create-and-process"
        );
        assert_eq!(
            paths.path(PartnerCall::BankAccountsList, "c1", None),
            "/open/partner/companies/c1/bank-accounts/list"
        );
        for call in PartnerCall::ALL {
            let default = call.default_template();
            assert!(check_template(call, default).is_ok(), "{default}");
            let mirrored = default.replace("/partner/companies/{companyId}", "");
            if let Some(terminal) = call.terminal_path("{id}") {
                let terminal = terminal.replace("/open/company/", "/open/");
                assert_eq!(mirrored, terminal, "{call:?}");
            }
        }
    }

    #[test]
    fn every_call_has_its_configuration_key() {
        let keys: Vec<&str> = PartnerCall::ALL.iter().map(|c| c.key()).collect();
        assert_eq!(keys, path_keys());
    }

    #[test]
    fn a_configured_template_replaces_its_default_only() {
        let settings = PartnerPathSettings {
            payment_get: Some("/open/partner/{companyId}/payment/{id}".into()),
            ..Default::default()
        };
        let paths = PartnerPaths::new(&settings).unwrap();
        assert_eq!(
            paths.path(PartnerCall::PaymentGet, "c9", Some("p2")),
            "/open/partner/c9/payment/p2"
        );
        assert_eq!(
            paths.path(PartnerCall::Refund, "c9", Some("p2")),
            "/open/partner/companies/c9/payments/single/p2/refund"
        );
    }

    #[test]
    fn a_template_without_its_placeholders_is_refused_naming_the_key() {
        let settings = PartnerPathSettings {
            refund: Some("/open/partner/companies/{companyId}/refund".into()),
            integrations_list: Some("open/partner/{companyId}/integrations/{id}".into()),
            ..Default::default()
        };
        let problems = PartnerPaths::new(&settings).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["refund", "integrations_list"]);
        assert!(
            problems[0].1.contains("{companyId} and {id}"),
            "{problems:?}"
        );
        assert!(problems[1].1.contains("(and no {id})"), "{problems:?}");
    }

    #[test]
    fn partner_webhooks_read_as_terminal_ones() {
        let partner = json!({"scope": "single-payment", "event_name": "payment_status_update", "id": "p1", "status": "paid"});
        let Value::Object(body) = partner else {
            unreachable!()
        };
        let read = terminal_webhook(body);
        assert_eq!(read["eventScope"], "single-payments");
        assert_eq!(read["eventName"], "status-update");
        assert_eq!(read["id"], "p1");

        let recurring =
            json!({"scope": "recurring-payment", "event_name": "payment_made", "id": "r1"});
        let Value::Object(body) = recurring else {
            unreachable!()
        };
        let read = terminal_webhook(body);
        assert_eq!(read["eventScope"], "recurring-payments");
        assert_eq!(read["eventName"], "payment_made");

        let terminal = json!({"eventScope": "single-payments", "eventName": "status-update", "scope": "other", "id": "p1"});
        let Value::Object(body) = terminal else {
            unreachable!()
        };
        let read = terminal_webhook(body);
        assert_eq!(read["eventScope"], "single-payments");
    }

    #[test]
    fn a_partner_payment_carries_the_invoice_reference_and_the_integration() {
        let payment = PaymentRequest {
            reference: "order-1".into(),
            amount: "12.99".into(),
            payer: Payer {
                bank_account: Some("bank-1".into()),
                customer_name: None,
                customer_email: None,
            },
            custom_redirect_url: None,
            description: "order-1 #pr-x".into(),
        };
        let body =
            serde_json::to_value(PartnerPaymentRequest::new(&payment, Some("int-1"))).unwrap();
        assert_eq!(body["reference"], "order-1");
        assert_eq!(body["invoiceRefNumber"], "order-1");
        assert_eq!(body["bankAccount"], "bank-1");
        assert_eq!(body["integration"], "int-1");
        let body = serde_json::to_value(PartnerPaymentRequest::new(&payment, None)).unwrap();
        assert!(body.get("integration").is_none());
        let body = with_integration(&json!({"reference": "r"}), Some("int-2")).unwrap();
        assert_eq!(body, json!({"reference": "r", "integration": "int-2"}));
    }

    fn spec() -> IntegrationSpec {
        IntegrationSpec {
            name: "payrouter".into(),
            webhook_url: "https://pr.example/v3/fena/callback".into(),
            redirect_url: "https://shop.example/done".into(),
            fena_payment_page_redirect_enabled: true,
            is_retry_webhook_enabled: true,
            bank_account: None,
        }
    }

    fn found(name: &str, webhook: &str) -> Integration {
        serde_json::from_value(json!({
            "id": format!("id-{name}"), "name": name, "webhookUrl": webhook,
            "redirectUrl": "https://shop.example/done",
            "fenaPaymentPageRedirectEnabled": true, "isRetryWebhookEnabled": true,
        }))
        .unwrap()
    }

    #[test]
    fn an_integration_is_created_kept_or_updated_by_name() {
        let wanted = spec();
        assert_eq!(plan_integration(&[], &wanted), IntegrationPlan::Create);
        let other = found("other", "https://elsewhere");
        assert_eq!(
            plan_integration(std::slice::from_ref(&other), &wanted),
            IntegrationPlan::Create
        );
        let right = found("payrouter", &wanted.webhook_url);
        assert_eq!(
            plan_integration(&[other.clone(), right], &wanted),
            IntegrationPlan::Keep {
                id: "id-payrouter".into()
            }
        );
        let drifted = found("payrouter", "https://old.example/cb");
        assert_eq!(
            plan_integration(&[other, drifted], &wanted),
            IntegrationPlan::Update {
                id: "id-payrouter".into(),
                fields: vec!["webhookUrl"]
            }
        );
    }

    #[test]
    fn bank_accounts_are_read_in_both_list_shapes() {
        let redactor = Redactor::new([]);
        let reply = |body: Value| Reply {
            status: 200,
            body: body.to_string().into_bytes(),
        };
        let paged = reply(
            json!({"data": {"docs": [{"id": "b1", "name": "Main", "status": "verified", "isSandbox": true}]}}),
        );
        let plain = reply(json!({"data": [{"_id": "b2", "name": "Other", "status": "pending"}]}));
        let Answer::Done(paged) = bank_accounts(&paged, &redactor).unwrap() else {
            panic!("refused")
        };
        assert_eq!(paged[0].id.as_deref(), Some("b1"));
        assert!(paged[0].is_verified());
        let Answer::Done(plain) = bank_accounts(&plain, &redactor).unwrap() else {
            panic!("refused")
        };
        assert_eq!(plain[0].id.as_deref(), Some("b2"));
        assert!(!plain[0].is_verified());
        let refused = Reply {
            status: 401,
            body: br#"{"message":"Unauthorized"}"#.to_vec(),
        };
        assert!(matches!(
            bank_accounts(&refused, &redactor),
            Err(ProviderError::Misconfigured(_))
        ));
    }
}
