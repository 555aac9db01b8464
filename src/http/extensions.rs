//! Routes that extend the PGM contract with what only some providers offer: the payment
//! precalculation (`quote`). A provider without the operation answers 501.

use axum::Json;
use payrouter_provider::Operation;

use super::error::ApiError;
use super::input::JsonBody;
use super::resolve::{tag, Resolved};
use crate::contract::{ErrorResponse, QuoteRequest, QuoteResponse};
use crate::engine::Error as EngineError;

#[utoipa::path(post, path = "/v3/{provider}/quote", tag = "extensions",
    params(("provider" = String, Path)),
    request_body = QuoteRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = QuoteResponse, description = "OK with what the payer would pay (minor units of payerCurrency), or KO saying why the provider would refuse the payment; nothing is created or stored"),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 415, body = ErrorResponse), (status = 501, body = ErrorResponse),
        (status = 502, body = ErrorResponse), (status = 503, body = ErrorResponse),
        (status = 504, body = ErrorResponse)))]
pub async fn quote(
    provider: Resolved,
    JsonBody(body): JsonBody<QuoteRequest>,
) -> Result<Json<QuoteResponse>, ApiError> {
    tag("quote", None);
    let p = &provider.0;
    if !p.capabilities().supports(Operation::Quote) {
        return Err(EngineError::from(p.unsupported(Operation::Quote)).into());
    }
    let order = body.into_order();
    provider.check_amount(order.amount)?;
    let caps = p.capabilities();
    if !caps.currencies.accepts(order.amount.currency) {
        return Err(ApiError::invalid(
            "currency",
            format!(
                "{} is not accepted by {}; it takes {}",
                order.amount.currency,
                p.name(),
                caps.currencies.describe()
            ),
        ));
    }
    let outcome = p.quote(&order).await.map_err(EngineError::from)?;
    Ok(Json(outcome.into()))
}
