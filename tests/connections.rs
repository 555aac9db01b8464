//! The connection limits (issue 10, defect 6): a client that never finishes its request head
//! is cut off after HTTP_HEADER_TIMEOUT_MS, an idle keep-alive connection likewise, at most
//! HTTP_MAX_CONNECTIONS connections are served at once, and a shutdown does not wait for
//! half-open connections. Raw TCP, because an HTTP client cannot send half a request.

mod common;

use common::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Far longer than any limit under test: a wait that runs this long means the limit failed.
const PATIENCE: Duration = Duration::from_secs(10);

async fn router(extra: &str) -> TestRouter {
    TestRouter::start(&config(
        None,
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/n",
        extra,
    ))
    .await
}

async fn connect(r: &TestRouter) -> TcpStream {
    TcpStream::connect(r.base.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; what it sent before closing.
async fn read_until_closed(stream: &mut TcpStream) -> Result<String, &'static str> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
            Err(_) => return Err("the connection is still open"),
            Ok(Ok(0)) | Ok(Err(_)) => return Ok(String::from_utf8_lossy(&seen).into_owned()),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
        }
    }
}

/// Sends one whole request on `stream` and reads its whole answer (the body of /healthz).
async fn healthz(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: payrouter\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = tokio::time::timeout(PATIENCE, stream.read(&mut buf))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

#[tokio::test]
async fn a_half_sent_request_head_is_cut_off() {
    let r = router("http_header_timeout_ms = 300").await;
    let mut stream = connect(&r).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: payrouter\r\n")
        .await
        .unwrap();
    let answer = read_until_closed(&mut stream).await;
    assert!(answer.is_ok(), "{answer:?}");
    assert!(
        !answer.unwrap().contains("200 OK"),
        "a half-sent request must not be served"
    );
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let r = router("http_header_timeout_ms = 300").await;
    let mut stream = connect(&r).await;
    assert!(healthz(&mut stream).await.starts_with("HTTP/1.1 200"));
    let after = read_until_closed(&mut stream).await;
    assert_eq!(after, Ok(String::new()), "closed without a further answer");
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_for_a_free_slot() {
    let r = router("http_max_connections = 2").await;
    let mut first = connect(&r).await;
    let mut second = connect(&r).await;
    assert!(healthz(&mut first).await.starts_with("HTTP/1.1 200"));
    assert!(healthz(&mut second).await.starts_with("HTTP/1.1 200"));

    let mut third = connect(&r).await;
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: payrouter\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let early = tokio::time::timeout(Duration::from_millis(500), third.read(&mut buf)).await;
    assert!(early.is_err(), "a third connection was served past the cap");

    drop(first);
    let n = tokio::time::timeout(PATIENCE, third.read(&mut buf))
        .await
        .expect("served once a slot is free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_does_not_wait_for_half_open_connections() {
    // The head timeout is long, so only the shutdown can end these connections.
    let mut r = router("http_header_timeout_ms = 300000").await;
    let mut idle = connect(&r).await;
    assert!(healthz(&mut idle).await.starts_with("HTTP/1.1 200"));
    let mut half = connect(&r).await;
    half.write_all(b"POST /v3/fena/pay HTTP/1.1\r\nhost: payrouter\r\n")
        .await
        .unwrap();
    // Let the server take the bytes in before the shutdown begins.
    tokio::time::sleep(Duration::from_millis(100)).await;

    tokio::time::timeout(PATIENCE, r.stop())
        .await
        .expect("shutdown finished without waiting for the open connections");
    assert!(read_until_closed(&mut idle).await.is_ok());
    assert!(read_until_closed(&mut half).await.is_ok());
}

#[tokio::test]
async fn the_limits_are_checked_at_start() {
    let cfg = config(
        None,
        "http://127.0.0.1:9",
        "http://127.0.0.1:9/n",
        "http_header_timeout_ms = 5\nhttp_max_connections = 0",
    );
    let problems = config_problems(&cfg);
    assert_problem(&problems, "HTTP_HEADER_TIMEOUT_MS:");
    assert_problem(&problems, "HTTP_MAX_CONNECTIONS:");
}
