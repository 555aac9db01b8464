//! What a payment provider is to payrouter.
//!
//! An adapter is a stateless translation between the PGM contract and one provider's API: it
//! builds requests, calls the provider and maps answers to contract states. Everything about
//! state (idempotency, forward-only transitions, poll windows, notifications) belongs to the
//! gateway, so the trait below has no storage and no timers.

mod callback;
mod capabilities;
pub mod config;
mod error;
mod fields;
pub mod html;
mod merchant;
mod money;
mod quote;
mod receipt;
mod redact;
#[cfg(feature = "sim")]
pub mod sim;
mod subscription;
mod tag;
#[cfg(any(test, feature = "sim"))]
pub mod testing;
pub mod transport;
mod types;

pub use callback::{CallbackAck, CallbackError, CallbackRequest, CallbackSubject};
pub use capabilities::{Capabilities, Currencies, Operation};
/// The command-line parser of a provider's own subcommand (`ProviderFactory::command`).
pub use clap;
pub use error::ProviderError;
pub use fields::{email_field, string_field};
pub use merchant::{Merchant, MERCHANT_MAX};
pub use money::{Currency, Money, MoneyError};
pub use quote::{Quote, QuoteOrder, QuoteOutcome};
pub use receipt::{Receipt, ReceiptFile, ReceiptOutcome, ReceiptReview, ReceiptTarget};
pub use redact::Redactor;
pub use secrecy::{ExposeSecret, SecretString};
pub use subscription::{
    Instalment, Interval, SubscriptionOrder, SubscriptionOutcome, SubscriptionState,
    SubscriptionStatus,
};
pub use tag::PaymentTag;
pub use types::{
    Action, CreatedPayment, FetchedPayment, PayOrder, PayOutcome, PayResult, PaymentStatusKind,
    PreparedPay, ProviderState, Redirect, RefundOrder, RefundOutcome,
};

use async_trait::async_trait;

/// Settings shared by every adapter, owned by the gateway.
#[derive(Debug, Clone, Default)]
pub struct ProviderContext {
    /// Public URL of this router, used to build callback URLs handed to providers.
    pub public_base_url: Option<String>,
    /// The gateway's budget of a provider route (`ROUTE_TIMEOUT_MS`), which is also the lease
    /// of a pay reservation: one provider call must fit in it (see `Checks::within_route`).
    pub route_timeout: Option<std::time::Duration>,
    /// `PAYMENT_TAG_SECRET`: the key of the payment tags (see [`PaymentTag`]); unset, each
    /// adapter derives one from its credentials.
    pub payment_tag_secret: Option<SecretString>,
}

impl ProviderContext {
    /// `{PUBLIC_BASE_URL}/v3/{name}/callback`, where provider `name` sends its callbacks; None
    /// without a public URL (an empty one counts as unset).
    pub fn callback_url(&self, name: &str) -> Option<String> {
        self.public_base_url
            .as_deref()
            .map(|base| base.trim_end_matches('/'))
            .filter(|base| !base.is_empty())
            .map(|base| format!("{base}/v3/{name}/callback"))
    }

    /// The payment tags of provider `name`: keyed by `PAYMENT_TAG_SECRET`, or else by a key
    /// derived from the adapter's `credential` (see [`PaymentTag::derived`]).
    pub fn payment_tags(&self, name: &str, credential: &SecretString) -> PaymentTag {
        match &self.payment_tag_secret {
            Some(secret) => PaymentTag::new(secret.clone()),
            None => PaymentTag::derived(name, credential),
        }
    }
}

/// A provider crate's entry point: how the gateway builds it from its configuration section.
/// Registering a provider is one line in the gateway naming a type that implements this.
pub trait ProviderFactory {
    /// Lower-case name used in routes (`/v3/{name}/…`) and as the environment prefix (`NAME_`).
    const NAME: &'static str;
    /// The provider's configuration section, read from `[name]` in TOML and `NAME_*` variables.
    type Settings: serde::de::DeserializeOwned;
    /// The provider's simulator, for the offline mode; None when it has none.
    #[cfg(feature = "sim")]
    const SIMULATED: Option<sim::Simulated> = None;
    /// The keys of one named merchant account section (`[name.accounts.<merchant>]`, or
    /// `NAME_ACCOUNTS` and `NAME_ACCOUNT_<MERCHANT>_<KEY>`); empty when the provider has a
    /// single account. The section's settings then carry an `accounts` map of them.
    fn account_keys() -> &'static [&'static str] {
        &[]
    }
    /// Tables of settings inside the provider's section, each also read from variables
    /// (see [`SettingsTable`]).
    fn settings_tables() -> Vec<SettingsTable> {
        Vec::new()
    }
    /// Validates the settings (one message per problem, naming the key) and builds the adapter.
    fn build(
        settings: Self::Settings,
        ctx: &ProviderContext,
    ) -> Result<std::sync::Arc<dyn Provider>, Vec<String>>;
    /// The provider's own subcommand, `payrouter <NAME> …` (its name must be `NAME`); None
    /// when it has none.
    fn command() -> Option<clap::Command> {
        None
    }
    /// Runs the provider's subcommand as parsed into `matches`, with the configured settings;
    /// resolves to the process's exit code.
    fn run_command(
        _settings: Self::Settings,
        _ctx: ProviderContext,
        _matches: clap::ArgMatches,
    ) -> CommandRun {
        Box::pin(async { 2 })
    }
}

/// A table of settings inside a provider's section: `[name.<table>]` in TOML, and one
/// `NAME_<ENV_STEM>_<KEY>` variable per key (`[fena.partner_paths]` and
/// `FENA_PARTNER_PATH_REFUND`).
#[derive(Debug, Clone, Copy)]
pub struct SettingsTable {
    /// The table's key in the section (`partner_paths`).
    pub table: &'static str,
    /// What its variables' names start with after `NAME_`, lower case (`partner_path`).
    pub env_stem: &'static str,
    /// Its keys (`refund`, …).
    pub keys: &'static [&'static str],
}

/// A provider subcommand running: resolves to the process's exit code.
pub type CommandRun = std::pin::Pin<Box<dyn std::future::Future<Output = u8> + Send>>;

/// A provider as a trait object, for the default [`Provider::merchant`].
pub trait AsProvider {
    fn as_provider(&self) -> &dyn Provider;
}

impl<T: Provider> AsProvider for T {
    fn as_provider(&self) -> &dyn Provider {
        self
    }
}

/// The `Provider` methods every adapter answers alike, written once: its `name` and
/// `display_name` (constants), its `capabilities` (a `capabilities` field of the adapter) and
/// its `check_payment_id` (a function of the id). Used inside `impl Provider for …`:
///
/// ```text
/// payrouter_provider::provider_identity!(NAME, LABEL, transform::check_payment_id);
/// ```
#[macro_export]
macro_rules! provider_identity {
    ($name:expr, $label:expr, $check_payment_id:path $(,)?) => {
        fn name(&self) -> &'static str {
            $name
        }

        fn display_name(&self) -> &'static str {
            $label
        }

        fn capabilities(&self) -> &$crate::Capabilities {
            &self.capabilities
        }

        fn check_payment_id(&self, id: &str) -> ::std::result::Result<(), ::std::string::String> {
            $check_payment_id(id)
        }
    };
}

/// One payment provider, seen through the PGM contract.
#[async_trait]
pub trait Provider: AsProvider + Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// The merchant accounts configured, in the order a payment unknown to the store is looked
    /// for in. A provider with a single account has only [`Merchant::DEFAULT`].
    fn merchants(&self) -> Vec<Merchant> {
        vec![Merchant::default()]
    }

    /// This provider acting for `merchant`'s account, None when no such account is
    /// configured. Every call about a payment goes through the account it was made with.
    fn merchant(&self, merchant: &Merchant) -> Option<&dyn Provider> {
        merchant.is_default().then(|| self.as_provider())
    }

    /// The provider's name for people (`Fena`), on pages a payer sees.
    fn display_name(&self) -> &'static str {
        self.name()
    }

    fn capabilities(&self) -> &Capabilities;

    /// Checks that `id` could be a payment id issued for this provider (without any I/O).
    fn check_payment_id(&self, id: &str) -> Result<(), String> {
        let ok = !id.is_empty()
            && id.len() <= 128
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if ok {
            Ok(())
        } else {
            Err("paymentId must be 1-128 characters of letters, digits, '-' or '_'".into())
        }
    }

    /// Creates a payment in one call. The gateway calls it only for providers whose
    /// `prepare_pay` answers `Direct`.
    async fn pay(&self, order: &PayOrder) -> Result<PayOutcome, ProviderError>;

    /// The first, invisible step of a payment (see [`PreparedPay`]). A provider that cannot
    /// resume a payment keeps this default and is paid with `pay`.
    async fn prepare_pay(&self, _order: &PayOrder) -> Result<PreparedPay, ProviderError> {
        Ok(PreparedPay::Direct)
    }

    /// Finishes the payment `handle` from `prepare_pay`, whatever happened to it so far: the
    /// answer is that one payment, never a second. `fresh` says this request has just
    /// prepared the handle, so nothing else can have moved it on (the provider may skip
    /// reading it first); false on a retry after an unknown outcome.
    async fn resume_pay(
        &self,
        order: &PayOrder,
        _handle: &str,
        _fresh: bool,
    ) -> Result<PayOutcome, ProviderError> {
        self.pay(order).await
    }

    /// The provider's current view of a payment, fetched with credentials.
    async fn fetch(&self, payment_id: &str) -> Result<FetchedPayment, ProviderError>;

    async fn refund(&self, _order: &RefundOrder) -> Result<RefundOutcome, ProviderError> {
        Err(self.unsupported(Operation::Refund))
    }

    /// Turns a raw callback into the object it is about. Unsigned callbacks only *name* a
    /// payment; the gateway always re-fetches the truth before acting.
    fn authenticate_callback(
        &self,
        req: &CallbackRequest,
    ) -> Result<CallbackSubject, CallbackError>;

    /// The body the provider expects when a callback was accepted.
    fn callback_ack(&self) -> CallbackAck {
        CallbackAck::json_ok()
    }

    /// Precalculates a payment without creating it; nothing is stored.
    async fn quote(&self, _order: &QuoteOrder) -> Result<QuoteOutcome, ProviderError> {
        Err(self.unsupported(Operation::Quote))
    }

    /// Where receipts of this payment go. `extras` is what the adapter gave with
    /// `CreatedPayment::extras` when the payment was created; `Conflict` when the payment's
    /// method takes no receipts.
    fn receipt_target(
        &self,
        _payment_id: &str,
        _extras: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<ReceiptTarget, ProviderError> {
        Err(self.unsupported(Operation::ReceiptUpload))
    }

    /// The largest receipt file the provider takes, in bytes (0: no receipts).
    fn receipt_max_bytes(&self) -> usize {
        0
    }

    async fn upload_receipt(
        &self,
        _target: &ReceiptTarget,
        _file: ReceiptFile,
    ) -> Result<ReceiptOutcome, ProviderError> {
        Err(self.unsupported(Operation::ReceiptUpload))
    }

    async fn receipt_status(&self, _target: &ReceiptTarget) -> Result<Vec<Receipt>, ProviderError> {
        Err(self.unsupported(Operation::ReceiptStatus))
    }

    async fn schedule_subscription(
        &self,
        _order: &SubscriptionOrder,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        Err(self.unsupported(Operation::SubscriptionSchedule))
    }

    /// Replaces the terms of a provider-run subscription with `order`'s.
    async fn update_subscription(
        &self,
        _token: &str,
        _order: &SubscriptionOrder,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        Err(self.unsupported(Operation::SubscriptionUpdate))
    }

    async fn fetch_subscription(&self, _token: &str) -> Result<SubscriptionState, ProviderError> {
        Err(self.unsupported(Operation::SubscriptionStatus))
    }

    async fn expire_subscription(
        &self,
        _token: &str,
    ) -> Result<SubscriptionOutcome, ProviderError> {
        Err(self.unsupported(Operation::SubscriptionExpire))
    }

    fn unsupported(&self, operation: Operation) -> ProviderError {
        ProviderError::NotSupported {
            provider: self.name(),
            operation,
            hint: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(public_base_url: Option<&str>, tag_secret: Option<&str>) -> ProviderContext {
        ProviderContext {
            public_base_url: public_base_url.map(str::to_string),
            route_timeout: None,
            payment_tag_secret: tag_secret.map(SecretString::from),
        }
    }

    #[test]
    fn callback_url_is_under_the_public_url() {
        for (base, expected) in [
            (
                Some("https://router.example"),
                Some("https://router.example/v3/x/callback"),
            ),
            (
                Some("https://router.example/"),
                Some("https://router.example/v3/x/callback"),
            ),
            (Some(""), None),
            (Some("/"), None),
            (None, None),
        ] {
            assert_eq!(
                ctx(base, None).callback_url("x").as_deref(),
                expected,
                "{base:?}"
            );
        }
    }

    #[test]
    fn payment_tags_use_the_tag_secret_else_the_credential() {
        let credential = SecretString::from("shop secret");
        let derived = ctx(None, None).payment_tags("x", &credential).tag("4126");
        assert_eq!(derived, PaymentTag::derived("x", &credential).tag("4126"));
        let keyed = ctx(None, Some("tag key"))
            .payment_tags("x", &credential)
            .tag("4126");
        assert_eq!(
            keyed,
            PaymentTag::new(SecretString::from("tag key")).tag("4126")
        );
        assert_ne!(keyed, derived);
    }
}
