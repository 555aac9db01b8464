//! Records written by the router before the typed record layer (the key names and JSON
//! documents below are copied from what it stored) are read back, refunded and notified:
//! a paid payment, a payment in its refund phase, a manual subscription with its instalment,
//! an idempotency answer, a queued notification and a dead letter. On Redis the documents are written with
//! raw Redis commands and the router runs whole over HTTP; the embedded store cannot be
//! reached from outside a process, so there the same scenario drives the engine directly.

mod common;

use common::*;
use payrouter::config::CallbackMethod;
use payrouter::engine::{Engine, RecheckSchedule};
use payrouter::notify::{Notifier, NotifierSettings, NotifyHandle};
use payrouter::store::records::{Keys, Records};
use payrouter::store::{MemoryStore, OutboxItem, Partition, Queue, Store};
use payrouter_provider::{Currency, Money};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

const PAID: &str = "64b48c5b6ba2cd6a040b2a01";
const REFUNDING: &str = "64b48c5b6ba2cd6a040b2b02";
const INSTALMENT: &str = "64b48c5b6ba2cd6a040b2c03";
const TOKEN: &str = "sub_80af88191c90e51c345fd75b";
const QUEUED_ID: &str = "msg_8e5f7b2b3e43496cac22c6e0b8ac0398";
const DEAD_ID: &str = "msg_0d5c1c7a4b9e4f21a3e8d6b2c4f7a901";
const QUEUED_BODY: &str = r#"{"status":"ACCEPTED","paymentId":"64b48c5b6ba2cd6a040b2a01","shopTransactionId":"compat-a","providerName":"fena","paymentMethod":"external","action":"PAYMENT","metadata":{"amount":1299,"currency":"GBP","providerStatus":"paid","refundedAmount":0}}"#;

/// Documents as stored before: (key, version, document).
fn documents() -> Vec<(&'static str, u64, String)> {
    vec![
        (
            "payrouter:payment:fena:64b48c5b6ba2cd6a040b2a01",
            2,
            r#"{"provider":"fena","paymentId":"64b48c5b6ba2cd6a040b2a01","shopTransactionId":"compat-a","amount":1299,"currency":"GBP","reference":"compat-a","state":{"providerStatus":"paid","status":"ACCEPTED","action":"PAYMENT","final":true},"refunds":[],"postRedirect":null,"subscriptionToken":null,"refundHistoryLost":false,"createdMs":1795976260494,"updatedMs":1795976260500}"#.into(),
        ),
        (
            "payrouter:payment:fena:64b48c5b6ba2cd6a040b2b02",
            4,
            r#"{"provider":"fena","paymentId":"64b48c5b6ba2cd6a040b2b02","shopTransactionId":"compat-b","amount":1299,"currency":"GBP","reference":"compat-b","state":{"providerStatus":"refund_started","status":"PENDING","action":"REFUND","final":false},"refunds":[{"id":"3edafa6c1ebf4db7955e98fa68afa10e","amount":500,"state":"pending","atMs":1795976260500}],"postRedirect":null,"subscriptionToken":null,"refundHistoryLost":false,"createdMs":1795976260494,"updatedMs":1795976260500}"#.into(),
        ),
        (
            "payrouter:payment:fena:64b48c5b6ba2cd6a040b2c03",
            2,
            r#"{"provider":"fena","paymentId":"64b48c5b6ba2cd6a040b2c03","shopTransactionId":"m-1","amount":500,"currency":"GBP","reference":"m-1","state":{"providerStatus":"paid","status":"ACCEPTED","action":"PAYMENT","final":true},"refunds":[],"postRedirect":null,"subscriptionToken":"sub_80af88191c90e51c345fd75b","refundHistoryLost":false,"createdMs":1795976260503,"updatedMs":1795976260503}"#.into(),
        ),
        (
            "payrouter:subscription:fena:sub_80af88191c90e51c345fd75b",
            2,
            r#"{"provider":"fena","token":"sub_80af88191c90e51c345fd75b","kind":"manual","shopTransactionId":"m-1","amount":500,"currency":"GBP","status":"PENDING","providerStatus":"","reference":null,"expiresAfter":2,"payments":["64b48c5b6ba2cd6a040b2c03"],"notified":[],"ended":false,"updatedMs":1795976260504}"#.into(),
        ),
        (
            "payrouter:idem:fena:compat-a",
            2,
            r#"{"fingerprint":"de0b58a30256f144c821c96c6b2d5b805dda025f7de48ad2807eb1f13ffac022","phase":"done","response":{"result":"REDIRECT_TO_URL","resultDescription":"payment created: redirect the payer to complete it","paymentId":"64b48c5b6ba2cd6a040b2a01","redirectToUrl":"https://payment.fena.co/pay/?p=h64b48c5b6ba2cd6a040b2a01"}}"#.into(),
        ),
    ]
}

/// The notification waiting in the outbox, as stored before.
fn queued_notification() -> String {
    format!(
        r#"{{"id":"{QUEUED_ID}","provider":"fena","paymentId":"{PAID}","body":{QUEUED_BODY},"attempts":2,"createdMs":1795976260497}}"#
    )
}

async fn seed_redis(redis: &RedisServer) {
    let client = redis::Client::open(redis.url()).unwrap();
    let mut c = client.get_multiplexed_async_connection().await.unwrap();
    for (key, version, doc) in documents() {
        redis::cmd("HSET")
            .arg(key)
            .arg("v")
            .arg(version)
            .arg("d")
            .arg(doc)
            .query_async::<()>(&mut c)
            .await
            .unwrap();
    }
    redis::cmd("HSET")
        .arg("payrouter:notify:items")
        .arg(QUEUED_ID)
        .arg(queued_notification())
        .query_async::<()>(&mut c)
        .await
        .unwrap();
    redis::cmd("ZADD")
        .arg("payrouter:notify:due")
        .arg(1795976260803i64)
        .arg(QUEUED_ID)
        .query_async::<()>(&mut c)
        .await
        .unwrap();
    redis::cmd("HSET")
        .arg("payrouter:notify:dead")
        .arg(DEAD_ID)
        .arg(dead_notification())
        .query_async::<()>(&mut c)
        .await
        .unwrap();
}

/// A dead letter as stored before partitions: the same body, out of attempts.
fn dead_notification() -> String {
    format!(
        r#"{{"id":"{DEAD_ID}","provider":"fena","paymentId":"{PAID}","body":{QUEUED_BODY},"attempts":30,"createdMs":1795976260497,"lastError":"receiver answered HTTP 500"}}"#
    )
}

/// The flat layout's dead letter was moved, unchanged, into its payment's partition, and the
/// flat dead-letter hash is gone.
async fn dead_letter_moved(redis: &RedisServer) {
    assert!(redis.keys("payrouter:notify:dead").await.is_empty());
    let dead = redis.keys("payrouter:{*}:notify:dead").await;
    assert_eq!(
        dead.len(),
        1,
        "one partition holds the dead letter: {dead:?}"
    );
    let mut c = common::redis_server::connect(&redis.url()).await;
    let doc: Option<String> = redis::cmd("HGET")
        .arg(&dead[0])
        .arg(DEAD_ID)
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(doc, Some(dead_notification()));
}

async fn seed_memory(store: &MemoryStore) {
    for (key, _, doc) in documents() {
        assert!(store.put_if(key, 0, &doc, None, None).await.unwrap());
    }
    store
        .outbox_push(
            &OutboxItem {
                queue: Queue::Notifications,
                partition: Partition(0),
                id: QUEUED_ID.into(),
                doc: queued_notification(),
                due_ms: 1795976260803,
            },
            None,
        )
        .await
        .unwrap();
}

/// The router under test: whole over HTTP, or its engine and notifier.
enum Gateway {
    Http(Box<TestRouter>),
    Engine(Arc<Engine>, CancellationToken),
}

fn json_of<T: serde::Serialize>(r: Result<T, payrouter::engine::Error>) -> Value {
    serde_json::to_value(r.unwrap()).unwrap()
}

impl Gateway {
    async fn status(&self, id: &str) -> Value {
        match self {
            Gateway::Http(r) => ok(r.get(&format!("/v3/fena/status?paymentId={id}")).await),
            Gateway::Engine(e, _) => json_of(e.status(e.provider("fena").unwrap(), id).await),
        }
    }

    /// The contract's GET callback: "something changed".
    async fn ping(&self, id: &str) -> Value {
        match self {
            Gateway::Http(r) => ok(r.get(&format!("/v3/fena/callback?paymentId={id}")).await),
            Gateway::Engine(e, _) => json_of(e.ping(e.provider("fena").unwrap(), id).await),
        }
    }

    async fn refund(&self, id: &str, amount: i64) -> Value {
        match self {
            Gateway::Http(r) => ok(r
                .post(
                    "/v3/fena/refund",
                    &json!({"amount": amount, "currency": "GBP", "paymentId": id}),
                )
                .await),
            Gateway::Engine(e, _) => json_of(
                e.refund(e.provider("fena").unwrap(), id, gbp(amount), Map::new())
                    .await,
            ),
        }
    }

    async fn pay(&self, shop_tx: &str, amount: i64) -> Value {
        match self {
            Gateway::Http(r) => ok(r
                .post(
                    "/v3/fena/pay",
                    &json!({"amount": amount, "currency": "GBP", "shopTransactionId": shop_tx}),
                )
                .await),
            Gateway::Engine(e, _) => {
                let order = plain_order(gbp(amount), shop_tx);
                json_of(e.pay(e.provider("fena").unwrap(), order).await)
            }
        }
    }

    async fn subscription_status(&self, token: &str) -> Value {
        match self {
            Gateway::Http(r) => ok(r
                .get(&format!("/v3/fena/subscription/status/{token}"))
                .await),
            Gateway::Engine(e, _) => json_of(
                e.subscription_status(e.provider("fena").unwrap(), token)
                    .await,
            ),
        }
    }

    async fn expire(&self, token: &str) -> Value {
        match self {
            Gateway::Http(r) => ok(r
                .post(&format!("/v3/fena/subscription/expire/{token}"), &json!({}))
                .await),
            Gateway::Engine(e, _) => json_of(
                e.expire_subscription(e.provider("fena").unwrap(), token)
                    .await,
            ),
        }
    }
}

fn ok((status, body): (u16, Value)) -> Value {
    assert_eq!(status, 200, "{body}");
    body
}

fn gbp(minor: i64) -> Money {
    Money::new(minor, Currency::from_code("GBP").unwrap())
}

async fn redis_gateway(redis: &RedisServer, fena: &FenaMock, receiver: &Receiver) -> Gateway {
    seed_redis(redis).await;
    let cfg = config(Some(redis), &fena.base(), &receiver.url, "");
    Gateway::Http(Box::new(TestRouter::start(&cfg).await))
}

async fn memory_gateway(fena: &FenaMock, receiver: &Receiver) -> Gateway {
    let store = Arc::new(MemoryStore::new(1000));
    seed_memory(&store).await;
    let cfg = config(None, &fena.base(), &receiver.url, "");
    let providers = providers_of(&cfg);
    let store: Arc<dyn Store> = store;
    let wake = NotifyHandle::default();
    let records = Records::new(
        store.clone(),
        Keys::default(),
        Duration::from_secs(3600),
        wake.clone(),
    );
    let engine = Engine::new(
        records,
        providers,
        Duration::from_secs(5),
        None,
        RecheckSchedule {
            initial: Duration::from_secs(600),
            max: Duration::from_secs(600),
        },
    );
    let notifier = Notifier::new(
        store,
        NotifierSettings {
            url: Some(receiver.url.clone()),
            method: CallbackMethod::Post,
            signing_secret: None,
            retry_initial: Duration::from_millis(50),
            retry_max: Duration::from_millis(200),
            max_attempts: 30,
            timeout: Duration::from_secs(2),
        },
        wake,
    );
    let stop = CancellationToken::new();
    tokio::spawn(notifier.run(stop.clone()));
    Gateway::Engine(Arc::new(engine), stop)
}

/// Waits for the notification about `id` whose body has `field` = `value`.
async fn notified(receiver: &Receiver, id: &str, field: &str, value: Value) -> Value {
    eventually(10, || async {
        receiver
            .delivered()
            .into_iter()
            .map(|n| n.json())
            .find(|b| b["paymentId"] == id && b["metadata"][field] == value)
    })
    .await
}

async fn scenario(gw: &Gateway, fena: &FenaMock, receiver: &Receiver) {
    // The queued notification goes out with its id and the very bytes it was stored with.
    let queued = eventually(10, || async {
        receiver.delivered().into_iter().find(|n| n.id == QUEUED_ID)
    })
    .await;
    assert_eq!(queued.body, QUEUED_BODY);

    // A paid payment: answered from the store, its idempotent pay replayed, then refunded.
    fena.set_state(PAID, "paid", "12.99", "compat-a", "compat-a")
        .await;
    let st = gw.status(PAID).await;
    assert_eq!(
        (&st["status"], &st["action"], &st["metadata"]["amount"]),
        (&json!("ACCEPTED"), &json!("PAYMENT"), &json!(1299))
    );
    assert_eq!(
        fena.gets(PAID).await,
        0,
        "a final state is read from the store"
    );
    let replay = gw.pay("compat-a", 1299).await;
    assert_eq!(
        (&replay["result"], &replay["paymentId"]),
        (&json!("REDIRECT_TO_URL"), &json!(PAID))
    );
    let fena_refund = fena.on_refund(PAID, 200).await;
    assert_eq!(gw.refund(PAID, 300).await["result"], "PENDING");
    assert_eq!(fena_refund.calls_async().await, 1);
    fena.set_state(PAID, "partial_refund", "12.99", "compat-a", "compat-a")
        .await;
    let st = gw.ping(PAID).await;
    assert_eq!(
        (&st["action"], &st["metadata"]["refundedAmount"]),
        (&json!("REFUND"), &json!(300))
    );
    let n = notified(receiver, PAID, "refundedAmount", json!(300)).await;
    assert_eq!(n["action"], "REFUND");

    // A payment in its refund phase: the stored pending refund is settled by the provider's
    // state and notified, and the ledger still bounds the next refund.
    fena.set_state(REFUNDING, "refunded", "12.99", "compat-b", "compat-b")
        .await;
    let st = gw.ping(REFUNDING).await;
    assert_eq!(
        (&st["status"], &st["metadata"]["refundedAmount"]),
        (&json!("ACCEPTED"), &json!(500))
    );
    notified(receiver, REFUNDING, "refundedAmount", json!(500)).await;
    let ko = gw.refund(REFUNDING, 1000).await;
    assert_ko_naming(&ko, "refundable remainder of 799 GBP");

    // A manual subscription: read with its paid instalment, then ended.
    let st = gw.subscription_status(TOKEN).await;
    assert_eq!(
        (&st["status"], &st["metadata"]["lastPaymentId"]),
        (&json!("ACTIVE"), &json!(INSTALMENT))
    );
    assert_eq!(gw.expire(TOKEN).await["result"], "OK");
    assert_eq!(gw.subscription_status(TOKEN).await["status"], "CANCELED");
}

#[tokio::test]
async fn records_written_before_the_record_layer_work_on_redis() {
    let redis = RedisServer::start().await;
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let mut gw = redis_gateway(&redis, &fena, &receiver).await;
    dead_letter_moved(&redis).await;
    scenario(&gw, &fena, &receiver).await;
    if let Gateway::Http(r) = &mut gw {
        r.stop().await;
    }
}

#[tokio::test]
async fn records_written_before_the_record_layer_work_on_memory() {
    let fena = FenaMock::start().await;
    let receiver = Receiver::start().await;
    let gw = memory_gateway(&fena, &receiver).await;
    scenario(&gw, &fena, &receiver).await;
    if let Gateway::Engine(_, stop) = &gw {
        stop.cancel();
    }
}
