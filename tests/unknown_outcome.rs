//! Fault suite "Unknown outcome": the provider creates the payment but its answer is lost, late
//! or an error; the retry answers that same payment, and the simulator holds exactly one
//! payment a payer can see (Fena: processed; Feennex: one invoice). Real router, real Redis,
//! the simulators in-process with fault rules.

mod common;

use common::sim_client::SimClient;
use common::*;
use serde_json::{json, Value};

/// A router in simulation mode on its own Redis, and a client of its simulators.
struct Env {
    router: TestRouter,
    sim: SimClient,
    _receiver: Receiver,
    _redis: RedisServer,
}

impl Env {
    /// `extra` is appended to the configuration (e.g. a `[fena]` section).
    async fn start(extra: &str) -> Env {
        let receiver = Receiver::start().await;
        let redis = RedisServer::start().await;
        let router = TestRouter::start(&format!(
            r#"simulate = true
sim_port = 0
enabled_providers = "fena,feennex"
payment_callback_url = "{}"
log_level = "warn"
redis_url = "{}"
{extra}
"#,
            receiver.url,
            redis.url()
        ))
        .await;
        let sim_addr = router.running.as_ref().unwrap().sim_addr.unwrap();
        Env {
            router,
            sim: SimClient::new(format!("http://127.0.0.1:{}", sim_addr.port())),
            _receiver: receiver,
            _redis: redis,
        }
    }

    /// Fena payments a payer could pay (processed: anything but a draft), and every one.
    async fn fena_payments(&self) -> (Vec<Value>, usize) {
        let all: Vec<Value> = self
            .sim
            .payments("fena")
            .await
            .into_iter()
            .filter(|p| p["kind"] == "single")
            .collect();
        let total = all.len();
        let processed = all.into_iter().filter(|p| p["status"] != "draft").collect();
        (processed, total)
    }

    /// Pays `body` with `fault` in force (the first answer is the error `code`), then again
    /// without it: the retry answers the one processed payment at Fena.
    async fn fena_retry_after(&self, body: &Value, fault: Value, code: u16) -> Value {
        self.sim.fault("fena", fault).await;
        let (s, b) = self.router.post("/v3/fena/pay", body).await;
        assert_error_response(s, &b, code);
        self.sim.clear_faults("fena").await;
        let (s, retried) = self.router.post("/v3/fena/pay", body).await;
        assert_eq!(s, 200, "{retried}");
        assert_eq!(retried["result"], "REDIRECT_TO_URL", "{retried}");
        let (processed, _) = self.fena_payments().await;
        println!(
            "unknown outcome {}: {} processed payment(s) at Fena after the retry",
            body["shopTransactionId"],
            processed.len()
        );
        assert_eq!(
            processed.len(),
            1,
            "one payment a payer can see: {processed:?}"
        );
        assert_eq!(retried["paymentId"], processed[0]["id"]);
        assert_eq!(processed[0]["status"], "sent");
        let (s, again) = self.router.post("/v3/fena/pay", body).await;
        assert_eq!((s, &again), (200, &retried), "idempotent replay");
        retried
    }
}

fn fena_pay(shop_tx: &str) -> Value {
    json!({"amount": 1299, "currency": "GBP", "shopTransactionId": shop_tx,
           "providerData": {"customerEmail": "payer@example.com"}})
}

#[tokio::test]
async fn fena_answer_dropped_after_processing_is_resumed_not_paid_twice() {
    let e = Env::start("").await;
    let fault = json!({"operation": "process", "after": true, "drop": true, "count": 1});
    e.fena_retry_after(&fena_pay("uo-drop-1"), fault, 502).await;
    let (_, total) = e.fena_payments().await;
    assert_eq!(total, 1, "the retry processed the stored draft, made none");
}

#[tokio::test]
async fn fena_answer_timed_out_after_processing_is_resumed_not_paid_twice() {
    let e = Env::start("[fena]\ntimeout_ms = 1000\n").await;
    let fault = json!({"operation": "process", "after": true, "hang": true, "count": 1});
    e.fena_retry_after(&fena_pay("uo-hang-1"), fault, 504).await;
}

#[tokio::test]
async fn fena_draft_answer_lost_then_5xx_on_process_leaves_one_payment() {
    let e = Env::start("").await;
    // The draft is made but its answer is cut: nobody can pay a draft, and the retry makes a
    // new one; only one is ever processed.
    let fault = json!({"operation": "create", "after": true, "drop": true, "count": 1});
    e.fena_retry_after(&fena_pay("uo-draft-1"), fault, 502)
        .await;
    // A 5xx after the draft existed: the retry processes the stored draft.
    let fault = json!({"operation": "process", "status": 503, "count": 1});
    let body = fena_pay("uo-5xx-1");
    e.sim.fault("fena", fault).await;
    let (s, b) = e.router.post("/v3/fena/pay", &body).await;
    assert_error_response(s, &b, 502);
    let (s, retried) = e.router.post("/v3/fena/pay", &body).await;
    assert_eq!(s, 200, "{retried}");
    let (processed, total) = e.fena_payments().await;
    assert_eq!(
        processed.len(),
        2,
        "one per shopTransactionId: {processed:?}"
    );
    assert_eq!(
        total, 3,
        "two drafts of uo-draft-1 (one processed), one of uo-5xx-1"
    );
    assert_eq!(retried["paymentId"], processed[1]["id"]);
}

/// A pay reservation's lease is ROUTE_TIMEOUT_MS: a provider call that may outlast it would
/// let a retry take the reservation over while the first call is still in flight.
#[tokio::test]
async fn a_route_timeout_shorter_than_a_provider_call_is_refused_at_start() {
    let problems = refused_start(
        r#"store = "memory"
route_timeout_ms = 5000
payment_callback_url = "http://127.0.0.1:9/notify"
[fena]
terminal_id = "62b48adf6ba2cd6a040b1eec"
terminal_secret = "s"
connect_timeout_ms = 1000
timeout_ms = 5000
[feennex]
shop_id = 5
secret_key = "k"
connect_timeout_ms = 1000
timeout_ms = 3000
"#,
    )
    .await;
    assert_eq!(
        problems,
        vec![
            "FENA_TIMEOUT_MS: FENA_CONNECT_TIMEOUT_MS + FENA_TIMEOUT_MS (6000 ms) must be less \
             than ROUTE_TIMEOUT_MS (5000 ms), the lease of a pay reservation, so that the lease \
             outlives the fena call"
        ]
    );
}

fn feennex_pay(shop_tx: &str) -> Value {
    json!({"amount": 1234, "currency": "USD", "shopTransactionId": shop_tx,
           "providerData": {"email": "payer@example.com"}})
}

/// Feennex refuses a second invoice with one shop_order_id: a retry that created anew would
/// answer KO "not unique" forever while status says PENDING.
async fn feennex_answer_lost_after_creating(fault: Value, code: u16) {
    let e = Env::start("[feennex]\ntimeout_ms = 1000\n").await;
    let body = feennex_pay("uo-fx-1");
    e.sim.fault("feennex", fault).await;
    let (s, b) = e.router.post("/v3/feennex/pay", &body).await;
    assert_error_response(s, &b, code);
    e.sim.clear_faults("feennex").await;
    let (s, retried) = e.router.post("/v3/feennex/pay", &body).await;
    assert_eq!(s, 200, "{retried}");
    assert_eq!(retried["result"], "PENDING", "{retried}");
    let invoices = e.sim.payments("feennex").await;
    println!(
        "unknown outcome uo-fx-1: {} invoice(s) at Feennex after the retry",
        invoices.len()
    );
    assert_eq!(invoices.len(), 1, "{invoices:?}");
    let payment_id = retried["paymentId"].as_str().unwrap();
    let status = e.router.status("feennex", payment_id).await;
    assert_eq!(status["status"], "PENDING", "{status}");
    assert_eq!(status["shopTransactionId"], "uo-fx-1", "{status}");
    let (s, again) = e.router.post("/v3/feennex/pay", &body).await;
    assert_eq!((s, &again), (200, &retried), "idempotent replay");
}

#[tokio::test]
async fn feennex_answer_dropped_after_creating_answers_the_existing_invoice() {
    let fault = json!({"operation": "create", "after": true, "drop": true, "count": 1});
    feennex_answer_lost_after_creating(fault, 502).await;
}

#[tokio::test]
async fn feennex_answer_timed_out_after_creating_answers_the_existing_invoice() {
    let fault = json!({"operation": "create", "after": true, "hang": true, "count": 1});
    feennex_answer_lost_after_creating(fault, 504).await;
}
