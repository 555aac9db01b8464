//! Operations endpoints: liveness, readiness and Prometheus metrics.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use std::sync::atomic::Ordering;

use super::error::error_response;
use super::AppState;
use crate::contract::ErrorResponse;
use crate::engine::now_ms;
use crate::store::Queue;

#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, body = Object, description = "the process is alive: {\"status\": \"ok\"}")))]
pub async fn healthz() -> Json<serde_json::Value> {
    Json(json!({"status": "ok"}))
}

/// Ready while the store answers and the process is not draining.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Object, description = "ready: {\"status\": \"ready\"}"),
        (status = 503, body = ErrorResponse, description = "the store does not answer, or the process is draining"),
        (status = 504, body = ErrorResponse)))]
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
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, content_type = "text/plain", body = String, description = "Prometheus text exposition format 0.0.4"),
        (status = 504, body = ErrorResponse)))]
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
