//! The provider routes of the contract (`/v3/{provider}/…`): parse and validate, hand to the
//! engine, answer.

use axum::body::Bytes;
use axum::extract::{Path, Query, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use payrouter_provider::html::escape;
use payrouter_provider::{CallbackRequest, PayOrder};
use serde::Deserialize;

use super::error::ApiError;
use super::input::{self, JsonObject};
use super::AppState;
use crate::contract::{
    ErrorResponse, PayRequestDoc, PayResponse, PaymentStatus, RefundRequestDoc, RefundResponse,
};

/// Refuses unknown providers first (404), then tags the request span so every log line of the
/// request names its provider and payment.
pub(super) fn enter(
    app: &AppState,
    provider: &str,
    operation: &str,
    payment_id: Option<&str>,
) -> Result<(), ApiError> {
    app.engine.provider(provider)?;
    let span = tracing::Span::current();
    span.record("provider", provider);
    span.record("operation", operation);
    if let Some(id) = payment_id {
        span.record("payment_id", id);
    }
    Ok(())
}

#[utoipa::path(post, path = "/v3/{provider}/pay", tag = "payments",
    params(("provider" = String, Path, description = "fena or feennex")),
    request_body = PayRequestDoc,
    responses((status = 200, body = PayResponse), (status = 400, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 502, body = ErrorResponse), (status = 504, body = ErrorResponse)))]
pub async fn pay(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<PayResponse>, ApiError> {
    enter(&app, &provider, "pay", None)?;
    let order = PayOrder {
        amount: input::money(&body)?,
        shop_transaction_id: input::text(&body, "shopTransactionId", 255)?,
        success_redirect_url: input::url(&body, "successRedirectUrl")?,
        failure_redirect_url: input::url(&body, "failureRedirectUrl")?,
        provider_data: input::provider_data(&body)?,
    };
    let resp = app.engine.pay(&provider, order).await?;
    if let Some(id) = &resp.payment_id {
        tracing::Span::current().record("payment_id", id.as_str());
    }
    Ok(Json(resp))
}

#[utoipa::path(post, path = "/v3/{provider}/refund", tag = "payments",
    params(("provider" = String, Path)),
    request_body = RefundRequestDoc,
    responses((status = 200, body = RefundResponse), (status = 400, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 501, body = ErrorResponse)))]
pub async fn refund(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<RefundResponse>, ApiError> {
    enter(&app, &provider, "refund", None)?;
    let payment_id = input::text(&body, "paymentId", 255)?;
    tracing::Span::current().record("payment_id", payment_id.as_str());
    let money = input::money(&body)?;
    let data = input::provider_data(&body)?;
    Ok(Json(
        app.engine
            .refund(&provider, &payment_id, money, data)
            .await?,
    ))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentQuery {
    payment_id: Option<String>,
}

fn payment_id_param(q: PaymentQuery) -> Result<String, ApiError> {
    q.payment_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid("paymentId", "the query parameter is required"))
}

#[utoipa::path(get, path = "/v3/{provider}/status", tag = "payments",
    params(("provider" = String, Path), ("paymentId" = String, Query)),
    responses((status = 200, body = PaymentStatus), (status = 404, body = ErrorResponse)))]
pub async fn status(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<PaymentQuery>,
) -> Result<Json<PaymentStatus>, ApiError> {
    enter(&app, &provider, "status", None)?;
    let id = payment_id_param(q)?;
    tracing::Span::current().record("payment_id", id.as_str());
    Ok(Json(app.engine.status(&provider, &id).await?))
}

/// `POST /status` with `{"paymentId": …}`, which some PGM versions use.
pub async fn status_post(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    JsonObject(body): JsonObject,
) -> Result<Json<PaymentStatus>, ApiError> {
    enter(&app, &provider, "status", None)?;
    let id = input::text(&body, "paymentId", 255)?;
    tracing::Span::current().record("payment_id", id.as_str());
    Ok(Json(app.engine.status(&provider, &id).await?))
}

#[utoipa::path(get, path = "/v3/{provider}/check", tag = "payments",
    params(("provider" = String, Path), ("paymentId" = String, Query)),
    responses((status = 200, body = PaymentStatus, description = "also sent to PAYMENT_CALLBACK_URL"),
        (status = 404, body = ErrorResponse)))]
pub async fn check(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<PaymentQuery>,
) -> Result<Json<PaymentStatus>, ApiError> {
    enter(&app, &provider, "check", None)?;
    let id = payment_id_param(q)?;
    tracing::Span::current().record("payment_id", id.as_str());
    Ok(Json(app.engine.check(&provider, &id).await?))
}

#[utoipa::path(post, path = "/v3/{provider}/callback", tag = "callbacks",
    params(("provider" = String, Path)),
    request_body(content = String, description = "the provider's own notification (Fena JSON; Feennex form or JSON, signed)"),
    responses((status = 200, description = "acknowledged in the provider's form (Feennex: OK)"),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
pub async fn callback(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    enter(&app, &provider, "callback", None)?;
    let req = CallbackRequest {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        query,
        body: body.to_vec(),
    };
    let ack = app.engine.callback(&provider, &req).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, ack.content_type)],
        ack.body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v3/{provider}/callback", tag = "callbacks",
    params(("provider" = String, Path), ("paymentId" = String, Query)),
    responses((status = 200, body = PaymentStatus, description = "refreshed; a change is notified")))]
pub async fn callback_ping(
    State(app): State<AppState>,
    Path(provider): Path<String>,
    Query(q): Query<PaymentQuery>,
) -> Result<Json<PaymentStatus>, ApiError> {
    enter(&app, &provider, "callback", None)?;
    let id = payment_id_param(q)?;
    tracing::Span::current().record("payment_id", id.as_str());
    Ok(Json(app.engine.ping(&provider, &id).await?))
}

/// The page a payer is sent to when the provider wants a form POSTed: it submits itself, with
/// a button for browsers without scripts.
pub async fn redirect_page(
    State(app): State<AppState>,
    Path((provider, payment_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    enter(&app, &provider, "redirect", Some(&payment_id))?;
    let (url, fields) = app.engine.post_redirect(&provider, &payment_id).await?;
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                r#"<input type="hidden" name="{}" value="{}">"#,
                escape(k),
                escape(v)
            )
        })
        .collect();
    let page = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Continue to payment</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{}">{}<noscript><p>Press the button to continue to the payment page.</p></noscript><button type="submit">Continue to payment</button></form></body></html>"#,
        escape(&url),
        inputs
    );
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response())
}
