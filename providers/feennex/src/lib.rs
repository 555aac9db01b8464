//! Feennex (a white label of the Piastrix platform) behind the Provider trait.
//!
//! The adapter shape every provider follows (see `providers/README.md`): this file is the
//! `Provider` impl, and each operation is "build the request (pure) → send it (`client`, thin)
//! → read the answer (pure)". `transform` holds the pure mapping (signed requests, answers,
//! error codes, callbacks) and `sign` the signature scheme. The paymentId is the order's
//! shop_order_id in base64url, so status works from the paymentId alone.

mod client;
pub mod sign;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transform;

use async_trait::async_trait;
use payrouter_provider::config::{self, Checks};
use payrouter_provider::transport::Reply;
use payrouter_provider::{
    CallbackAck, CallbackError, CallbackRequest, CallbackSubject, Capabilities, Currencies,
    FetchedPayment, Operation, PayOrder, PayOutcome, PaymentTag, PreparedPay, Provider,
    ProviderContext, ProviderError, ProviderFactory, QuoteOrder, QuoteOutcome, Receipt,
    ReceiptFile, ReceiptOutcome, ReceiptReview, ReceiptTarget, RefundOrder, RefundOutcome,
    SecretString, SubscriptionOutcome, SubscriptionState,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

use client::FeennexClient;
use transform::{Envelope, Shop};

pub const NAME: &str = "feennex";
/// The provider's name for people.
pub const LABEL: &str = "Feennex";

/// The `[feennex]` configuration section (`FEENNEX_*` environment variables).
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    #[serde(default = "default_base_url")]
    pub base_url: String,
    /// The shop id from the Feennex dashboard: an integer or a string of digits.
    #[serde(default, deserialize_with = "config::opt_string")]
    pub shop_id: Option<String>,
    #[serde(default, deserialize_with = "config::opt_secret")]
    pub secret_key: Option<SecretString>,
    /// Default payway (e.g. `card_usd`) when an order carries no `providerData.payway`.
    #[serde(default, deserialize_with = "config::opt_string")]
    pub payway: Option<String>,
    /// The largest receipt file accepted for a bank transfer, in bytes.
    #[serde(default = "default_receipt_max_bytes")]
    pub receipt_max_bytes: u64,
    #[serde(default = "config::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "config::default_timeout_ms")]
    pub timeout_ms: u64,
}

/// 10 MiB, a phone photo of a receipt with room to spare.
pub const DEFAULT_RECEIPT_MAX_BYTES: u64 = 10 * 1024 * 1024;

fn default_receipt_max_bytes() -> u64 {
    DEFAULT_RECEIPT_MAX_BYTES
}

fn default_base_url() -> String {
    "https://core.feennex.com".into()
}

const OPERATIONS: &[Operation] = &[
    Operation::Pay,
    Operation::Status,
    Operation::Check,
    Operation::Callback,
    Operation::Quote,
    Operation::ReceiptUpload,
    Operation::ReceiptStatus,
    // Manual subscriptions only: the router keeps them and each instalment is a new invoice.
    // Feennex runs no automatic subscriptions, so schedule and update are not offered.
    Operation::SubscriptionStart,
    Operation::SubscriptionPay,
    Operation::SubscriptionExpire,
    Operation::SubscriptionStatus,
];

const PAY_PROVIDER_DATA: &[(&str, &str)] = &[
    (
        "email",
        "required: the payer's e-mail, as Feennex requires it",
    ),
    (
        "payway",
        "Feennex payway, e.g. card_usd; default FEENNEX_PAYWAY",
    ),
    (
        "description",
        "payment description shown by Feennex, at most 233 characters kept, as the payment tag follows it within Feennex's 255",
    ),
];

const REFUND_HINT: &str = "refunds are arranged with the Feennex account manager";

pub struct Feennex {
    client: FeennexClient,
    receipt_max_bytes: usize,
    shop: Shop,
    /// The invoice descriptions carry the payment tag, and only tagged invoices are rebuilt
    /// from Feennex. Keyed by `PAYMENT_TAG_SECRET`, or else by a key derived from the shop's
    /// secret key (as Fena's are from its terminal secret).
    tags: PaymentTag,
    capabilities: Capabilities,
}

impl ProviderFactory for Feennex {
    const NAME: &'static str = NAME;
    type Settings = Settings;
    #[cfg(feature = "sim")]
    const SIMULATED: Option<payrouter_provider::sim::Simulated> = Some(sim::SIMULATED);

    fn build(settings: Settings, ctx: &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>> {
        let mut checks = Checks::new(NAME);
        let shop_id = match checks.required("SHOP_ID", settings.shop_id.as_deref().map(str::trim)) {
            Some(text) => {
                let id = text
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| text.parse::<u64>().ok())
                    .flatten()
                    .filter(|id| *id > 0);
                if id.is_none() {
                    checks.problem(
                        "SHOP_ID",
                        format_args!("'{text}' is not a Feennex shop id (a positive integer)"),
                    );
                }
                id
            }
            None => None,
        };
        let secret_key = checks.required_secret("SECRET_KEY", settings.secret_key);
        let base_url = checks.base_url("BASE_URL", &settings.base_url);
        let connect_timeout = checks.timeout("CONNECT_TIMEOUT_MS", settings.connect_timeout_ms);
        let timeout = checks.timeout("TIMEOUT_MS", settings.timeout_ms);
        let receipt_max_bytes = match usize::try_from(settings.receipt_max_bytes) {
            Ok(n) if n > 0 => n,
            _ => {
                checks.problem(
                    "RECEIPT_MAX_BYTES",
                    format_args!(
                        "must be a positive number of bytes (default {DEFAULT_RECEIPT_MAX_BYTES})"
                    ),
                );
                0
            }
        };
        checks.within_route(ctx, connect_timeout, timeout);
        let checked = (|| Some((shop_id?, secret_key?, base_url?)))();
        let (shop_id, secret_key, base_url) = checks.finish(checked)?;
        let client = FeennexClient::new(base_url, connect_timeout, timeout)
            .map_err(|e| vec![format!("feennex: cannot build the HTTP client: {e}")])?;
        let tags = ctx.payment_tags(NAME, &secret_key);
        Ok(Arc::new(Feennex {
            client,
            receipt_max_bytes,
            shop: Shop {
                shop_id,
                secret_key,
                default_payway: settings
                    .payway
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
                callback_url: ctx.callback_url(NAME),
            },
            tags,
            capabilities: Capabilities {
                operations: OPERATIONS,
                currencies: Currencies::Any,
                partial_refunds: false,
                max_amount: None,
                min_poll_interval: Duration::from_secs(10),
                // Feennex refuses a second invoice/check of an invoice within 10 s.
                hard_poll_limit: true,
                callback_format: "Feennex POST, form-encoded or JSON, signed with SHA-256 over the sorted non-empty fields and FEENNEX_SECRET_KEY; the state is confirmed with invoice/check; answered text/plain OK",
                pay_provider_data: PAY_PROVIDER_DATA,
            },
        }))
    }
}

#[async_trait]
impl Provider for Feennex {
    payrouter_provider::provider_identity!(NAME, LABEL, transform::check_payment_id);

    async fn pay(&self, order: &PayOrder) -> Result<PayOutcome, ProviderError> {
        let body = transform::create_request(order, &self.shop, Some(&self.tags))?;
        let reply = self.client.post(transform::CREATE_PATH, &body).await?;
        let envelope = envelope(&reply, transform::CREATE_PATH)?;
        transform::pay_outcome(envelope, &body.invoice.shop_order_id, &self.shop)
    }

    /// The handle is the shop_order_id: Feennex knows an invoice by it, so nothing needs to
    /// be made before the reservation keeps it.
    async fn prepare_pay(&self, order: &PayOrder) -> Result<PreparedPay, ProviderError> {
        let body = transform::create_request(order, &self.shop, Some(&self.tags))?;
        Ok(PreparedPay::Handle(body.invoice.shop_order_id))
    }

    /// Feennex refuses a second invoice with one shop_order_id ("not unique"), so a retry asks
    /// invoice/check first and answers the invoice that exists, when this router created it
    /// (an invoice without its tag is another's: invoice/create then says "not unique").
    async fn resume_pay(
        &self,
        order: &PayOrder,
        shop_order_id: &str,
        fresh: bool,
    ) -> Result<PayOutcome, ProviderError> {
        if !fresh {
            match self.fetch(&transform::payment_id_for(shop_order_id)).await {
                Ok(existing) if existing.shop_transaction_id.is_some() => {
                    return Ok(PayOutcome::Existing(existing))
                }
                Ok(_) | Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        self.pay(order).await
    }

    async fn fetch(&self, payment_id: &str) -> Result<FetchedPayment, ProviderError> {
        let shop_order_id = transform::shop_order_id_of(payment_id)
            .map_err(|message| ProviderError::invalid("paymentId", message))?;
        let body = transform::check_request(&shop_order_id, &self.shop, chrono::Utc::now());
        let reply = self.client.post(transform::CHECK_PATH, &body).await?;
        let envelope = envelope(&reply, transform::CHECK_PATH)?;
        let data = transform::check_data(envelope, &shop_order_id, &self.shop)?;
        if data.several_invoices() {
            // Feennex then reports the latest invoice with this shop_order_id.
            tracing::warn!(
                provider = NAME,
                payment_id,
                "Feennex has several invoices with this shop_order_id"
            );
        }
        transform::fetched_payment(data, payment_id, &shop_order_id, Some(&self.tags))
    }

    async fn quote(&self, order: &QuoteOrder) -> Result<QuoteOutcome, ProviderError> {
        // Feennex requires a shop_order_id on invoice/try; a fresh one keeps the quote apart
        // from every real payment, and it is never used again.
        let shop_order_id = format!("quote-{}", uuid::Uuid::new_v4().simple());
        let body = transform::try_request(order, &shop_order_id, &self.shop)?;
        let reply = self.client.post(transform::TRY_PATH, &body).await?;
        let envelope = envelope(&reply, transform::TRY_PATH)?;
        transform::quote_outcome(envelope, &body.payway, &self.shop)
    }

    async fn refund(&self, _order: &RefundOrder) -> Result<RefundOutcome, ProviderError> {
        Err(ProviderError::NotSupported {
            provider: NAME,
            operation: Operation::Refund,
            hint: Some(REFUND_HINT),
        })
    }

    fn receipt_target(
        &self,
        _payment_id: &str,
        extras: &Map<String, Value>,
    ) -> Result<ReceiptTarget, ProviderError> {
        transform::receipt_target(extras)
    }

    fn receipt_max_bytes(&self) -> usize {
        self.receipt_max_bytes
    }

    async fn upload_receipt(
        &self,
        target: &ReceiptTarget,
        file: ReceiptFile,
    ) -> Result<ReceiptOutcome, ProviderError> {
        let reply = self.client.post_file(&target.upload_url, file).await?;
        transform::upload_outcome(&reply, &self.shop)
    }

    async fn receipt_status(&self, target: &ReceiptTarget) -> Result<Vec<Receipt>, ProviderError> {
        let reply = self.client.get(&target.status_url).await?;
        let receipts = transform::receipts(&reply)?;
        for r in receipts
            .iter()
            .filter(|r| r.status == ReceiptReview::Unknown)
        {
            tracing::warn!(provider = NAME, status = %r.provider_status, "Feennex sent an unknown receipt status");
        }
        Ok(receipts)
    }

    /// Reached only for tokens the router does not keep: Feennex has no subscriptions of its
    /// own, so such a token is unknown.
    async fn fetch_subscription(&self, token: &str) -> Result<SubscriptionState, ProviderError> {
        Err(no_subscription(token))
    }

    async fn expire_subscription(&self, token: &str) -> Result<SubscriptionOutcome, ProviderError> {
        Err(no_subscription(token))
    }

    fn authenticate_callback(
        &self,
        req: &CallbackRequest,
    ) -> Result<CallbackSubject, CallbackError> {
        transform::callback_subject(req.content_type.as_deref(), &req.body, &self.shop)
    }

    fn callback_ack(&self) -> CallbackAck {
        CallbackAck {
            content_type: "text/plain",
            body: "OK",
        }
    }
}

fn no_subscription(token: &str) -> ProviderError {
    ProviderError::NotFound(format!(
        "Feennex runs no subscriptions of its own, and '{token}' is not a manual subscription of this router"
    ))
}

/// Feennex's envelope of an answer to `path`; a refusal whose code the adapter does not know is
/// logged, as it may be a new one worth mapping.
fn envelope(reply: &Reply, path: &str) -> Result<Envelope, ProviderError> {
    let envelope = transform::envelope(reply, path)?;
    if let Some(code) = transform::undocumented_code(&envelope) {
        tracing::warn!(
            provider = NAME,
            error_code = code,
            path,
            "Feennex answered with an undocumented error code"
        );
    }
    Ok(envelope)
}
