//! The HTTP edge's rejections over real HTTP (issue 10, points 11 and 12): every rejection is
//! an ErrorResponse with `x-request-id`, JSON bodies need `application/json`, duplicate keys
//! and amounts above the provider's limit are refused, and the bearer scheme is
//! case-insensitive.

mod common;

use common::*;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PID: &str = "64b48c5b6ba2cd6a040b20a8";

struct Env {
    fena: FenaMock,
    router: TestRouter,
}

async fn env(extra: &str) -> Env {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let router = TestRouter::start(&config(None, &fena.base(), &receiver.url, extra)).await;
    Env { fena, router }
}

impl Env {
    /// Fena's create endpoint failing, so that a test can count what reached it.
    async fn failing_create(&self) -> httpmock::Mock<'_> {
        self.fena
            .server
            .mock_async(|when, then| {
                when.method(httpmock::Method::POST);
                then.status(500);
            })
            .await
    }

    /// POSTs `body` to `path` as it is, labelled with `content_type`.
    async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.router
            .http
            .post(self.router.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    /// GETs `path`, for a test that reads the answer's headers too.
    async fn get_response(&self, path: &str) -> reqwest::Response {
        let url = self.router.url(path);
        self.router.http.get(url).send().await.unwrap()
    }

    /// GETs `path` with `authorization` as the Authorization header.
    async fn get_authorized(&self, path: &str, authorization: &str) -> reqwest::Response {
        self.router
            .http
            .get(self.router.url(path))
            .header("authorization", authorization)
            .send()
            .await
            .unwrap()
    }
}

/// Asserts an ErrorResponse with `status` whose message contains `needle`, and a request id.
async fn assert_error(resp: reqwest::Response, status: u16, needle: &str) {
    assert!(
        resp.headers().contains_key("x-request-id"),
        "{:?}",
        resp.headers()
    );
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    let (s, b) = read(resp).await;
    assert_eq!(s, status, "{b}");
    assert_eq!(content_type, "application/json", "{b}");
    assert_eq!(b["statusCode"], status, "{b}");
    assert!(b["error"].is_string(), "{b}");
    let message = b["message"].as_str().unwrap_or_else(|| panic!("{b}"));
    assert!(message.contains(needle), "{b} should name {needle}");
}

fn pay_body(shop_tx: &str, amount: Value) -> Value {
    json!({"amount": amount, "currency": "GBP", "shopTransactionId": shop_tx})
}

#[tokio::test]
async fn a_repeated_query_parameter_is_an_error_response() {
    let e = env("").await;
    for path in ["status", "check", "callback"] {
        let resp = e
            .get_response(&format!("/v3/fena/{path}?paymentId={PID}&paymentId=other"))
            .await;
        assert_error(resp, 400, "paymentId").await;
    }
}

#[tokio::test]
async fn an_oversized_callback_is_an_error_response() {
    let e = env("body_limit_bytes = 1024").await;
    let oversized = format!(r#"{{"id": "{PID}", "pad": "{}"}}"#, "x".repeat(4096));
    let resp = e
        .post_raw("/v3/fena/callback", "application/json", oversized)
        .await;
    assert_error(resp, 413, "1024").await;
}

/// Sends a request whose `Content-Length` promises more than is sent, and reads the answer.
async fn short_body(router: &TestRouter, path: &str) -> (String, Value) {
    let addr = router.base.trim_start_matches("http://");
    let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
    let sent = r#"{"paymentId": "x"}"#;
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{sent}",
        sent.len() + 100
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    // The answer is complete once its body (Content-Length bytes after the head) has come.
    loop {
        let n = conn.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "connection closed: {}",
            String::from_utf8_lossy(&answer)
        );
        answer.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&answer).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(|v| v.trim().parse().unwrap())
                })
                .expect("the answer has a content-length");
            if body.len() >= length {
                return (head.to_string(), serde_json::from_str(body).unwrap());
            }
        }
    }
}

#[tokio::test]
async fn a_body_shorter_than_its_content_length_is_a_400_not_a_504() {
    let e = env("route_timeout_ms = 2000").await;
    for path in ["/v3/fena/status", "/v3/fena/callback"] {
        let (head, body) = short_body(&e.router, path).await;
        assert!(head.starts_with("HTTP/1.1 400"), "{path}: {head}\n{body}");
        assert!(
            head.to_ascii_lowercase().contains("x-request-id:"),
            "{head}"
        );
        assert_eq!(body["statusCode"], 400, "{body}");
        assert!(
            body["message"].as_str().unwrap().contains("Content-Length"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn json_routes_require_the_json_content_type() {
    let e = env("").await;
    let body = pay_body("ct-1", json!(100)).to_string();
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut req = e
            .router
            .http
            .post(e.router.url("/v3/fena/pay"))
            .body(body.clone());
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        assert_error(req.send().await.unwrap(), 415, "application/json").await;
    }
    // Parameters and case do not matter.
    e.fena.on_create(PID, "ct-1", "1.00").await;
    let resp = e
        .post_raw("/v3/fena/pay", "Application/JSON; charset=utf-8", body)
        .await;
    let (s, b) = read(resp).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["paymentId"], PID, "{b}");
    // The providers' callback route takes their own formats: not refused for its type.
    let resp = e
        .post_raw(
            "/v3/fena/callback",
            "application/x-www-form-urlencoded",
            "id=x",
        )
        .await;
    assert_ne!(resp.status(), 415);
}

#[tokio::test]
async fn duplicate_json_keys_are_refused_naming_the_key() {
    let e = env("").await;
    let create = e.failing_create().await;
    for (raw, needle) in [
        (
            r#"{"amount": 100, "amount": 1, "currency": "GBP", "shopTransactionId": "d-1"}"#,
            "amount",
        ),
        (
            r#"{"amount": 100, "currency": "GBP", "shopTransactionId": "d-2", "providerData": {"reference": "a", "reference": "b"}}"#,
            "providerData.reference",
        ),
        (
            r#"{"amount": 100, "currency": "GBP", "shopTransactionId": "d-3", "x": 1, "x": 2}"#,
            "x",
        ),
    ] {
        let resp = e.post_raw("/v3/fena/pay", "application/json", raw).await;
        assert_error(resp, 400, &format!("{needle}: is given more than once")).await;
    }
    assert_eq!(create.calls_async().await, 0, "nothing reached Fena");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let e = env("inbound_api_token = \"t0ken\"").await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let resp = e
            .get_authorized("/v3/fena/status?paymentId=a/b", &format!("{scheme} t0ken"))
            .await;
        assert_error(resp, 400, "paymentId").await;
    }
    for wrong in ["Basic t0ken", "Bearer", "Bearer t0ke", "t0ken"] {
        let resp = e
            .get_authorized("/v3/fena/status?paymentId=a/b", wrong)
            .await;
        assert_error(resp, 401, "bearer token").await;
    }
}

#[tokio::test]
async fn amounts_above_the_providers_limit_never_reach_it() {
    let e = env("").await;
    let create = e.failing_create().await;
    for amount in [json!(i64::MAX), json!(100_000_001)] {
        let (s, b) = e
            .router
            .post("/v3/fena/pay", &pay_body("big-1", amount.clone()))
            .await;
        assert_eq!(s, 400, "{amount}: {b}");
        assert!(
            b["message"]
                .as_str()
                .unwrap()
                .contains("amount: must be at most 100000000"),
            "{b}"
        );
    }
    assert_eq!(
        create.calls_async().await,
        0,
        "no amount over the cap reached Fena"
    );
    // At the cap, the payment goes to Fena.
    let (s, b) = e
        .router
        .post("/v3/fena/pay", &pay_body("big-2", json!(100_000_000)))
        .await;
    assert_eq!(s, 502, "Fena was asked (and failed): {b}");
    assert_eq!(create.calls_async().await, 1);
}

#[tokio::test]
async fn every_400_names_the_field_and_what_is_expected() {
    let e = env("").await;
    let terms = |info: Value| json!({"amount": 100, "currency": "GBP", "shopTransactionId": "s-1", "subscriptionInfo": info});
    let cases = [
        (
            "/v3/fena/pay",
            json!({"currency": "GBP", "shopTransactionId": "m-1"}),
            "amount: is required: a positive integer in minor units",
        ),
        (
            "/v3/fena/pay",
            pay_body("m-2", json!("1299")),
            "amount: invalid type: string \"1299\", expected a positive integer in minor units",
        ),
        (
            "/v3/fena/pay",
            pay_body("m-3", json!(0)),
            "amount: must be a positive integer in minor units",
        ),
        (
            "/v3/fena/pay",
            json!({"amount": 1, "currency": "gbp", "shopTransactionId": "m-4"}),
            "currency: 'gbp' is not known; must be an ISO 4217 alphabetic code",
        ),
        (
            "/v3/fena/subscription/schedule",
            terms(json!({})),
            "subscriptionInfo.interval: is required: one of DAY, WEEK, MONTH, YEAR",
        ),
        (
            "/v3/fena/subscription/schedule",
            terms(json!({"interval": "MONTH", "intervalCount": 0})),
            "subscriptionInfo.intervalCount: must be a whole number of at least 1",
        ),
        (
            "/v3/fena/subscription/schedule",
            terms(json!({"interval": "MONTH", "intervalCount": 1, "expiresAfter": -1})),
            "subscriptionInfo.expiresAfter: must be a whole number of at least 1",
        ),
        (
            "/v3/fena/refund",
            json!({"amount": 1, "currency": "GBP", "paymentId": ""}),
            "paymentId: must be the paymentId answered by pay",
        ),
    ];
    for (path, body, message) in cases {
        let (s, b) = e.router.post(path, &body).await;
        assert_eq!(s, 400, "{path} {body}: {b}");
        assert!(
            b["message"].as_str().unwrap().starts_with(message),
            "{path} {body}: {b} should say {message}"
        );
    }
    for (raw, message) in [
        ("", "body: a JSON object is required"),
        ("  ", "body: a JSON object is required"),
        (r#"{"amount": 1} trailing"#, "body: malformed JSON"),
        ("[1, 2]", "body: must be a JSON object"),
    ] {
        let resp = e.post_raw("/v3/fena/pay", "application/json", raw).await;
        assert_error(resp, 400, message).await;
    }
    let resp = e.get_response("/v3/fena/subscription/status/%FF").await;
    assert_error(resp, 400, "path").await;
}
