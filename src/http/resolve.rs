//! The provider named in the path, resolved once per request: an unknown or disabled name is
//! a 404 before anything else is read, and the engine is handed the provider itself.

use axum::extract::{FromRequestParts, RawPathParams};
use axum::http::request::Parts;
use payrouter_provider::{Money, PayOrder, Provider};
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

    /// The order, once its amount is one the provider takes.
    pub fn checked(&self, order: PayOrder) -> Result<PayOrder, ApiError> {
        self.check_amount(order.amount)?;
        Ok(order)
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

/// Names the payment a route acts on in the request's span, and gives its id.
pub fn named(payment_id: &str) -> &str {
    tracing::Span::current().record("payment_id", payment_id);
    payment_id
}

/// A PGM route of a provider (`/v3/{provider}/…`) answering JSON, written once: its OpenAPI
/// annotation (the `provider` path parameter and any others, the optional bearer token, the
/// 200 body, and the error answers: any of the route's own, then a family from
/// `super::openapi`) and its handler, which names the operation in the request's span, is
/// given the state and the resolved provider under the names it chooses, and answers its
/// block's value as JSON.
///
/// ```text
/// provider_route! {
///     post "/v3/{provider}/refund", "payments", [], RefundRequest
///     => RefundResponse: "what the 200 means", BodyErrors;
///     fn refund(app, provider, JsonBody(body): JsonBody<RefundRequest>) as "refund" { … }
/// }
/// ```
macro_rules! provider_route {
    (
        $(#[doc = $doc:tt])*
        $method:ident $(($($also:ident),+))? $path:literal, $tag:literal,
        [$($param:tt),*] $(, $req:ident)?
        => $ok:ident: $desc:literal, $($responses:tt),+;
        fn $name:ident($app:ident, $provider:ident, $($arg:tt)+) as $operation:literal {
            $($body:tt)*
        }
    ) => {
        $(#[doc = $doc])*
        #[utoipa::path($method $(($($also),+))?, path = $path, tag = $tag,
            params(("provider" = String, Path) $(, $param)*),
            $(request_body = $req,)?
            security((), ("bearer" = [])),
            responses((status = 200, body = $ok, description = $desc), $($responses),+))]
        pub async fn $name(
            ::axum::extract::State($app): ::axum::extract::State<$crate::http::AppState>,
            $provider: $crate::http::resolve::Resolved,
            $($arg)+
        ) -> Result<::axum::Json<$ok>, $crate::http::ApiError> {
            $crate::http::resolve::tag($operation, None);
            Ok(::axum::Json({ $($body)* }))
        }
    };
}
pub(super) use provider_route;
