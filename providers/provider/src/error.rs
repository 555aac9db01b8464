//! Why a provider call did not produce an outcome. Business refusals are not errors: they are
//! outcomes (`PayOutcome::Declined`, `RefundOutcome::Declined`).

use crate::Operation;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The caller's request cannot be sent to this provider (a missing providerData field, …).
    #[error("{field}: {message}")]
    InvalidRequest { field: String, message: String },
    /// The provider does not know this payment or subscription.
    #[error("{0}")]
    NotFound(String),
    /// The operation does not apply to this payment as it stands (e.g. a receipt for a card
    /// payment); the message says why.
    #[error("{0}")]
    Conflict(String),
    /// The provider cannot do this at all.
    #[error("{}", not_supported(provider, *operation, hint))]
    NotSupported {
        provider: &'static str,
        operation: Operation,
        hint: Option<&'static str>,
    },
    /// The provider refused us because of our own configuration (credentials, IP, shop).
    #[error("{0}")]
    Misconfigured(String),
    /// A 5xx, a refused connection, or an answer we cannot use.
    #[error("{0}")]
    Unavailable(String),
    /// No answer in time: the outcome at the provider is unknown.
    #[error("{provider} did not answer in time")]
    Timeout { provider: &'static str },
}

impl ProviderError {
    /// The caller's `field` cannot be sent to this provider; `message` says what is expected.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError::InvalidRequest {
            field: field.into(),
            message: message.into(),
        }
    }
}

fn not_supported(provider: &str, operation: Operation, hint: &Option<&'static str>) -> String {
    let mut msg = format!("{provider} does not support {}", operation.label());
    if let Some(h) = hint {
        msg.push_str(": ");
        msg.push_str(h);
    }
    msg
}
