//! The subscription routes: typed bodies, handed to the engine.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;

use super::error::ApiError;
use super::input::{JsonBody, PathParams};
use super::openapi::{BodyErrors, CreateErrors, QueryErrors};
use super::resolve::{tag, Resolved};
use super::AppState;
use crate::contract::{
    InstalmentRequest, ScheduleRequest, StartRequest, SubscriptionResponse,
    SubscriptionStatusResponse, UpdateRequest,
};

#[derive(Deserialize)]
pub struct TokenPath {
    token: String,
}

#[utoipa::path(post, path = "/v3/{provider}/subscription/schedule", tag = "subscriptions",
    params(("provider" = String, Path)),
    request_body = ScheduleRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = SubscriptionResponse, description = "REDIRECT_TO_URL to set up the standing order, or KO saying why"),
        CreateErrors))]
pub async fn schedule(
    State(app): State<AppState>,
    provider: Resolved,
    JsonBody(body): JsonBody<ScheduleRequest>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    tag("subscription schedule", None);
    let order = body.into_order();
    provider.check_amount(order.amount)?;
    Ok(Json(app.engine.schedule(&provider.0, order).await?))
}

#[utoipa::path(post, path = "/v3/{provider}/subscription/update/{token}", tag = "subscriptions",
    params(("provider" = String, Path), ("token" = String, Path, description = "the subscriptionToken")),
    request_body = UpdateRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = SubscriptionResponse, description = "OK, or KO when the provider no longer allows a change"),
        BodyErrors))]
pub async fn update(
    State(app): State<AppState>,
    provider: Resolved,
    PathParams(path): PathParams<TokenPath>,
    JsonBody(body): JsonBody<UpdateRequest>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    tag("subscription update", None);
    let order = body.into_order();
    provider.check_amount(order.amount)?;
    Ok(Json(
        app.engine
            .update_subscription(&provider.0, &path.token, order)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v3/{provider}/subscription/start", tag = "subscriptions",
    params(("provider" = String, Path)),
    request_body = StartRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = SubscriptionResponse, description = "the subscriptionToken and the first payment's answer"),
        CreateErrors))]
pub async fn start(
    State(app): State<AppState>,
    provider: Resolved,
    JsonBody(body): JsonBody<StartRequest>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    tag("subscription start", None);
    let (order, expires_after) = body.into_parts();
    provider.check_amount(order.amount)?;
    Ok(Json(
        app.engine
            .start_subscription(&provider.0, order, expires_after)
            .await?,
    ))
}

#[utoipa::path(post, path = "/v3/{provider}/subscription/pay", tag = "subscriptions",
    params(("provider" = String, Path)),
    request_body = InstalmentRequest,
    security((), ("bearer" = [])),
    responses((status = 200, body = SubscriptionResponse, description = "the payment's answer, or KO when the subscription has ended"),
        CreateErrors))]
pub async fn pay(
    State(app): State<AppState>,
    provider: Resolved,
    JsonBody(body): JsonBody<InstalmentRequest>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    tag("subscription pay", None);
    let (token, order) = body.into_parts();
    provider.check_amount(order.amount)?;
    Ok(Json(
        app.engine
            .pay_subscription(&provider.0, token.as_str(), order)
            .await?,
    ))
}

#[utoipa::path(method(post, delete), path = "/v3/{provider}/subscription/expire/{token}", tag = "subscriptions",
    params(("provider" = String, Path), ("token" = String, Path, description = "the subscriptionToken")),
    security((), ("bearer" = [])),
    responses((status = 200, body = SubscriptionResponse, description = "OK, or KO when the payer's bank holds the standing order"),
        QueryErrors))]
pub async fn expire(
    State(app): State<AppState>,
    provider: Resolved,
    PathParams(path): PathParams<TokenPath>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    tag("subscription expire", None);
    Ok(Json(
        app.engine
            .expire_subscription(&provider.0, &path.token)
            .await?,
    ))
}

#[utoipa::path(get, path = "/v3/{provider}/subscription/status/{token}", tag = "subscriptions",
    params(("provider" = String, Path), ("token" = String, Path, description = "the subscriptionToken")),
    security((), ("bearer" = [])),
    responses((status = 200, body = SubscriptionStatusResponse, description = "the subscription's status"),
        QueryErrors))]
pub async fn status(
    State(app): State<AppState>,
    provider: Resolved,
    PathParams(path): PathParams<TokenPath>,
) -> Result<Json<SubscriptionStatusResponse>, ApiError> {
    tag("subscription status", None);
    Ok(Json(
        app.engine
            .subscription_status(&provider.0, &path.token)
            .await?,
    ))
}
