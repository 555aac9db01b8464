//! The `payrouter` binary as platform teams run it: configuration from the environment,
//! refusal to start on bad configuration, secrets kept out of logs, draining on SIGTERM.

mod common;

use common::binary::{free_port, payrouter, Served};
use common::text_of;
use httpmock::prelude::*;
use serde_json::json;
use std::process::Stdio;
use std::time::Duration;

const FENA_SECRET: &str = "s3cr3t-terminal-value-7781";
const FEENNEX_SECRET: &str = "feennex-secret-key-9932";
const API_TOKEN: &str = "inbound-token-5521";

/// Runs the binary with `env`, checks that it refused to start, and returns its stderr.
fn refusal(env: &[(&str, &str)]) -> String {
    let out = payrouter(&[]).envs(env.iter().copied()).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_names(err: &str, keys: &[&str]) {
    for key in keys {
        assert!(err.contains(key), "missing '{key}' in:\n{err}");
    }
}

#[test]
fn bad_configuration_stops_the_start_with_one_line_per_problem() {
    let err = refusal(&[
        ("ENABLED_PROVIDERS", "fena,paypal"),
        ("PAYMENT_CALLBACK_URL", "not-a-url"),
        ("NOTIFY_MAX_ATTEMPTS", "0"),
    ]);
    assert_names(
        &err,
        &[
            "ENABLED_PROVIDERS: unknown provider 'paypal'",
            "PAYMENT_CALLBACK_URL",
            "NOTIFY_MAX_ATTEMPTS",
        ],
    );
    let err = refusal(&[("ENABLED_PROVIDERS", "fena"), ("HTTP_PORT", "eighty")]);
    assert!(err.contains("HTTP_PORT"), "{err}");
    assert!(
        err.contains("FENA_TERMINAL_ID") || err.lines().count() >= 2,
        "{err}"
    );

    let err = refusal(&[("ENABLED_PROVIDERS", "fena,feennex")]);
    assert_names(
        &err,
        &[
            "FENA_TERMINAL_ID",
            "FENA_TERMINAL_SECRET",
            "FEENNEX_SHOP_ID",
            "FEENNEX_SECRET_KEY",
        ],
    );
    assert_names(
        &refusal(&[("PAYROUTER_PROFILE", "nope")]),
        &["PAYROUTER_PROFILE"],
    );

    // Production never simulates and needs somewhere to send notifications.
    let err = refusal(&[("PAYROUTER_PROFILE", "production"), ("SIMULATE", "true")]);
    assert_names(
        &err,
        &[
            "SIMULATE: the production profile never starts simulators",
            "PAYMENT_CALLBACK_URL: required",
        ],
    );
}

/// The description payrouter gives a Fena payment of `shop_tx` under `FENA_SECRET`.
fn tagged(shop_tx: &str) -> String {
    let tags = payrouter_provider::PaymentTag::derived(
        "fena",
        &payrouter_provider::SecretString::from(FENA_SECRET),
    );
    payrouter_fena::transform::description_for(shop_tx, &tags)
}

#[tokio::test]
async fn serves_keeps_secrets_out_of_logs_and_drains_on_sigterm() {
    let fena = MockServer::start_async().await;
    fena.mock_async(|when, then| {
        when.method(POST);
        then.status(401)
            .json_body(json!({"message": "bad credentials"}));
    })
    .await;
    let slow = fena
        .mock_async(|when, then| {
            when.method(GET).path("/open/payments/single/64b48c5b6ba2cd6a040b20c1");
            then.status(200).delay(Duration::from_millis(800)).json_body(json!({"data": {
                "id": "64b48c5b6ba2cd6a040b20c1", "status": "paid", "amount": "1.00", "currency": "GBP",
                "reference": "r", "description": tagged("drain-1")}}));
        })
        .await;
    let receiver = common::Receiver::start().await;
    let mut cmd = payrouter(&[]);
    // The production profile (the default) wants a notification receiver, and the embedded
    // store said explicitly.
    cmd.env("PAYMENT_CALLBACK_URL", &receiver.url)
        .env("STORE", "memory")
        .env("LOG_LEVEL", "debug")
        .env("LOG_FORMAT", "json")
        .env("INBOUND_API_TOKEN", API_TOKEN)
        .env("FENA_BASE_URL", fena.base_url())
        .env("FENA_TERMINAL_ID", "62b48adf6ba2cd6a040b1eec")
        .env("FENA_TERMINAL_SECRET", FENA_SECRET)
        .env("FEENNEX_SHOP_ID", "5")
        .env("FEENNEX_SECRET_KEY", FEENNEX_SECRET)
        .env("FEENNEX_BASE_URL", "http://127.0.0.1:1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let served = Served::start(&mut cmd, free_port()).await;
    let base = served.base.clone();
    let http = reqwest::Client::new();
    let pay = http
        .post(format!("{base}/v3/fena/pay"))
        .bearer_auth(API_TOKEN)
        .json(&json!({"amount": 100, "currency": "GBP", "shopTransactionId": "secret-test"}))
        .send()
        .await
        .unwrap();
    assert_eq!(pay.status(), 502);
    let body = pay.text().await.unwrap();
    assert!(
        body.contains("FENA_TERMINAL_SECRET"),
        "the error points at the setting: {body}"
    );
    let metrics = served.get("/metrics").await.text().await.unwrap();
    assert!(metrics.contains("payrouter_http_requests_total"));
    assert!(
        metrics.contains("payrouter_provider_call_duration_seconds_bucket"),
        "histograms have buckets"
    );

    // A request in flight when SIGTERM arrives still gets its answer.
    let in_flight = tokio::spawn({
        let http = http.clone();
        let url = format!("{base}/v3/fena/status?paymentId=64b48c5b6ba2cd6a040b20c1");
        async move {
            http.get(url)
                .bearer_auth(API_TOKEN)
                .send()
                .await
                .map(|r| r.status().as_u16())
        }
    });
    common::eventually(5, || async {
        (slow.calls_async().await == 1).then_some(())
    })
    .await;
    served.terminate();
    assert_eq!(in_flight.await.unwrap().unwrap(), 200);
    let out = served.wait().await;
    assert!(
        out.status.success(),
        "exit after draining: {:?}",
        out.status
    );
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        logs.contains("\"payrouter listening\"") || logs.contains("payrouter listening"),
        "{logs}"
    );
    assert!(logs.lines().any(|l| l.starts_with('{')), "JSON logs");
    for secret in [FENA_SECRET, FEENNEX_SECRET, API_TOKEN] {
        assert!(!logs.contains(secret), "a secret reached the logs");
        assert!(!metrics.contains(secret), "a secret reached the metrics");
    }
}

/// `make run`: the demo profile starts the simulators, prints where everything is, and a
/// payment works with nothing else installed, from whatever directory the binary is started.
#[tokio::test]
async fn the_demo_profile_runs_offline_against_the_simulators() {
    let (port, sim_port) = (free_port(), free_port());
    let served = Served::demo(port, sim_port).await;
    let paid: serde_json::Value = served
        .post(
            "/v3/fena/pay",
            &json!({"amount": 1299, "currency": "GBP", "shopTransactionId": "demo-1"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(paid["result"], "REDIRECT_TO_URL");
    let link = paid["redirectToUrl"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("http://127.0.0.1:{sim_port}/fena/pay/")),
        "{link}"
    );
    let page = text_of(served.http.get(link)).await;
    assert!(page.contains("12.99 GBP"), "{page}");
    // The OpenAPI document is generated from the code and names each provider's fields.
    let doc: serde_json::Value = served.get("/openapi.json").await.json().await.unwrap();
    for path in [
        "/v3/{provider}/pay",
        "/v3/{provider}/status",
        "/v3/{provider}/callback",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    let about = doc["info"]["description"].as_str().unwrap();
    for field in [
        "providerData.email",
        "providerData.payway",
        "providerData.description",
        "providerData.reference",
    ] {
        assert!(about.contains(field), "{field} documented in:\n{about}");
    }
    let out = served.stop().await;
    assert!(out.status.success());
    let banner = String::from_utf8_lossy(&out.stdout);
    assert!(banner.contains("simulated providers"), "{banner}");
    assert!(
        banner.contains(&format!("curl -s http://localhost:{port}/v3/fena/pay")),
        "{banner}"
    );
}
