//! A small HTTP/1.1 load generator: keep-alive connections, closed loop (saturation) or open
//! loop (requests started at a fixed rate). Latency is measured from the moment a request is
//! sent: the fixed rate is kept far below saturation, where no request waits for another, and
//! tokio's millisecond timer would otherwise be counted as server time.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Builds request number `i`.
pub type MakeRequest = Arc<dyn Fn(u64) -> Request<Full<Bytes>> + Send + Sync>;

pub fn get(path: String) -> MakeRequest {
    Arc::new(move |_| {
        Request::get(path.as_str())
            .header("host", "bench")
            .body(Full::new(Bytes::new()))
            .expect("static request")
    })
}

pub fn post_json(
    path: &'static str,
    headers: Vec<(&'static str, String)>,
    body: impl Fn(u64) -> String + Send + Sync + 'static,
) -> MakeRequest {
    Arc::new(move |i| {
        let mut b = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", "bench")
            .header("content-type", "application/json");
        for (k, v) in &headers {
            b = b.header(*k, v.as_str());
        }
        b.body(Full::new(Bytes::from(body(i))))
            .expect("static request")
    })
}

#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// Latencies of successful requests, in microseconds, sorted.
    pub micros: Vec<u64>,
    pub errors: u64,
    pub elapsed: Duration,
}

impl Stats {
    pub fn ok(&self) -> u64 {
        self.micros.len() as u64
    }

    pub fn rps(&self) -> f64 {
        self.ok() as f64 / self.elapsed.as_secs_f64()
    }

    /// The q-quantile latency in milliseconds.
    pub fn ms(&self, q: f64) -> f64 {
        if self.micros.is_empty() {
            return f64::NAN;
        }
        let idx = ((self.micros.len() as f64 - 1.0) * q).round() as usize;
        self.micros[idx] as f64 / 1000.0
    }
}

struct Shared {
    micros: Mutex<Vec<u64>>,
    errors: AtomicU64,
    next: AtomicU64,
}

/// Runs `conns` connections for `duration`. With `rate`, request i starts at i/rate seconds;
/// without, each connection sends as fast as answers come (saturation). `limit` caps the
/// number of requests.
pub async fn run(
    addr: SocketAddr,
    conns: usize,
    duration: Duration,
    rate: Option<f64>,
    limit: Option<u64>,
    make: MakeRequest,
) -> Stats {
    let shared = Arc::new(Shared {
        micros: Mutex::new(Vec::new()),
        errors: AtomicU64::new(0),
        next: AtomicU64::new(0),
    });
    let start = Instant::now();
    let end = start + duration;
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (shared, make) = (shared.clone(), make.clone());
        tasks.push(tokio::spawn(async move {
            let mut local = Vec::new();
            let Some(mut sender) = connect(addr).await else {
                shared.errors.fetch_add(1, Ordering::Relaxed);
                return;
            };
            loop {
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                if limit.is_some_and(|l| i >= l) {
                    break;
                }
                let scheduled = match rate {
                    Some(r) => start + Duration::from_secs_f64(i as f64 / r),
                    None => Instant::now(),
                };
                if scheduled >= end {
                    break;
                }
                tokio::time::sleep_until(scheduled.into()).await;
                let sent = Instant::now();
                let ok = match sender.send_request(make(i)).await {
                    Ok(resp) => {
                        let good = resp.status().is_success();
                        good && resp.into_body().collect().await.is_ok()
                    }
                    Err(_) => false,
                };
                if ok {
                    local.push(sent.elapsed().as_micros() as u64);
                } else {
                    shared.errors.fetch_add(1, Ordering::Relaxed);
                    match connect(addr).await {
                        Some(s) => sender = s,
                        None => break,
                    }
                }
            }
            shared
                .micros
                .lock()
                .expect("no panics while holding it")
                .extend(local);
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let elapsed = start.elapsed();
    let mut micros =
        std::mem::take(&mut *shared.micros.lock().expect("no panics while holding it"));
    micros.sort_unstable();
    Stats {
        micros,
        errors: shared.errors.load(Ordering::Relaxed),
        elapsed,
    }
}

/// Sends exactly `n` requests on `conns` connections, as fast as they are answered.
pub async fn exactly(addr: SocketAddr, conns: usize, n: u64, make: MakeRequest) -> Stats {
    // The duration only bounds a run that would otherwise never end.
    run(addr, conns, Duration::from_secs(600), None, Some(n), make).await
}

async fn connect(addr: SocketAddr) -> Option<hyper::client::conn::http1::SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(sender)
}
