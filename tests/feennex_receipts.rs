//! Bank-transfer receipts over real HTTP against the Feennex simulator: the receipt endpoints
//! from invoice/create are kept with the payment and shown in its status, and
//! `POST|GET /v3/feennex/receipt/{paymentId}` send a receipt to Feennex and read its review,
//! behind the PGM bearer token. Files are checked by content and size before anything
//! reaches Feennex. Every scenario runs on the embedded store and on a real Redis.

mod common;

use common::feennex_sim::IDLE_FENA;
use common::stores::on_both_stores;
use common::*;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

const TOKEN: &str = "pgm-token-7f3a";
const EMAIL: &str = "payer@example.com";
/// Small, so that an oversized file is cheap to send.
const RECEIPT_MAX: usize = 4096;

struct Env {
    sim: FeennexSim,
    router: TestRouter,
    _redis: Option<RedisServer>,
}

async fn env(kind: StoreKind) -> Env {
    let sim = FeennexSim::start().await;
    let redis = kind.start_redis().await;
    let toml = format!(
        "enabled_providers = \"fena,feennex\"\ninbound_api_token = \"{TOKEN}\"\nlog_level = \"warn\"\n{IDLE_FENA}{}",
        sim.section(&format!("receipt_max_bytes = {RECEIPT_MAX}\n"))
    );
    let router = sim.router(redis.as_ref(), &toml).await;
    Env {
        sim,
        router,
        _redis: redis,
    }
}

/// Files of each accepted type, by their magic numbers, padded to `len` bytes.
fn file(magic: &[u8], len: usize) -> Vec<u8> {
    let mut bytes = magic.to_vec();
    bytes.resize(len.max(magic.len()), 0x20);
    bytes
}

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";
const GIF: &[u8] = b"GIF89a\x01\0\x01\0";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
/// An ISO-BMFF `ftyp` box of brand `heic`.
const HEIC: &[u8] = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
const ZIP: &[u8] = b"PK\x03\x04\x14\0\0\0\x08\0";

impl Env {
    fn authed(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        req.bearer_auth(TOKEN)
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let req = self.router.http.post(self.router.url(path)).json(body);
        read(self.authed(req).send().await.unwrap()).await
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let req = self.router.http.get(self.router.url(path));
        read(self.authed(req).send().await.unwrap()).await
    }

    /// A Feennex payment by `payway`; its paymentId.
    async fn pay(&self, tx: &str, payway: &str) -> String {
        let (s, b) = self
            .post(
                "/v3/feennex/pay",
                &json!({"amount": 10000, "currency": "USD", "shopTransactionId": tx,
                        "providerData": {"email": EMAIL, "payway": payway}}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
        assert_eq!(b["result"], "REDIRECT_TO_URL", "{b}");
        text(&b, "paymentId")
    }

    async fn upload(
        &self,
        provider: &str,
        payment_id: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> (u16, Value) {
        let part = Part::bytes(bytes)
            .file_name(name.to_string())
            .mime_str("image/png")
            .unwrap();
        self.send(provider, payment_id, Form::new().part("file", part))
            .await
    }

    /// `POST /v3/{provider}/receipt/{payment_id}` with the multipart `form`, authorized.
    async fn send(&self, provider: &str, payment_id: &str, form: Form) -> (u16, Value) {
        let url = self
            .router
            .url(&format!("/v3/{provider}/receipt/{payment_id}"));
        let req = self.router.http.post(url).multipart(form);
        read(self.authed(req).send().await.unwrap()).await
    }
}

async fn receipts_reach_feennex_and_their_review_is_shown(kind: StoreKind) {
    let e = env(kind).await;
    let id = e.pay("fx-r-1", "bank_usd").await;
    let (s, st) = e.get(&format!("/v3/feennex/status?paymentId={id}")).await;
    assert_eq!(s, 200, "{st}");
    let invoice = e.sim.invoices().await[0]["payment_id"].clone();
    assert_eq!(
        st["metadata"]["receiptWebUrl"],
        format!("{}/pay/{invoice}", e.sim.base),
        "{st}"
    );
    assert_eq!(
        st["metadata"]["receiptUrl"],
        format!("{}/api/v1/order/{invoice}/receipt", e.sim.base)
    );

    let (s, b) = e.get(&format!("/v3/feennex/receipt/{id}")).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b, json!({"paymentId": id, "receipts": []}));

    let files: [(&str, &[u8], &str); 5] = [
        ("receipt.png", PNG, "image/png"),
        ("scan.jpg", JPEG, "image/jpeg"),
        ("receipt.gif", GIF, "image/gif"),
        ("statement.pdf", PDF, "application/pdf"),
        ("photo.heic", HEIC, "image/heic"),
    ];
    for (name, magic, _) in files {
        let (s, b) = e.upload("feennex", &id, name, file(magic, 1000)).await;
        assert_eq!(s, 200, "{name}: {b}");
        assert_eq!(b["result"], "OK", "{name}: {b}");
    }
    let taken = e.sim.sim.receipts("fx-r-1");
    assert_eq!(taken.len(), files.len());
    for (receipt, (name, _, content_type)) in taken.iter().zip(files) {
        assert_eq!(receipt.file_name, name);
        assert_eq!(receipt.content_type, content_type, "typed by content");
        assert_eq!(receipt.size, 1000);
    }
    // The largest file allowed goes through whole.
    let (s, b) = e
        .upload("feennex", &id, "big.png", file(PNG, RECEIPT_MAX))
        .await;
    assert_eq!((s, b["result"].clone()), (200, json!("OK")), "{b}");
    assert_eq!(
        e.sim.sim.receipts("fx-r-1").last().unwrap().size,
        RECEIPT_MAX
    );

    let (s, b) = e.get(&format!("/v3/feennex/receipt/{id}")).await;
    assert_eq!(s, 200, "{b}");
    let list = b["receipts"].as_array().unwrap();
    assert_eq!(list.len(), files.len() + 1);
    for (got, taken) in list.iter().zip(e.sim.sim.receipts("fx-r-1")) {
        assert_eq!(got["id"], taken.id.as_str());
        assert_eq!(got["status"], "PENDING");
        assert_eq!(got["providerStatus"], "pending");
    }
}

async fn bad_files_never_reach_feennex(kind: StoreKind) {
    let e = env(kind).await;
    let id = e.pay("fx-r-2", "bank_usd").await;
    let (s, b) = e
        .upload("feennex", &id, "big.png", file(PNG, RECEIPT_MAX + 1))
        .await;
    assert_error_response(s, &b, 413);
    assert!(b["message"].as_str().unwrap().starts_with("file:"), "{b}");
    assert!(b["message"].as_str().unwrap().contains("4096"), "{b}");
    // Larger than the whole upload limit of the route, too.
    let (s, b) = e
        .upload("feennex", &id, "huge.png", file(PNG, 200 * 1024))
        .await;
    assert_error_response(s, &b, 413);

    for (name, bytes) in [
        ("receipt.png", file(ZIP, 1000)),
        ("receipt.pdf", b"just some text, named like a PDF".to_vec()),
        ("empty.png", Vec::new()),
    ] {
        let (s, b) = e.upload("feennex", &id, name, bytes).await;
        assert_error_response(s, &b, 400);
        assert!(
            b["message"].as_str().unwrap().starts_with("file:"),
            "{name}: {b}"
        );
    }
    let two = Form::new()
        .part("file", Part::bytes(file(PNG, 100)).file_name("a.png"))
        .part("file", Part::bytes(file(PNG, 100)).file_name("b.png"));
    let (s, b) = e.send("feennex", &id, two).await;
    assert_error_mentions(s, &b, 400, "one file");
    let other = Form::new().text("note", "hello");
    let (s, b) = e.send("feennex", &id, other).await;
    assert_error_response(s, &b, 400);
    assert!(b["message"].as_str().unwrap().starts_with("note:"), "{b}");
    let (s, b) = e
        .post(&format!("/v3/feennex/receipt/{id}"), &json!({}))
        .await;
    assert_error_response(s, &b, 415);
    assert_eq!(e.sim.sim.receipt_requests(), 0, "nothing reached Feennex");
}

async fn only_open_bank_transfers_take_receipts(kind: StoreKind) {
    let e = env(kind).await;
    let card = e.pay("fx-r-3", "card_usd").await;
    let (s, b) = e
        .upload("feennex", &card, "receipt.png", file(PNG, 100))
        .await;
    assert_error_mentions(s, &b, 409, "bank-transfer");
    let (s, b) = e.get(&format!("/v3/feennex/receipt/{card}")).await;
    assert_error_response(s, &b, 409);
    let (_, st) = e.get(&format!("/v3/feennex/status?paymentId={card}")).await;
    assert!(st["metadata"].get("receiptWebUrl").is_none(), "{st}");

    // Paid before any status call, so the callback's confirmation is not held by the poll
    // window.
    let paid = e.pay("fx-r-4", "bank_eur").await;
    let settle = e
        .router
        .http
        .post(format!("{}/_sim/payments/fx-r-4/state", e.sim.base))
        .json(&json!({"status": 4, "callback": true}))
        .send()
        .await
        .unwrap();
    assert!(settle.status().is_success());
    eventually(10, || async {
        let (_, st) = e.get(&format!("/v3/feennex/status?paymentId={paid}")).await;
        (st["status"] == "ACCEPTED").then_some(())
    })
    .await;
    let (s, b) = e
        .upload("feennex", &paid, "receipt.png", file(PNG, 100))
        .await;
    assert_error_mentions(s, &b, 409, "final");
    let (s, b) = e.get(&format!("/v3/feennex/receipt/{paid}")).await;
    assert_eq!(s, 200, "the review can still be read: {b}");

    let unknown = common::feennex_mock::payment_id_of("fx-r-never");
    let (s, b) = e
        .upload("feennex", &unknown, "receipt.png", file(PNG, 100))
        .await;
    assert_error_response(s, &b, 404);
    let (s, b) = e.upload("fena", &card, "receipt.png", file(PNG, 100)).await;
    assert_error_response(s, &b, 501);
    let (s, b) = e.get(&format!("/v3/fena/receipt/{card}")).await;
    assert_error_response(s, &b, 501);
    assert_eq!(e.sim.sim.receipt_requests(), 0);

    let bank = e.pay("fx-r-5", "bank_usd").await;
    let anonymous = e
        .router
        .http
        .get(e.router.url(&format!("/v3/feennex/receipt/{bank}")));
    let (s, b) = read(anonymous.send().await.unwrap()).await;
    assert_error_response(s, &b, 401);
    let part = Part::bytes(file(PNG, 100)).file_name("r.png");
    let anonymous = e
        .router
        .http
        .post(e.router.url(&format!("/v3/feennex/receipt/{bank}")))
        .multipart(Form::new().part("file", part));
    let (s, b) = read(anonymous.send().await.unwrap()).await;
    assert_error_response(s, &b, 401);
    assert_eq!(e.sim.sim.receipt_requests(), 0);
}

on_both_stores!(
    receipts_reach_feennex_and_their_review_is_shown,
    bad_files_never_reach_feennex,
    only_open_bank_transfers_take_receipts,
);
