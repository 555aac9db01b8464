//! Feennex (a white label of the Piastrix platform) behind the Provider trait.
//!
//! `client` speaks HTTP; `transform` builds the signed requests and maps answers, statuses and
//! callbacks without I/O; `sign` holds the signature scheme. The paymentId is the order's
//! shop_order_id in base64url, so status works from the paymentId alone.

mod client;
pub mod sign;
#[cfg(feature = "sim")]
pub mod sim;
pub mod transform;

use async_trait::async_trait;
use payrouter_provider::{
    config, CallbackAck, CallbackError, CallbackRequest, CallbackSubject, Capabilities, Currencies,
    ExposeSecret, FetchedPayment, Operation, PayOrder, PayOutcome, Provider, ProviderContext,
    ProviderError, ProviderFactory, RefundOrder, RefundOutcome, SecretString,
};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

use client::FeennexClient;
use transform::Shop;

pub const NAME: &str = "feennex";

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
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

fn default_base_url() -> String {
    "https://core.feennex.com".into()
}
fn default_connect_timeout_ms() -> u64 {
    3_000
}
fn default_timeout_ms() -> u64 {
    15_000
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

    fn build(settings: Settings, ctx: &ProviderContext) -> Result<Arc<dyn Provider>, Vec<String>> {
        let mut problems = Vec::new();
        let shop_id = match settings.shop_id.as_deref().map(str::trim) {
            None | Some("") => {
                problems.push("FEENNEX_SHOP_ID: required while feennex is enabled".to_string());
                None
            }
            Some(text) => {
                let id = text
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                    .then(|| text.parse::<u64>().ok())
                    .flatten()
                    .filter(|id| *id > 0);
                if id.is_none() {
                    problems.push(format!(
                        "FEENNEX_SHOP_ID: '{text}' is not a Feennex shop id (a positive integer)"
                    ));
                }
                id
            }
        };
        let secret_key = settings
            .secret_key
            .filter(|s| !s.expose_secret().trim().is_empty());
        if secret_key.is_none() {
            problems.push("FEENNEX_SECRET_KEY: required while feennex is enabled".to_string());
        }
        if !(settings.base_url.starts_with("http://") || settings.base_url.starts_with("https://"))
        {
            problems.push(format!(
                "FEENNEX_BASE_URL: '{}' is not an http(s) URL",
                settings.base_url
            ));
        }
        if settings.connect_timeout_ms == 0 {
            problems.push("FEENNEX_CONNECT_TIMEOUT_MS: must be positive".to_string());
        }
        if settings.timeout_ms == 0 {
            problems.push("FEENNEX_TIMEOUT_MS: must be positive".to_string());
        }
        let (Some(shop_id), Some(secret_key), true) = (shop_id, secret_key, problems.is_empty())
        else {
            return Err(problems);
        };
        let client = FeennexClient::new(
            settings.base_url.trim_end_matches('/').to_string(),
            Duration::from_millis(settings.connect_timeout_ms),
            Duration::from_millis(settings.timeout_ms),
        )
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
        let body = transform::create_request(order, &self.shop)?;
        let answer = self.client.post(transform::CREATE_PATH, &body).await?;
        transform::pay_outcome(answer, &body.shop_order_id, &self.shop)
    }

    async fn fetch(&self, payment_id: &str) -> Result<FetchedPayment, ProviderError> {
        let shop_order_id = transform::shop_order_id_of(payment_id).map_err(|message| {
            ProviderError::InvalidRequest {
                field: "paymentId".into(),
                message,
            }
        })?;
        let body = transform::check_request(&shop_order_id, &self.shop, chrono::Utc::now());
        let answer = self.client.post(transform::CHECK_PATH, &body).await?;
        transform::fetched_payment(answer, payment_id, &shop_order_id, &self.shop)
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
