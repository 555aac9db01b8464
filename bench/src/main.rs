//! `make bench`: payrouter's overhead and capacity, each figure measured side by side with a
//! baseline in the same run (absolute numbers drift between machines; ratios do not).
//! Prints a table and writes `bench/results.json`. See bench/README.md for the method.

mod cluster;
mod load;
mod procs;

use load::Stats;
use procs::{free_port, Proc, Receiver};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub(crate) const SECS: Duration = Duration::from_secs(5);
/// The fixed-rate runs are longer: their percentiles are the figures closest to the targets.
const RATE_SECS: Duration = Duration::from_secs(10);
const PAY_RATE: f64 = 300.0;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Runtime::new().expect("a tokio runtime");
    if args.get(1).map(String::as_str) == Some("ceiling") {
        let port = args[2].parse().expect("ceiling port");
        rt.block_on(procs::serve_ceiling(port, args[3].clone()));
        return;
    }
    // `cluster`: figure 6 alone (printed; results.json is left as the last full run wrote it).
    let only_cluster = args.get(1).map(String::as_str) == Some("cluster");
    rt.block_on(bench(only_cluster));
}

pub(crate) struct Report {
    rows: Vec<(String, String, String)>,
    json: serde_json::Map<String, Value>,
}

impl Report {
    pub(crate) fn row(&mut self, what: &str, figure: String, target: &str) {
        println!("{what:<58} {figure:<34} {target}");
        self.rows.push((what.into(), figure, target.into()));
    }

    /// The row of a backlog drained in `drained` (None: not within the 120 s waited).
    pub(crate) fn drain_row(&mut self, what: &str, drained: Option<Duration>) {
        let figure = drained.map_or("not drained in 120 s".into(), |d| {
            format!("{:.2} s", d.as_secs_f64())
        });
        self.row(what, figure, "< 10 s");
    }
}

/// What the sections measure: the simulators, a router on the memory store and one on Redis,
/// both notifying `receiver`, and a client for single requests.
struct Rig {
    http: reqwest::Client,
    sim: Proc,
    mem: Proc,
    red: Proc,
    receiver: Receiver,
}

async fn bench(only_cluster: bool) {
    let http = reqwest::Client::new();
    let mut r = Report {
        rows: Vec::new(),
        json: serde_json::Map::new(),
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "payrouter benchmark on {cores} cores, everything on loopback, load generator included\n"
    );

    let redis = procs::redis();
    let receiver = Receiver::start(free_port()).await;
    let mem_port = free_port();
    let sim = procs::simulators(&format!("http://127.0.0.1:{mem_port}")).await;
    let notify = [("PAYMENT_CALLBACK_URL", receiver.url())];
    let mem = procs::router(mem_port, &sim, &notify).await;
    let mut with_redis: Vec<(&str, String)> = notify.to_vec();
    with_redis.push(("REDIS_URL", format!("redis://127.0.0.1:{}/", redis.port)));
    let red = procs::router(free_port(), &sim, &with_redis).await;
    let rig = Rig {
        http,
        sim,
        mem,
        red,
        receiver,
    };

    if !only_cluster {
        pay_overhead(&mut r, &rig).await;
        status_capacity(&mut r, &rig).await;
        callbacks(&mut r, &rig).await;
        notifications(&mut r, &rig).await;
        memory(&mut r, &rig).await;
    }
    cluster::cluster(&mut r, &rig.http, &rig.sim, &rig.red).await;
    if only_cluster {
        return;
    }

    let out = json!({"cores": cores, "results": r.json});
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/results.json");
    std::fs::write(path, serde_json::to_string_pretty(&out).unwrap_or_default())
        .expect("results.json is writable");
    println!("\nfigures written to bench/results.json");
}

fn fena_direct(i: u64) -> String {
    json!({"reference": format!("d{i}"), "amount": "12.99", "description": format!("direct-{i}")})
        .to_string()
}

async fn pay_overhead(r: &mut Report, Rig { sim, mem, .. }: &Rig) {
    println!("1. pay overhead: through payrouter vs straight to the simulated Fena");
    let headers = vec![
        ("terminal-id", "62b48adf6ba2cd6a040b1eec".to_string()),
        (
            "terminal-secret",
            "3858f642-e92f-431c-9d38-46d15efb7fba".to_string(),
        ),
    ];
    let direct = load::post_json(
        "/fena/open/payments/single/create-and-process",
        headers,
        fena_direct,
    );
    let routed = |tag: &'static str| {
        load::post_json("/v3/fena/pay", vec![], move |i| {
            json!({"amount": 1299, "currency": "GBP", "shopTransactionId": format!("{tag}-{i}")})
                .to_string()
        })
    };
    // The same load straight to the simulated Fena, then through payrouter.
    let direct_then_routed =
        |conns: usize, secs: Duration, rate: Option<f64>, tag: &'static str| {
            let direct = direct.clone();
            async move {
                let d = load::run(sim.addr(), conns, secs, rate, None, direct).await;
                let p = load::run(mem.addr(), conns, secs, rate, None, routed(tag)).await;
                (d, p)
            }
        };
    direct_then_routed(16, Duration::from_secs(1), None, "warm").await;
    let (d_rate, p_rate) = direct_then_routed(32, RATE_SECS, Some(PAY_RATE), "rate").await;
    let sim_cpu = sim.cpu_ns();
    let d_sat = load::run(sim.addr(), 32, SECS, None, None, direct).await;
    let sim_direct_us = (sim.cpu_ns() - sim_cpu) as f64 / 1000.0 / d_sat.ok().max(1) as f64;
    let (sim_cpu, router_cpu) = (sim.cpu_ns(), mem.cpu_ns());
    let p_sat = load::run(mem.addr(), 32, SECS, None, None, routed("sat")).await;
    let per = |ns: u64| ns as f64 / 1000.0 / p_sat.ok().max(1) as f64;
    let (sim_routed_us, router_us) = (per(sim.cpu_ns() - sim_cpu), per(mem.cpu_ns() - router_cpu));
    let added = |q: f64| p_rate.ms(q) - d_rate.ms(q);
    r.row(
        &format!("pay at {PAY_RATE} req/s: added latency p50 / p99"),
        format!("{:.3} ms / {:.3} ms", added(0.5), added(0.99)),
        "≤ 0.3 ms / ≤ 2 ms",
    );
    r.row(
        "pay at saturation: throughput, payrouter / direct",
        format!(
            "{:.0} / {:.0} req/s = {:.0} %",
            p_sat.rps(),
            d_sat.rps(),
            100.0 * p_sat.rps() / d_sat.rps()
        ),
        "≥ 80 %",
    );
    r.row(
        "CPU per pay: payrouter / simulator (direct, routed)",
        format!("{router_us:.0} µs / {sim_direct_us:.0} µs, {sim_routed_us:.0} µs"),
        "where the time goes",
    );
    r.json.insert(
        "pay".into(),
        json!({
            "rate": PAY_RATE,
            "router_cpu_us_per_pay": router_us, "sim_cpu_us_per_pay_direct": sim_direct_us,
            "sim_cpu_us_per_pay_routed": sim_routed_us,
            "direct_p50_ms": d_rate.ms(0.5), "direct_p99_ms": d_rate.ms(0.99),
            "routed_p50_ms": p_rate.ms(0.5), "routed_p99_ms": p_rate.ms(0.99),
            "added_p50_ms": added(0.5), "added_p99_ms": added(0.99),
            "direct_saturation_rps": d_sat.rps(), "routed_saturation_rps": p_sat.rps(),
            "routed_p99_saturation_ms": p_sat.ms(0.99),
            "throughput_ratio": p_sat.rps() / d_sat.rps(),
            "errors": d_rate.errors + p_rate.errors + d_sat.errors + p_sat.errors,
        }),
    );
}

/// Pays through `router`, marks the payment paid at the simulator and waits until the router
/// reports it ACCEPTED; returns the paymentId and its status body.
pub(crate) async fn paid_payment(
    http: &reqwest::Client,
    sim: &Proc,
    router: &Proc,
    shop_tx: &str,
) -> (String, String) {
    let paid: Value = http
        .post(format!("{}/v3/fena/pay", router.url()))
        .json(&json!({"amount": 1299, "currency": "GBP", "shopTransactionId": shop_tx}))
        .send()
        .await
        .expect("pay")
        .json()
        .await
        .expect("pay answer");
    let id = paid["paymentId"].as_str().expect("a paymentId").to_string();
    http.post(format!("{}/fena/_sim/payments/{id}/state", sim.url()))
        .json(&json!({"status": "paid", "callback": false}))
        .send()
        .await
        .expect("simulator control");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = http
            .get(format!("{}/v3/fena/status?paymentId={id}", router.url()))
            .send()
            .await
            .expect("status")
            .text()
            .await
            .expect("status body");
        if body.contains("ACCEPTED") {
            return (id, body);
        }
        assert!(
            Instant::now() < deadline,
            "payment never became ACCEPTED: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn status_capacity(
    r: &mut Report,
    Rig {
        http,
        sim,
        mem,
        red,
        ..
    }: &Rig,
) {
    println!("2. status of a paid payment vs a minimal hyper server answering the same JSON");
    let (mem_id, body) = paid_payment(http, sim, mem, "status-mem").await;
    let (red_id, _) = paid_payment(http, sim, red, "status-redis").await;
    let ceiling = procs::ceiling(&body).await;
    let run = |p: &Proc, path: String| load::run(p.addr(), 64, SECS, None, None, load::get(path));
    run(&ceiling, "/".into()).await;
    let c = run(&ceiling, "/".into()).await;
    let m = run(mem, format!("/v3/fena/status?paymentId={mem_id}")).await;
    let d = run(red, format!("/v3/fena/status?paymentId={red_id}")).await;
    let line = |s: &Stats| {
        format!(
            "{:.0} req/s = {:.0} %, p99 {:.2} ms",
            s.rps(),
            100.0 * s.rps() / c.rps(),
            s.ms(0.99)
        )
    };
    r.row(
        "status, minimal hyper server (ceiling)",
        format!("{:.0} req/s, p99 {:.2} ms", c.rps(), c.ms(0.99)),
        "",
    );
    r.row("status, memory store", line(&m), "≥ 60 % of ceiling");
    r.row("status, Redis store", line(&d), "≥ 30 % of ceiling");
    r.json.insert(
        "status".into(),
        json!({
            "ceiling_rps": c.rps(), "ceiling_p99_ms": c.ms(0.99),
            "memory_rps": m.rps(), "memory_p99_ms": m.ms(0.99), "memory_ratio": m.rps() / c.rps(),
            "redis_rps": d.rps(), "redis_p99_ms": d.ms(0.99), "redis_ratio": d.rps() / c.rps(),
            "errors": c.errors + m.errors + d.errors,
        }),
    );
}

const CALLBACKS: u64 = 3_000;

fn signed_callback(i: u64) -> String {
    let secret = payrouter_provider::SecretString::from("SecretKey01");
    let fields: Vec<(String, String)> = vec![
        ("payment_id".into(), (1000 + i).to_string()),
        ("shop_amount".into(), "12.99".into()),
        ("shop_currency".into(), "840".into()),
        ("shop_id".into(), "5".into()),
        ("shop_order_id".into(), format!("cb-{i}")),
        ("status".into(), "success".into()),
    ];
    let sign = payrouter_feennex::sign::sign(&fields, &secret);
    let mut s = String::new();
    for (k, v) in fields
        .iter()
        .chain(std::iter::once(&("sign".to_string(), sign)))
    {
        if !s.is_empty() {
            s.push('&');
        }
        s.push_str(&format!("{k}={v}"));
    }
    s
}

async fn callbacks(
    r: &mut Report,
    Rig {
        sim, mem, receiver, ..
    }: &Rig,
) {
    println!("3. signed Feennex callbacks: accepted, confirmed with invoice/check, notified");
    let create = load::post_json("/v3/feennex/pay", vec![], |i| {
        json!({"amount": 1299, "currency": "USD", "shopTransactionId": format!("cb-{i}"),
               "providerData": {"email": "payer@example.com"}})
        .to_string()
    });
    let made = load::exactly(mem.addr(), 32, CALLBACKS, create).await;
    let paid = load::exactly(
        sim.addr(),
        32,
        CALLBACKS,
        std::sync::Arc::new(|i| {
            hyper::Request::post(format!("/feennex/_sim/payments/cb-{i}/state"))
                .header("host", "bench")
                .header("content-type", "application/json")
                .body(http_body_util::Full::new(hyper::body::Bytes::from(
                    r#"{"status":4,"callback":false}"#,
                )))
                .expect("static request")
        }),
    )
    .await;
    let before = receiver.received();
    let start = Instant::now();
    let posted = load::exactly(
        mem.addr(),
        32,
        CALLBACKS,
        std::sync::Arc::new(|i| {
            hyper::Request::post("/v3/feennex/callback")
                .header("host", "bench")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(http_body_util::Full::new(hyper::body::Bytes::from(
                    signed_callback(i),
                )))
                .expect("static request")
        }),
    )
    .await;
    let last = receiver
        .wait_for(before + CALLBACKS, Duration::from_secs(60))
        .await;
    let notified_in = last.map(|t| t.duration_since(start));
    let accepted = posted.ok() as f64 / posted.elapsed.as_secs_f64();
    let notified = notified_in.map_or(0.0, |d| CALLBACKS as f64 / d.as_secs_f64());
    r.row(
        &format!("callbacks: {CALLBACKS} accepted / notified per second"),
        format!("{accepted:.0} / {notified:.0} per s"),
        "≥ 5,000/s",
    );
    r.json.insert(
        "callbacks".into(),
        json!({
            "count": CALLBACKS, "accepted_per_s": accepted, "notified_per_s": notified,
            "p99_ms": posted.ms(0.99),
            "errors": made.errors + paid.errors + posted.errors,
        }),
    );
}

pub(crate) const BACKLOG: u64 = 10_000;

/// BACKLOG checks of payment `id` on 32 connections: each `/check` sends a notification, so
/// this queues BACKLOG of them.
async fn check_backlog(router: SocketAddr, id: &str) {
    let check = load::get(format!("/v3/fena/check?paymentId={id}"));
    load::exactly(router, 32, BACKLOG, check).await;
}

async fn notifications(
    r: &mut Report,
    Rig {
        http,
        sim,
        mem,
        receiver,
        ..
    }: &Rig,
) {
    println!("4. notifications: delivery rate, and the drain of a backlog built while the receiver was down");
    let (id, _) = paid_payment(http, sim, mem, "notify-up").await;
    let before = receiver.received();
    let start = Instant::now();
    check_backlog(mem.addr(), &id).await;
    let last = receiver
        .wait_for(before + BACKLOG, Duration::from_secs(60))
        .await;
    let rate = last.map_or(0.0, |t| {
        BACKLOG as f64 / t.duration_since(start).as_secs_f64()
    });

    // A second router whose receiver is down while the backlog builds.
    let (lagging, down_port) = procs::lagging_router(sim, None).await;
    let (id, _) = paid_payment(http, sim, &lagging, "notify-down").await;
    check_backlog(lagging.addr(), &id).await;
    let drained = procs::drain_time(down_port, BACKLOG).await;
    r.row(
        "notifications delivered per second (receiver up)",
        format!("{rate:.0} per s"),
        "≥ 5,000/s",
    );
    r.drain_row(
        &format!("backlog of {BACKLOG} drained after the receiver came back"),
        drained,
    );
    r.json.insert(
        "notifications".into(),
        json!({
            "delivered_per_s": rate, "backlog": BACKLOG,
            "backlog_drain_s": drained.map(|d| d.as_secs_f64()),
            "retry_initial_ms": 100, "retry_max_ms": 1000,
        }),
    );
}

const PAYMENTS: u64 = 100_000;

async fn memory(r: &mut Report, Rig { http, sim, .. }: &Rig) {
    println!("5. memory: resident set under 256 connections, and after {PAYMENTS} payments in the memory store");
    // A fresh instance, so that the figure is about connections, not stored payments.
    let idle = procs::router(free_port(), sim, &[]).await;
    let (id, _) = paid_payment(http, sim, &idle, "memory-256").await;
    let sampling = tokio::spawn({
        let pid = idle.child.id();
        async move {
            let mut peak = 0u64;
            let start = Instant::now();
            while start.elapsed() < SECS {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let rss = status
                    .lines()
                    .find(|l| l.starts_with("VmRSS:"))
                    .and_then(|l| l.split_whitespace().nth(1))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                peak = peak.max(rss);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        }
    });
    let s = load::run(
        idle.addr(),
        256,
        SECS,
        None,
        None,
        load::get(format!("/v3/fena/status?paymentId={id}")),
    )
    .await;
    drop(idle);
    let peak_kib = sampling.await.unwrap_or(0);
    r.row(
        "peak RSS, 256 connections on status",
        format!("{:.1} MiB ({:.0} req/s)", peak_kib as f64 / 1024.0, s.rps()),
        "≤ 64 MiB",
    );

    let fresh = procs::router(free_port(), sim, &[]).await;
    let (idle_kib, _) = fresh.rss_kib();
    let made = load::exactly(
        fresh.addr(),
        64,
        PAYMENTS,
        load::post_json("/v3/fena/pay", vec![], |i| {
            json!({"amount": 1299, "currency": "GBP", "shopTransactionId": format!("m-{i}")})
                .to_string()
        }),
    )
    .await;
    let (after_kib, hwm_kib) = fresh.rss_kib();
    r.row(
        &format!("RSS after {PAYMENTS} payments in the memory store"),
        format!(
            "{:.1} MiB (idle {:.1}, peak {:.1})",
            after_kib as f64 / 1024.0,
            idle_kib as f64 / 1024.0,
            hwm_kib as f64 / 1024.0
        ),
        "bounded (MEMORY_MAX_DOCUMENTS)",
    );
    r.json.insert("memory".into(), json!({
        "peak_rss_256_connections_mib": peak_kib as f64 / 1024.0,
        "idle_rss_mib": idle_kib as f64 / 1024.0,
        "rss_after_payments_mib": after_kib as f64 / 1024.0,
        "peak_rss_payments_mib": hwm_kib as f64 / 1024.0,
        "payments": made.ok(), "payment_errors": made.errors,
        "bytes_per_payment": (after_kib.saturating_sub(idle_kib) * 1024) as f64 / made.ok().max(1) as f64,
    }));
}
