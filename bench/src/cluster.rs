//! The cluster column: the same router on one Redis node and on a Redis Cluster of three
//! primaries on this machine, side by side (status and pay throughput, the drain of a backlog
//! spread over the partitions), and how keys and commands spread over the primaries.

use serde_json::json;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::load;
use crate::procs::{self, free_port, Proc, Receiver};
use crate::{paid_payment, Report, BACKLOG, SECS};

/// A free port whose cluster bus port (+10000) is free too.
fn cluster_port() -> u16 {
    loop {
        let p = free_port();
        if p <= 55535 && std::net::TcpListener::bind(("127.0.0.1", p + 10000)).is_ok() {
            return p;
        }
    }
}

fn cli(port: u16, args: &[&str]) -> String {
    let out = Command::new("redis-cli")
        .arg("-p")
        .arg(port.to_string())
        .args(args)
        .output()
        .expect("redis-cli is installed with redis-server");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Three primaries without replicas, their slots assigned by `redis-cli --cluster create`.
fn start_cluster(dir: &std::path::Path) -> Vec<Proc> {
    let nodes: Vec<Proc> = (0..3)
        .map(|_| {
            let port = cluster_port();
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args([
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--cluster-enabled",
                    "yes",
                ])
                .args(["--cluster-config-file", &format!("nodes-{port}.conf")])
                .arg("--dir")
                .arg(dir)
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is installed (make bench installs it)");
            Proc { child, port }
        })
        .collect();
    for n in &nodes {
        while !cli(n.port, &["PING"]).contains("PONG") {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let status = Command::new("redis-cli")
        .args(["--cluster", "create"])
        .args(nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)))
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdout(Stdio::null())
        .status()
        .expect("redis-cli --cluster create");
    assert!(status.success(), "the cluster could not be created");
    for n in &nodes {
        while !cli(n.port, &["CLUSTER", "INFO"]).contains("cluster_state:ok") {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    nodes
}

/// (keys, commands processed so far) of each primary.
fn per_primary(nodes: &[Proc]) -> Vec<(u64, u64)> {
    nodes
        .iter()
        .map(|n| {
            let keys = cli(n.port, &["DBSIZE"]).trim().parse().unwrap_or(0);
            let stats = cli(n.port, &["INFO", "stats"]);
            let commands = stats
                .lines()
                .find_map(|l| l.strip_prefix("total_commands_processed:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            (keys, commands)
        })
        .collect()
}

/// The largest distance from the mean, as a fraction of it.
fn spread(values: &[u64]) -> f64 {
    let mean = values.iter().sum::<u64>() as f64 / values.len().max(1) as f64;
    values
        .iter()
        .map(|v| (*v as f64 - mean).abs() / mean.max(1.0))
        .fold(0.0, f64::max)
}

/// Payments (each paid) whose `/check`s make the backlog: spread over the partitions.
const BACKLOG_PAYMENTS: u64 = 100;

/// Paid payments whose statuses are read in turn: spread over the partitions, so that the
/// commands per primary measure the layout, not the one primary of a single payment's slot.
const STATUS_PAYMENTS: usize = 48;

/// `GET /v3/fena/status` of `ids`, one after the other.
fn statuses(ids: Vec<String>) -> load::MakeRequest {
    std::sync::Arc::new(move |i| {
        hyper::Request::get(format!(
            "/v3/fena/status?paymentId={}",
            ids[i as usize % ids.len()]
        ))
        .header("host", "bench")
        .body(http_body_util::Full::new(hyper::body::Bytes::new()))
        .expect("static request")
    })
}

pub async fn cluster(r: &mut Report, http: &reqwest::Client, sim: &Proc, node: &Proc) {
    println!("6. cluster: one Redis node vs a Redis Cluster of three primaries on this machine");
    let dir = std::env::temp_dir().join(format!("payrouter-bench-cluster-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let primaries = start_cluster(&dir);
    let seeds = primaries
        .iter()
        .map(|n| format!("redis://127.0.0.1:{}", n.port))
        .collect::<Vec<_>>()
        .join(",");
    let receiver = Receiver::start(free_port()).await;
    let on_cluster = procs::router(
        free_port(),
        sim,
        &[
            ("PAYMENT_CALLBACK_URL", receiver.url()),
            ("REDIS_CLUSTER_NODES", seeds.clone()),
        ],
    )
    .await;
    let before = per_primary(&primaries);

    let mut node_ids = Vec::new();
    let mut cluster_ids = Vec::new();
    for i in 0..STATUS_PAYMENTS {
        node_ids.push(
            paid_payment(http, sim, node, &format!("cl-status-node-{i}"))
                .await
                .0,
        );
        cluster_ids.push(
            paid_payment(http, sim, &on_cluster, &format!("cl-status-{i}"))
                .await
                .0,
        );
    }
    let status =
        |p: &Proc, ids: Vec<String>| load::run(p.addr(), 64, SECS, None, None, statuses(ids));
    let s_node = status(node, node_ids).await;
    let s_cluster = status(&on_cluster, cluster_ids).await;
    let pay = |tag: &'static str| {
        load::post_json("/v3/fena/pay", vec![], move |i| {
            json!({"amount": 1299, "currency": "GBP", "shopTransactionId": format!("{tag}-{i}")})
                .to_string()
        })
    };
    let p_node = load::run(node.addr(), 32, SECS, None, None, pay("cl-node")).await;
    let p_cluster = load::run(on_cluster.addr(), 32, SECS, None, None, pay("cl-cluster")).await;

    // The backlog: a router on the cluster whose receiver is down, alone on the cluster. Any
    // router on a store delivers any of its notifications to its own PAYMENT_CALLBACK_URL, so
    // the router above (receiver up) would take the backlog as it is queued and deliver it to
    // its receiver, not to the one this figure waits on.
    drop(on_cluster);
    let (lagging, down_port) =
        procs::lagging_router(sim, Some(("REDIS_CLUSTER_NODES", seeds))).await;
    let mut ids = Vec::new();
    for i in 0..BACKLOG_PAYMENTS {
        ids.push(
            paid_payment(http, sim, &lagging, &format!("cl-backlog-{i}"))
                .await
                .0,
        );
    }
    // Each answered `/check` queued one notification: the drain waits for exactly those.
    let mut queued = 0;
    for id in &ids {
        queued += load::exactly(
            lagging.addr(),
            16,
            BACKLOG / BACKLOG_PAYMENTS,
            load::get(format!("/v3/fena/check?paymentId={id}")),
        )
        .await
        .ok();
    }
    let drained = procs::drain_time(down_port, queued).await;
    let after = per_primary(&primaries);

    let keys: Vec<u64> = after.iter().map(|(k, _)| *k).collect();
    let commands: Vec<u64> = after
        .iter()
        .zip(&before)
        .map(|((_, a), (_, b))| a - b)
        .collect();
    let ratio = |c: f64, n: f64| 100.0 * c / n.max(1.0);
    r.row(
        "status: cluster / one node",
        format!(
            "{:.0} / {:.0} req/s = {:.0} %",
            s_cluster.rps(),
            s_node.rps(),
            ratio(s_cluster.rps(), s_node.rps())
        ),
        "≥ 80 %",
    );
    r.row(
        "pay: cluster / one node",
        format!(
            "{:.0} / {:.0} req/s = {:.0} %",
            p_cluster.rps(),
            p_node.rps(),
            ratio(p_cluster.rps(), p_node.rps())
        ),
        "≥ 80 %",
    );
    r.drain_row(
        &format!("backlog of {queued} over {BACKLOG_PAYMENTS} payments drained (cluster)"),
        drained,
    );
    r.row(
        "keys per primary (spread from the mean)",
        format!("{keys:?} ({:.0} %)", 100.0 * spread(&keys)),
        "within ±20 %",
    );
    r.row(
        "commands per primary during the run (spread)",
        format!("{commands:?} ({:.0} %)", 100.0 * spread(&commands)),
        "within ±20 %",
    );
    r.json.insert(
        "cluster".into(),
        json!({
            "primaries": 3,
            "status_node_rps": s_node.rps(), "status_cluster_rps": s_cluster.rps(),
            "pay_node_rps": p_node.rps(), "pay_cluster_rps": p_cluster.rps(),
            "backlog": queued, "backlog_payments": BACKLOG_PAYMENTS,
            "backlog_drain_s": drained.map(|d| d.as_secs_f64()),
            "keys_per_primary": keys, "commands_per_primary": commands,
            "pays_measured": p_node.ok() + p_cluster.ok(),
            "errors": s_node.errors + s_cluster.errors + p_node.errors + p_cluster.errors,
        }),
    );
    drop(primaries);
    let _ = std::fs::remove_dir_all(&dir);
}
