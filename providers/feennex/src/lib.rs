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
    FetchedPayment, Operation, PayOrder, PayOutcome, PreparedPay, Provider, ProviderContext,
    ProviderError, ProviderFactory, RefundOrder, RefundOutcome, SecretString,
};
use serde::Deserialize;
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
    #[serde(default = "config::default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "config::default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://core.feennex.com".into()
}

const OPERATIONS: &[Operation] = &[
    Operation::Pay,
    Operation::Status,
    Operation::Check,
    Operation::Callback,
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
        "payment description shown by Feennex, at most 255 characters",
    ),
];

const REFUND_HINT: &str = "refunds are arranged with the Feennex account manager";

pub struct Feennex {
    client: FeennexClient,
    shop: Shop,
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
        checks.within_route(ctx, connect_timeout, timeout);
        let checked = (|| Some((shop_id?, secret_key?, base_url?)))();
        let (shop_id, secret_key, base_url) = checks.finish(checked)?;
        let client = FeennexClient::new(base_url, connect_timeout, timeout)
            .map_err(|e| vec![format!("feennex: cannot build the HTTP client: {e}")])?;
        let callback_url = ctx
            .public_base_url
            .as_deref()
            .map(|base| base.trim_end_matches('/'))
            .filter(|base| !base.is_empty())
            .map(|base| format!("{base}/v3/{NAME}/callback"));
        Ok(Arc::new(Feennex {
            client,
            shop: Shop {
                shop_id,
                secret_key,
                default_payway: settings
                    .payway
                    .map(|p| p.trim().to_string())
                    .filter(|p| !p.is_empty()),
                callback_url,
            },
            capabilities: Capabilities {
                operations: OPERATIONS,
                currencies: Currencies::Any,
                partial_refunds: false,
                max_amount: None,
                min_poll_interval: Duration::from_secs(10),
                callback_format: "Feennex POST, form-encoded or JSON, signed with SHA-256 over the sorted non-empty fields and FEENNEX_SECRET_KEY; the state is confirmed with invoice/check; answered text/plain OK",
                pay_provider_data: PAY_PROVIDER_DATA,
            },
        }))
    }
}

#[async_trait]
impl Provider for Feennex {
    fn name(&self) -> &'static str {
        NAME
    }

    fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    fn check_payment_id(&self, id: &str) -> Result<(), String> {
        transform::check_payment_id(id)
    }

    fn display_name(&self) -> &'static str {
        LABEL
    }

    async fn pay(&self, order: &PayOrder) -> Result<PayOutcome, ProviderError> {
        let body = transform::create_request(order, &self.shop)?;
        let reply = self.client.post(transform::CREATE_PATH, &body).await?;
        let envelope = envelope(&reply, transform::CREATE_PATH)?;
        transform::pay_outcome(envelope, &body.shop_order_id, &self.shop)
    }

    /// The handle is the shop_order_id: Feennex knows an invoice by it, so nothing needs to
    /// be made before the reservation keeps it.
    async fn prepare_pay(&self, order: &PayOrder) -> Result<PreparedPay, ProviderError> {
        let body = transform::create_request(order, &self.shop)?;
        Ok(PreparedPay::Handle(body.shop_order_id))
    }

    /// Feennex refuses a second invoice with one shop_order_id ("not unique"), so a retry asks
    /// invoice/check first and answers the invoice that exists.
    async fn resume_pay(
        &self,
        order: &PayOrder,
        shop_order_id: &str,
        fresh: bool,
    ) -> Result<PayOutcome, ProviderError> {
        if !fresh {
            match self.fetch(&transform::payment_id_for(shop_order_id)).await {
                Ok(existing) => return Ok(PayOutcome::Existing(existing)),
                Err(ProviderError::NotFound(_)) => {}
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
        transform::fetched_payment(data, payment_id, &shop_order_id)
    }

    async fn refund(&self, _order: &RefundOrder) -> Result<RefundOutcome, ProviderError> {
        Err(ProviderError::NotSupported {
            provider: NAME,
            operation: Operation::Refund,
            hint: Some(REFUND_HINT),
        })
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
