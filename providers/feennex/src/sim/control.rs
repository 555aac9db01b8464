//! The control API under `/_sim` (its routes are described in the `sim` module's docs): lets a
//! test or a demo list, move and replay payments and set fault rules, without credentials.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use payrouter_provider::Money;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;

use super::{CheckData, Invoice, Simulator, Store};
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
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct StateRequest {
    status: i64,
    #[serde(default)]
    callback: bool,
    #[serde(default)]
    client_price: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CallbackRequest {
    #[serde(default)]
    status: Option<i64>,
    #[serde(default)]
    times: Option<u32>,
}

fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
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

fn find<'a>(store: &'a mut Store, id: &str) -> Option<&'a mut Invoice> {
    let by_id = id.parse::<u64>().ok();
    let index = store
        .invoices
        .iter()
        .position(|i| Some(i.id) == by_id)
        .or_else(|| store.invoices.iter().position(|i| i.shop_order_id == id))?;
    store.invoices.get_mut(index)
}

fn unknown(id: &str) -> Response {
    refusal(StatusCode::NOT_FOUND, &format!("no invoice '{id}'"))
}

async fn list(State(sim): State<Simulator>) -> Json<Vec<CheckData>> {
    let shop_id = sim.inner.config.shop_id;
    let store = sim.store();
    Json(
        store
            .invoices
            .iter()
            .map(|i| i.check_data(shop_id))
            .collect(),
    )
}

async fn set_state(State(sim): State<Simulator>, Path(id): Path<String>, body: Bytes) -> Response {
    let request: StateRequest = match parse(&body) {
        Ok(r) => r,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, &message),
    };
    let shop_id = sim.inner.config.shop_id;
    let (view, callback) = {
        let mut store = sim.store();
        let Some(invoice) = find(&mut store, &id) else {
            return unknown(&id);
        };
        let paid = match request.client_price.as_deref() {
            None => None,
            Some(text) => match Money::from_decimal_str(text, invoice.amount.currency) {
                Ok(paid) => Some(paid),
                Err(e) => return refusal(StatusCode::BAD_REQUEST, &format!("clientPrice: {e}")),
            },
        };
        invoice.set_status(request.status, paid);
        (
            Json(invoice.check_data(shop_id)).into_response(),
            invoice.callback(shop_id, None, &sim.inner.secret),
        )
    };
    if request.callback {
        sim.send_callback(callback).await;
    }
    view
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
    let shop_id = sim.inner.config.shop_id;
    let found = find(&mut sim.store(), &id)
        .map(|invoice| invoice.callback(shop_id, request.status, &sim.inner.secret));
    let Some(callback) = found else {
        return unknown(&id);
    };
    let mut delivered = 0;
    for _ in 0..times {
        if sim.send_callback(callback.clone()).await {
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
