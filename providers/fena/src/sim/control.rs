//! The control API under `/_sim` (its routes are described in the `sim` module's docs): lets a
//! test or a demo list, move and replay payments and set fault rules, without credentials.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::refusal;
use super::{decimal, Payment, Recurring, Simulator, Store};
use payrouter_provider::sim_faults;

/// More would only slow a test down; a duplicate storm needs a handful.
const MAX_TIMES: u32 = 100;

pub(super) fn routes() -> Router<Simulator> {
    Router::new()
        .route("/_sim/payments", get(list))
        .route("/_sim/payments/{id}/state", post(set_state))
        .route("/_sim/payments/{id}/callback", post(callback))
        .merge(sim_faults::routes::<Simulator>())
        .route("/_sim/reset", post(reset))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateRequest {
    status: String,
    #[serde(default)]
    callback: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CallbackRequest {
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    times: Option<u32>,
}

/// Parses a control body; an empty body is the type's default when it has one.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    serde_json::from_slice(body).map_err(|e| format!("invalid body: {e}"))
}

fn single_view(p: &Payment, base: &str) -> Value {
    let mut view = p.data(base);
    view["kind"] = json!("single");
    view["refundedAmount"] = json!(decimal(p.refunded));
    view["pendingRefundAmount"] = json!(p.pending_refund.map(decimal));
    view
}

fn recurring_view(r: &Recurring, base: &str) -> Value {
    let mut view = r.data(base);
    view["kind"] = json!("recurring");
    view
}

fn unknown(id: &str) -> Response {
    refusal(StatusCode::NOT_FOUND, &format!("no payment '{id}'"))
}

async fn list(State(sim): State<Simulator>) -> Json<Vec<Value>> {
    let store = sim.store();
    let base = sim.base();
    let singles = store.payments.iter().map(|p| single_view(p, base));
    let recurring = store.recurring.iter().map(|r| recurring_view(r, base));
    Json(singles.chain(recurring).collect())
}

/// What a control request found: the payment's view now, and its webhook body.
struct Found {
    view: Value,
    webhook: Value,
}

/// Finds `id` among single and recurring payments, moves it to `new_status` when given, and
/// gives its view and webhook (claiming `claimed` as its status) afterwards.
fn with_payment(
    store: &mut Store,
    base: &str,
    id: &str,
    new_status: Option<&str>,
    claimed: Option<&str>,
) -> Option<Found> {
    if let Some(p) = store.payments.iter_mut().find(|p| p.id == id) {
        if let Some(status) = new_status {
            p.set_status(status);
        }
        return Some(Found {
            view: single_view(p, base),
            webhook: p.webhook(claimed),
        });
    }
    let r = store.recurring.iter_mut().find(|r| r.id == id)?;
    if let Some(status) = new_status {
        r.status = status.to_string();
    }
    Some(Found {
        view: recurring_view(r, base),
        webhook: r.webhook("status-update", claimed, None),
    })
}

async fn set_state(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Response {
    let request: StateRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, &message),
    };
    if request.status.trim().is_empty() {
        return refusal(StatusCode::BAD_REQUEST, "status must not be empty");
    }
    let found = with_payment(
        &mut sim.store(),
        sim.base(),
        &id,
        Some(&request.status),
        None,
    );
    let Some(found) = found else {
        return unknown(&id);
    };
    if request.callback {
        sim.send_webhook(found.webhook).await;
    }
    Json(found.view).into_response()
}

async fn callback(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Response {
    let request: CallbackRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, &message),
    };
    let times = request.times.unwrap_or(1);
    if !(1..=MAX_TIMES).contains(&times) {
        return refusal(
            StatusCode::BAD_REQUEST,
            &format!("times must be 1 to {MAX_TIMES}"),
        );
    }
    let found = with_payment(
        &mut sim.store(),
        sim.base(),
        &id,
        None,
        request.status.as_deref(),
    );
    let Some(found) = found else {
        return unknown(&id);
    };
    let mut delivered = 0;
    for _ in 0..times {
        if sim.send_webhook(found.webhook.clone()).await {
            delivered += 1;
        }
    }
    Json(json!({"requested": times, "delivered": delivered})).into_response()
}

async fn reset(State(sim): State<Simulator>) -> StatusCode {
    sim.inner.faults.clear();
    *sim.store() = Store::default();
    StatusCode::NO_CONTENT
}
