//! Fena (UK open banking) behind the Provider trait.
//!
//! The adapter shape every provider follows (see `providers/README.md`): this file is the
//! `Provider` impl, and each operation is "build the request (pure) → send it (`client`, thin)
//! → read the answer (pure)". `transform` holds the pure mapping of single payments (paths,
//! bodies, answers, statuses, callbacks) and `recurring` the same for standing orders, so both
//! are tested without I/O. `accounts` reads the merchant accounts: [`Fena`] holds one
//! [`FenaAccount`] (key, bank account, payment tags) per merchant, reached through
//! `Provider::merchant`.

pub mod accounts;
mod client;
pub mod partner;
pub mod recurring;
mod setup;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transform;

use async_trait::async_trait;
use payrouter_provider::config::{self, Checks};
use payrouter_provider::{
    CallbackError, CallbackRequest, CallbackSubject, Capabilities, Currencies, FetchedPayment,
    Merchant, Operation, PayOrder, PayOutcome, PayResult, PaymentTag, PreparedPay, Provider,
    ProviderContext, ProviderError, ProviderFactory, Redactor, RefundOrder, RefundOutcome,
    SecretString, SubscriptionOrder, SubscriptionOutcome, SubscriptionState, SubscriptionStatus,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use accounts::{AccountSettings, Accounts, Credentials};
use client::FenaClient;
use partner::api::PartnerApi;
use partner::{PartnerCall, PartnerPathSettings, PartnerPaths, PartnerPaymentRequest};
use transform::{Answer, Progress};

pub const NAME: &str = "fena";
/// The provider's name for people.
pub const LABEL: &str = "Fena";

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
    #[serde(default = "config::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "config::default_timeout_ms")]
    pub timeout_ms: u64,
    /// How a single payment is created: `two_phase` (a draft, then processed; resumable after
    /// an unknown outcome) or `one_step` (`create-and-process`).
    #[serde(default)]
    pub pay_mode: PayMode,
    /// Named merchant accounts besides `default` (the plain keys above), by name:
    /// `[fena.accounts.<name>]`, or `FENA_ACCOUNTS` and `FENA_ACCOUNT_<NAME>_*`.
    #[serde(default)]
    pub accounts: BTreeMap<String, AccountSettings>,
    /// The partner key that acts for the accounts naming a `company_id` (partner mode).
    #[serde(default, deserialize_with = "config::opt_string")]
    pub partner_terminal_id: Option<String>,
    #[serde(default, deserialize_with = "config::opt_secret")]
    pub partner_terminal_secret: Option<SecretString>,
    /// Replacements of the partner API's path templates (`[fena.partner_paths]`).
    #[serde(default)]
    pub partner_paths: PartnerPathSettings,
    /// The name of the integration `fena setup` keeps in each partner company, whose id the
    /// company's payments carry.
    #[serde(default = "default_integration_name")]
    pub integration_name: String,
    /// The integration's `redirectUrl` (default: PUBLIC_BASE_URL).
    #[serde(default, deserialize_with = "config::opt_string")]
    pub integration_redirect_url: Option<String>,
    /// The integration's `fenaPaymentPageRedirectEnabled`.
    #[serde(default = "default_true")]
    pub integration_payment_page_redirect: bool,
}

impl Default for Settings {
    /// Every setting at its default: no key, no account.
    fn default() -> Self {
        Settings {
            base_url: default_base_url(),
            terminal_id: None,
            terminal_secret: None,
            bank_account: None,
            connect_timeout_ms: config::default_connect_timeout_ms(),
            timeout_ms: config::default_timeout_ms(),
            pay_mode: PayMode::default(),
            accounts: BTreeMap::new(),
            partner_terminal_id: None,
            partner_terminal_secret: None,
            partner_paths: PartnerPathSettings::default(),
            integration_name: default_integration_name(),
            integration_redirect_url: None,
            integration_payment_page_redirect: true,
        }
    }
}

fn default_integration_name() -> String {
    "payrouter".into()
}

fn default_true() -> bool {
    true
}

/// `FENA_PAY_MODE`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PayMode {
    /// Draft first (no link, no e-mail), its id stored, then processed.
    #[default]
    TwoPhase,
    /// Fena's published `create-and-process`: a lost answer cannot be resumed.
    OneStep,
}

fn default_base_url() -> String {
    "https://epos.api.fena.co".into()
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
    ("merchant", "the merchant account to pay with, one of FENA_ACCOUNTS; default: `default` (FENA_TERMINAL_ID)"),
    ("bankAccount", "Fena bank account id; default the merchant account's bank_account (FENA_BANK_ACCOUNT for `default`), else the company default"),
    ("customerName", "payer name shown by Fena"),
    ("customerEmail", "payer e-mail"),
    ("recurringPaymentDate", "subscriptions: first payment date, YYYY-MM-DD, a weekday at least 6 working days ahead (default: the first such day)"),
    ("initialPaymentAmount", "subscriptions: an immediate first payment, in minor units"),
];

/// The Fena adapter: one [`FenaAccount`] per configured merchant account. As a provider on its
/// own it acts for the `default` account; the gateway reaches the others with
/// [`Provider::merchant`].
pub struct Fena {
    accounts: Vec<FenaAccount>,
    capabilities: Capabilities,
}

/// Fena as one merchant account sees it: that account's key, bank account and tags.
pub struct FenaAccount {
    merchant: Merchant,
    /// The account's own key, or the partner key for a partner company.
    client: FenaClient,
    route: Route,
    redactor: Redactor,
    capabilities: Capabilities,
    bank_account: Option<String>,
    pay_mode: PayMode,
    /// Tags the descriptions, so only this router's payments are rebuilt from Fena.
    tags: PaymentTag,
}

impl ProviderFactory for Fena {
    const NAME: &'static str = NAME;
    type Settings = Settings;
    #[cfg(feature = "sim")]
    const SIMULATED: Option<payrouter_provider::sim::Simulated> = Some(sim::SIMULATED);

    fn account_keys() -> &'static [&'static str] {
        accounts::account_keys()
    }

    fn build(settings: Settings, ctx: &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>> {
        let resolved = Resolved::read(settings, ctx)?;
        let capabilities = Capabilities {
            operations: OPERATIONS,
            currencies: Currencies::Only(&["GBP"]),
            partial_refunds: true,
            // Fena pays by UK Faster Payments, whose scheme limit is £1,000,000 a payment.
            max_amount: Some(100_000_000),
            min_poll_interval: Duration::from_secs(1),
            // A courtesy to Fena, not a limit it publishes.
            hard_poll_limit: false,
            callback_format:
                "Fena JSON webhook (unsigned: only the payment id is used, the state is re-fetched)",
            pay_provider_data: PAY_PROVIDER_DATA,
        };
        let mut built = Vec::with_capacity(resolved.accounts.len());
        for account in resolved.accounts.iter() {
            let (route, client, secret, hidden) = match &account.credentials {
                Credentials::Terminal {
                    terminal_id,
                    terminal_secret,
                } => (
                    Route::Terminal,
                    resolved.client(terminal_id, terminal_secret)?,
                    terminal_secret,
                    terminal_id,
                ),
                Credentials::Partner { company_id } => {
                    // `Resolved::read` refuses a partner account without the partner key.
                    let Some((api, (id, secret))) =
                        resolved.partner.as_ref().zip(resolved.partner_key.as_ref())
                    else {
                        continue;
                    };
                    let route = Route::Partner {
                        company_id: company_id.clone(),
                        api: api.clone(),
                    };
                    (route, resolved.client(id, secret)?, secret, id)
                }
            };
            // Fena may echo what it was sent; no credential may reach a caller or a log.
            let redactor = Redactor::new([secret.clone(), SecretString::from(hidden.clone())]);
            let tags = ctx.payment_tags(NAME, secret);
            built.push(FenaAccount {
                merchant: account.merchant.clone(),
                client,
                route,
                redactor,
                capabilities: capabilities.clone(),
                bank_account: account.bank_account.clone(),
                pay_mode: resolved.pay_mode,
                tags,
            });
        }
        Ok(Arc::new(Fena {
            accounts: built,
            capabilities,
        }))
    }

    fn settings_tables() -> Vec<payrouter_provider::SettingsTable> {
        vec![payrouter_provider::SettingsTable {
            table: "partner_paths",
            env_stem: "partner_path",
            keys: partner::path_keys(),
        }]
    }

    fn command() -> Option<payrouter_provider::clap::Command> {
        Some(setup::command())
    }

    fn run_command(
        settings: Settings,
        ctx: ProviderContext,
        matches: payrouter_provider::clap::ArgMatches,
    ) -> payrouter_provider::CommandRun {
        Box::pin(async move {
            let resolved = match Resolved::read(settings, &ctx) {
                Ok(r) => r,
                Err(problems) => {
                    eprintln!(
                        "payrouter fena: {} configuration problem(s)",
                        problems.len()
                    );
                    for p in problems {
                        eprintln!("  {p}");
                    }
                    return 2;
                }
            };
            match resolved.setup_context(&ctx) {
                Ok(context) => setup::run(context, &matches).await,
                Err(problems) => {
                    for p in problems {
                        eprintln!("  {p}");
                    }
                    2
                }
            }
        })
    }
}

/// Where an account's calls go.
enum Route {
    /// Its own key's terminal API.
    Terminal,
    /// The partner API, for its company.
    Partner {
        company_id: String,
        api: Arc<PartnerApi>,
    },
}

/// The `[fena]` settings, checked: every problem reported at once.
struct Resolved {
    accounts: Accounts,
    base_url: String,
    connect_timeout: Duration,
    timeout: Duration,
    pay_mode: PayMode,
    partner: Option<Arc<PartnerApi>>,
    partner_key: Option<(String, SecretString)>,
    integration_redirect_url: Option<String>,
    integration_payment_page_redirect: bool,
}

impl Resolved {
    fn read(settings: Settings, ctx: &ProviderContext) -> Result<Resolved, Vec<String>> {
        let mut checks = Checks::new(NAME);
        let plain = AccountSettings {
            terminal_id: settings.terminal_id,
            terminal_secret: settings.terminal_secret,
            bank_account: settings.bank_account,
            company_id: None,
        };
        let accounts = Accounts::read(plain, settings.accounts, &mut checks);
        let base_url = checks.base_url("BASE_URL", &settings.base_url);
        let connect_timeout = checks.timeout("CONNECT_TIMEOUT_MS", settings.connect_timeout_ms);
        let timeout = checks.timeout("TIMEOUT_MS", settings.timeout_ms);
        checks.within_route(ctx, connect_timeout, timeout);
        let partner_key = match (
            settings.partner_terminal_id,
            settings.partner_terminal_secret,
        ) {
            (Some(id), Some(secret)) => Some((id, secret)),
            (None, None) => None,
            (id, _) => {
                let missing = if id.is_none() {
                    "PARTNER_TERMINAL_ID"
                } else {
                    "PARTNER_TERMINAL_SECRET"
                };
                checks.problem(
                    missing,
                    "required with the other half of the partner key (FENA_PARTNER_TERMINAL_ID and FENA_PARTNER_TERMINAL_SECRET)",
                );
                None
            }
        };
        if let Some(accounts) = &accounts {
            for account in accounts.iter() {
                if let Credentials::Partner { company_id } = &account.credentials {
                    let key = format!("ACCOUNT_{}_COMPANY_ID", account.merchant.env_name());
                    if let Err(why) = partner::check_company_id(company_id) {
                        checks.problem(&key, why);
                    }
                    if partner_key.is_none() {
                        checks.problem(
                            &key,
                            "a partner company needs the partner key: set FENA_PARTNER_TERMINAL_ID and FENA_PARTNER_TERMINAL_SECRET",
                        );
                    }
                }
            }
        }
        let paths = match PartnerPaths::new(&settings.partner_paths) {
            Ok(paths) => Some(paths),
            Err(problems) => {
                for (key, why) in problems {
                    checks.problem(&format!("PARTNER_PATH_{}", key.to_ascii_uppercase()), why);
                }
                None
            }
        };
        let name = settings.integration_name.trim().to_string();
        if name.is_empty() {
            checks.problem("INTEGRATION_NAME", "must not be blank");
        }
        if let Some(url) = &settings.integration_redirect_url {
            checks.base_url("INTEGRATION_REDIRECT_URL", url);
        }
        let checked = (|| Some((accounts?, base_url?, paths?)))();
        let (accounts, base_url, paths) = checks.finish(checked)?;
        let mut resolved = Resolved {
            accounts,
            base_url,
            connect_timeout,
            timeout,
            pay_mode: settings.pay_mode,
            partner: None,
            partner_key,
            integration_redirect_url: settings.integration_redirect_url,
            integration_payment_page_redirect: settings.integration_payment_page_redirect,
        };
        if let Some((id, secret)) = &resolved.partner_key {
            let client = resolved.client(id, secret)?;
            resolved.partner = Some(Arc::new(PartnerApi::new(client, paths, id, secret, name)));
        }
        Ok(resolved)
    }

    fn client(&self, terminal_id: &str, secret: &SecretString) -> Result<FenaClient, Vec<String>> {
        FenaClient::new(
            self.base_url.clone(),
            terminal_id.to_string(),
            secret.clone(),
            self.connect_timeout,
            self.timeout,
        )
        .map_err(|e| vec![format!("fena: cannot build the HTTP client: {e}")])
    }

    /// What `fena setup` and `fena bank-accounts` need.
    fn setup_context(self, ctx: &ProviderContext) -> Result<setup::SetupContext, Vec<String>> {
        let mut accounts = Vec::new();
        for account in self.accounts.iter() {
            let access = match &account.credentials {
                Credentials::Terminal {
                    terminal_id,
                    terminal_secret,
                } => setup::Access::Terminal {
                    client: self.client(terminal_id, terminal_secret)?,
                    redactor: Redactor::new([
                        terminal_secret.clone(),
                        SecretString::from(terminal_id.clone()),
                    ]),
                },
                Credentials::Partner { company_id } => setup::Access::Partner {
                    company_id: company_id.clone(),
                },
            };
            accounts.push(setup::SetupAccount {
                merchant: account.merchant.clone(),
                bank_account: account.bank_account.clone(),
                access,
            });
        }
        let webhook_url = ctx.callback_url(NAME);
        Ok(setup::SetupContext {
            accounts,
            partner: self.partner,
            redirect_url: self
                .integration_redirect_url
                .or_else(|| ctx.public_base_url.clone()),
            webhook_url,
            payment_page_redirect: self.integration_payment_page_redirect,
        })
    }
}

impl Fena {
    /// The `default` account, which the adapter acts for when no merchant is named.
    fn default_account(&self) -> Result<&FenaAccount, ProviderError> {
        let default = Merchant::default();
        self.accounts
            .iter()
            .find(|a| a.merchant == default)
            .ok_or_else(|| unknown_merchant(&default, &self.merchants()))
    }
}

/// The 400 of a merchant that is not configured, listing those that are.
fn unknown_merchant(merchant: &Merchant, known: &[Merchant]) -> ProviderError {
    let known: Vec<&str> = known.iter().map(Merchant::as_str).collect();
    ProviderError::invalid(
        "providerData.merchant",
        format!(
            "unknown merchant '{merchant}'; configured: {}",
            known.join(", ")
        ),
    )
}

/// What the adapter as a whole and each of its accounts answer alike: none of it depends on
/// the account.
macro_rules! account_independent {
    () => {
        payrouter_provider::provider_identity!(NAME, LABEL, transform::check_payment_id);

        fn authenticate_callback(
            &self,
            req: &CallbackRequest,
        ) -> Result<CallbackSubject, CallbackError> {
            transform::callback_subject(&req.body)
        }
    };
}

/// The adapter as a whole, with every payment operation `operation(args) -> Outcome` the
/// `default` account's: each is the same forwarding, written once.
macro_rules! provider_of_the_default_account {
    ($($operation:ident($($arg:ident: $ty:ty),*) -> $outcome:ty;)*) => {
        /// What does not depend on the account is answered here.
        #[async_trait]
        impl Provider for Fena {
            account_independent!();

            fn merchants(&self) -> Vec<Merchant> {
                self.accounts.iter().map(|a| a.merchant.clone()).collect()
            }

            fn merchant(&self, merchant: &Merchant) -> Option<&dyn Provider> {
                self.accounts
                    .iter()
                    .find(|a| &a.merchant == merchant)
                    .map(|a| a as &dyn Provider)
            }

            $(async fn $operation(&self, $($arg: $ty),*) -> Result<$outcome, ProviderError> {
                self.default_account()?.$operation($($arg),*).await
            })*
        }
    };
}

provider_of_the_default_account! {
    pay(order: &PayOrder) -> PayOutcome;
    prepare_pay(order: &PayOrder) -> PreparedPay;
    resume_pay(order: &PayOrder, draft: &str, fresh: bool) -> PayOutcome;
    fetch(payment_id: &str) -> FetchedPayment;
    refund(order: &RefundOrder) -> RefundOutcome;
    schedule_subscription(order: &SubscriptionOrder) -> SubscriptionOutcome;
    update_subscription(token: &str, order: &SubscriptionOrder) -> SubscriptionOutcome;
    fetch_subscription(token: &str) -> SubscriptionState;
    expire_subscription(token: &str) -> SubscriptionOutcome;
}

/// One merchant account's calls to Fena, with its own key.
#[async_trait]
impl Provider for FenaAccount {
    account_independent!();

    fn merchants(&self) -> Vec<Merchant> {
        vec![self.merchant.clone()]
    }

    fn merchant(&self, merchant: &Merchant) -> Option<&dyn Provider> {
        (merchant == &self.merchant).then_some(self as &dyn Provider)
    }

    async fn pay(&self, order: &PayOrder) -> Result<PayOutcome, ProviderError> {
        let reply = self
            .create(order, PartnerCall::PaymentCreateAndProcess)
            .await?;
        transform::pay_outcome(&reply, &self.redactor)
    }

    async fn prepare_pay(&self, order: &PayOrder) -> Result<PreparedPay, ProviderError> {
        if self.pay_mode == PayMode::OneStep {
            return Ok(PreparedPay::Direct);
        }
        let reply = self.create(order, PartnerCall::PaymentCreate).await?;
        transform::draft_outcome(&reply, &self.redactor)
    }

    async fn resume_pay(
        &self,
        _order: &PayOrder,
        draft: &str,
        fresh: bool,
    ) -> Result<PayOutcome, ProviderError> {
        if !fresh {
            if let Progress::Processed(outcome) = self.progress(draft).await? {
                return Ok(outcome);
            }
        }
        let reply = self
            .client
            .post_empty(&self.path(PartnerCall::PaymentProcess, draft)?)
            .await?;
        match transform::pay_outcome(&reply, &self.redactor)? {
            // Refused because something else processed it meanwhile: that is the payment.
            PayOutcome::Declined { message } => match self.progress(draft).await? {
                Progress::Processed(outcome) => Ok(outcome),
                Progress::Draft => Ok(PayOutcome::Declined { message }),
            },
            created => Ok(created),
        }
    }

    async fn fetch(&self, payment_id: &str) -> Result<FetchedPayment, ProviderError> {
        let reply = self
            .client
            .get(&self.path(PartnerCall::PaymentGet, payment_id)?)
            .await?;
        transform::fetch_outcome(&reply, payment_id, &self.redactor, &self.tags)
    }

    async fn refund(&self, order: &RefundOrder) -> Result<RefundOutcome, ProviderError> {
        let body = transform::refund_request(order)?;
        let reply = self
            .client
            .post(&self.path(PartnerCall::Refund, &order.payment_id)?, &body)
            .await?;
        transform::refund_outcome(&reply, &self.redactor)
    }

    async fn schedule_subscription(
        &self,
        order: &SubscriptionOrder,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        let today = chrono::Utc::now().date_naive();
        let body = recurring::recurring_request(order, self.bank_account.as_deref(), today)?;
        let body = partner::with_integration(&body, self.integration().await.as_deref())?;
        let reply = self
            .client
            .post(
                &self.path(PartnerCall::RecurringCreateAndProcess, "")?,
                &body,
            )
            .await?;
        match recurring::created_outcome(&reply, &self.redactor)? {
            Answer::Done(r) => recurring::scheduled(r),
            Answer::Refused(message) => Ok(refused(message)),
        }
    }

    async fn update_subscription(
        &self,
        token: &str,
        order: &SubscriptionOrder,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        let current = self.recurring(token).await?;
        let status = current.status.unwrap_or_default();
        if !recurring::still_editable(&status) {
            return Ok(refused(format!(
                "Fena can change a standing order only while it is a draft or overdue; this one is '{status}'"
            )));
        }
        let today = chrono::Utc::now().date_naive();
        let body = recurring::recurring_request(order, self.bank_account.as_deref(), today)?;
        let body = partner::with_integration(&body, self.integration().await.as_deref())?;
        let reply = self
            .client
            .post(&self.path(PartnerCall::RecurringEdit, token)?, &body)
            .await?;
        Ok(match recurring::changed(&reply, token, &self.redactor)? {
            Answer::Done(()) => done("standing order updated", token),
            Answer::Refused(message) => refused(message),
        })
    }

    async fn fetch_subscription(&self, token: &str) -> Result<SubscriptionState, ProviderError> {
        let state = recurring::subscription_state(self.recurring(token).await?);
        if state.status == SubscriptionStatus::Unknown {
            tracing::warn!(provider = NAME, merchant = %self.merchant, provider_status = %state.provider_status, "unknown Fena recurring payment status");
        }
        Ok(state)
    }

    async fn expire_subscription(&self, token: &str) -> Result<SubscriptionOutcome, ProviderError> {
        let current = self.recurring(token).await?;
        let status = current.status.unwrap_or_default();
        if !recurring::still_cancellable(&status) {
            return Ok(refused(format!(
                "the payer has already set this standing order up at their bank (status '{status}'): \
                 Fena cannot cancel it, only the payer can, at their bank"
            )));
        }
        let reply = self
            .client
            .post_empty(&self.path(PartnerCall::RecurringCancel, token)?)
            .await?;
        Ok(match recurring::changed(&reply, token, &self.redactor)? {
            Answer::Done(()) => done("standing order cancelled", token),
            Answer::Refused(message) => refused(message),
        })
    }
}

impl FenaAccount {
    /// The path of `call` about `id` for this account: the terminal API's, or the partner
    /// template filled with its company.
    fn path(&self, call: PartnerCall, id: &str) -> Result<String, ProviderError> {
        match &self.route {
            Route::Terminal => call.terminal_path(id).ok_or_else(|| {
                ProviderError::Misconfigured(format!(
                    "Fena's terminal API has no '{}' call",
                    call.key()
                ))
            }),
            Route::Partner { company_id, api } => {
                Ok(api.path(call, company_id, Some(id).filter(|i| !i.is_empty())))
            }
        }
    }

    /// The integration a partner company's payments carry (none for a terminal key).
    async fn integration(&self) -> Option<String> {
        match &self.route {
            Route::Terminal => None,
            Route::Partner { company_id, api } => api.integration_id(company_id).await,
        }
    }

    /// Creates a single payment (`call`: a draft, or create-and-process), through the
    /// partner API with its reference spelling and integration for a partner company.
    async fn create(
        &self,
        order: &PayOrder,
        call: PartnerCall,
    ) -> Result<payrouter_provider::transport::Reply, ProviderError> {
        let body = transform::pay_request(order, self.bank_account.as_deref(), &self.tags)?;
        let path = self.path(call, "")?;
        match &self.route {
            Route::Terminal => self.client.post(&path, &body).await,
            Route::Partner { .. } => {
                let integration = self.integration().await;
                let body = PartnerPaymentRequest::new(&body, integration.as_deref());
                self.client.post(&path, &body).await
            }
        }
    }

    /// Where the payment `id` being created stands at Fena.
    async fn progress(&self, id: &str) -> Result<Progress, ProviderError> {
        let reply = self
            .client
            .get(&self.path(PartnerCall::PaymentGet, id)?)
            .await?;
        transform::progress(&reply, id, &self.redactor)
    }

    /// The recurring payment `token`, fetched after checking it could be a Fena id.
    async fn recurring(&self, token: &str) -> Result<recurring::FenaRecurring, ProviderError> {
        transform::check_payment_id(token).map_err(|_| {
            ProviderError::invalid("subscriptionToken", "must be a Fena recurring payment id")
        })?;
        let reply = self
            .client
            .get(&self.path(PartnerCall::RecurringGet, token)?)
            .await?;
        recurring::fetched(&reply, token, &self.redactor)
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
