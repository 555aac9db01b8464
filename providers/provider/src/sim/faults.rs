//! Fault rules of the simulators' control API (`/_sim/faults`), in the spirit of LocalStack's
//! chaos API: make chosen operations answer an error status, slow down, hang or lose their
//! connection, always or for the next n calls or by chance, so the router's failure handling
//! can be exercised offline.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Mutex;
use std::time::Duration;

/// How long a `hang` fault keeps the request open: longer than any client waits.
const HANG: Duration = Duration::from_secs(3600);

/// One rule, as posted to `POST /_sim/faults` and listed by `GET /_sim/faults`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    pub operation: String,
    /// Answer this HTTP status with `{"message":"simulated fault"}`.
    pub status: Option<u16>,
    /// Wait this long first; alone, the call then goes on normally.
    pub latency_ms: Option<u64>,
    /// Never answer.
    #[serde(default)]
    pub hang: bool,
    /// Abort the connection without a usable answer.
    #[serde(default)]
    pub drop: bool,
    /// Apply to the next `count` matching calls only.
    pub count: Option<u32>,
    /// Apply to each matching call with this chance.
    pub probability: Option<f64>,
    /// Apply once the provider has done the operation, to its answer only: the payment
    /// exists, but its answer is late (`latencyMs`), never comes (`hang`) or is cut (`drop`).
    /// An outcome the caller cannot know.
    #[serde(default)]
    pub after: bool,
}

/// What a rule does to the one call it was applied to.
#[derive(Debug, Clone, Copy)]
pub struct Fault {
    latency: Option<Duration>,
    effect: Effect,
}

#[derive(Debug, Clone, Copy)]
enum Effect {
    Proceed,
    Status(StatusCode),
    Hang,
    Drop,
}

/// The rules in force, checked in the order they were added; the first that applies wins.
pub struct Faults {
    operations: &'static [&'static str],
    rules: Mutex<Vec<FaultRule>>,
}

impl Faults {
    pub fn new(operations: &'static [&'static str]) -> Self {
        Faults {
            operations,
            rules: Mutex::new(Vec::new()),
        }
    }

    pub fn add(&self, rule: FaultRule) -> Result<(), String> {
        if !self.operations.contains(&rule.operation.as_str()) {
            return Err(format!(
                "unknown operation '{}': use one of {}",
                rule.operation,
                self.operations.join(", ")
            ));
        }
        let effects =
            usize::from(rule.status.is_some()) + usize::from(rule.hang) + usize::from(rule.drop);
        if effects > 1 {
            return Err("choose at most one of status, hang and drop".into());
        }
        if effects == 0 && rule.latency_ms.is_none() {
            return Err("a fault needs status, latencyMs, hang or drop".into());
        }
        if let Some(status) = rule.status {
            if StatusCode::from_u16(status).is_err() || status < 400 {
                return Err(format!(
                    "status {status} is not an HTTP error status (400-599)"
                ));
            }
        }
        if rule.count == Some(0) {
            return Err("count must be at least 1 (leave it out to apply always)".into());
        }
        if rule.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err("probability must be between 0.0 and 1.0".into());
        }
        self.lock().push(rule);
        Ok(())
    }

    /// The operations a rule can name.
    pub fn operations(&self) -> &'static [&'static str] {
        self.operations
    }

    pub fn list(&self) -> Vec<FaultRule> {
        self.lock().clone()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The fault for one call of `operation`, if a rule applies; a counted rule is used up.
    pub fn take(&self, operation: &str) -> Option<Fault> {
        self.take_when(operation, false)
    }

    /// The fault for the answer of one call of `operation` that was carried out (an `after`
    /// rule), if one applies.
    pub fn take_after(&self, operation: &str) -> Option<Fault> {
        self.take_when(operation, true)
    }

    fn take_when(&self, operation: &str, after: bool) -> Option<Fault> {
        let mut rules = self.lock();
        let index = rules.iter().position(|rule| {
            rule.operation == operation
                && rule.after == after
                && rule.probability.is_none_or(|p| rand::random::<f64>() < p)
        })?;
        let rule = &mut rules[index];
        let fault = Fault {
            latency: rule.latency_ms.map(Duration::from_millis),
            effect: match rule.status.and_then(|s| StatusCode::from_u16(s).ok()) {
                Some(status) => Effect::Status(status),
                None if rule.hang => Effect::Hang,
                None if rule.drop => Effect::Drop,
                None => Effect::Proceed,
            },
        };
        if let Some(count) = rule.count.as_mut() {
            *count -= 1;
            if *count == 0 {
                rules.remove(index);
            }
        }
        Some(fault)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<FaultRule>> {
        // A panic elsewhere cannot leave a Vec of rules half-changed: keep using it.
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Fault {
    /// For an API call: waits out the latency, then gives the answer that replaces the real
    /// one, or None when the call goes on normally.
    pub async fn response(self) -> Option<Response> {
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        match self.effect {
            Effect::Proceed => None,
            Effect::Status(status) => {
                Some((status, Json(json!({"message": "simulated fault"}))).into_response())
            }
            Effect::Hang => {
                tokio::time::sleep(HANG).await;
                Some(dropped())
            }
            Effect::Drop => Some(dropped()),
        }
    }

    /// For an outgoing callback: waits out the latency; false when it must not be sent (any
    /// status, hang or drop rule means the callback is lost).
    pub async fn allows_delivery(self) -> bool {
        if let Some(latency) = self.latency {
            tokio::time::sleep(latency).await;
        }
        matches!(self.effect, Effect::Proceed)
    }
}

/// A handler cannot reach its TCP connection, so a "dropped connection" is a response whose
/// body fails at once: hyper then aborts the connection mid-answer (no complete response ever
/// reaches the client), and reqwest reports a connection error, as for a real reset.
fn dropped() -> Response {
    let failing = futures::stream::once(async {
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "simulated dropped connection",
        ))
    });
    Response::new(Body::from_stream(failing))
}

/// `/_sim/faults`: add a rule (POST, 201 with every rule), list them (GET), clear them
/// (DELETE, 204), for any simulator whose state holds its `Faults`.
pub fn routes<S>() -> Router<S>
where
    S: AsRef<Faults> + Clone + Send + Sync + 'static,
{
    Router::new().route(
        "/_sim/faults",
        post(add_rule::<S>)
            .get(list_rules::<S>)
            .delete(clear_rules::<S>),
    )
}

async fn add_rule<S: AsRef<Faults>>(State(sim): State<S>, body: Bytes) -> Response {
    let added = serde_json::from_slice::<FaultRule>(&body)
        .map_err(|e| format!("invalid body: {e}"))
        .and_then(|rule| sim.as_ref().add(rule));
    match added {
        Ok(()) => (
            StatusCode::CREATED,
            Json(json!({"faults": sim.as_ref().list()})),
        )
            .into_response(),
        Err(message) => {
            (StatusCode::BAD_REQUEST, Json(json!({"message": message}))).into_response()
        }
    }
}

async fn list_rules<S: AsRef<Faults>>(State(sim): State<S>) -> Json<serde_json::Value> {
    Json(json!({"faults": sim.as_ref().list()}))
}

async fn clear_rules<S: AsRef<Faults>>(State(sim): State<S>) -> StatusCode {
    sim.as_ref().clear();
    StatusCode::NO_CONTENT
}
