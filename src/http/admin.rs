//! The admin API under `/admin/api` (CONTRACT.md §8): JSON over [`AdminService`], behind
//! `Authorization: Bearer` with `ADMIN_API_TOKEN` (never the PGM routes' token). Mounted only
//! when that token is set; otherwise every `/admin` path is the router's 404.
//!
//! Query strings are read here, one parameter at a time, so that a bad or unknown one is a
//! 400 naming it.

use axum::extract::{Path, RawQuery, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use payrouter_provider::PaymentStatusKind;
use serde::Serialize;
use std::collections::HashMap;

use super::error::{error_response, ApiError};
use super::{bearer_matches, AppState};
use crate::admin::{
    Actor, AdminError, NotificationState, NotificationSummary, Page, PageRequest, PaymentDetail,
    PaymentFilter, PaymentSummary, Redelivered,
};
use crate::contract::PaymentStatus;

/// The name of the one admin token, written to the timeline as who acted.
const ADMIN: &str = "admin";

/// An [`AdminError`] as an HTTP answer (the one place it becomes one).
pub struct AdminApiError(AdminError);

impl From<AdminError> for AdminApiError {
    fn from(e: AdminError) -> Self {
        AdminApiError(e)
    }
}

impl IntoResponse for AdminApiError {
    fn into_response(self) -> Response {
        match self.0 {
            e @ AdminError::Invalid { .. } => {
                error_response(StatusCode::BAD_REQUEST, e.to_string())
            }
            AdminError::NotFound(m) => error_response(StatusCode::NOT_FOUND, m),
            AdminError::RetryAfter {
                retry_after,
                message,
            } => {
                let mut resp = error_response(StatusCode::TOO_MANY_REQUESTS, message);
                // Whole seconds, rounded up: a retry at that time finds the window open.
                let secs = retry_after.as_millis().div_ceil(1000).max(1);
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs as u64));
                resp
            }
            AdminError::Engine(e) => ApiError::Engine(e).into_response(),
            AdminError::Store(e) => ApiError::Engine(e.into()).into_response(),
        }
    }
}

/// 401 unless the request carries `Authorization: Bearer <ADMIN_API_TOKEN>` (compared in
/// constant time).
pub(super) async fn require_admin_token(
    State(app): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let Some(expected) = &app.admin_token else {
        // Not mounted without a token; kept shut all the same.
        return error_response(StatusCode::NOT_FOUND, "no such route; see /openapi.json");
    };
    if !bearer_matches(&req, expected) {
        return error_response(
            StatusCode::UNAUTHORIZED,
            "Authorization: a bearer token equal to ADMIN_API_TOKEN is required",
        );
    }
    next.run(req).await
}

/// A query string's parameters by name; a name not in `allowed`, or given twice, is a 400.
fn params(raw: Option<String>, allowed: &[&str]) -> Result<HashMap<String, String>, AdminError> {
    let mut out = HashMap::new();
    for (name, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        if !allowed.contains(&name.as_ref()) {
            return Err(AdminError::invalid(
                name,
                format!("unknown query parameter; expected {}", allowed.join(", ")),
            ));
        }
        if out.insert(name.to_string(), value.to_string()).is_some() {
            return Err(AdminError::invalid(name, "given more than once"));
        }
    }
    // An empty value is the parameter left out (`?status=` from a form).
    out.retain(|_, v| !v.is_empty());
    Ok(out)
}

fn page(q: &HashMap<String, String>) -> Result<PageRequest, AdminError> {
    let limit = match q.get("limit") {
        Some(l) => Some(l.parse::<usize>().map_err(|_| {
            AdminError::invalid(
                "limit",
                format!(
                    "must be a whole number from 1 to {}",
                    crate::admin::MAX_LIMIT
                ),
            )
        })?),
        None => None,
    };
    PageRequest::new(limit, q.get("cursor").cloned())
}

/// Milliseconds since the epoch, or an RFC 3339 time (`2026-11-29T21:00:00Z`).
fn time(q: &HashMap<String, String>, name: &str) -> Result<Option<i64>, AdminError> {
    let Some(v) = q.get(name) else {
        return Ok(None);
    };
    if let Ok(ms) = v.parse::<i64>() {
        return Ok(Some(ms));
    }
    chrono::DateTime::parse_from_rfc3339(v)
        .map(|t| Some(t.timestamp_millis()))
        .map_err(|_| {
            AdminError::invalid(
                name,
                "must be milliseconds since the epoch or an RFC 3339 time (2026-11-29T21:00:00Z)",
            )
        })
}

fn status(q: &HashMap<String, String>) -> Result<Option<PaymentStatusKind>, AdminError> {
    let Some(v) = q.get("status") else {
        return Ok(None);
    };
    match v.to_ascii_uppercase().as_str() {
        "PENDING" => Ok(Some(PaymentStatusKind::Pending)),
        "ACCEPTED" => Ok(Some(PaymentStatusKind::Accepted)),
        "FAILED" => Ok(Some(PaymentStatusKind::Failed)),
        _ => Err(AdminError::invalid(
            "status",
            "must be PENDING, ACCEPTED or FAILED",
        )),
    }
}

/// A provider named in a query must be an enabled one.
fn provider(app: &AppState, q: &HashMap<String, String>) -> Result<Option<String>, AdminError> {
    let Some(name) = q.get("provider") else {
        return Ok(None);
    };
    if app.engine.providers().contains_key(name.as_str()) {
        return Ok(Some(name.clone()));
    }
    let enabled: Vec<&str> = app.engine.providers().keys().copied().collect();
    Err(AdminError::invalid(
        "provider",
        format!("must be an enabled provider ({})", enabled.join(", ")),
    ))
}

/// How many dead letters went back to the queue.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Queued {
    queued: usize,
}

/// An admin API route, written once: its OpenAPI annotation (the `admin` tag, the admin
/// token, the 200 body and a family of error answers from `super::openapi`) and its handler,
/// which is given the state under the name it chooses and answers its block's value as JSON.
macro_rules! admin_route {
    (
        $method:ident $path:literal, [$($param:tt),*]
        => $ok:ty: $desc:literal, $errors:ident;
        fn $name:ident($app:ident, $($arg:tt)+) { $($body:tt)* }
    ) => {
        #[utoipa::path($method, path = $path, tag = "admin",
            params($($param),*),
            security(("adminBearer" = [])),
            responses((status = 200, body = $ok, description = $desc),
                super::openapi::$errors))]
        pub async fn $name(
            State($app): State<AppState>,
            $($arg)+
        ) -> Result<Json<$ok>, AdminApiError> {
            Ok(Json({ $($body)* }))
        }
    };
}

admin_route! {
    get "/admin/api/payments", [
        ("provider" = Option<String>, Query, description = "an enabled provider"),
        ("status" = Option<String>, Query, description = "PENDING, ACCEPTED or FAILED"),
        ("shopTransactionId" = Option<String>, Query),
        ("since" = Option<String>, Query, description = "created at or after: ms since the epoch or RFC 3339"),
        ("until" = Option<String>, Query, description = "created at or before: ms since the epoch or RFC 3339"),
        ("limit" = Option<u32>, Query, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, description = "the nextCursor of the previous page")
    ] => Page<PaymentSummary>:
        "payments, newest first (a filtered page may hold fewer than limit; follow nextCursor)",
        AdminReadErrors;
    fn payments(app, RawQuery(raw): RawQuery) {
        let names = [
            "provider",
            "status",
            "shopTransactionId",
            "since",
            "until",
            "limit",
            "cursor",
        ];
        let q = params(raw, &names)?;
        let filter = PaymentFilter {
            provider: provider(&app, &q)?,
            status: status(&q)?,
            shop_transaction_id: q.get("shopTransactionId").cloned(),
            since_ms: time(&q, "since")?,
            until_ms: time(&q, "until")?,
        };
        app.admin.payments(filter, page(&q)?).await?
    }
}

admin_route! {
    get "/admin/api/payments/{provider}/{paymentId}",
    [("provider" = String, Path), ("paymentId" = String, Path)]
    => PaymentDetail: "the payment and its timeline", AdminReadErrors;
    fn payment(app, Path((provider, payment_id)): Path<(String, String)>) {
        match app.admin.payment(&provider, &payment_id).await? {
            Some(detail) => detail,
            None => {
                return Err(AdminError::NotFound(format!(
                    "paymentId: no payment '{payment_id}' of provider '{provider}' is held"
                ))
                .into())
            }
        }
    }
}

admin_route! {
    post "/admin/api/payments/{provider}/{paymentId}/recheck",
    [("provider" = String, Path), ("paymentId" = String, Path)]
    => PaymentStatus: "the provider was asked now; the payment as it now stands", AdminRecheckErrors;
    fn recheck(app, Path((provider, payment_id)): Path<(String, String)>) {
        app.admin.recheck(&provider, &payment_id, &Actor::new(ADMIN)).await?
    }
}

admin_route! {
    get "/admin/api/notifications", [
        ("state" = Option<String>, Query, description = "pending (the default) or dead"),
        ("limit" = Option<u32>, Query, description = "1-200, default 50"),
        ("cursor" = Option<String>, Query, description = "the nextCursor of the previous page")
    ] => Page<NotificationSummary>:
        "pending notifications soonest due first, or dead letters most recent first",
        AdminReadErrors;
    fn notifications(app, RawQuery(raw): RawQuery) {
        let q = params(raw, &["state", "limit", "cursor"])?;
        let state = match q.get("state").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("pending") => NotificationState::Pending,
            Some("dead") => NotificationState::Dead,
            Some(_) => return Err(AdminError::invalid("state", "must be pending or dead").into()),
        };
        app.admin.notifications(state, page(&q)?).await?
    }
}

admin_route! {
    post "/admin/api/notifications/{id}/redeliver",
    [("id" = String, Path, description = "the notification's webhook-id")]
    => Redelivered: "queued for delivery now, with the same webhook-id and body", AdminQueueErrors;
    fn redeliver(app, Path(id): Path<String>) {
        app.admin.redeliver(&id, &Actor::new(ADMIN)).await?
    }
}

admin_route! {
    post "/admin/api/notifications/redeliver",
    [("state" = String, Query, description = "dead: every dead letter")]
    => Queued: "every dead letter went back to the queue with a fresh attempt budget",
    AdminQueueErrors;
    fn redeliver_all(app, RawQuery(raw): RawQuery) {
        let q = params(raw, &["state"])?;
        if q.get("state").map(|s| s.to_ascii_lowercase()).as_deref() != Some("dead") {
            return Err(AdminError::invalid(
                "state",
                "must be dead (redeliver one pending notification by its id)",
            )
            .into());
        }
        let queued = app.admin.redeliver_dead(&Actor::new(ADMIN)).await?;
        Queued { queued }
    }
}
