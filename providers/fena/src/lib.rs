//! Fena (UK open banking) behind the Provider trait.
//!
//! `client` speaks HTTP to Fena; `transform` holds the pure mapping (request bodies, status
//! mapping, callback parsing) and `recurring` the same for standing orders, so both can be
//! tested without I/O.

mod client;
pub mod recurring;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transform;

use async_trait::async_trait;
use payrouter_provider::{
    config, CallbackError, CallbackRequest, CallbackSubject, Capabilities, Currencies,
    FetchedPayment, Operation, PayOrder, PayOutcome, PayResult, Provider, ProviderContext,
    ProviderError, ProviderFactory, RefundOrder, RefundOutcome, SecretString, SubscriptionOrder,
    SubscriptionOutcome, SubscriptionState,
};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

use client::Answer;
pub use client::FenaClient;

pub const NAME: &str = "fena";

/// The `[fena]` configuration section (`FENA_*` environment variables).
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    #[serde(default, deserialize_with = "config::opt_string")]
    pub terminal_id: Option<String>,
    #[serde(default, deserialize_with = "config::opt_secret")]
    pub terminal_secret: Option<SecretString>,
    /// Default bank account id for payments (Fena uses the company default when unset).
    #[serde(default, deserialize_with = "config::opt_string")]
    pub bank_account: Option<String>,
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://epos.api.fena.co".into()
}
fn default_connect_timeout_ms() -> u64 {
    3_000
}
fn default_timeout_ms() -> u64 {
    15_000
}

const OPERATIONS: &[Operation] = &[
    Operation::Pay,
    Operation::Refund,
    Operation::Status,
    Operation::Check,
    Operation::Callback,
    Operation::SubscriptionSchedule,
    Operation::SubscriptionUpdate,
    Operation::SubscriptionStatus,
    Operation::SubscriptionExpire,
    Operation::SubscriptionStart,
    Operation::SubscriptionPay,
];

const PAY_PROVIDER_DATA: &[(&str, &str)] = &[
    ("reference", "Fena reference, 1-12 of [A-Za-z0-9-]; default: shopTransactionId or a 12-char digest of it"),
    ("bankAccount", "Fena bank account id; default FENA_BANK_ACCOUNT, else the company default"),
    ("customerName", "payer name shown by Fena"),
    ("customerEmail", "payer e-mail"),
    ("recurringPaymentDate", "subscriptions: first payment date, YYYY-MM-DD, a weekday at least 6 working days ahead (default: the first such day)"),
    ("initialPaymentAmount", "subscriptions: an immediate first payment, in minor units"),
];

pub struct Fena {
    client: FenaClient,
    capabilities: Capabilities,
    bank_account: Option<String>,
}

impl ProviderFactory for Fena {
    const NAME: &'static str = NAME;
    type Settings = Settings;

    fn build(settings: Settings, _ctx: &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>> {
        let mut problems = Vec::new();
        let terminal_id = settings.terminal_id;
        if terminal_id.is_none() {
            problems.push("FENA_TERMINAL_ID: required while fena is enabled".to_string());
        }
        if settings.terminal_secret.is_none() {
            problems.push("FENA_TERMINAL_SECRET: required while fena is enabled".to_string());
        }
        if !(settings.base_url.starts_with("http://") || settings.base_url.starts_with("https://"))
        {
            problems.push(format!(
                "FENA_BASE_URL: '{}' is not an http(s) URL",
                settings.base_url
            ));
        }
        if settings.timeout_ms == 0 || settings.connect_timeout_ms == 0 {
            problems.push("FENA_TIMEOUT_MS / FENA_CONNECT_TIMEOUT_MS: must be positive".into());
        }
        let (Some(terminal_id), Some(secret), true) =
            (terminal_id, settings.terminal_secret, problems.is_empty())
        else {
            return Err(problems);
        };
        let client = FenaClient::new(
            settings.base_url.trim_end_matches('/').to_string(),
            terminal_id,
            secret,
            Duration::from_millis(settings.connect_timeout_ms),
            Duration::from_millis(settings.timeout_ms),
        )
        .map_err(|e| vec![format!("fena: cannot build the HTTP client: {e}")])?;
        Ok(Arc::new(Fena {
            client,
            capabilities: Capabilities {
                operations: OPERATIONS,
                currencies: Currencies::Only(&["GBP"]),
                partial_refunds: true,
                // Fena pays by UK Faster Payments, whose scheme limit is £1,000,000 a payment.
                max_amount: Some(100_000_000),
                min_poll_interval: Duration::from_secs(1),
                // A courtesy to Fena, not a limit it publishes.
                hard_poll_limit: false,
                callback_format: "Fena JSON webhook (unsigned: only the payment id is used, the state is re-fetched)",
                pay_provider_data: PAY_PROVIDER_DATA,
            },
            bank_account: settings.bank_account,
        }))
    }
}

#[async_trait]
impl Provider for Fena {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn check_payment_id(&self, id: &str) -> Result<(), String> {
        transform::check_payment_id(id)
    }

    async fn pay(&self, order: &PayOrder) -> Result<PayOutcome, ProviderError> {
        let body = transform::pay_request(order, self.bank_account.as_deref())?;
        self.client.create_payment(&body).await
    }

    async fn fetch(&self, payment_id: &str) -> Result<FetchedPayment, ProviderError> {
        self.client.get_payment(payment_id).await
    }

    async fn refund(&self, order: &RefundOrder) -> Result<RefundOutcome, ProviderError> {
        let body = transform::refund_request(order)?;
        self.client.refund(&order.payment_id, &body).await
    }

    fn authenticate_callback(
        &self,
        req: &CallbackRequest,
    ) -> Result<CallbackSubject, CallbackError> {
        transform::callback_subject(&req.body)
    }

    async fn schedule_subscription(
        &self,
        order: &SubscriptionOrder,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        let today = chrono::Utc::now().date_naive();
        let body = recurring::recurring_request(order, self.bank_account.as_deref(), today)?;
        match self.client.create_recurring(&body).await? {
            Answer::Done(r) => recurring::scheduled(r),
            Answer::Refused(message) => Ok(refused(message)),
        }
    }

    async fn update_subscription(
        &self,
        token: &str,
        order: &SubscriptionOrder,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        self.check_token(token)?;
        let current = self.client.get_recurring(token).await?;
        let status = current.status.unwrap_or_default();
        if !recurring::still_editable(&status) {
            return Ok(refused(format!(
                "Fena can change a standing order only while it is a draft or overdue; this one is '{status}'"
            )));
        }
        let today = chrono::Utc::now().date_naive();
        let body = recurring::recurring_request(order, self.bank_account.as_deref(), today)?;
        Ok(match self.client.edit_recurring(token, &body).await? {
            Answer::Done(()) => done("standing order updated", token),
            Answer::Refused(message) => refused(message),
        })
    }

    async fn fetch_subscription(&self, token: &str) -> Result<SubscriptionState, ProviderError> {
        self.check_token(token)?;
        Ok(recurring::subscription_state(
            self.client.get_recurring(token).await?,
        ))
    }

    async fn expire_subscription(&self, token: &str) -> Result<SubscriptionOutcome, ProviderError> {
        self.check_token(token)?;
        let current = self.client.get_recurring(token).await?;
        let status = current.status.unwrap_or_default();
        if !recurring::still_cancellable(&status) {
            return Ok(refused(format!(
                "the payer has already set this standing order up at their bank (status '{status}'): \
                 Fena cannot cancel it, only the payer can, at their bank"
            )));
        }
        Ok(match self.client.delete_recurring(token).await? {
            Answer::Done(()) => done("standing order cancelled", token),
            Answer::Refused(message) => refused(message),
        })
    }
}

impl Fena {
    fn check_token(&self, token: &str) -> Result<(), ProviderError> {
        transform::check_payment_id(token).map_err(|_| ProviderError::InvalidRequest {
            field: "subscriptionToken".into(),
            message: "must be a Fena recurring payment id".into(),
        })
    }
}

fn done(description: &str, token: &str) -> SubscriptionOutcome {
    SubscriptionOutcome {
        result: PayResult::Ok,
        description: description.into(),
        token: Some(token.to_string()),
        payment_id: None,
        redirect_url: None,
        reference: None,
        metadata: Default::default(),
    }
}

fn refused(description: String) -> SubscriptionOutcome {
    SubscriptionOutcome {
        result: PayResult::Ko,
        description,
        token: None,
        payment_id: None,
        redirect_url: None,
        reference: None,
        metadata: Default::default(),
    }
}
