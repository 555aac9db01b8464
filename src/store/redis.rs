//! The Redis store, used when REDIS_URL is set. Every multi-step change is one Lua script, so
//! replicas sharing a Redis see each step happen whole or not at all.
//!
//! Layout: a document is a hash `{v: version, d: doc}`; each queue is a hash of items plus a
//! sorted set of due times (a claimed item's due time is pushed to the end of its lease), and
//! a hash of dead letters. Key names come from `records::Keys`.

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{AsyncCommands, Script};
use std::time::Duration;

use super::records::{Keys, QueueKeys};
use super::{OutboxItem, OutboxStats, Queue, Store, StoreError, Versioned};

/// KEYS: doc, outbox items, outbox due. ARGV: expected version, doc, ttl ms (0: none),
/// outbox id ('' for none), outbox doc, outbox due ms.
const PUT_IF: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], ARGV[4], ARGV[5])
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[4])
end
return 1
"#;

const DELETE_IF: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v == 0 or v ~= tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
return 1
"#;

/// KEYS: outbox due, outbox items. ARGV: now ms, lease-until ms, limit.
/// Returns [id, doc, due, id, doc, due, ...].
const CLAIM: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for i = 1, #due, 2 do
  local id = due[i]
  local doc = redis.call('HGET', KEYS[2], id)
  if doc then
    redis.call('ZADD', KEYS[1], ARGV[2], id)
    table.insert(out, id); table.insert(out, doc); table.insert(out, due[i + 1])
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"#;

/// KEYS: outbox items, outbox due. ARGV: id, doc, due. Only reschedules a live item.
const RETRY: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"#;

/// KEYS: outbox items, outbox due, dead. ARGV: id, doc.
const DEAD: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
"#;

pub struct RedisStore {
    conn: ConnectionManager,
    notifications: QueueKeys,
    refreshes: QueueKeys,
    put_if: Script,
    delete_if: Script,
    claim: Script,
    retry: Script,
    dead: Script,
}

fn unavailable(e: redis::RedisError) -> StoreError {
    StoreError::Unavailable(Box::new(e))
}

impl RedisStore {
    /// Connects (failing fast if Redis is not there); later outages surface as
    /// `StoreError::Unavailable` while the connection manager reconnects in the background.
    /// The queues live under `keys`' prefix.
    pub async fn connect(url: &str, keys: &Keys) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(unavailable)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(2))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(2)
            .set_max_delay(500);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(unavailable)?;
        Ok(RedisStore {
            conn,
            notifications: keys.queue(Queue::Notifications),
            refreshes: keys.queue(Queue::Refreshes),
            put_if: Script::new(PUT_IF),
            delete_if: Script::new(DELETE_IF),
            claim: Script::new(CLAIM),
            retry: Script::new(RETRY),
            dead: Script::new(DEAD),
        })
    }

    fn keys(&self, queue: Queue) -> &QueueKeys {
        match queue {
            Queue::Notifications => &self.notifications,
            Queue::Refreshes => &self.refreshes,
        }
    }
}

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let mut c = self.conn.clone();
        let (v, d): (Option<u64>, Option<String>) = redis::cmd("HMGET")
            .arg(key)
            .arg("v")
            .arg("d")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(match (v, d) {
            (Some(version), Some(doc)) => Some(Versioned { version, doc }),
            _ => None,
        })
    }

    async fn put_if(
        &self,
        key: &str,
        expected: u64,
        doc: &str,
        ttl: Option<Duration>,
        outbox: Option<&OutboxItem>,
    ) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let (id, odoc, due) =
            outbox.map_or(("", "", 0), |o| (o.id.as_str(), o.doc.as_str(), o.due_ms));
        let q = self.keys(outbox.map_or(Queue::Notifications, |o| o.queue));
        let ok: i64 = self
            .put_if
            .key(key)
            .key(&q.items)
            .key(&q.due)
            .arg(expected)
            .arg(doc)
            .arg(ttl.map_or(0, |t| t.as_millis() as u64))
            .arg(id)
            .arg(odoc)
            .arg(due)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(ok == 1)
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Result<bool, StoreError> {
        let mut c = self.conn.clone();
        let ok: i64 = self
            .delete_if
            .key(key)
            .arg(expected)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(ok == 1)
    }

    async fn outbox_push(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.keys(item.queue);
        redis::pipe()
            .atomic()
            .hset(&q.items, &item.id, &item.doc)
            .zadd(&q.due, &item.id, item.due_ms)
            .exec_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn outbox_claim(
        &self,
        queue: Queue,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let mut c = self.conn.clone();
        let q = self.keys(queue);
        let flat: Vec<String> = self
            .claim
            .key(&q.due)
            .key(&q.items)
            .arg(now_ms)
            .arg(lease_until_ms)
            .arg(limit)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(flat
            .chunks_exact(3)
            .map(|t| OutboxItem {
                queue,
                id: t[0].clone(),
                doc: t[1].clone(),
                due_ms: t[2].parse().unwrap_or(now_ms),
            })
            .collect())
    }

    async fn outbox_done(&self, queue: Queue, id: &str) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.keys(queue);
        redis::pipe()
            .atomic()
            .hdel(&q.items, id)
            .zrem(&q.due, id)
            .exec_async(&mut c)
            .await
            .map_err(unavailable)
    }

    async fn outbox_retry(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.keys(item.queue);
        let _: i64 = self
            .retry
            .key(&q.items)
            .key(&q.due)
            .arg(&item.id)
            .arg(&item.doc)
            .arg(item.due_ms)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn outbox_dead(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.keys(item.queue);
        let _: i64 = self
            .dead
            .key(&q.items)
            .key(&q.due)
            .key(&q.dead)
            .arg(&item.id)
            .arg(&item.doc)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn outbox_stats(&self, queue: Queue) -> Result<OutboxStats, StoreError> {
        let mut c = self.conn.clone();
        let q = self.keys(queue);
        let (pending, oldest, dead): (u64, Vec<(String, i64)>, u64) = redis::pipe()
            .zcard(&q.due)
            .zrange_withscores(&q.due, 0, 0)
            .hlen(&q.dead)
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(OutboxStats {
            pending,
            oldest_due_ms: oldest.first().map(|(_, s)| *s),
            dead,
        })
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let _: String = c.ping().await.map_err(unavailable)?;
        Ok(())
    }

    /// Redis `TIME`: seconds and microseconds.
    async fn now_ms(&self) -> Result<i64, StoreError> {
        let mut c = self.conn.clone();
        let (secs, micros): (i64, i64) = redis::cmd("TIME")
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(secs * 1000 + micros / 1000)
    }
}
