//! The Redis store: one node (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`) or a
//! primary found through Sentinel (`REDIS_SENTINELS`); see [`super::connection`]. Every
//! multi-step change is one Lua script whose keys share one partition's hash tag, so replicas
//! see each step happen whole or not at all, and on a cluster every script runs on one slot.
//!
//! Layout: a document is a hash `{v: version, d: doc}`; each partition's queue is a hash of
//! items plus a sorted set of due times (a claimed item's due time is pushed to the end of its
//! lease), and a hash of dead letters. Key names come from `records::Keys`.

use async_trait::async_trait;
use redis::Script;
use std::time::Duration;

use super::connection::{unavailable, Conn, RedisTarget};
use super::records::{Keys, QueueKeys};
use super::{Claimed, OutboxItem, OutboxStats, Partition, Queue, Store, StoreError, Versioned};

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
/// Returns [id, doc, due, id, doc, due, ...], or, when nothing is due, [next due] or [].
const CLAIM: &str = r#"
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[3]))
if #due == 0 then
  local next = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #next == 0 then return {} end
  return {next[2]}
end
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

/// KEYS: outbox due. ARGV: from ms, to ms, ids... Moves the leases still at `from`.
const EXTEND: &str = r#"
for i = 3, #ARGV do
  local at = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if at and tonumber(at) == tonumber(ARGV[1]) then redis.call('ZADD', KEYS[1], ARGV[2], ARGV[i]) end
end
return 1
"#;

/// KEYS: outbox items, outbox due. ARGV: id, doc, due.
const PUSH: &str = r#"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
return 1
"#;

/// KEYS: outbox items, outbox due. ARGV: id.
const DONE: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"#;

/// KEYS: outbox due, dead. Returns [pending, oldest due or '', dead].
const STATS: &str = r#"
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {redis.call('ZCARD', KEYS[1]), first[2] or '', redis.call('HLEN', KEYS[2])}
"#;

/// KEYS: outbox items, outbox due, dead. ARGV: id, doc.
const DEAD: &str = r#"
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
return 1
"#;

pub struct RedisStore {
    conn: Conn,
    keys: Keys,
    put_if: Script,
    delete_if: Script,
    claim: Script,
    extend: Script,
    push: Script,
    done: Script,
    retry: Script,
    dead: Script,
    stats: Script,
}

impl RedisStore {
    /// Connects (failing fast if Redis is not there); later outages surface as
    /// `StoreError::Unavailable` while the client reconnects in the background. Keys and
    /// queues are laid out by `keys`.
    ///
    /// On a single node or a Sentinel primary, whatever the flat layout of earlier releases
    /// left is moved into the partitions first (see [`super::migrate`]).
    pub async fn connect(target: &RedisTarget, keys: &Keys) -> Result<Self, StoreError> {
        let conn = Conn::open(target).await?;
        if !conn.is_cluster() {
            let (docs, items) = super::migrate::flat_to_partitioned(&conn, keys).await?;
            if docs + items > 0 {
                tracing::info!(
                    documents = docs,
                    queued = items,
                    "moved records of the flat layout into the partitioned one"
                );
            }
        }
        Ok(RedisStore {
            conn,
            keys: keys.clone(),
            put_if: Script::new(PUT_IF),
            delete_if: Script::new(DELETE_IF),
            claim: Script::new(CLAIM),
            extend: Script::new(EXTEND),
            push: Script::new(PUSH),
            done: Script::new(DONE),
            retry: Script::new(RETRY),
            dead: Script::new(DEAD),
            stats: Script::new(STATS),
        })
    }

    /// Runs `script` (push or retry) on `item` in its partition's queue: KEYS items, due;
    /// ARGV id, doc, due time.
    async fn write_item(&self, script: &Script, item: &OutboxItem) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.queue(item.queue, item.partition);
        let _: i64 = script
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

    fn queue(&self, queue: Queue, partition: Partition) -> QueueKeys {
        self.keys.queue(queue, partition)
    }

    async fn partition_stats(
        &self,
        queue: Queue,
        partition: Partition,
    ) -> Result<OutboxStats, StoreError> {
        let mut c = self.conn.clone();
        let q = self.queue(queue, partition);
        let (pending, oldest, dead): (u64, String, u64) = self
            .stats
            .key(&q.due)
            .key(&q.dead)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(OutboxStats {
            pending,
            oldest_due_ms: oldest.parse().ok(),
            dead,
        })
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
        // Without work the queue keys are not touched; they are named in the key's own
        // partition all the same, so that the script's keys share one slot.
        let q = match outbox {
            Some(o) => self.queue(o.queue, o.partition),
            None => self.queue(Queue::Notifications, self.keys.partition_in(key)),
        };
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
        self.write_item(&self.push, item).await
    }

    async fn outbox_claim(
        &self,
        queue: Queue,
        partition: Partition,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Claimed, StoreError> {
        let mut c = self.conn.clone();
        let q = self.queue(queue, partition);
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
        if flat.len() == 1 {
            return Ok(Claimed {
                items: Vec::new(),
                next_due_ms: flat[0].parse().ok(),
            });
        }
        Ok(Claimed {
            items: flat
                .chunks_exact(3)
                .map(|t| OutboxItem {
                    queue,
                    partition,
                    id: t[0].clone(),
                    doc: t[1].clone(),
                    due_ms: t[2].parse().unwrap_or(now_ms),
                })
                .collect(),
            next_due_ms: None,
        })
    }

    async fn outbox_extend(
        &self,
        queue: Queue,
        partition: Partition,
        ids: &[String],
        from_ms: i64,
        to_ms: i64,
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let q = self.queue(queue, partition);
        let _: i64 = self
            .extend
            .key(&q.due)
            .arg(from_ms)
            .arg(to_ms)
            .arg(ids)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn outbox_done(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
    ) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.queue(queue, partition);
        let _: i64 = self
            .done
            .key(&q.items)
            .key(&q.due)
            .arg(id)
            .invoke_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn outbox_retry(&self, item: &OutboxItem) -> Result<(), StoreError> {
        self.write_item(&self.retry, item).await
    }

    async fn outbox_dead(&self, item: &OutboxItem) -> Result<(), StoreError> {
        let mut c = self.conn.clone();
        let q = self.queue(item.queue, item.partition);
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

    async fn outbox_dead_page(
        &self,
        queue: Queue,
        partition: Partition,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<(String, String)>, u64), StoreError> {
        let mut c = self.conn.clone();
        let q = self.queue(queue, partition);
        let (next, flat): (u64, Vec<String>) = redis::cmd("HSCAN")
            .arg(&q.dead)
            .arg(cursor)
            .arg("COUNT")
            .arg(count)
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        let mut pairs = Vec::with_capacity(flat.len() / 2);
        let mut flat = flat.into_iter();
        while let (Some(id), Some(doc)) = (flat.next(), flat.next()) {
            pairs.push((id, doc));
        }
        Ok((pairs, next))
    }

    async fn outbox_dead_forget(
        &self,
        queue: Queue,
        partition: Partition,
        ids: &[String],
    ) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let q = self.queue(queue, partition);
        let _: i64 = redis::cmd("HDEL")
            .arg(&q.dead)
            .arg(ids)
            .query_async(&mut c)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn outbox_stats(&self, queue: Queue) -> Result<OutboxStats, StoreError> {
        let each = futures::future::join_all(
            self.keys
                .all_partitions()
                .map(|p| self.partition_stats(queue, p)),
        )
        .await;
        let mut total = OutboxStats::default();
        for stats in each {
            let stats = stats?;
            total.pending += stats.pending;
            total.dead += stats.dead;
            total.oldest_due_ms = match (total.oldest_due_ms, stats.oldest_due_ms) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok(total)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        if !self.conn.is_cluster() {
            return self.conn.ping().await;
        }
        // On a cluster, each partition is asked on its own slot's primary.
        let asked = futures::future::join_all(self.keys.all_partitions().map(|p| async move {
            let mut c = self.conn.clone();
            let q = self.queue(Queue::Notifications, p);
            let answered: Result<i64, _> =
                redis::cmd("EXISTS").arg(&q.due).query_async(&mut c).await;
            (p, answered.is_ok())
        }))
        .await;
        let down: Vec<Partition> = asked
            .into_iter()
            .filter(|(_, ok)| !ok)
            .map(|(p, _)| p)
            .collect();
        if down.is_empty() {
            Ok(())
        } else {
            Err(StoreError::PartitionsUnavailable(down))
        }
    }

    fn partitions(&self) -> u16 {
        self.keys.partition_count()
    }

    async fn persistent(&self) -> Result<Option<bool>, StoreError> {
        self.conn.persistent().await
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
