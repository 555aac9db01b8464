//! Telemetry of the `payrouter` binary as an operator sees it: a real scrape of `/metrics`
//! (HELP and TYPE on every family, counters at zero before any event, process and build
//! metrics, every metric the Grafana dashboard names) and the JSON access log on stdout
//! (one line per request with its fields, one line per failure, service and version on all).

mod common;

use common::binary::{free_port, payrouter, Served};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::process::Stdio;

const PAYMENT_ID: &str = "64b48c5b6ba2cd6a040b2a11";

/// Starts the binary with every setting it needs in its environment, Fena pointed at
/// `fena_base`, Feennex and the notification receiver (which production requires) at closed
/// ports.
async fn start(fena_base: &str) -> Served {
    let mut cmd = payrouter(&[]);
    cmd.env("PAYMENT_CALLBACK_URL", "http://127.0.0.1:9/notify")
        .env("LOG_FORMAT", "json")
        .env("LOG_LEVEL", "info")
        .env("SIMULATE", "false")
        .env("STORE", "memory")
        .env("FENA_BASE_URL", fena_base)
        .env("FENA_TERMINAL_ID", common::fena_mock::TERMINAL_ID)
        .env("FENA_TERMINAL_SECRET", common::fena_mock::TERMINAL_SECRET)
        .env("FEENNEX_BASE_URL", "http://127.0.0.1:1")
        .env("FEENNEX_SHOP_ID", "5")
        .env("FEENNEX_SECRET_KEY", "feennex-telemetry-secret")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    Served::start(&mut cmd, free_port()).await
}

/// Stops the binary with SIGTERM and returns its stdout's JSON lines.
async fn stop(served: Served) -> Vec<Value> {
    let out = served.stop().await;
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Pays 12.99 GBP through the binary's Fena route and checks that it was taken.
async fn pay_fena(served: &Served, shop_tx: &str) -> reqwest::Response {
    let pay = served
        .post(
            "/v3/fena/pay",
            &json!({"amount": 1299, "currency": "GBP", "shopTransactionId": shop_tx}),
        )
        .await;
    assert_eq!(pay.status(), 200);
    pay
}

/// One scrape of the binary's `/metrics`, as text.
async fn metrics_text(served: &Served) -> String {
    served.get("/metrics").await.text().await.unwrap()
}

/// Families of a Prometheus text scrape: name → (has HELP, TYPE), and the samples by name.
struct Scrape {
    help: BTreeSet<String>,
    types: HashMap<String, String>,
    samples: Vec<(String, String, f64)>,
}

impl Scrape {
    fn parse(text: &str) -> Scrape {
        let mut scrape = Scrape {
            help: BTreeSet::new(),
            types: HashMap::new(),
            samples: Vec::new(),
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                scrape.help.insert(name.to_string());
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                scrape.types.insert(name.to_string(), kind.to_string());
            } else {
                let (series, value) = line.rsplit_once(' ').unwrap();
                let (name, labels) = match series.split_once('{') {
                    Some((n, l)) => (n, l.trim_end_matches('}')),
                    None => (series, ""),
                };
                let value = value
                    .parse()
                    .unwrap_or_else(|_| panic!("bad value: {line}"));
                scrape
                    .samples
                    .push((name.to_string(), labels.to_string(), value));
            }
        }
        scrape
    }

    /// The family a sample belongs to (histograms' `_bucket`, `_sum`, `_count`).
    fn family<'a>(&self, sample: &'a str) -> &'a str {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(base) = sample.strip_suffix(suffix) {
                if self.types.get(base).map(String::as_str) == Some("histogram") {
                    return base;
                }
            }
        }
        sample
    }

    fn value(&self, name: &str, labels: &str) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| n == name && l == labels)
            .map(|s| s.2)
    }

    fn has_family(&self, name: &str) -> bool {
        self.samples.iter().any(|(n, _, _)| self.family(n) == name)
    }
}

#[tokio::test]
async fn a_first_scrape_describes_every_family_and_starts_counters_at_zero() {
    let fena = common::FenaMock::start().await;
    let served = start(&fena.base()).await;
    let text = metrics_text(&served).await;
    let scrape = Scrape::parse(&text);
    for (name, _, _) in &scrape.samples {
        let family = scrape.family(name);
        assert!(scrape.help.contains(family), "no HELP for {family}");
        assert!(scrape.types.contains_key(family), "no TYPE for {family}");
    }
    // Known label sets exist before their first event, at zero.
    for provider in ["fena", "feennex"] {
        for outcome in [
            "accepted",
            "rejected",
            "unknown_object",
            "mismatch",
            "failed",
        ] {
            let labels = format!("provider=\"{provider}\",outcome=\"{outcome}\"");
            assert_eq!(
                scrape.value("payrouter_callbacks_total", &labels),
                Some(0.0),
                "payrouter_callbacks_total{{{labels}}} in:\n{text}"
            );
        }
        for name in [
            "payrouter_payments_created_total",
            "payrouter_state_changes_total",
            "payrouter_provider_unknown_state_total",
            "payrouter_provider_mismatch_total",
        ] {
            let labels = format!("provider=\"{provider}\"");
            assert_eq!(scrape.value(name, &labels), Some(0.0), "{name}{{{labels}}}");
        }
    }
    for outcome in ["delivered", "retry", "dead"] {
        let labels = format!("outcome=\"{outcome}\"");
        assert_eq!(
            scrape.value("payrouter_notifications_total", &labels),
            Some(0.0)
        );
    }
    for outcome in ["settled", "pending", "unknown", "gave_up", "error"] {
        let labels = format!("outcome=\"{outcome}\"");
        assert_eq!(scrape.value("payrouter_rechecks_total", &labels), Some(0.0));
    }
    assert_eq!(
        scrape.value("payrouter_idempotent_replays_total", ""),
        Some(0.0)
    );
    assert_eq!(scrape.value("payrouter_store_up", ""), Some(1.0));
    let build = scrape
        .samples
        .iter()
        .find(|(n, _, _)| n == "payrouter_build_info")
        .expect("payrouter_build_info");
    assert!(
        build
            .1
            .contains(&format!("version=\"{}\"", env!("CARGO_PKG_VERSION")))
            && build.1.contains("commit=\""),
        "{build:?}"
    );
    assert_eq!(build.2, 1.0);
    assert!(scrape.value("process_resident_memory_bytes", "").unwrap() > 0.0);
    assert!(scrape.value("process_open_fds", "").unwrap() > 0.0);
    assert!(scrape.has_family("process_cpu_seconds_total"));

    // Every metric the dashboard and the alerts name exists in a real scrape once a payment
    // has called a provider (histograms have no series before their first observation).
    fena.on_create(PAYMENT_ID, "telemetry-0", "12.99").await;
    pay_fena(&served, "telemetry-0").await;
    let text = metrics_text(&served).await;
    stop(served).await;
    let scrape = Scrape::parse(&text);
    for file in [
        "deploy/grafana/payrouter.json",
        "deploy/prometheus/alerts.yml",
    ] {
        let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        if file.ends_with(".json") {
            serde_json::from_str::<Value>(&text).expect("the dashboard is valid JSON");
        }
        let named = metric_names(&text);
        assert!(named.len() >= 5, "{file} names metrics: {named:?}");
        for name in named {
            assert!(scrape.has_family(&name), "{file} names {name}, not scraped");
        }
    }
}

/// The `payrouter_…` and `process_…` metric names in a dashboard or rule file, without the
/// histogram suffixes a query adds.
fn metric_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for prefix in ["payrouter_", "process_"] {
        let mut rest = text;
        while let Some(at) = rest.find(prefix) {
            let tail = &rest[at..];
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(tail.len());
            let before = text.len() - rest.len() + at;
            // Skip longer identifiers that merely contain the prefix (`x_payrouter_…`).
            let standalone = before == 0
                || !text.as_bytes()[before - 1].is_ascii_alphanumeric()
                    && text.as_bytes()[before - 1] != b'_';
            if standalone {
                let name = &tail[..end];
                let name = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(name);
                names.insert(name.to_string());
            }
            rest = &tail[end..];
        }
    }
    names
}

#[tokio::test]
async fn each_request_writes_one_access_line_and_a_failure_no_other() {
    let fena = common::FenaMock::start().await;
    fena.on_create(PAYMENT_ID, "telemetry-1", "12.99").await;
    let served = start(&fena.base()).await;
    let pay = pay_fena(&served, "telemetry-1").await;
    let pay_request_id = header(&pay, "x-request-id");
    let answer: Value = pay.json().await.unwrap();
    assert_eq!(answer["paymentId"], PAYMENT_ID);
    // Feennex is unreachable: a 502 whose only log line must be its access line.
    let failed = served
        .post(
            "/v3/feennex/pay",
            &json!({"amount": 100, "currency": "USD", "shopTransactionId": "telemetry-2",
                      "providerData": {"email": "payer@example.com", "payway": "card_usd"}}),
        )
        .await;
    assert_eq!(failed.status(), 502);
    let failed_request_id = header(&failed, "x-request-id");
    let missing = served
        .get("/v3/fena/status?paymentId=64b48c5b6ba2cd6a040b2a99")
        .await;
    assert_eq!(missing.status(), 404);
    let missing_request_id = header(&missing, "x-request-id");
    let lines = stop(served).await;

    for line in &lines {
        assert_eq!(line["service"], "payrouter", "{line}");
        assert_eq!(line["version"], env!("CARGO_PKG_VERSION"), "{line}");
    }
    let access = |request_id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["message"] == "request" && l["request_id"] == request_id)
            .collect()
    };
    let pay_lines = access(&pay_request_id);
    assert_eq!(pay_lines.len(), 1, "{lines:#?}");
    let line = pay_lines[0];
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["method"], "POST");
    assert_eq!(line["route"], "/v3/{provider}/pay");
    assert_eq!(line["status"], 200);
    assert!(line["latency_ms"].as_f64().unwrap() > 0.0, "{line}");
    assert_eq!(line["provider"], "fena");
    assert_eq!(line["payment_id"], PAYMENT_ID);

    let missing_lines = access(&missing_request_id);
    assert_eq!(missing_lines.len(), 1, "{lines:#?}");
    assert_eq!(missing_lines[0]["status"], 404);
    assert_eq!(missing_lines[0]["payment_id"], "64b48c5b6ba2cd6a040b2a99");
    assert_eq!(missing_lines[0]["route"], "/v3/{provider}/status");
    assert!(missing_lines[0]["error"]
        .as_str()
        .unwrap()
        .contains("paymentId"));

    // Every line written while serving a failed request: exactly its access line.
    let written_for = |request_id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["request_id"] == request_id || l["span"]["request_id"] == request_id)
            .collect()
    };
    assert_eq!(written_for(&missing_request_id).len(), 1, "{lines:#?}");
    let failed_lines = written_for(&failed_request_id);
    assert_eq!(failed_lines.len(), 1, "{failed_lines:#?}");
    let line = failed_lines[0];
    assert_eq!(line["message"], "request");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["status"], 502);
    assert_eq!(line["provider"], "feennex");
    assert!(!line["error"].as_str().unwrap().is_empty(), "{line}");
}

fn header(resp: &reqwest::Response, name: &str) -> String {
    resp.headers()
        .get(name)
        .unwrap()
        .to_str()
        .unwrap()
        .to_string()
}
