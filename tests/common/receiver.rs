//! A stand-in for PAYMENT_CALLBACK_URL that records what it receives and can be told to fail.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{any, MethodRouter};
use axum::Router;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// Path and query, as requested.
    pub uri: String,
    pub id: String,
    pub timestamp: String,
    pub signature: Option<String>,
    pub body: String,
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// Its Standard Webhooks signature verifies with `secret`.
    pub fn assert_signed(&self, secret: &str) {
        let ts: i64 = self
            .timestamp
            .parse()
            .expect("webhook-timestamp is a number");
        let expected = payrouter::notify::signature(secret, &self.id, ts, &self.body);
        assert_eq!(
            self.signature.as_deref(),
            Some(expected.as_str()),
            "webhook-signature"
        );
    }
}

/// Serves `handler` at `/notify` on `listener`: the URL to notify and the task serving it.
pub fn serve_notify(
    listener: tokio::net::TcpListener,
    handler: MethodRouter,
) -> (String, tokio::task::JoinHandle<()>) {
    let url = format!("http://{}/notify", listener.local_addr().unwrap());
    let app = Router::new().route("/notify", handler);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, task)
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Self::start_on(tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()).await
    }

    pub async fn start_on(listener: tokio::net::TcpListener) -> Receiver {
        let shared = Arc::new(Shared::default());
        let (url, task) = serve_notify(listener, any(record).with_state(shared.clone()));
        Receiver { url, shared, task }
    }

    /// The next `n` notifications are answered 500.
    pub fn fail_next(&self, n: usize) {
        self.shared.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every request received, failed ones included.
    pub fn all(&self) -> Vec<Received> {
        self.shared.log.lock().unwrap().clone()
    }

    /// The notifications that were accepted (answered 200).
    pub fn delivered(&self) -> Vec<Received> {
        self.all().into_iter().filter(|r| r.status == 200).collect()
    }

    /// The notifications delivered for `payment_id`, oldest first.
    pub fn notifications(&self, payment_id: &str) -> Vec<Value> {
        self.delivered()
            .iter()
            .map(Received::json)
            .filter(|n| n["paymentId"] == payment_id)
            .collect()
    }

    /// Waits for a notification of `payment_id` with `status` and `action` (for up to 15 s:
    /// a callback that arrives inside Feennex's 10 s poll window is applied when it reopens).
    pub async fn notified(&self, payment_id: &str, status: &str, action: &str) -> Value {
        super::eventually(15, || async {
            self.notifications(payment_id)
                .into_iter()
                .find(|n| n["status"] == status && n["action"] == action)
        })
        .await
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

async fn record(
    State(shared): State<Arc<Shared>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let failing = shared
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing { 500 } else { 200 };
    shared.log.lock().unwrap().push(Received {
        method: method.to_string(),
        uri: uri.to_string(),
        id: header("webhook-id").unwrap_or_default(),
        timestamp: header("webhook-timestamp").unwrap_or_default(),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        status,
    });
    StatusCode::from_u16(status).unwrap()
}
