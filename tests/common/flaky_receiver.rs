//! A notification receiver that fails a set share of attempts (500), chosen by a counter so a
//! run is reproducible, and records every attempt with the moment it arrived.

use super::receiver::serve_notify;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Clone)]
pub struct Attempt {
    pub webhook_id: String,
    pub body: Value,
    pub at: Instant,
    pub accepted: bool,
}

#[derive(Default)]
struct Shared {
    attempts: Mutex<Vec<Attempt>>,
    seen: AtomicU64,
    /// Percent of attempts answered 500.
    fail_percent: AtomicU8,
}

pub struct FlakyReceiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FlakyReceiver {
    pub async fn start(fail_percent: u8) -> FlakyReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shared = Arc::new(Shared::default());
        shared.fail_percent.store(fail_percent, Ordering::SeqCst);
        let (url, task) = serve_notify(listener, post(record).with_state(shared.clone()));
        FlakyReceiver { url, shared, task }
    }

    pub fn set_fail_percent(&self, percent: u8) {
        self.shared.fail_percent.store(percent, Ordering::SeqCst);
    }

    pub fn attempts(&self) -> Vec<Attempt> {
        self.shared.attempts.lock().unwrap().clone()
    }

    /// Accepted notifications of `payment_id` with `status` (action PAYMENT).
    pub fn accepted(&self, payment_id: &str, status: &str) -> Vec<Attempt> {
        self.attempts()
            .into_iter()
            .filter(|a| {
                a.accepted
                    && a.body["paymentId"] == payment_id
                    && a.body["status"] == status
                    && a.body["action"] == "PAYMENT"
            })
            .collect()
    }
}

impl Drop for FlakyReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn record(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let n = shared.seen.fetch_add(1, Ordering::SeqCst);
    // n * 37 mod 100 visits every residue once in each hundred attempts, so exactly
    // `fail_percent` of every hundred fail, spread out rather than in one run.
    let accepted = (n * 37 % 100) >= u64::from(shared.fail_percent.load(Ordering::SeqCst));
    let webhook_id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    shared.attempts.lock().unwrap().push(Attempt {
        webhook_id,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        at: Instant::now(),
        accepted,
    });
    if accepted {
        StatusCode::OK
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    }
}
