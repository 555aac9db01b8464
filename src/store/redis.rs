//! The Redis store: one node (`REDIS_URL`), a Redis Cluster (`REDIS_CLUSTER_NODES`) or a
//! primary found through Sentinel (`REDIS_SENTINELS`); see [`super::connection`]. Every
//! multi-step change is one Lua script whose keys share one partition's hash tag, so replicas
//! see each step happen whole or not at all, and on a cluster every script runs on one slot.
//!
//! Layout: a document is a hash `{v: version, d: doc}`; each partition's queue is a hash of
//! items plus a sorted set of due times (a claimed item's due time is pushed to the end of its
//! lease), and a hash of dead letters. A payment's timeline is a list (appended with RPUSH,
//! trimmed with LTRIM) and each partition's payment index a sorted set by creation time, both
//! written inside the script of the change they follow. Key names come from `records::Keys`.

use async_trait::async_trait;
use redis::{Cmd, FromRedisValue, Script, ScriptInvocation};
use std::time::Duration;

use super::connection::{unavailable, Conn, RedisTarget};
use super::records::{Keys, QueueKeys};
use super::{
    Append, Beside, Claimed, OutboxItem, OutboxStats, PageQuery, Partition, Queue, QueueStep,
    Store, StoreError, Versioned,
};

/// Appends ARGV[first..] to the list `key`, keeps its newest `keep` entries and sets its
/// expiry (a payment's timeline); nothing when `keep` is 0. Prepended to the scripts that
/// write a timeline in the same step as their change.
const APPEND_FN: &str = r#"
local function append(key, keep, ttl, first)
  keep = tonumber(keep)
  if keep == 0 or #ARGV < first then return end
  redis.call('RPUSH', key, unpack(ARGV, first))
  redis.call('LTRIM', key, -keep, -1)
  redis.call('PEXPIRE', key, ttl)
end
"#;

/// Puts `id` with `doc`, due at `at`, in a queue's items hash and due set, or takes it out of
/// both. Prepended to the scripts that move queued items.
const QUEUE_FN: &str = r#"
local function enqueue(items, due, id, doc, at)
  redis.call('HSET', items, id, doc)
  redis.call('ZADD', due, at, id)
end
local function dequeue(items, due, id)
  redis.call('HDEL', items, id)
  redis.call('ZREM', due, id)
end
"#;

/// Reads a page of the sorted set `key`: up to `count` (member, score) pairs with scores in
/// `min..=max`, in descending order when `desc` is '1', strictly after (`ascore`, `amember`)
/// in that order when `ascore` is not ''. Members of one score are ordered by their bytes, as
/// Redis orders them.
const PAGE_FN: &str = r#"
local function page(key, desc, min, max, ascore, amember, count)
  count = tonumber(count)
  desc = desc == '1'
  local lo, hi = min, max
  if ascore ~= '' then
    if desc then hi = ascore else lo = ascore end
  end
  local out, offset = {}, 0
  while #out < 2 * count do
    local batch
    if desc then
      batch = redis.call('ZREVRANGEBYSCORE', key, hi, lo, 'WITHSCORES', 'LIMIT', offset, count)
    else
      batch = redis.call('ZRANGEBYSCORE', key, lo, hi, 'WITHSCORES', 'LIMIT', offset, count)
    end
    for i = 1, #batch, 2 do
      local skip = false
      if ascore ~= '' and tonumber(batch[i + 1]) == tonumber(ascore) then
        if desc then skip = batch[i] >= amember else skip = batch[i] <= amember end
      end
      if not skip and #out < 2 * count then
        table.insert(out, batch[i]); table.insert(out, batch[i + 1])
      end
    end
    if #batch < 2 * count then break end
    offset = offset + count
  end
  return out
end
"#;

/// KEYS: doc, outbox items, outbox due, timeline, index. ARGV: expected version, doc, ttl ms
/// (0: none), outbox id ('' for none), outbox doc, outbox due ms, timeline keep (0: none),
/// timeline ttl ms, index member ('' for none), index score, index trim-before, index ttl ms,
/// timeline events...
const PUT_IF: &str = r#"
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
if v ~= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', v + 1, 'd', ARGV[2])
if tonumber(ARGV[3]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[3]) else redis.call('PERSIST', KEYS[1]) end
if ARGV[4] ~= '' then enqueue(KEYS[2], KEYS[3], ARGV[4], ARGV[5], ARGV[6]) end
if ARGV[9] ~= '' then
  redis.call('ZADD', KEYS[5], ARGV[10], ARGV[9])
  redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', '(' .. ARGV[11])
  redis.call('PEXPIRE', KEYS[5], ARGV[12])
end
append(KEYS[4], ARGV[7], ARGV[8], 13)
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

/// KEYS: outbox items, outbox due, timeline. ARGV: id, doc, due, timeline keep, ttl,
/// events... Only reschedules a live item.
const RETRY: &str = r#"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
enqueue(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
append(KEYS[3], ARGV[4], ARGV[5], 6)
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

/// KEYS: outbox items, outbox due, timeline. ARGV: id, doc, due, timeline keep, ttl, events...
const PUSH: &str = r#"
enqueue(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
append(KEYS[3], ARGV[4], ARGV[5], 6)
return 1
"#;

/// KEYS: outbox items, outbox due, timeline. ARGV: id, timeline keep, ttl, events...
const DONE: &str = r#"
dequeue(KEYS[1], KEYS[2], ARGV[1])
append(KEYS[3], ARGV[2], ARGV[3], 4)
return 1
"#;

/// KEYS: outbox due, dead. Returns [pending, oldest due or '', dead].
const STATS: &str = r#"
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {redis.call('ZCARD', KEYS[1]), first[2] or '', redis.call('HLEN', KEYS[2])}
"#;

/// KEYS: outbox items, outbox due, dead, timeline. ARGV: id, doc, timeline keep, ttl, events...
const DEAD: &str = r#"
dequeue(KEYS[1], KEYS[2], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
append(KEYS[4], ARGV[3], ARGV[4], 5)
return 1
"#;

/// KEYS: outbox items, outbox due, dead, timeline. ARGV: id, doc, due, timeline keep, ttl,
/// events... Moves a dead letter back into the queue; 0 when there is none.
const REVIVE: &str = r#"
if redis.call('HEXISTS', KEYS[3], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
enqueue(KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3])
append(KEYS[4], ARGV[4], ARGV[5], 6)
return 1
"#;

/// KEYS: timeline. ARGV: keep, ttl, events...
const APPEND: &str = r#"
append(KEYS[1], ARGV[1], ARGV[2], 3)
return 1
"#;

/// KEYS: index. ARGV: the page's arguments. Returns [member, score, ...].
const INDEX_PAGE: &str = r#"
return page(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
"#;

/// KEYS: outbox due, outbox items. ARGV: the page's arguments. Returns [id, doc, due, ...].
const PENDING_PAGE: &str = r#"
local ids = page(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
local out = {}
for i = 1, #ids, 2 do
  local doc = redis.call('HGET', KEYS[2], ids[i])
  if doc then
    table.insert(out, ids[i]); table.insert(out, doc); table.insert(out, ids[i + 1])
  end
end
return out
"#;

/// A script that may call `append`, `enqueue`, `dequeue` and `page`.
fn script(body: &str) -> Script {
    Script::new(&format!("{APPEND_FN}{QUEUE_FN}{PAGE_FN}{body}"))
}

/// Adds a timeline's keep, ttl and events to a script's arguments (keep 0: no timeline).
fn timeline_args(inv: &mut ScriptInvocation<'_>, timeline: Option<&Append<'_>>) {
    match timeline {
        Some(t) => {
            inv.arg(t.keep).arg(t.ttl.as_millis() as u64);
            for event in t.events {
                inv.arg(event);
            }
        }
        None => {
            inv.arg(0).arg(0);
        }
    }
}

/// Adds a page query's arguments to a script's arguments.
fn page_args(inv: &mut ScriptInvocation<'_>, q: &PageQuery) {
    inv.arg(if q.descending { "1" } else { "0" })
        .arg(q.min)
        .arg(q.max);
    match &q.after {
        Some(a) => inv.arg(a.score).arg(&a.member),
        None => inv.arg("").arg(""),
    };
    inv.arg(q.count.max(1));
}

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
    revive: Script,
    append: Script,
    index_page: Script,
    pending_page: Script,
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
            put_if: script(PUT_IF),
            delete_if: Script::new(DELETE_IF),
            claim: Script::new(CLAIM),
            extend: Script::new(EXTEND),
            push: script(PUSH),
            done: script(DONE),
            retry: script(RETRY),
            dead: script(DEAD),
            revive: script(REVIVE),
            append: script(APPEND),
            index_page: script(INDEX_PAGE),
            pending_page: script(PENDING_PAGE),
            stats: Script::new(STATS),
        })
    }

    fn queue(&self, queue: Queue, partition: Partition) -> QueueKeys {
        self.keys.queue(queue, partition)
    }

    /// Runs a script on the shared connection; any error means the store is unreachable.
    async fn invoke<T: FromRedisValue>(&self, inv: &ScriptInvocation<'_>) -> Result<T, StoreError> {
        inv.invoke_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    /// Sends one command on the shared connection; any error means the store is unreachable.
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        cmd.query_async(&mut self.conn.clone())
            .await
            .map_err(unavailable)
    }

    async fn partition_stats(
        &self,
        queue: Queue,
        partition: Partition,
    ) -> Result<OutboxStats, StoreError> {
        let q = self.queue(queue, partition);
        let (pending, oldest, dead): (u64, String, u64) =
            self.invoke(self.stats.key(&q.due).key(&q.dead)).await?;
        Ok(OutboxStats {
            pending,
            oldest_due_ms: oldest.parse().ok(),
            dead,
        })
    }
}

/// Queued items read back as [id, doc, due, ...]; a due time that does not parse reads as
/// `unparsed_due`.
fn items(
    (queue, partition): (Queue, Partition),
    flat: &[String],
    unparsed_due: i64,
) -> Vec<OutboxItem> {
    flat.chunks_exact(3)
        .map(|t| OutboxItem {
            queue,
            partition,
            id: t[0].clone(),
            doc: t[1].clone(),
            due_ms: t[2].parse().unwrap_or(unparsed_due),
        })
        .collect()
}

#[async_trait]
impl Store for RedisStore {
    async fn get(&self, key: &str) -> Result<Option<Versioned>, StoreError> {
        let (v, d): (Option<u64>, Option<String>) = self
            .query(redis::cmd("HMGET").arg(key).arg("v").arg("d"))
            .await?;
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
        beside: Option<&Beside<'_>>,
    ) -> Result<bool, StoreError> {
        let beside = beside.copied().unwrap_or_default();
        let outbox = beside.outbox;
        let (id, odoc, due) =
            outbox.map_or(("", "", 0), |o| (o.id.as_str(), o.doc.as_str(), o.due_ms));
        // Keys a write does not touch are named all the same (the queue's in the key's own
        // partition, the document's own for a timeline or an index), so that the script's
        // keys share one slot.
        let q = match outbox {
            Some(o) => self.queue(o.queue, o.partition),
            None => self.queue(Queue::Notifications, self.keys.partition_in(key)),
        };
        let mut inv = self.put_if.key(key);
        inv.key(&q.items)
            .key(&q.due)
            .key(beside.timeline.map_or(key, |t| t.key))
            .key(beside.index.map_or(key, |i| i.key))
            .arg(expected)
            .arg(doc)
            .arg(ttl.map_or(0, |t| t.as_millis() as u64))
            .arg(id)
            .arg(odoc)
            .arg(due);
        match &beside.timeline {
            Some(t) => inv.arg(t.keep).arg(t.ttl.as_millis() as u64),
            None => inv.arg(0).arg(0),
        };
        match &beside.index {
            Some(i) => inv
                .arg(i.member)
                .arg(i.score)
                .arg(i.trim_before)
                .arg(i.ttl.as_millis() as u64),
            None => inv.arg("").arg(0).arg(0).arg(0),
        };
        for event in beside.timeline.map_or(&[][..], |t| t.events) {
            inv.arg(event);
        }
        let ok: i64 = self.invoke(&inv).await?;
        Ok(ok == 1)
    }

    async fn delete_if(&self, key: &str, expected: u64) -> Result<bool, StoreError> {
        let ok: i64 = self.invoke(self.delete_if.key(key).arg(expected)).await?;
        Ok(ok == 1)
    }

    async fn outbox_step(
        &self,
        step: QueueStep,
        item: &OutboxItem,
        timeline: Option<&Append<'_>>,
    ) -> Result<bool, StoreError> {
        // Every queue script's KEYS: items, due, dead (when it moves dead letters), timeline;
        // ARGV: the first `fields` of the item's id, document and due time, then the timeline's.
        let (script, with_dead, fields) = match step {
            QueueStep::Push => (&self.push, false, 3),
            QueueStep::Done => (&self.done, false, 1),
            QueueStep::Retry => (&self.retry, false, 3),
            QueueStep::Dead => (&self.dead, true, 2),
            QueueStep::Revive => (&self.revive, true, 3),
        };
        let q = self.queue(item.queue, item.partition);
        let mut inv = script.key(&q.items);
        inv.key(&q.due);
        if with_dead {
            inv.key(&q.dead);
        }
        // Without a timeline its key is not touched; the items key stands in (same slot).
        inv.key(timeline.map_or(q.items.as_str(), |t| t.key));
        inv.arg(&item.id);
        if fields > 1 {
            inv.arg(&item.doc);
        }
        if fields > 2 {
            inv.arg(item.due_ms);
        }
        timeline_args(&mut inv, timeline);
        let done: i64 = self.invoke(&inv).await?;
        Ok(done == 1 || step != QueueStep::Revive)
    }

    async fn outbox_claim(
        &self,
        queue: Queue,
        partition: Partition,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Claimed, StoreError> {
        let q = self.queue(queue, partition);
        let mut claim = self.claim.key(&q.due);
        claim
            .key(&q.items)
            .arg(now_ms)
            .arg(lease_until_ms)
            .arg(limit);
        let flat: Vec<String> = self.invoke(&claim).await?;
        if flat.len() == 1 {
            return Ok(Claimed {
                items: Vec::new(),
                next_due_ms: flat[0].parse().ok(),
            });
        }
        Ok(Claimed {
            items: items((queue, partition), &flat, now_ms),
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
        let q = self.queue(queue, partition);
        let mut extend = self.extend.key(&q.due);
        extend.arg(from_ms).arg(to_ms).arg(ids);
        let _: i64 = self.invoke(&extend).await?;
        Ok(())
    }

    async fn outbox_get(
        &self,
        queue: Queue,
        partition: Partition,
        id: &str,
        dead: bool,
    ) -> Result<Option<OutboxItem>, StoreError> {
        let q = self.queue(queue, partition);
        let (doc, due): (Option<String>, Option<f64>) = if dead {
            (
                self.query(redis::cmd("HGET").arg(&q.dead).arg(id)).await?,
                None,
            )
        } else {
            // Two keys of one slot, read in one round trip.
            redis::pipe()
                .cmd("HGET")
                .arg(&q.items)
                .arg(id)
                .cmd("ZSCORE")
                .arg(&q.due)
                .arg(id)
                .query_async(&mut self.conn.clone())
                .await
                .map_err(unavailable)?
        };
        Ok(doc.map(|doc| OutboxItem {
            queue,
            partition,
            id: id.to_string(),
            doc,
            due_ms: due.unwrap_or_default() as i64,
        }))
    }

    async fn outbox_pending_page(
        &self,
        queue: Queue,
        partition: Partition,
        query: &PageQuery,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let q = self.queue(queue, partition);
        let mut inv = self.pending_page.key(&q.due);
        inv.key(&q.items);
        page_args(&mut inv, query);
        let flat: Vec<String> = self.invoke(&inv).await?;
        Ok(items((queue, partition), &flat, 0))
    }

    async fn timeline_append(&self, append: &Append<'_>) -> Result<(), StoreError> {
        let mut inv = self.append.key(append.key);
        timeline_args(&mut inv, Some(append));
        let _: i64 = self.invoke(&inv).await?;
        Ok(())
    }

    async fn timeline(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.query(redis::cmd("LRANGE").arg(key).arg(0).arg(-1))
            .await
    }

    async fn index_page(
        &self,
        key: &str,
        query: &PageQuery,
    ) -> Result<Vec<(i64, String)>, StoreError> {
        let mut inv = self.index_page.key(key);
        page_args(&mut inv, query);
        let flat: Vec<String> = self.invoke(&inv).await?;
        Ok(flat
            .chunks_exact(2)
            .map(|t| (t[1].parse().unwrap_or_default(), t[0].clone()))
            .collect())
    }

    async fn outbox_dead_page(
        &self,
        queue: Queue,
        partition: Partition,
        cursor: u64,
        count: usize,
    ) -> Result<(Vec<(String, String)>, u64), StoreError> {
        let q = self.queue(queue, partition);
        let mut scan = redis::cmd("HSCAN");
        scan.arg(&q.dead).arg(cursor).arg("COUNT").arg(count);
        let (next, flat): (u64, Vec<String>) = self.query(&scan).await?;
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
        let q = self.queue(queue, partition);
        let _: i64 = self.query(redis::cmd("HDEL").arg(&q.dead).arg(ids)).await?;
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
            let q = self.queue(Queue::Notifications, p);
            let answered: Result<i64, _> = self.query(redis::cmd("EXISTS").arg(&q.due)).await;
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
        let (secs, micros): (i64, i64) = self.query(&redis::cmd("TIME")).await?;
        Ok(secs * 1000 + micros / 1000)
    }
}
