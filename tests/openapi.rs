//! The OpenAPI document against the router's own route table, and against the OpenAPI 3.1
//! schema (with the `openapi-spec-validator` Python package, which `make test` installs).

mod common;

use common::*;
use serde_json::Value;
use std::process::Command;

/// Both providers enabled; neither is ever called (the document needs no provider).
const CONFIG: &str = r#"enabled_providers = "fena,feennex"
public_base_url = "https://payrouter.example"
log_level = "warn"

[fena]
base_url = "http://127.0.0.1:9"
terminal_id = "62b48adf6ba2cd6a040b1eec"
terminal_secret = "3858f642-e92f-431c-9d38-46d15efb7fba"

[feennex]
base_url = "http://127.0.0.1:9"
shop_id = 5
secret_key = "SecretKey01"
"#;

async fn document() -> Value {
    let router = TestRouter::start(CONFIG).await;
    let (status, doc) = router.get("/openapi.json").await;
    assert_eq!(status, 200, "{doc}");
    doc
}

fn operation<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    let op = &doc["paths"][path][method.to_ascii_lowercase()];
    assert!(
        op.is_object(),
        "{method} {path} is missing from /openapi.json"
    );
    op
}

fn statuses(op: &Value) -> Vec<String> {
    op["responses"]
        .as_object()
        .map(|r| r.keys().cloned().collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn every_route_of_the_router_is_documented_with_its_statuses() {
    let doc = document().await;
    let routes = payrouter::http::routes();
    assert!(
        routes.len() >= 19,
        "the table lists {} routes",
        routes.len()
    );
    for route in &routes {
        let op = operation(&doc, route.method.as_str(), route.path);
        let got = statuses(op);
        assert!(
            got.contains(&"200".to_string()),
            "{} {}: {got:?}",
            route.method,
            route.path
        );
        for (status, response) in op["responses"].as_object().unwrap() {
            assert!(
                !response["description"].as_str().unwrap_or("").is_empty(),
                "{} {} {status} has no description",
                route.method,
                route.path
            );
        }
        if route.path.starts_with("/v3/") {
            let provider = op["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == "provider"))
                .unwrap_or_else(|| {
                    panic!("{} {}: no provider parameter", route.method, route.path)
                });
            assert_eq!(
                provider["schema"]["enum"],
                serde_json::json!(["feennex", "fena"]),
                "{} {}",
                route.method,
                route.path
            );
            for status in ["400", "404", "503", "504"] {
                assert!(
                    got.contains(&status.into()),
                    "{} {}: {status} in {got:?}",
                    route.method,
                    route.path
                );
            }
        }
        let secured = op["security"]
            .as_array()
            .is_some_and(|s| s.iter().any(|req| req.get("bearer").is_some()));
        assert_eq!(
            secured,
            route.access == payrouter::http::Access::Pgm,
            "{} {}: bearer security only on the PGM routes",
            route.method,
            route.path
        );
        if secured {
            assert!(
                got.contains(&"401".into()),
                "{} {}: {got:?}",
                route.method,
                route.path
            );
        }
        if let Some(content) = op["requestBody"]["content"].as_object() {
            // Every body has a size limit; a JSON-only body also a required content type.
            let json_only = content.keys().eq(["application/json"].iter());
            let wanted: &[&str] = if json_only { &["413", "415"] } else { &["413"] };
            for status in wanted {
                assert!(
                    got.contains(&status.to_string()),
                    "{} {}: {status} in {got:?}",
                    route.method,
                    route.path
                );
            }
        }
    }
    for (method, path, status) in [
        ("POST", "/v3/{provider}/pay", "409"),
        ("POST", "/v3/{provider}/pay", "502"),
        ("POST", "/v3/{provider}/refund", "501"),
        ("POST", "/v3/{provider}/callback", "401"),
        ("POST", "/v3/{provider}/callback", "413"),
        ("GET", "/readyz", "503"),
    ] {
        assert!(
            statuses(operation(&doc, method, path)).contains(&status.to_string()),
            "{method} {path} documents {status}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"], "bearer",
        "{}",
        doc["components"]
    );
}

#[tokio::test]
async fn request_bodies_come_from_the_validating_types() {
    let doc = document().await;
    let schemas = &doc["components"]["schemas"];
    let pay = &schemas["PayRequest"];
    let required: Vec<&str> = pay["required"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        required,
        ["amount", "currency", "shopTransactionId"],
        "{pay}"
    );
    assert_eq!(
        schemas["Amount"]["type"], "integer",
        "{}",
        schemas["Amount"]
    );
    assert_eq!(schemas["Amount"]["minimum"], 1);
    assert_eq!(schemas["ShopTransactionId"]["maxLength"], 255);
    assert_eq!(schemas["CurrencyCode"]["pattern"], "^[A-Z]{3}$");
    let interval = &schemas["Interval"]["enum"];
    assert_eq!(
        interval,
        &serde_json::json!(["DAY", "WEEK", "MONTH", "YEAR"])
    );
    let body = &operation(&doc, "POST", "/v3/{provider}/subscription/pay")["requestBody"];
    assert_eq!(
        body["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/InstalmentRequest"
    );
}

#[tokio::test]
async fn the_notification_is_described_in_webhooks() {
    let doc = document().await;
    let post = &doc["webhooks"]["paymentStatus"]["post"];
    assert_eq!(
        post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PaymentStatus"
    );
    let headers: Vec<&str> = post["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["in"] == "header")
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        headers,
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
    );
    assert!(doc["webhooks"]["paymentStatus"]["get"].is_object());
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let doc = document().await;
    assert_eq!(doc["openapi"], "3.1.0");
    let path = std::env::temp_dir().join(format!("payrouter-openapi-{}.json", std::process::id()));
    std::fs::write(&path, doc.to_string()).unwrap();
    let out = Command::new("python3")
        .args([
            "-c",
            "import json, sys\n\
             from openapi_spec_validator import validate\n\
             from openapi_spec_validator.validation import OpenAPIV31SpecValidator\n\
             validate(json.load(open(sys.argv[1])), cls=OpenAPIV31SpecValidator)\n\
             print('valid OpenAPI 3.1')",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs (make test installs openapi-spec-validator)");
    std::fs::remove_file(&path).ok();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.contains("valid OpenAPI 3.1"), "{stdout}");
}
