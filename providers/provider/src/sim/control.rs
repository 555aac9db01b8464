//! The control API of a simulator, written once for every provider. A simulator implements
//! [`Control`] (how to list, change and replay its payments, how to send a callback) and
//! merges [`routes`]:
//!
//! | route | body | effect |
//! |---|---|---|
//! | `GET /_sim` | | this index: the routes, the simulator's statuses and fault operations |
//! | `GET /_sim/payments` | | every payment |
//! | `POST /_sim/payments/{id}/state` | the simulator's change, plus `"callback": bool` | changes the payment, sends its callback when `callback`; answers the payment |
//! | `POST /_sim/payments/{id}/callback` | `{"status": null, "times": 1}` | sends the callback `times` times (1-100), claiming `status` in its body without changing the stored state; answers `{"requested", "delivered"}` (delivered: answered 2xx) |
//! | `POST /_sim/faults` | a fault rule | adds it; 201 with every rule |
//! | `GET /_sim/faults` | | `{"faults": [...]}` |
//! | `DELETE /_sim/faults` | | removes every rule (204) |
//! | `POST /_sim/reset` | | forgets every payment and every rule (204) |

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::future::Future;

use super::faults::{self, Faults};

/// More would only slow a test down; a duplicate storm needs a handful.
const MAX_TIMES: u32 = 100;

/// A provider status as the simulator stores it, and the words a person reads for it.
pub type StatusLabel = (&'static str, &'static str);

/// What a state change did.
pub enum ControlOutcome<C> {
    /// The payment as it now is, and its callback.
    Changed(Value, C),
    /// No payment has this id.
    Unknown,
    /// The change cannot be made; the message says why (answered 400).
    Refused(String),
}

/// A simulator, as its control API sees it.
pub trait Control: AsRef<Faults> + Clone + Send + Sync + 'static {
    /// The simulator's name for people: `Simulated Fena`.
    const TITLE: &'static str;
    /// Every status the simulator knows, with its label (shown by the index and the pages).
    const STATUSES: &'static [StatusLabel];
    /// An example body of `POST /_sim/payments/{id}/state`.
    const STATE_EXAMPLE: &'static str;
    /// The change a `state` body asks for, without its `callback` flag.
    type Change: DeserializeOwned + Send;
    /// The status a replayed callback may claim in its body.
    type Claim: DeserializeOwned + Send;
    /// One callback, ready to be sent (and sent again).
    type Callback: Clone + Send;

    /// Every payment, in creation order.
    fn list(&self) -> Vec<Value>;
    /// Applies `change` to the payment `id`.
    fn change(&self, id: &str, change: Self::Change) -> ControlOutcome<Self::Callback>;
    /// The callback of the payment `id`, claiming `claim` instead of its status; None when
    /// no payment has this id.
    fn replay(&self, id: &str, claim: Option<Self::Claim>) -> Option<Self::Callback>;
    /// Sends a callback; true when the receiver answered 2xx.
    fn send(&self, callback: Self::Callback) -> impl Future<Output = bool> + Send;
    /// Forgets every payment.
    fn forget(&self);
}

/// The `/_sim` routes of a simulator whose state is `S`.
pub fn routes<S: Control>() -> Router<S> {
    Router::new()
        .route("/_sim", get(index::<S>))
        .route("/_sim/payments", get(list::<S>))
        .route("/_sim/payments/{id}/state", post(set_state::<S>))
        .route("/_sim/payments/{id}/callback", post(callback::<S>))
        .merge(faults::routes::<S>())
        .route("/_sim/reset", post(reset::<S>))
}

/// The label of `status`, or the status itself when the simulator has no label for it.
pub fn label<S: Control>(status: &str) -> &str {
    S::STATUSES
        .iter()
        .find(|(s, _)| *s == status)
        .map_or(status, |(_, label)| label)
}

/// A control API refusal: an HTTP error status with `{"message": ...}`.
pub fn refusal(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"message": message}))).into_response()
}

/// A control body as an object; an empty body is `{}`.
fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err("invalid body: expected a JSON object".into()),
        Err(e) => Err(format!("invalid body: {e}")),
    }
}

fn parse<T: DeserializeOwned>(map: Map<String, Value>) -> Result<T, String> {
    serde_json::from_value(Value::Object(map)).map_err(|e| format!("invalid body: {e}"))
}

fn unknown(id: &str) -> Response {
    refusal(StatusCode::NOT_FOUND, &format!("no payment '{id}'"))
}

async fn index<S: Control>(State(sim): State<S>) -> Json<Value> {
    let statuses: Map<String, Value> = S::STATUSES
        .iter()
        .map(|(status, label)| (status.to_string(), Value::from(*label)))
        .collect();
    Json(json!({
        "simulator": S::TITLE,
        "routes": [
            {"method": "GET", "path": "/_sim", "effect": "this index"},
            {"method": "GET", "path": "/_sim/payments", "effect": "every payment, in creation order"},
            {"method": "POST", "path": "/_sim/payments/{id}/state", "body": S::STATE_EXAMPLE,
             "effect": "changes the payment; sends its callback when callback is true; answers the payment"},
            {"method": "POST", "path": "/_sim/payments/{id}/callback", "body": "{\"status\": null, \"times\": 1}",
             "effect": format!("sends the callback times times (1-{MAX_TIMES}), claiming status without changing the payment; answers {{requested, delivered}}")},
            {"method": "POST", "path": "/_sim/faults", "body": "{\"operation\": \"create\", \"status\": 503, \"count\": 1}",
             "effect": "adds a fault rule; answers every rule (201)"},
            {"method": "GET", "path": "/_sim/faults", "effect": "every fault rule"},
            {"method": "DELETE", "path": "/_sim/faults", "effect": "removes every fault rule (204)"},
            {"method": "POST", "path": "/_sim/reset", "effect": "forgets every payment and every fault rule (204)"},
        ],
        "statuses": statuses,
        "faults": {
            "operations": sim.as_ref().operations(),
            "rule": {
                "operation": "one of operations",
                "status": "answer this HTTP error status (400-599)",
                "latencyMs": "wait first; alone, the call then goes on",
                "hang": "never answer",
                "drop": "abort the connection before a complete answer",
                "count": "apply to the next n matching calls only",
                "probability": "apply to each matching call with this chance (0.0-1.0)",
                "after": "apply to the answer of a call that was carried out (an unknown outcome)",
            },
        },
    }))
}

async fn list<S: Control>(State(sim): State<S>) -> Json<Vec<Value>> {
    Json(sim.list())
}

async fn set_state<S: Control>(
    State(sim): State<S>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let parsed = object(&body).and_then(|mut map| {
        let callback = match map.remove("callback") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => b,
            Some(_) => return Err("invalid body: callback must be true or false".to_string()),
        };
        Ok((parse::<S::Change>(map)?, callback))
    });
    let (change, send_callback) = match parsed {
        Ok(parsed) => parsed,
        Err(message) => return refusal(StatusCode::BAD_REQUEST, &message),
    };
    match sim.change(&id, change) {
        ControlOutcome::Changed(view, callback) => {
            if send_callback {
                sim.send(callback).await;
            }
            Json(view).into_response()
        }
        ControlOutcome::Unknown => unknown(&id),
        ControlOutcome::Refused(message) => refusal(StatusCode::BAD_REQUEST, &message),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, bound = "C: DeserializeOwned")]
struct Replay<C> {
    #[serde(default = "Option::default")]
    status: Option<C>,
    #[serde(default)]
    times: Option<u32>,
}

async fn callback<S: Control>(
    State(sim): State<S>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let request: Replay<S::Claim> = match object(&body).and_then(parse) {
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
    let Some(callback) = sim.replay(&id, request.status) else {
        return unknown(&id);
    };
    let mut delivered = 0;
    for _ in 0..times {
        if sim.send(callback.clone()).await {
            delivered += 1;
        }
    }
    Json(json!({"requested": times, "delivered": delivered})).into_response()
}

async fn reset<S: Control>(State(sim): State<S>) -> StatusCode {
    sim.as_ref().clear();
    sim.forget();
    StatusCode::NO_CONTENT
}
