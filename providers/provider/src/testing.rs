//! Helpers for the adapters' tests and the simulators (features `sim` or tests only).

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::{Currency, Money};

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
