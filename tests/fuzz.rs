//! Hostile input over real HTTP: proptest generates more than ten thousand requests across every
//! route (odd methods, provider names, ids and query strings; bodies of wrong types, huge
//! numbers, deep nesting, unicode, missing fields, duplicate keys, wrong content types, oversized)
//! and sends them to the `payrouter` binary on a private Redis, with both provider simulators
//! healthy. No answer may be a 5xx other than Feennex's documented 501, every answer carries
//! `x-request-id`, every non-2xx is an ErrorResponse, the process stays alive, and no rejected
//! request changes what Redis holds. Every failing input is reported, grouped by kind.

mod common;

use common::binary::fena_at_simulator;
use common::durable_redis::DurableRedis;
use common::sim_client::fena_sim_paid;
use common::supervisor::{free_port, Replica};
use common::Receiver;
use futures::StreamExt;
use payrouter::simulate;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::time::{Duration, Instant};

const REQUESTS: usize = 10_500;
const CONCURRENCY: usize = 16;
/// A body this large is over the router's 64 KiB default limit.
const OVERSIZED: usize = 70 * 1024;

/// One generated request; `shape` names the generator's choices, to group failures by.
#[derive(Debug, Clone)]
struct Case {
    method: &'static str,
    path: String,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    /// What the body is made of (`object`, `deep array`, …), for the failure report.
    kind: String,
    shape: String,
}

/// Percent-encodes `s` for a path segment or a query value.
fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Ids as they reach a path or a query: a real payment's, plausible, unicode, traversal,
/// encoded control bytes, empty, very long.
fn ids(real: Vec<String>) -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::sample::select(real),
        2 => "[0-9a-f]{24}",
        1 => "\\PC{1,12}".prop_map(|s| encode(&s)),
        1 => Just("..%2F..%2Fetc%2Fpasswd".to_string()),
        1 => Just("%00%FF%FE".to_string()),
        1 => Just(String::new()),
        1 => Just("9".repeat(4000)),
        1 => Just("%F0%9F%92%B8".to_string()),
    ]
}

fn providers() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("fena".to_string()),
        3 => Just("feennex".to_string()),
        1 => Just("FENA".to_string()),
        1 => Just("paypal".to_string()),
        1 => Just("fena%00".to_string()),
        1 => Just("%2E%2E".to_string()),
        1 => Just("f".repeat(300)),
        1 => "\\PC{1,6}".prop_map(|s| encode(&s)),
    ]
}

/// Path templates: `{p}` is the provider, `{id}` an id.
const ROUTES: &[&str] = &[
    "/v3/{p}/pay",
    "/v3/{p}/refund",
    "/v3/{p}/status",
    "/v3/{p}/status?paymentId={id}",
    "/v3/{p}/status?paymentId={id}&paymentId={id}",
    "/v3/{p}/status?paymentid={id}&x=%ZZ",
    "/v3/{p}/check?paymentId={id}",
    "/v3/{p}/check",
    "/v3/{p}/callback",
    "/v3/{p}/callback?paymentId={id}",
    "/v3/{p}/redirect/{id}",
    "/v3/{p}/subscription/schedule",
    "/v3/{p}/subscription/start",
    "/v3/{p}/subscription/pay",
    "/v3/{p}/subscription/update/{id}",
    "/v3/{p}/subscription/expire/{id}",
    "/v3/{p}/subscription/status/{id}",
    "/v3/{p}/{id}",
    "/v3/{p}",
    "/{id}",
    "/healthz",
    "/readyz?{id}",
    "/metrics",
    "/openapi.json",
];

fn methods() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        5 => Just("POST"),
        4 => Just("GET"),
        1 => Just("PUT"),
        1 => Just("DELETE"),
        1 => Just("PATCH"),
        1 => Just("HEAD"),
        1 => Just("OPTIONS"),
    ]
}

fn content_types() -> impl Strategy<Value = Option<&'static str>> {
    prop_oneof![
        6 => Just(Some("application/json")),
        1 => Just(Some("application/json; charset=utf-16")),
        1 => Just(Some("text/plain")),
        1 => Just(Some("application/x-www-form-urlencoded")),
        1 => Just(Some("multipart/form-data; boundary=x")),
        1 => Just(Some("application/vnd.api+json")),
        1 => Just(None),
    ]
}

/// A value of any JSON type, the hostile ones favoured.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(null)),
        Just(json!(true)),
        Just(json!(-1)),
        Just(json!(0)),
        Just(json!(1.5)),
        Just(json!(i64::MAX)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!("1299")),
        Just(json!("")),
        Just(json!([])),
        Just(json!({})),
        Just(json!("x".repeat(5000))),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,24}".prop_map(|s| json!(s)),
    ]
}

/// A field's value: usually a plausible one, sometimes anything.
fn field(
    plausible: impl Strategy<Value = Value> + 'static,
) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => plausible.prop_map(Some),
        2 => odd_value().prop_map(Some),
        1 => Just(None),
    ]
}

/// A JSON object with the fields routes read, each plausible, hostile or missing, and maybe a
/// field nobody reads.
fn object_body(real: Vec<String>) -> impl Strategy<Value = (String, Vec<u8>)> {
    let currency = prop_oneof![
        Just(json!("GBP")),
        Just(json!("USD")),
        Just(json!("gbp")),
        Just(json!("XXX")),
        Just(json!("€€€")),
    ];
    let amount = prop_oneof![
        (1i64..100_000).prop_map(|n| json!(n)),
        Just(json!(i64::MAX))
    ];
    let text = "[a-z0-9-]{1,16}".prop_map(|s| json!(format!("fuzz-{s}")));
    let real_id = proptest::sample::select(real).prop_map(|s| json!(s));
    let provider_data = prop_oneof![
        Just(json!({"email": "payer@example.com"})),
        Just(json!({"email": 5})),
        Just(json!({"recurringPaymentDate": "yesterday"})),
        Just(json!([1, 2])),
    ];
    let subscription = prop_oneof![
        Just(json!({"token": "sub_000000000000000000000000"})),
        Just(json!({"period": "MONTH", "frequency": 1, "expiresAfter": 2})),
        Just(json!({"period": "DECADE", "frequency": -1})),
        Just(json!("MONTH")),
    ];
    (
        field(amount),
        field(currency),
        field(text.clone()),
        field(real_id),
        field(provider_data),
        field(subscription),
        field(text),
    )
        .prop_map(
            |(amount, currency, shop_tx, payment_id, data, sub, extra)| {
                let mut object = serde_json::Map::new();
                for (name, value) in [
                    ("amount", amount),
                    ("currency", currency),
                    ("shopTransactionId", shop_tx),
                    ("paymentId", payment_id),
                    ("providerData", data),
                    ("subscriptionInfo", sub),
                    ("unexpectedField", extra),
                ] {
                    if let Some(v) = value {
                        object.insert(name.to_string(), v);
                    }
                }
                (
                    "object".to_string(),
                    Value::Object(object).to_string().into_bytes(),
                )
            },
        )
}

/// Bodies that are not a well-formed JSON object of the expected size.
fn named(name: &str, body: Vec<u8>) -> (String, Vec<u8>) {
    (name.to_string(), body)
}

fn raw_body() -> impl Strategy<Value = (String, Vec<u8>)> {
    prop_oneof![
        Just(named("empty", Vec::new())),
        Just(named("null", b"null".to_vec())),
        Just(named("array", b"[1,2,3]".to_vec())),
        Just(named("truncated", br#"{"amount": 12"#.to_vec())),
        Just(named(
            "duplicate keys",
            br#"{"amount":1299,"amount":-5,"currency":"GBP","shopTransactionId":"fuzz-dup","shopTransactionId":"fuzz-dup2"}"#.to_vec()
        )),
        Just(named(
            "huge number",
            br#"{"amount":1e400,"currency":"GBP","shopTransactionId":"fuzz-huge"}"#.to_vec()
        )),
        Just(named(
            "long integer",
            br#"{"amount":123456789012345678901234567890,"currency":"GBP","shopTransactionId":"fuzz-long"}"#.to_vec()
        )),
        Just(named("invalid utf-8", b"{\"shopTransactionId\":\"\xff\xfe\"}".to_vec())),
        Just(named(
            "form",
            b"amount=1299&currency=GBP&shopTransactionId=fuzz-form".to_vec()
        )),
        Just(named(
            "oversized",
            format!(
                r#"{{"amount":1299,"currency":"GBP","shopTransactionId":"fuzz-big","providerData":{{"pad":"{}"}}}}"#,
                "x".repeat(OVERSIZED)
            )
            .into_bytes()
        )),
        (1usize..3000).prop_map(|depth| named(
            "deep array",
            format!("{}{}", "[".repeat(depth), "]".repeat(depth)).into_bytes()
        )),
        (1usize..3000).prop_map(|depth| named(
            "deep object",
            format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth)).into_bytes()
        )),
        "\\PC{0,64}".prop_map(|s| named("unicode text", s.into_bytes())),
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|b| named("bytes", b)),
    ]
}

fn cases(real: Vec<String>) -> impl Strategy<Value = Case> {
    let body = prop_oneof![3 => object_body(real.clone()), 2 => raw_body()];
    (
        methods(),
        proptest::sample::select(ROUTES),
        providers(),
        ids(real),
        content_types(),
        body,
    )
        .prop_map(
            |(method, route, provider, id, content_type, (kind, body))| {
                let path = route.replace("{p}", &provider).replace("{id}", &id);
                let shape = format!("{method} {route}");
                Case {
                    method,
                    path,
                    content_type,
                    body,
                    kind,
                    shape,
                }
            },
        )
}

/// What came back for one request.
struct Outcome {
    case: Case,
    /// None when no HTTP answer came (the connection failed).
    status: Option<u16>,
    request_id: bool,
    content_type: String,
    body: String,
}

async fn send(http: &reqwest::Client, base: &str, case: Case) -> Outcome {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut request = http.request(method, format!("{base}{}", case.path));
    if let Some(ct) = case.content_type {
        request = request.header("content-type", ct);
    }
    if !case.body.is_empty() {
        request = request.body(case.body.clone());
    }
    match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let request_id = resp.headers().contains_key("x-request-id");
            let content_type = resp
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string();
            let body = resp.text().await.unwrap_or_default();
            Outcome {
                case,
                status: Some(status),
                request_id,
                content_type,
                body,
            }
        }
        Err(e) => {
            // The whole chain: reqwest's own message only says that sending failed.
            let mut cause = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                cause.push_str(&format!(": {s}"));
                source = s.source();
            }
            Outcome {
                case,
                status: None,
                request_id: false,
                content_type: String::new(),
                body: cause,
            }
        }
    }
}

/// What is wrong with an answer, if anything.
fn violation(o: &Outcome) -> Option<&'static str> {
    let Some(status) = o.status else {
        return Some("no HTTP answer");
    };
    if status >= 500 && status != 501 {
        return Some("5xx");
    }
    if !o.request_id {
        return Some("no x-request-id");
    }
    if (200..300).contains(&status) {
        return accepted_loosely(o);
    }
    // A HEAD answer has no body by definition.
    if o.case.method == "HEAD" {
        return None;
    }
    let body: Value = serde_json::from_str(&o.body).unwrap_or(Value::Null);
    let error_response = o.content_type.starts_with("application/json")
        && body["statusCode"] == status
        && body["error"].as_str().is_some_and(|e| !e.is_empty())
        && body["message"].as_str().is_some_and(|m| !m.is_empty());
    (!error_response).then_some("non-2xx that is not an ErrorResponse")
}

/// A PGM route must take JSON only as `application/json` (a form post from a browser page
/// needs no preflight) and only without duplicate keys (which of two amounts is meant?).
/// Provider callbacks are exempt: Feennex posts forms.
fn accepted_loosely(o: &Outcome) -> Option<&'static str> {
    if o.case.method != "POST" || o.case.body.is_empty() || o.case.path.contains("/callback") {
        return None;
    }
    if !o
        .case
        .content_type
        .is_some_and(|ct| ct.starts_with("application/json"))
    {
        return Some("2xx for a body that is not sent as application/json");
    }
    (o.case.kind == "duplicate keys").then_some("2xx for a JSON body with duplicate keys")
}

/// Strings of a successful exchange long enough to name what it created (ids, tokens,
/// shopTransactionIds), from the request's path and body and from the answer.
fn names_of(o: &Outcome, into: &mut BTreeSet<String>) {
    fn walk(v: &Value, into: &mut BTreeSet<String>) {
        match v {
            Value::String(s) if s.len() >= 8 => {
                into.insert(s.clone());
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, into)),
            Value::Object(map) => map.values().for_each(|i| walk(i, into)),
            _ => {}
        }
    }
    for part in o.case.path.split(['/', '?', '&', '=']) {
        if part.len() >= 8 {
            into.insert(part.to_string());
        }
    }
    walk(
        &serde_json::from_slice(&o.case.body).unwrap_or(Value::Null),
        into,
    );
    walk(&serde_json::from_str(&o.body).unwrap_or(Value::Null), into);
}

/// Everything Redis holds, one entry per string key, hash field, set or list member and
/// sorted-set member (with its score), plus each key's time to live in milliseconds.
async fn snapshot(url: &str) -> (BTreeMap<String, Vec<u8>>, BTreeMap<String, i64>) {
    let client = redis::Client::open(url).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    let mut keys = Vec::new();
    let mut cursor = 0u64;
    loop {
        let (next, batch): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut c)
            .await
            .unwrap();
        keys.extend(batch);
        if next == 0 {
            break;
        }
        cursor = next;
    }
    let mut entries = BTreeMap::new();
    let mut ttls = BTreeMap::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&key)
            .query_async(&mut c)
            .await
            .unwrap();
        ttls.insert(key.clone(), ttl);
        let query = |name: &str| {
            let mut cmd = redis::cmd(name);
            cmd.arg(&key);
            cmd
        };
        let pairs = |flat: Vec<Vec<u8>>| -> Vec<(String, Vec<u8>)> {
            flat.chunks(2)
                .map(|p| {
                    (
                        format!("{key}\t{}", String::from_utf8_lossy(&p[0])),
                        p[1].clone(),
                    )
                })
                .collect()
        };
        let members = |flat: Vec<Vec<u8>>| -> Vec<(String, Vec<u8>)> {
            flat.into_iter()
                .map(|m| {
                    (
                        format!("{key}\t{}", String::from_utf8_lossy(&m)),
                        Vec::new(),
                    )
                })
                .collect()
        };
        let found: Vec<(String, Vec<u8>)> = match kind.as_str() {
            "string" => vec![(key.clone(), query("GET").query_async(&mut c).await.unwrap())],
            "hash" => pairs(query("HGETALL").query_async(&mut c).await.unwrap()),
            "zset" => pairs(
                query("ZRANGE")
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut c)
                    .await
                    .unwrap(),
            ),
            "set" => members(query("SMEMBERS").query_async(&mut c).await.unwrap()),
            "list" => vec![(
                key.clone(),
                query("LRANGE")
                    .arg(0)
                    .arg(-1)
                    .query_async::<Vec<Vec<u8>>>(&mut c)
                    .await
                    .unwrap()
                    .concat(),
            )],
            _ => vec![(
                key.clone(),
                query("DUMP").query_async(&mut c).await.unwrap(),
            )],
        };
        entries.extend(found);
    }
    (entries, ttls)
}

fn report(line: &str) {
    // Written to the process's stderr directly: the harness captures only print!/eprint!.
    let _ = writeln!(std::io::stderr(), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_error_responses_and_change_nothing() {
    let redis = DurableRedis::start().await;
    let receiver = Receiver::start().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let sim_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim_base = format!("http://{}", sim_listener.local_addr().unwrap());
    let sims = simulate::router(&sim_base, &base);
    tokio::spawn(async move {
        let _ = axum::serve(sim_listener, sims).await;
    });
    let mut env: Vec<(&str, String)> = vec![
        ("SIMULATE", "false".into()),
        ("LOG_LEVEL", "error".into()),
        ("REDIS_URL", redis.url()),
        ("PUBLIC_BASE_URL", base.clone()),
        ("PAYMENT_CALLBACK_URL", receiver.url.clone()),
        // Nothing is looked at again during the run, so the store changes only by requests.
        ("RECHECK_INITIAL_MS", "3600000".into()),
        ("FEENNEX_BASE_URL", format!("{sim_base}/feennex")),
        (
            "FEENNEX_SHOP_ID",
            payrouter_feennex::sim::DEMO_SHOP_ID.to_string(),
        ),
        (
            "FEENNEX_SECRET_KEY",
            payrouter_feennex::sim::DEMO_SECRET_KEY.into(),
        ),
        ("FEENNEX_PAYWAY", payrouter_feennex::sim::DEMO_PAYWAY.into()),
    ];
    env.extend(fena_at_simulator(&sim_base));
    let mut router = Replica::start(port, &env).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        // A fresh connection per request: a failure to answer is then the router's, never a
        // race with a pooled connection the router was closing.
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();

    // Real payments for the generated ids to hit: a paid Fena one and a waiting Feennex one.
    let mut real = Vec::new();
    for (provider, body) in [
        (
            "fena",
            json!({"amount": 1299, "currency": "GBP", "shopTransactionId": "fuzz-seed-fena"}),
        ),
        (
            "feennex",
            json!({"amount": 1299, "currency": "USD", "shopTransactionId": "fuzz-seed-feennex",
                           "providerData": {"email": "payer@example.com"}}),
        ),
    ] {
        let resp = http
            .post(router.url(&format!("/v3/{provider}/pay")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let (status, answer) = common::read(resp).await;
        assert_eq!(status, 200, "seed pay at {provider}: {answer}");
        real.push(answer["paymentId"].as_str().expect("paymentId").to_string());
    }
    fena_sim_paid(&http, &format!("{sim_base}/fena"), &real[0]).await;
    receiver.notified(&real[0], "ACCEPTED", "PAYMENT").await;

    let mut runner = TestRunner::new(Config {
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x5eed_f022),
        ..Config::default()
    });
    let strategy = cases(real.clone());
    let generated: Vec<Case> = (0..REQUESTS)
        .map(|_| strategy.new_tree(&mut runner).expect("a case").current())
        .collect();

    let (before, ttls) = snapshot(&redis.url()).await;
    let started = Instant::now();
    let outcomes: Vec<Outcome> = futures::stream::iter(generated)
        .map(|case| send(&http, &base, case))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let took = started.elapsed();
    let (after, _) = snapshot(&redis.url()).await;

    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    let mut created_by_2xx = BTreeSet::new();
    // kind -> shape -> (count, first example)
    let mut failures: BTreeMap<&str, BTreeMap<String, (usize, String)>> = BTreeMap::new();
    for o in &outcomes {
        let status = o.status.map_or("none".to_string(), |s| s.to_string());
        *by_status.entry(status).or_default() += 1;
        if o.status.is_some_and(|s| (200..300).contains(&s)) {
            names_of(o, &mut created_by_2xx);
        }
        if let Some(kind) = violation(o) {
            let example = format!(
                "{} {} ({} body, {} bytes, content-type {:?}) -> {:?} {:?} {}",
                o.case.method,
                o.case.path.chars().take(120).collect::<String>(),
                o.case.kind,
                o.case.body.len(),
                o.case.content_type,
                o.status,
                o.content_type,
                o.body.chars().take(200).collect::<String>()
            );
            let slot = failures
                .entry(kind)
                .or_default()
                .entry(o.case.shape.clone())
                .or_insert((0, example));
            slot.0 += 1;
        }
    }

    // Entries that appeared, changed or went, other than by a 2xx or by a key's expiry.
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|name| before.get(*name) != after.get(*name))
        .filter(|name| {
            let key = name.split('\t').next().unwrap_or_default();
            let expired = !after.contains_key(*name) && ttls.get(key).is_some_and(|t| *t > 0);
            let value = String::from_utf8_lossy(after.get(*name).or(before.get(*name)).unwrap());
            let by_2xx = created_by_2xx
                .iter()
                .any(|n| name.contains(n.as_str()) || value.contains(n.as_str()));
            !expired && !by_2xx
        })
        .collect();

    let health = http
        .get(router.url("/healthz"))
        .send()
        .await
        .map(|r| r.status().as_u16());
    let alive = router.exited().is_none();
    let violations: usize = failures
        .values()
        .flat_map(|s| s.values())
        .map(|(n, _)| n)
        .sum();
    let summary = format!(
        "faults/fuzz: {} hostile requests in {took:?} ({CONCURRENCY} at a time); statuses {by_status:?}; \
         {violations} bad answers; {} of {} store entries changed by rejected requests; process alive: \
         {alive}, /healthz {health:?}",
        outcomes.len(),
        changed.len(),
        before.len()
    );
    report(&summary);
    let mut details = String::new();
    for (kind, shapes) in &failures {
        for (shape, (count, example)) in shapes {
            details.push_str(&format!("\n  {kind}: {count}x {shape}\n    e.g. {example}"));
        }
    }
    for name in changed.iter().take(20) {
        details.push_str(&format!(
            "\n  store entry changed by a rejected request: {name}"
        ));
    }
    if !details.is_empty() {
        report(&format!("faults/fuzz failures:{details}"));
    }
    assert!(outcomes.len() >= 10_000, "{summary}");
    assert!(
        !before.is_empty(),
        "the seeded payments are in the snapshot; {summary}"
    );
    assert!(alive, "payrouter died; {summary}");
    assert_eq!(health.ok(), Some(200), "{summary}");
    assert!(failures.is_empty(), "{summary}{details}");
    assert!(changed.is_empty(), "{summary}{details}");
}
