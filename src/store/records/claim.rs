//! Taking work from every partition's queue, fairly, and keeping its lease while it runs.
//!
//! A round of claims starts at a partition that moves on by one every round, so a partition
//! with a deep backlog cannot keep the others waiting, and a partition whose primary is down
//! is skipped (logged) while the others are served. A round that finds nothing tells when the
//! next item anywhere is due, so an idle worker sleeps until then (within its backoff) instead
//! of asking every partition on every tick.
//!
//! Leases are short (a dead worker's items come back soon) and extended while the work runs
//! (a slow delivery is not taken by a second worker meanwhile).

use futures::StreamExt;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::work::{Outbox, Queued};
use crate::engine::now_ms;
use crate::store::Partition;

/// What one round of claims took.
pub struct Round<W> {
    pub items: Vec<W>,
    /// Nothing was due: the earliest due time seen in the partitions asked.
    pub next_due_ms: Option<i64>,
}

/// The rotating start of the rounds of one worker, and its idle backoff.
pub struct Rotation {
    next: u16,
    idle: Duration,
    min_idle: Duration,
    max_idle: Duration,
}

impl Rotation {
    /// A worker that waits `min_idle` after a first empty round, doubling up to `max_idle`.
    pub fn new(min_idle: Duration, max_idle: Duration) -> Self {
        Rotation {
            next: 0,
            idle: min_idle,
            min_idle,
            max_idle,
        }
    }

    /// How long to sleep after `round` found nothing; resets the backoff when it found work.
    pub fn idle_after<W>(&mut self, round: &Round<W>) -> Option<Duration> {
        if !round.items.is_empty() {
            self.idle = self.min_idle;
            return None;
        }
        let wait = match round.next_due_ms {
            Some(due) => Duration::from_millis((due - now_ms()).max(0) as u64).min(self.idle),
            None => self.idle,
        };
        self.idle = (self.idle * 2).min(self.max_idle);
        Some(wait)
    }

    /// Something was enqueued here: look again soon.
    pub fn woken(&mut self) {
        self.idle = self.min_idle;
    }
}

impl Outbox {
    /// Claims up to `limit` due items over the partitions, starting at the rotation's next one.
    pub async fn claim_round<W: Queued>(
        &self,
        rotation: &mut Rotation,
        lease_until_ms: i64,
        limit: usize,
    ) -> Round<W> {
        let n = self.partitions();
        let start = rotation.next % n;
        rotation.next = (start + 1) % n;
        let now = now_ms();
        let mut round = Round {
            items: Vec::new(),
            next_due_ms: None,
        };
        for i in 0..n {
            let partition = Partition((start + i) % n);
            let left = limit - round.items.len();
            match self.claim::<W>(partition, now, lease_until_ms, left).await {
                Ok(batch) => {
                    round.items.extend(batch.items);
                    if let Some(due) = batch.next_due_ms {
                        round.next_due_ms = Some(round.next_due_ms.map_or(due, |d| d.min(due)));
                    }
                }
                Err(e) => {
                    tracing::warn!(queue = W::QUEUE.name(), %partition, error = %e, "cannot read a partition's queue");
                }
            }
            if round.items.len() >= limit {
                break;
            }
        }
        round
    }

    /// Runs `handle` on every item (at most `concurrency` at once), extending the leases of
    /// the items not finished yet every third of `lease`; they were claimed until
    /// `leased_until_ms`. `handle` records each item's outcome.
    pub async fn run_leased<W, F, Fut>(
        &self,
        items: Vec<W>,
        lease: Duration,
        leased_until_ms: i64,
        concurrency: usize,
        handle: F,
    ) where
        W: Queued,
        F: Fn(W) -> Fut,
        Fut: Future<Output = ()>,
    {
        let running: Mutex<HashMap<String, Partition>> = Mutex::new(
            items
                .iter()
                .map(|w| (w.id(), w.partition()))
                .collect::<HashMap<_, _>>(),
        );
        let finish = |w: W| {
            let id = w.id();
            let running = &running;
            let done = handle(w);
            async move {
                done.await;
                running
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&id);
            }
        };
        let work = futures::stream::iter(items).for_each_concurrent(concurrency, finish);
        let keep = async {
            let mut leases: HashMap<Partition, i64> = HashMap::new();
            loop {
                tokio::time::sleep(lease / 3).await;
                let mut by_partition: HashMap<Partition, Vec<String>> = HashMap::new();
                for (id, p) in running.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                    by_partition.entry(*p).or_default().push(id.clone());
                }
                let to = now_ms() + lease.as_millis() as i64;
                for (partition, ids) in by_partition {
                    let from = *leases.get(&partition).unwrap_or(&leased_until_ms);
                    match self.extend::<W>(partition, &ids, from, to).await {
                        Ok(()) => {
                            leases.insert(partition, to);
                        }
                        Err(e) => {
                            tracing::warn!(queue = W::QUEUE.name(), %partition, error = %e, "cannot extend leases; the work may be taken again");
                        }
                    }
                }
            }
        };
        tokio::select! {
            _ = work => {}
            _ = keep => {}
        }
    }
}
