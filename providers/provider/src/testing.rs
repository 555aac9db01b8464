//! Helpers for the adapters' tests and the simulators (features `sim` or tests only).

use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Currency, Money};

/// Asserts that `value` matches `pattern` (with an optional `if` guard), showing the value
/// when it does not.
#[macro_export]
macro_rules! assert_matches {
    ($value:expr, $pattern:pat $(if $guard:expr)?) => {{
        let value = $value;
        assert!(matches!(&value, $pattern $(if $guard)?), "{value:?}");
    }};
}

/// What a test's receiver was sent, in arrival order: its handler pushes (the inbox is the
/// handler's state), the test takes.
pub struct Inbox<T>(Arc<Mutex<Vec<T>>>);

impl<T> Clone for Inbox<T> {
    fn clone(&self) -> Self {
        Inbox(Arc::clone(&self.0))
    }
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Inbox(Arc::default())
    }
}

impl<T> Inbox<T> {
    pub fn push(&self, item: T) {
        self.0.lock().expect("the inbox").push(item);
    }

    /// Everything received so far, leaving the inbox empty.
    pub fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.0.lock().expect("the inbox"))
    }
}

/// Asserts what every simulator's payer page shows (`html::page`): it fits a phone, its banner
/// names the simulator (`title`), and the amount reads as money (`12.99 GBP`).
pub fn assert_payer_page(page: &str, title: &str, amount: &str) {
    assert!(
        page.contains(r#"<meta name="viewport" content="width=device-width, initial-scale=1">"#),
        "{page}"
    );
    assert!(
        page.contains(&format!(">{title}: a test double, no money moves</div>")),
        "{page}"
    );
    assert!(
        page.contains(&format!(r#"<dd id="amount">{amount}</dd>"#)),
        "{page}"
    );
}

/// Asserts how an adapter meets a lost answer of its simulator's `operation`, made by `call`:
/// an answer 2 s late (later than the adapter waits) is a Timeout, a dropped connection is
/// Unavailable. `fault` adds a rule (`POST /_sim/faults`).
#[cfg(feature = "sim")]
pub async fn assert_late_and_dropped_answers<T, F, A, C, R>(operation: &str, fault: F, call: C)
where
    T: std::fmt::Debug,
    F: Fn(serde_json::Value) -> A,
    A: std::future::Future,
    C: Fn() -> R,
    R: std::future::Future<Output = Result<T, crate::ProviderError>>,
{
    use crate::ProviderError::{Timeout, Unavailable};
    let late = serde_json::json!({"operation": operation, "latencyMs": 2000, "count": 1});
    fault(late).await;
    assert_matches!(call().await, Err(Timeout { .. }));
    fault(serde_json::json!({"operation": operation, "drop": true, "count": 1})).await;
    assert_matches!(call().await, Err(Unavailable(_)));
}

/// The control index of the simulator at `base` (`GET {base}/_sim`), asserting that it
/// answers 200 and names the simulator `title`.
#[cfg(feature = "sim")]
pub async fn control_index(base: &str, title: &str) -> serde_json::Value {
    let reply = reqwest::get(format!("{base}/_sim"))
        .await
        .expect("an answer");
    assert_eq!(reply.status(), 200);
    let index: serde_json::Value = reply.json().await.expect("a JSON index");
    assert_eq!(index["simulator"], title);
    index
}

/// The currency of an ISO 4217 `code` the test knows is valid.
pub fn currency(code: &str) -> Currency {
    Currency::from_code(code).unwrap_or_else(|| panic!("{code} is not an ISO 4217 currency"))
}

/// A loopback listener and its URL (`http://127.0.0.1:{port}`), bound before anything is
/// served on it, so that a server (a simulator) can be built knowing its own URL.
#[cfg(feature = "sim")]
pub async fn loopback() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("its address"));
    (listener, url)
}

/// Serves `app` on `listener` in the background, for the rest of the test.
#[cfg(feature = "sim")]
pub fn serve(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serving") });
}

/// `minor` units of the currency `code`.
pub fn money(minor: i64, code: &str) -> Money {
    Money::new(minor, currency(code))
}

/// A loopback port where a TCP connect never completes: a listener with a full accept queue,
/// whose kernel drops further handshakes. A client's connect timeout then fires for real,
/// which is how an unreachable provider host behaves. Dropping it frees the port.
pub struct SaturatedPort {
    addr: SocketAddr,
    _listener: tokio::net::TcpListener,
    _queued: Vec<TcpStream>,
}

impl SaturatedPort {
    /// Must be called inside a Tokio runtime.
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("a TCP socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("a loopback port");
        let listener = socket.listen(0).expect("listening");
        let addr = listener.local_addr().expect("its address");
        // Fill the accept queue (nobody accepts) until a handshake is no longer answered.
        let mut queued = Vec::new();
        while let Ok(stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            queued.push(stream);
            assert!(queued.len() < 64, "the accept queue never filled");
        }
        SaturatedPort {
            addr,
            _listener: listener,
            _queued: queued,
        }
    }

    /// `http://127.0.0.1:{port}`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Default for SaturatedPort {
    fn default() -> Self {
        Self::new()
    }
}
