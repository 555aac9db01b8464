//! The subscription routes: parse and validate, hand to the engine.

use axum::extract::{Path, State};
use axum::Json;
use payrouter_provider::{Interval, PayOrder, SubscriptionOrder};
use serde_json::{Map, Value};

use super::error::ApiError;
use super::input::{self, JsonObject};
use super::routes::enter;
use super::AppState;
use crate::contract::{SubscriptionResponse, SubscriptionStatusResponse};

const INFO: &str = "subscriptionInfo";

fn info(body: &Map<String, Value>) -> Result<&Map<String, Value>, ApiError> {
    match body.get(INFO) {
        Some(Value::Object(m)) => Ok(m),
        None | Some(Value::Null) => Err(ApiError::invalid(INFO, "is required (an object)")),
        Some(_) => Err(ApiError::invalid(INFO, "must be an object")),
    }
}

fn count(info: &Map<String, Value>, field: &str) -> Result<Option<u32>, ApiError> {
    let name = format!("{INFO}.{field}");
    match info.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v
            .as_u64()
            .filter(|n| *n >= 1)
            .and_then(|n| u32::try_from(n).ok())
            .map(Some)
            .ok_or_else(|| ApiError::invalid(&name, "must be a whole number of at least 1")),
    }
}

/// The cadence and size of a subscription.
fn terms(body: &Map<String, Value>, shop_tx_required: bool) -> Result<SubscriptionOrder, ApiError> {
    let info = info(body)?;
    let interval: Interval = match info.get("interval") {
        Some(v @ Value::String(_)) => serde_json::from_value(v.clone()).ok(),
        _ => None,
    }
    .ok_or_else(|| {
        ApiError::invalid(
            "subscriptionInfo.interval",
            "must be one of DAY, WEEK, MONTH, YEAR",
        )
    })?;
    let interval_count = count(info, "intervalCount")?.ok_or_else(|| {
        ApiError::invalid(
            "subscriptionInfo.intervalCount",
            "is required: a whole number of at least 1",
        )
    })?;
    let shop_transaction_id = if shop_tx_required || body.contains_key("shopTransactionId") {
        input::text(body, "shopTransactionId", 255)?
    } else {
        String::new()
    };
    Ok(SubscriptionOrder {
        amount: input::money(body)?,
        shop_transaction_id,
        interval,
        interval_count,
        expires_after: count(info, "expiresAfter")?,
        provider_data: input::provider_data(body)?,
    })
}

fn pay_order(body: &Map<String, Value>) -> Result<PayOrder, ApiError> {
    Ok(PayOrder {
        amount: input::money(body)?,
        shop_transaction_id: input::text(body, "shopTransactionId", 255)?,
        success_redirect_url: input::url(body, "successRedirectUrl")?,
        failure_redirect_url: input::url(body, "failureRedirectUrl")?,
        provider_data: input::provider_data(body)?,
    })
}

pub async fn schedule(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    enter(&app, &provider, "subscription schedule", None)?;
    Ok(Json(
        app.engine.schedule(&provider, terms(&body, true)?).await?,
    ))
}

pub async fn update(
    State(app): State<AppState>,
    Path((provider, token)): Path<(String, String)>,
    JsonObject(body): JsonObject,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    enter(&app, &provider, "subscription update", None)?;
    Ok(Json(
        app.engine
            .update_subscription(&provider, &token, terms(&body, false)?)
            .await?,
    ))
}

pub async fn start(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    enter(&app, &provider, "subscription start", None)?;
    let expires_after = count(info(&body)?, "expiresAfter")?;
    let order = pay_order(&body)?;
    Ok(Json(
        app.engine
            .start_subscription(&provider, order, expires_after)
            .await?,
    ))
}

pub async fn pay(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    enter(&app, &provider, "subscription pay", None)?;
    let token = match info(&body)?.get("token") {
        Some(Value::String(t)) if input::valid_text(t, 255) => t.clone(),
        _ => {
            return Err(ApiError::invalid(
                "subscriptionInfo.token",
                "is required: the subscriptionToken from /subscription/start",
            ))
        }
    };
    let order = pay_order(&body)?;
    Ok(Json(
        app.engine
            .pay_subscription(&provider, &token, order)
            .await?,
    ))
}

pub async fn expire(
    State(app): State<AppState>,
    Path((provider, token)): Path<(String, String)>,
) -> Result<Json<SubscriptionResponse>, ApiError> {
    enter(&app, &provider, "subscription expire", None)?;
    Ok(Json(
        app.engine.expire_subscription(&provider, &token).await?,
    ))
}

pub async fn status(
    State(app): State<AppState>,
    Path((provider, token)): Path<(String, String)>,
) -> Result<Json<SubscriptionStatusResponse>, ApiError> {
    enter(&app, &provider, "subscription status", None)?;
    Ok(Json(
        app.engine.subscription_status(&provider, &token).await?,
    ))
}
