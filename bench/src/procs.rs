//! The processes a benchmark run needs, all on loopback: payrouter instances, the provider
//! simulators, redis-server, the ceiling server, and an in-process notification receiver.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A child process, killed when dropped.
pub struct Proc {
    pub child: Child,
    pub port: u16,
}

impl Proc {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// CPU time used by all the process's threads so far, from /proc (nanoseconds).
    pub fn cpu_ns(&self) -> u64 {
        let dir = format!("/proc/{}/task", self.child.id());
        std::fs::read_dir(dir)
            .map(|tasks| {
                tasks
                    .filter_map(|t| t.ok())
                    .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                    .filter_map(|s| {
                        s.split_whitespace()
                            .next()
                            .and_then(|v| v.parse::<u64>().ok())
                    })
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Current and peak resident memory in KiB, from /proc.
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sibling(name: &str) -> std::path::PathBuf {
    let me = std::env::current_exe().expect("the benchmark knows where it runs from");
    me.with_file_name(name)
}

pub async fn wait_until_up(url: &str) {
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if http.get(url).send().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{url} did not come up");
}

pub fn redis() -> Proc {
    let port = free_port();
    let child = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .stdout(Stdio::null())
        .spawn()
        .expect("redis-server is installed (make bench installs it)");
    Proc { child, port }
}

/// `payrouter simulate`, sending Fena webhooks to `router_url`.
pub async fn simulators(router_url: &str) -> Proc {
    let port = free_port();
    let child = Command::new(sibling("payrouter"))
        .arg("simulate")
        .env("SIM_PORT", port.to_string())
        .env("PUBLIC_BASE_URL", router_url)
        .stdout(Stdio::null())
        .spawn()
        .expect("target/release/payrouter is built (make bench builds it)");
    let p = Proc { child, port };
    wait_until_up(&format!("{}/fena/_sim/payments", p.url())).await;
    p
}

/// Starts the receiver of a `lagging_router` on `port`: how long until `count` notifications
/// have arrived (None: not within 120 s).
pub async fn drain_time(port: u16, count: u64) -> Option<Duration> {
    let back = Receiver::start(port).await;
    let up_at = Instant::now();
    back.wait_for(count, Duration::from_secs(120))
        .await
        .map(|t| t.duration_since(up_at))
}

/// A router whose receiver is down while a backlog builds: it notifies the returned port,
/// where nothing listens until the caller starts a `Receiver` there. `store` is added to its
/// environment (none: the embedded store).
pub async fn lagging_router(sim: &Proc, store: Option<(&'static str, String)>) -> (Proc, u16) {
    let down_port = free_port();
    let mut env = vec![
        (
            "PAYMENT_CALLBACK_URL",
            format!("http://127.0.0.1:{down_port}/notify"),
        ),
        ("NOTIFY_RETRY_INITIAL_MS", "100".into()),
        ("NOTIFY_RETRY_MAX_MS", "1000".into()),
        // Building the backlog may outlast the default 30 attempts (about 25 s at these
        // delays); a notification that died would never arrive and the drain never end.
        ("NOTIFY_MAX_ATTEMPTS", "1000".into()),
    ];
    env.extend(store);
    (router(free_port(), sim, &env).await, down_port)
}

/// A payrouter instance against the simulators at `sim`, with extra environment.
pub async fn router(port: u16, sim: &Proc, env: &[(&str, String)]) -> Proc {
    let mut cmd = Command::new(sibling("payrouter"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Not production: some runs use the embedded store and log notifications.
        .env("PAYROUTER_PROFILE", "demo")
        .env("SIMULATE", "false")
        .env("HTTP_HOST", "127.0.0.1")
        .env("HTTP_PORT", port.to_string())
        .env("PUBLIC_BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("LOG_LEVEL", "warn")
        .env("LOG_FORMAT", "json")
        .env("FENA_BASE_URL", format!("{}/fena", sim.url()))
        .env("FENA_TERMINAL_ID", "62b48adf6ba2cd6a040b1eec")
        .env(
            "FENA_TERMINAL_SECRET",
            "3858f642-e92f-431c-9d38-46d15efb7fba",
        )
        .env("FEENNEX_BASE_URL", format!("{}/feennex", sim.url()))
        .env("FEENNEX_SHOP_ID", "5")
        .env("FEENNEX_SECRET_KEY", "SecretKey01")
        .env("FEENNEX_PAYWAY", "card_usd")
        // Rechecks of the thousands of pending payments a run creates would otherwise run
        // under the later measurements; each figure measures one path.
        .env("RECHECK_INITIAL_MS", "3600000")
        // The callback figure measures ingest capacity, not the amplification guard (default
        // 20 provider fetches a second), which would turn it into a measure of the recheck
        // queue.
        .env("CALLBACK_FETCH_RATE", "1000000")
        .stdout(Stdio::null());
    // Fena's one-step pay (one provider call, as before two-phase pay) for comparing figure 1
    // with runs from before it: `FENA_PAY_MODE=one_step make bench`.
    if let Ok(mode) = std::env::var("FENA_PAY_MODE") {
        cmd.env("FENA_PAY_MODE", mode);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let p = Proc {
        child: cmd.spawn().expect("target/release/payrouter is built"),
        port,
    };
    wait_until_up(&format!("{}/healthz", p.url())).await;
    p
}

/// The practical ceiling: this benchmark binary re-run as a minimal hyper server that
/// answers every request with `body`.
pub async fn ceiling(body: &str) -> Proc {
    let port = free_port();
    let child = Command::new(std::env::current_exe().expect("own path"))
        .args(["ceiling", &port.to_string(), body])
        .spawn()
        .expect("the benchmark can re-run itself");
    let p = Proc { child, port };
    wait_until_up(&p.url()).await;
    p
}

/// Serves `body` to every request, as lean as hyper allows.
pub async fn serve_ceiling(port: u16, body: String) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("ceiling port");
    let body = Bytes::from(body);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let body = body.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |_req: Request<Incoming>| {
                let body = body.clone();
                async move {
                    Ok::<_, std::convert::Infallible>(
                        Response::builder()
                            .header("content-type", "application/json")
                            .body(Full::new(body))
                            .expect("static response"),
                    )
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

/// Counts notifications; answers 200.
pub struct Receiver {
    pub port: u16,
    pub count: Arc<AtomicU64>,
    pub last: Arc<std::sync::Mutex<Option<Instant>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start(port: u16) -> Receiver {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("receiver port");
        let count = Arc::new(AtomicU64::new(0));
        let last = Arc::new(std::sync::Mutex::new(None));
        let (c, l) = (count.clone(), last.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (c, l) = (c.clone(), l.clone());
                tokio::spawn(async move {
                    let svc = service_fn(move |_req: Request<Incoming>| {
                        c.fetch_add(1, Ordering::Relaxed);
                        *l.lock().expect("no panics while holding it") = Some(Instant::now());
                        async {
                            Ok::<_, std::convert::Infallible>(Response::new(
                                Full::new(Bytes::new()),
                            ))
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        Receiver {
            port,
            count,
            last,
            task,
        }
    }

    pub fn received(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// Waits until `n` notifications arrived (or `timeout`); returns when the last came.
    pub async fn wait_for(&self, n: u64, timeout: Duration) -> Option<Instant> {
        let deadline = Instant::now() + timeout;
        while self.received() < n {
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        *self.last.lock().expect("no panics while holding it")
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/notify", self.port)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}
