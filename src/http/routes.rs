//! The provider routes of the contract (`/v3/{provider}/…`): parse and validate, hand to the
//! engine, answer.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use payrouter_provider::html::{self, PostRedirect};
use payrouter_provider::CallbackRequest;
use serde::Deserialize;

use super::error::ApiError;
use super::input::{JsonBody, PathParams, QueryParams, RawBody};
use super::openapi::{BodyErrors, CreateErrors, PingErrors, QueryErrors};
use super::resolve::{named, provider_route, tag, Resolved};
use super::AppState;
use crate::contract::{
    ErrorResponse, PayRequest, PayResponse, PaymentRef, PaymentStatus, RefundRequest,
    RefundResponse,
};

provider_route! {
    post "/v3/{provider}/pay", "payments", [], PayRequest
    => PayResponse: "REDIRECT_TO_URL with the payer's link, or KO saying why", CreateErrors;
    fn pay(app, provider, JsonBody(body): JsonBody<PayRequest>) as "pay" {
        let order = provider.checked(body.into_order())?;
        let resp = app.engine.pay(&provider.0, order).await?;
        if let Some(id) = &resp.payment_id {
            named(id);
        }
        resp
    }
}

provider_route! {
    post "/v3/{provider}/refund", "payments", [], RefundRequest
    => RefundResponse: "OK, PENDING (completes later, then notified) or KO saying why", BodyErrors;
    fn refund(app, provider, JsonBody(body): JsonBody<RefundRequest>) as "refund" {
        let id = named(body.payment_id.as_str());
        let money = body.amount.with(body.currency);
        let data = body.provider_data.unwrap_or_default().into_map();
        app.engine.refund(&provider.0, id, money, data).await?
    }
}

provider_route! {
    get "/v3/{provider}/status", "payments", [PaymentRef]
    => PaymentStatus: "the payment's status", QueryErrors;
    fn status(app, provider, QueryParams(q): QueryParams<PaymentRef>) as "status" {
        app.engine.status(&provider.0, named(q.payment_id.as_str())).await?
    }
}

provider_route! {
    /// `POST /status` with `{"paymentId": …}`, which some PGM versions use.
    post "/v3/{provider}/status", "payments", [], PaymentRef
    => PaymentStatus: "the payment's status", BodyErrors;
    fn status_post(app, provider, JsonBody(body): JsonBody<PaymentRef>) as "status" {
        app.engine.status(&provider.0, named(body.payment_id.as_str())).await?
    }
}

provider_route! {
    get "/v3/{provider}/check", "payments", [PaymentRef]
    => PaymentStatus: "the status, also sent to PAYMENT_CALLBACK_URL", QueryErrors;
    fn check(app, provider, QueryParams(q): QueryParams<PaymentRef>) as "check" {
        app.engine.check(&provider.0, named(q.payment_id.as_str())).await?
    }
}

#[utoipa::path(post, path = "/v3/{provider}/callback", tag = "callbacks",
    params(("provider" = String, Path)),
    request_body(description = "the provider's own notification (Fena JSON; Feennex form or JSON, signed)",
        content((Object = "application/json"), (Object = "application/x-www-form-urlencoded"))),
    responses((status = 200, description = "acknowledged in the provider's form (Feennex: OK)"),
        (status = 400, body = ErrorResponse), (status = 401, body = ErrorResponse, description = "the provider's signature is missing or wrong"),
        (status = 404, body = ErrorResponse), (status = 413, body = ErrorResponse),
        (status = 429, body = ErrorResponse, description = "an id payrouter does not hold, over CALLBACK_FETCH_RATE: send it again later"),
        (status = 502, body = ErrorResponse), (status = 503, body = ErrorResponse),
        (status = 504, body = ErrorResponse)))]
pub async fn callback(
    State(app): State<AppState>,
    provider: Resolved,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    RawBody(body): RawBody,
) -> Result<Response, ApiError> {
    tag("callback", None);
    let req = CallbackRequest {
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        query,
        body: body.to_vec(),
    };
    let ack = app.engine.callback(&provider.0, &req).await?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, ack.content_type)],
        ack.body,
    )
        .into_response())
}

#[utoipa::path(get, path = "/v3/{provider}/callback", tag = "callbacks",
    params(("provider" = String, Path), PaymentRef),
    responses((status = 200, body = PaymentStatus, description = "refreshed; a change is notified"),
        PingErrors))]
pub async fn callback_ping(
    State(app): State<AppState>,
    provider: Resolved,
    QueryParams(q): QueryParams<PaymentRef>,
) -> Result<Json<PaymentStatus>, ApiError> {
    tag("callback", None);
    Ok(Json(
        app.engine
            .ping(&provider.0, named(q.payment_id.as_str()))
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct RedirectPath {
    payment_id: String,
}

/// The page a payer is sent to when the provider wants a form POSTed: it submits itself, with
/// a button for browsers without scripts.
#[utoipa::path(get, path = "/v3/{provider}/redirect/{payment_id}", tag = "callbacks",
    params(("provider" = String, Path), ("payment_id" = String, Path, description = "the paymentId answered by pay")),
    responses((status = 200, content_type = "text/html", body = String, description = "a page that POSTs the payer to the provider"),
        (status = 400, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 503, body = ErrorResponse), (status = 504, body = ErrorResponse)))]
pub async fn redirect_page(
    State(app): State<AppState>,
    provider: Resolved,
    PathParams(path): PathParams<RedirectPath>,
) -> Result<Response, ApiError> {
    tag("redirect", Some(&path.payment_id));
    let form = app
        .engine
        .post_redirect(&provider.0, &path.payment_id)
        .await?;
    let page = html::post_redirect_page(&PostRedirect {
        provider: provider.0.display_name(),
        amount: Some(form.amount),
        reference: Some(&form.shop_transaction_id),
        url: &form.url,
        fields: &form.fields,
    });
    Ok((
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response())
}
