//! The provider named in the path, resolved once per request: an unknown or disabled name is
//! a 404 before anything else is read, and the engine is handed the provider itself.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use payrouter_provider::{Money, Provider};
use std::sync::Arc;

use super::error::ApiError;
use super::AppState;

pub struct Resolved(pub Arc<dyn Provider>);

impl FromRequestParts<AppState> for Resolved {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let params = RawPathParams::from_request_parts(parts, app)
            .await
            .map_err(|r| ApiError::BadRequest(format!("path: {}", r.body_text())))?;
        let name = params
            .iter()
            .find_map(|(k, v)| (k == "provider").then_some(v))
            .unwrap_or_default();
        let p = app.engine.provider(name)?.clone();
        tracing::Span::current().record("provider", p.name());
        Ok(Resolved(p))
    }
}

impl Resolved {
    /// Refuses an amount above what the provider takes, before anything is stored or sent.
    pub fn check_amount(&self, amount: Money) -> Result<(), ApiError> {
        match self.0.capabilities().max_amount {
            Some(max) if amount.minor > max => Err(ApiError::invalid(
                "amount",
                format!("must be at most {max} (minor units) for {}", self.0.name()),
            )),
            _ => Ok(()),
        }
    }
}

/// Names the operation and payment in the request's span, so every log line of the request
/// carries them.
pub fn tag(operation: &str, payment_id: Option<&str>) {
    let span = tracing::Span::current();
    span.record("operation", operation);
    if let Some(id) = payment_id {
        span.record("payment_id", id);
    }
}
