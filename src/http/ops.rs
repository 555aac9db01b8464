//! Operations endpoints: liveness, readiness, Prometheus metrics and the OpenAPI document.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::Ordering;
use utoipa::OpenApi;

use super::error::error_response;
use super::AppState;
use crate::engine::now_ms;
use crate::store::Queue;

pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready while the store answers and the process is not draining.
pub async fn readyz(State(app): State<AppState>) -> Response {
    if app.draining.load(Ordering::Relaxed) {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "draining: shutting down");
    }
    match app.engine.store().ping().await {
        Ok(()) => Json(json!({"status": "ready"})).into_response(),
        Err(e) => error_response(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// The recorder's metrics, plus the outbox gauges read from this instance's store at scrape
/// time (the store, not the process, knows how many notifications wait).
pub async fn metrics(State(app): State<AppState>) -> Response {
    let mut text = app.metrics.render();
    let gauges: Vec<(&str, &str, f64)> =
        match app.engine.store().outbox_stats(Queue::Notifications).await {
            Ok(stats) => vec![
                ("payrouter_store_up", "1 when the state store answers", 1.0),
                (
                    "payrouter_notification_queue_depth",
                    "notifications waiting for delivery",
                    stats.pending as f64,
                ),
                (
                    "payrouter_notification_dead_letters",
                    "notifications given up after the last attempt",
                    stats.dead as f64,
                ),
                (
                    "payrouter_notification_oldest_age_seconds",
                    "how overdue the most overdue waiting notification is",
                    stats
                        .oldest_due_ms
                        .map_or(0.0, |due| (now_ms() - due).max(0) as f64 / 1000.0),
                ),
            ],
            Err(_) => vec![("payrouter_store_up", "1 when the state store answers", 0.0)],
        };
    for (name, help, value) in gauges {
        text.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payrouter",
        description = "PGM External Integration router for Fena and Feennex"
    ),
    paths(
        super::routes::pay,
        super::routes::refund,
        super::routes::status,
        super::routes::check,
        super::routes::callback,
        super::routes::callback_ping,
    ),
    components(schemas(crate::contract::ErrorResponse, crate::contract::PaymentStatus))
)]
struct ApiDoc;

/// The OpenAPI document, with each provider's capabilities and providerData fields.
pub async fn openapi(State(app): State<AppState>) -> Response {
    let mut doc = ApiDoc::openapi();
    let mut text = String::from("PGM External Integration router.\n\n");
    for (name, p) in app.engine.providers() {
        let caps = p.capabilities();
        text.push_str(&format!(
            "**{name}**: operations {}; currencies: {}; callbacks: {}.\n",
            caps.operations
                .iter()
                .map(|o| o.label())
                .collect::<Vec<_>>()
                .join(", "),
            caps.currencies.describe(),
            caps.callback_format,
        ));
        for (field, meaning) in caps.pay_provider_data {
            text.push_str(&format!("- `providerData.{field}`: {meaning}\n"));
        }
        text.push('\n');
    }
    doc.info.description = Some(text);
    Json(doc).into_response()
}
