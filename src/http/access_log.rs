//! The access log: one line per request with its method, route template, status, latency,
//! request id, provider and payment id. It is also the only line a failed request writes:
//! `error_response` leaves the answer's message in a [`FailureMessage`] extension, and the
//! line carries it (INFO below 500, WARN from 500 up, so failures stay visible at
//! `LOG_LEVEL=warn`).

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, Response};
use axum::middleware::Next;
use std::time::Instant;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Longest path, provider name or payment id copied into a line, so a hostile URL cannot make
/// log lines arbitrarily long.
const MAX_ID_LEN: usize = 128;

/// The message of a non-2xx answer, for the access log line.
#[derive(Clone)]
pub struct FailureMessage(pub String);

/// Writes the access log line of the request once its answer is ready.
pub async fn log(req: Request, next: Next) -> Response<Body> {
    let start = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string());
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let query_payment_id = req.uri().query().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "paymentId")
            .map(|(_, v)| v.into_owned())
    });
    let (provider, path_payment_id) = route
        .as_deref()
        .map_or((None, None), |r| path_params(r, &path));
    let resp = next.run(req).await;
    let mut payment_id = query_payment_id.or(path_payment_id);
    // Only an INFO line can name a payment from its answer (a 5xx answer names none), so
    // at LOG_LEVEL=warn the answer is not read.
    let wanted = payment_id.is_none()
        && route.as_deref().is_some_and(|r| r.starts_with("/v3/"))
        && tracing::enabled!(tracing::Level::INFO);
    let resp = if wanted {
        let (resp, found) = payment_id_in_body(resp).await;
        payment_id = found;
        resp
    } else {
        resp
    };
    let latency_ms = (start.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let status = resp.status().as_u16();
    let route = route.as_deref().unwrap_or("unmatched");
    let provider = provider.as_deref().map(clip);
    let payment_id = payment_id.as_deref().map(clip);
    let error = resp
        .extensions()
        .get::<FailureMessage>()
        .map(|m| m.0.as_str());
    if resp.status().is_server_error() {
        tracing::warn!(%method, route, path = clip(&path), status, latency_ms, request_id, provider, payment_id, error, "request");
    } else {
        tracing::info!(%method, route, path = clip(&path), status, latency_ms, request_id, provider, payment_id, error, "request");
    }
    resp
}

/// The `{provider}` and `{payment_id}` segments of `path` under the route template `route`.
fn path_params(route: &str, path: &str) -> (Option<String>, Option<String>) {
    let mut provider = None;
    let mut payment_id = None;
    for (name, value) in route.split('/').zip(path.split('/')) {
        match name {
            "{provider}" => provider = Some(value.to_string()),
            "{payment_id}" | "{paymentId}" => payment_id = Some(value.to_string()),
            _ => {}
        }
    }
    (provider, payment_id)
}

/// The `paymentId` of a JSON answer (pay, status, refund), and the answer rebuilt from the
/// bytes read. Handlers answer with complete in-memory bodies, so nothing is streamed.
async fn payment_id_in_body(resp: Response<Body>) -> (Response<Body>, Option<String>) {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return (resp, None);
    }
    #[derive(serde::Deserialize)]
    struct WithPaymentId {
        #[serde(rename = "paymentId")]
        payment_id: Option<String>,
    }
    let (parts, body) = resp.into_parts();
    match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => {
            let found = serde_json::from_slice::<WithPaymentId>(&bytes)
                .ok()
                .and_then(|w| w.payment_id);
            (Response::from_parts(parts, Body::from(bytes)), found)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read an answer's body for the access log");
            (Response::from_parts(parts, Body::empty()), None)
        }
    }
}

fn clip(s: &str) -> &str {
    match s.char_indices().nth(MAX_ID_LEN) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}
