//! Ops alerts (issue 12) over real HTTP, on the embedded store and on a real Redis: a dead
//! notification raises exactly one signed `notification.dead`; a payment left PENDING past
//! STUCK_PAYMENT_AFTER_MS raises one `payment.stuck`, however many rechecks and replicas look
//! at it; alerts are retried under the same `webhook-id`, and one queued while no router runs is
//! sent by the next to start.

mod common;

use common::delivery::{records, redis_store};
use common::fena_env::pay_body;
use common::receiver::Received;
use common::stores::on_both_stores;
use common::*;
use payrouter::notify::Alert;
use payrouter::store::records::{Notification, PaymentRecord, Work};
use payrouter::store::{MemoryStore, Queue, RedisTarget, Store};
use serde_json::{json, Value};
use std::sync::Arc;

const PID: &str = "64b48c5b6ba2cd6a040b20a8";
const ALERT_SECRET: &str = "whsec_dGhlIG9wZXJhdG9yJ3Mgb3duIGtleQ==";

/// The Fena mock, a notification receiver, an alert receiver and the store, shared by every
/// router of a test.
struct Setup {
    fena: FenaMock,
    receiver: Receiver,
    alerts: Receiver,
    redis: Option<RedisServer>,
    extra: String,
}

impl Setup {
    /// A router on this setup, alerting `alerts` (another call: one more replica).
    async fn router(&self) -> TestRouter {
        let extra = format!(
            "ops_alert_url = \"{}\"\nops_alert_signing_secret = \"{ALERT_SECRET}\"\n{}",
            self.alerts.url, self.extra
        );
        TestRouter::start(&config(
            self.redis.as_ref(),
            &self.fena.base(),
            &self.receiver.url,
            &extra,
        ))
        .await
    }
}

/// A setup and its first router.
struct Env {
    setup: Setup,
    router: TestRouter,
}

impl std::ops::Deref for Env {
    type Target = Setup;

    fn deref(&self) -> &Setup {
        &self.setup
    }
}

impl Env {
    async fn start(kind: StoreKind, extra: &str) -> Env {
        let setup = Setup {
            fena: FenaMock::start().await,
            receiver: Receiver::start().await,
            alerts: Receiver::start().await,
            redis: kind.start_redis().await,
            extra: extra.to_string(),
        };
        let router = setup.router().await;
        Env { setup, router }
    }
}

/// Creates payment PID for `shop_tx` (12.99 GBP), which Fena reports as `sent` (PENDING).
async fn pending_payment(e: &Env, shop_tx: &str) {
    e.fena.on_create(PID, shop_tx, "12.99").await;
    e.fena
        .set_state(PID, "sent", "12.99", shop_tx, shop_tx)
        .await;
    let (status, body) = e
        .router
        .post("/v3/fena/pay", &pay_body(shop_tx, 1299))
        .await;
    assert_eq!(status, 200, "{body}");
}

/// The alerts of `kind` delivered to `alerts`.
fn delivered_of(alerts: &Receiver, kind: &str) -> Vec<Received> {
    alerts
        .delivered()
        .into_iter()
        .filter(|r| r.json()["type"] == kind)
        .collect()
}

async fn a_dead_notification_raises_one_signed_alert(kind: StoreKind) {
    let e = Env::start(kind, "notify_max_attempts = 2").await;
    let alerts = &e.alerts;
    // The first alert attempt fails: it is retried under the same webhook-id.
    alerts.fail_next(1);
    e.receiver.fail_next(1000);
    pending_payment(&e, "order-dead").await;
    let (s, b) = e
        .router
        .get(&format!("/v3/fena/check?paymentId={PID}"))
        .await;
    assert_eq!(s, 200, "{b}");

    // Dead and no longer queued; its alert was queued before its death was recorded.
    eventually(20, || async {
        let dead = e.router.gauge("payrouter_notification_dead_letters").await;
        let queued = e.router.gauge("payrouter_notification_queue_depth").await;
        (dead == Some(1.0) && queued == Some(0.0)).then_some(())
    })
    .await;
    let alert = eventually(20, || async {
        delivered_of(alerts, "notification.dead").into_iter().next()
    })
    .await;
    alert.assert_signed(ALERT_SECRET);
    let attempts = alerts.all();
    assert_eq!(attempts.len(), 2, "one failed attempt, one delivery");
    assert_eq!(attempts[0].id, alert.id, "a retry keeps the webhook-id");
    assert_eq!(attempts[0].status, 500);

    let dead_id = e.receiver.all()[0].id.clone();
    assert!(e.receiver.all().iter().all(|r| r.id == dead_id));
    let body = alert.json();
    assert_eq!(body["type"], "notification.dead");
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    let data = &body["data"];
    assert_eq!(data["webhookId"], dead_id.as_str());
    assert_eq!(
        (&data["provider"], &data["paymentId"]),
        (&json!("fena"), &json!(PID))
    );
    assert_eq!(
        (&data["status"], &data["action"]),
        (&json!("PENDING"), &json!("PAYMENT"))
    );
    assert_eq!(data["attempts"], 2);
    assert_eq!(data["lastError"], "receiver answered HTTP 500");
    assert_eq!(
        delivered_of(alerts, "notification.dead").len(),
        1,
        "one death, one alert"
    );
}

async fn a_stuck_payment_raises_one_alert_over_many_rechecks(kind: StoreKind) {
    let stuck = "recheck_initial_ms = 50\nrecheck_max_ms = 100\nstuck_payment_after_ms = 400";
    let e = Env::start(kind, stuck).await;
    let alerts = &e.alerts;
    // On Redis a second replica shares the store and takes rechecks too.
    let second = match kind {
        StoreKind::Memory => None,
        _ => Some(e.setup.router().await),
    };
    pending_payment(&e, "order-stuck").await;

    let alert = eventually(20, || async {
        delivered_of(alerts, "payment.stuck").into_iter().next()
    })
    .await;
    alert.assert_signed(ALERT_SECRET);
    let body = alert.json();
    assert_eq!(body["type"], "payment.stuck");
    let data = &body["data"];
    assert_eq!(
        data,
        &json!({
            "provider": "fena", "paymentId": PID, "shopTransactionId": "order-stuck",
            "amount": 1299, "currency": "GBP", "providerStatus": "sent",
            "createdAt": data["createdAt"], "pendingForMs": data["pendingForMs"],
        })
    );
    assert!(data["pendingForMs"].as_i64().is_some_and(|ms| ms >= 400));

    // Rechecks go on looking at the payment (Fena is asked again, once per poll window)...
    let seen = e.fena.gets(PID).await;
    eventually(20, || async {
        (e.fena.gets(PID).await >= seen + 2).then_some(())
    })
    .await;
    // ...and find it stuck every time, but the alert was sent once.
    assert_eq!(delivered_of(alerts, "payment.stuck").len(), 1);
    assert_eq!(alerts.all().len(), 1, "{:?}", alerts.all());
    if let Some(mut r) = second {
        r.stop().await;
    }
}

/// A pending payment record as the engine stores it.
fn pending_record(created_ms: i64) -> PaymentRecord {
    serde_json::from_value(json!({
        "provider": "fena", "paymentId": PID, "shopTransactionId": "order-race",
        "amount": 500, "currency": "GBP",
        "state": {"providerStatus": "sent", "status": "PENDING", "action": "PAYMENT", "final": false},
        "createdMs": created_ms, "updatedMs": created_ms
    }))
    .unwrap()
}

async fn two_replicas_racing_queue_one_stuck_alert(kind: StoreKind) {
    let redis = kind.start_redis().await;
    let (a, b): (Arc<dyn Store>, Arc<dyn Store>) = match &redis {
        None => {
            let one: Arc<dyn Store> = Arc::new(MemoryStore::new(1000));
            (one.clone(), one)
        }
        Some(server) => (
            redis_store(RedisTarget::Node(server.url())).await,
            redis_store(RedisTarget::Node(server.url())).await,
        ),
    };
    let stuck = payrouter::notify::StuckAlerts {
        after: std::time::Duration::from_millis(1),
    };
    let rec = pending_record(1);
    assert!(stuck.is_stuck(&rec, 2));
    let (ra, rb) = (records(a.clone()), records(b));
    let (first, second) = tokio::join!(stuck.raise(&ra, &rec), stuck.raise(&rb, &rec));
    let raised = [first.unwrap(), second.unwrap()];
    assert_eq!(
        raised.iter().filter(|r| **r).count(),
        1,
        "exactly one replica queues the alert: {raised:?}"
    );
    assert!(
        !stuck.raise(&ra, &rec).await.unwrap(),
        "a later pass neither"
    );
    let stats = a.outbox_stats(Queue::Alerts).await.unwrap();
    assert_eq!(stats.pending, 1);
    let partition = ra.keys().partition_of("fena", PID);
    let claimed = a
        .outbox_claim(Queue::Alerts, partition, i64::MAX - 1, i64::MAX, 10)
        .await
        .unwrap();
    let event: Value = serde_json::from_str(&claimed.items[0].doc).unwrap();
    assert_eq!(claimed.items.len(), 1);
    assert_eq!(event["paymentId"], PID);
}

/// An alert is work in the store: queued while no router runs (as a replica that died after
/// queuing it leaves it), it is sent by the next router to start.
#[tokio::test]
async fn a_queued_alert_is_sent_by_the_next_router_to_start() {
    let setup = Setup {
        fena: FenaMock::start().await,
        receiver: Receiver::start().await,
        alerts: Receiver::start().await,
        redis: StoreKind::Redis.start_redis().await,
        extra: String::new(),
    };
    let server = setup.redis.as_ref().expect("a Redis server");
    let store = redis_store(RedisTarget::Node(server.url())).await;
    let dead: Notification = serde_json::from_value(json!({
        "id": "msg_left_behind", "provider": "fena", "paymentId": PID,
        "body": {"status": "ACCEPTED", "action": "PAYMENT", "paymentId": PID},
        "attempts": 30, "createdMs": 1, "lastError": "receiver timed out"
    }))
    .unwrap();
    let alert = Alert::notification_dead(&dead, 2);
    records(store)
        .enqueue(&Work::Alert(alert.clone()))
        .await
        .unwrap();

    let _router = setup.router().await;
    let delivered = eventually(20, || async { setup.alerts.delivered().into_iter().next() }).await;
    delivered.assert_signed(ALERT_SECRET);
    assert_eq!(delivered.id, alert.id);
    assert_eq!(delivered.body, alert.body());
    assert_eq!(delivered.json()["data"]["webhookId"], "msg_left_behind");
}

#[test]
fn bad_alert_settings_are_each_reported() {
    let lines = config_problems(
        "enabled_providers = \"fena\"\nops_alert_url = \"not a url\"\nstuck_payment_after_ms = 0\n\
         [fena]\nterminal_id = \"t\"\nterminal_secret = \"s\"\n",
    );
    assert_problem(&lines, "OPS_ALERT_URL: 'not a url'");
    assert!(
        lines.contains(&"STUCK_PAYMENT_AFTER_MS: must be positive".to_string()),
        "{lines:?}"
    );
    let lines = config_problems(
        "enabled_providers = \"fena\"\nops_alert_signing_secret = \"whsec_c2VjcmV0\"\n\
         [fena]\nterminal_id = \"t\"\nterminal_secret = \"s\"\n",
    );
    assert_problem(
        &lines,
        "OPS_ALERT_SIGNING_SECRET: set without OPS_ALERT_URL",
    );
    assert!(
        !lines.iter().any(|l| l.contains("c2VjcmV0")),
        "a secret is never repeated"
    );
}

on_both_stores!(
    a_dead_notification_raises_one_signed_alert,
    a_stuck_payment_raises_one_alert_over_many_rechecks,
    two_replicas_racing_queue_one_stuck_alert,
);
