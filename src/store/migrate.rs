//! Moving what the flat layout (before partitions) left in Redis into the partitioned one.
//!
//! Run by every replica at start, before it serves, on a single node or a Sentinel primary
//! (a cluster never held the flat layout: its scripts would have been refused). Each document
//! and each queued item moves in one script, so the move is safe to run twice and from
//! several replicas at once: a key already in the new layout wins over its old copy, which is
//! dropped. Counts are logged.

use redis::Script;
use serde::Deserialize;

use super::connection::{unavailable, Conn};
use super::records::Keys;
use super::{Queue, StoreError};

/// KEYS: old, new. Copies the hash and its expiry unless the new key exists; drops the old.
const MOVE_DOC: &str = r#"
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DEL', KEYS[1]) return 0 end
local ttl = redis.call('PTTL', KEYS[1])
if ttl == -2 then return 0 end
local h = redis.call('HGETALL', KEYS[1])
if #h > 0 then redis.call('HSET', KEYS[2], unpack(h)) end
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
redis.call('DEL', KEYS[1])
return 1
"#;

/// KEYS: old items, old due, new items, new due. ARGV: id. Keeps the item's due time.
const MOVE_ITEM: &str = r#"
local doc = redis.call('HGET', KEYS[1], ARGV[1])
local due = redis.call('ZSCORE', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not doc then return 0 end
if redis.call('HSETNX', KEYS[3], ARGV[1], doc) == 1 then
  redis.call('ZADD', KEYS[4], due or 0, ARGV[1])
end
return 1
"#;

/// KEYS: old dead, new dead. ARGV: id.
const MOVE_DEAD: &str = r#"
local doc = redis.call('HGET', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
if not doc then return 0 end
redis.call('HSETNX', KEYS[2], ARGV[1], doc)
return 1
"#;

/// The payment a queued item is about (both kinds of work carry it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct About {
    provider: String,
    payment_id: String,
}

/// Moves every flat-layout key under `keys`' prefix; answers how many documents and queued
/// items moved.
pub(crate) async fn flat_to_partitioned(
    conn: &Conn,
    keys: &Keys,
) -> Result<(u64, u64), StoreError> {
    if keys.is_flat() {
        return Ok((0, 0));
    }
    let flat = keys.flat();
    let mut c = conn.clone();
    let mut docs = 0u64;
    for kind in ["payment", "subscription", "idem", "poll"] {
        let pattern = format!("{}:{kind}:*", flat.prefix());
        let mut cursor = 0u64;
        loop {
            let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut c)
                .await
                .map_err(unavailable)?;
            for old in found {
                let Some(new) = keys.relocate(&old) else {
                    continue;
                };
                docs += run_move(&mut c, MOVE_DOC, &[&old, &new], None).await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
    }
    let mut items = 0u64;
    for queue in [Queue::Notifications, Queue::Refreshes] {
        let old = flat.queue(queue, Default::default());
        // The queued items first, then the dead letters, each to its payment's partition.
        for dead in [false, true] {
            let held: Vec<(String, String)> = redis::cmd("HGETALL")
                .arg(if dead { &old.dead } else { &old.items })
                .query_async(&mut c)
                .await
                .map_err(unavailable)?;
            for (id, doc) in held {
                let new = keys.queue(queue, partition_of_item(keys, &doc));
                let (script, moves) = if dead {
                    (MOVE_DEAD, vec![&old.dead, &new.dead])
                } else {
                    (MOVE_ITEM, vec![&old.items, &old.due, &new.items, &new.due])
                };
                items += run_move(&mut c, script, &moves, Some(&id)).await?;
            }
        }
    }
    Ok((docs, items))
}

/// Runs one of the move scripts on `keys` (and the item `id`); 1 when something moved.
async fn run_move(
    c: &mut Conn,
    script: &str,
    keys: &[&String],
    id: Option<&str>,
) -> Result<u64, StoreError> {
    let script = Script::new(script);
    let mut inv = script.prepare_invoke();
    for key in keys {
        inv.key(*key);
    }
    if let Some(id) = id {
        inv.arg(id);
    }
    let moved: i64 = inv.invoke_async(c).await.map_err(unavailable)?;
    Ok(moved as u64)
}

/// The partition of the payment an item is about; an unreadable item goes to partition 0,
/// where the worker that claims it moves it to the dead letters as it would have before.
fn partition_of_item(keys: &Keys, doc: &str) -> super::Partition {
    serde_json::from_str::<About>(doc)
        .map(|a| keys.partition_of(&a.provider, &a.payment_id))
        .unwrap_or_default()
}
