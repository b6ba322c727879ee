//! Limits shared by every gateway through Redis, under a tight timeout and a circuit breaker so a
//! slow or dead Redis costs at most a few requests one timeout each, then nothing until a probe
//! finds it back.
//!
//! Checks go to Redis in batches: one task per gateway owns the call, and every check that
//! arrives while a call is in flight goes in the next one, a single `EVALSHA` of `limit.lua` that
//! decides them in arrival order. An idle gateway sends each check alone, at once; a busy one
//! pays one round trip, one script run and one read and write per key for a whole batch, which
//! is what keeps Redis (not the gateway) from being the limit on throughput.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{mpsc, oneshot};

use super::{Decision, LimiterUnavailable, LocalLimiter, OnFailure, Tier, now_us};

/// Consecutive failures that open the breaker.
const FAILURES_TO_OPEN: u32 = 3;
/// How long an open breaker skips Redis before one request probes it.
const OPEN_FOR_US: u64 = 1_000_000;
/// Most checks in one call: Redis runs nothing else while the script runs.
const MAX_BATCH: usize = 256;

pub struct RedisLimiter {
    client: redis::Client,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
    script: Script,
    prefix: String,
    timeout: Duration,
    on_failure: OnFailure,
    breaker: Breaker,
    fallback: LocalLimiter,
    /// Whether Redis has answered once (health reports `connecting` until then).
    answered: std::sync::atomic::AtomicBool,
    calls: Arc<AtomicU64>,
}

/// One limit of a check, as the script takes it.
struct Cell {
    key: String,
    interval: u64,
    tolerance: u64,
}

/// A check waiting for the next call; its caller may stop waiting (timeout), and then it is
/// left out rather than counted.
struct Pending {
    cells: Vec<Cell>,
    reply: oneshot::Sender<Result<Vec<i64>, String>>,
}

impl RedisLimiter {
    pub fn new(
        client: redis::Client,
        prefix: String,
        timeout: Duration,
        on_failure: OnFailure,
    ) -> Self {
        Self {
            client,
            queue: OnceLock::new(),
            script: Script::new(include_str!("limit.lua")),
            prefix,
            timeout,
            on_failure,
            breaker: Breaker::default(),
            fallback: LocalLimiter::new(),
            answered: std::sync::atomic::AtomicBool::new(false),
            calls: Arc::default(),
        }
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    pub fn has_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// Script calls made to Redis so far (each carries one batch of checks).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The queue to the batching task, and whether it is new. The task and its connection are
    /// created on first use by a request, so they live on the proxy's runtime. Reconnects are
    /// the manager's job; waits are bounded by ours.
    fn queue(&self) -> Result<(mpsc::UnboundedSender<Pending>, bool), redis::RedisError> {
        if let Some(queue) = self.queue.get() {
            return Ok((queue.clone(), false));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.connect_timeout()))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        let mut created = false;
        let queue = self.queue.get_or_init(|| {
            let (queue, receiver) = mpsc::unbounded_channel();
            tokio::spawn(send_batches(
                connection,
                self.script.clone(),
                receiver,
                self.calls.clone(),
            ));
            created = true;
            queue
        });
        Ok((queue.clone(), created))
    }

    pub async fn check(&self, subject: &str, tier: &Tier) -> Result<Decision, LimiterUnavailable> {
        // A check without limits has no keys: in a batch of its own the script would fail (an
        // MGET of nothing), and take its batch-mates down with it.
        if tier.is_unlimited() {
            return Ok(Decision::unlimited());
        }
        let now = now_us();
        if !self.breaker.allows(now) {
            return self.fall_back(subject, tier, now, "circuit open");
        }
        let (queue, new) = match self.queue() {
            Ok(found) => found,
            Err(e) => {
                self.breaker.failed(now);
                return self.fall_back(subject, tier, now, &e.to_string());
            }
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            cells: self.cells(subject, tier),
            reply,
        };
        if queue.send(pending).is_err() {
            self.breaker.failed(now);
            return self.fall_back(subject, tier, now, "the batching task has stopped");
        }
        // The first call also connects: it gets the connect timeout rather than the call timeout.
        let timeout = if new {
            self.connect_timeout()
        } else {
            self.timeout
        };
        let failure = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(Ok(reply))) => match decision(tier, &reply) {
                Some(decision) => {
                    self.answered.store(true, Ordering::Relaxed);
                    self.breaker.succeeded();
                    return Ok(decision);
                }
                None => "unexpected reply from the limit script".to_owned(),
            },
            Ok(Ok(Err(e))) => e,
            Ok(Err(_)) => "the batching task has stopped".to_owned(),
            Err(_) => "timed out".to_owned(),
        };
        self.breaker.failed(now_us());
        self.fall_back(subject, tier, now_us(), &failure)
    }

    fn connect_timeout(&self) -> Duration {
        self.timeout.max(Duration::from_millis(250))
    }

    fn cells(&self, subject: &str, tier: &Tier) -> Vec<Cell> {
        tier.rates()
            .into_iter()
            .map(|rate| {
                let suffix = if rate.period_us == super::Rate::MINUTE_US {
                    "m"
                } else {
                    "d"
                };
                Cell {
                    key: format!("{}rl:{subject}:{suffix}", self.prefix),
                    interval: rate.interval(),
                    tolerance: rate.tolerance(),
                }
            })
            .collect()
    }

    fn fall_back(
        &self,
        subject: &str,
        tier: &Tier,
        now: u64,
        why: &str,
    ) -> Result<Decision, LimiterUnavailable> {
        tracing::debug!(why, "Redis limiter unavailable");
        match self.on_failure {
            OnFailure::Allow => Ok(self.fallback.check(subject, tier, now)),
            OnFailure::Deny => Err(LimiterUnavailable(why.to_owned())),
        }
    }

    /// Pings Redis (for health checks and tests waiting for it).
    /// On a connection of its own (the shared one belongs to the proxy's runtime), and loads the
    /// script so the first check needs no `SCRIPT LOAD` round trip.
    pub async fn ping(&self) -> bool {
        let probe = async {
            let mut connection = self.client.get_multiplexed_async_connection().await?;
            self.script.load_async(&mut connection).await
        };
        let answered = matches!(
            tokio::time::timeout(self.connect_timeout(), probe).await,
            Ok(Ok(_))
        );
        if answered {
            self.answered.store(true, Ordering::Relaxed);
        }
        answered
    }
}

/// One check's answer from its part of the script's reply: admitted, retry, then remaining and
/// used per limit in `tier.rates()` order.
fn decision(tier: &Tier, reply: &[i64]) -> Option<Decision> {
    let [admitted, retry, rest @ ..] = reply else {
        return None;
    };
    let parts: Vec<(u64, u64)> = rest
        .chunks_exact(2)
        .map(|pair| (pair[0].max(0) as u64, pair[1].max(0) as u64))
        .collect();
    Some(Decision::from_parts(
        tier,
        *admitted == 1,
        (*retry).max(0) as u64,
        &parts,
    ))
}

/// The batching task: takes every check queued while the last call was in flight, sends them as
/// one call, and hands each its share of the reply. Ends when the limiter is dropped.
async fn send_batches(
    mut connection: ConnectionManager,
    script: Script,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    calls: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queue.recv_many(&mut batch, MAX_BATCH).await > 0 {
        batch.retain(|pending| !pending.reply.is_closed());
        if !batch.is_empty() {
            calls.fetch_add(1, Ordering::Relaxed);
            let reply: Result<Vec<i64>, String> = invocation(&script, &batch)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| e.to_string());
            answer(&mut batch, reply);
        }
        batch.clear();
    }
}

/// One script call for `batch`: its distinct keys, then each check's limits by key index.
fn invocation<'a>(script: &'a Script, batch: &[Pending]) -> redis::ScriptInvocation<'a> {
    let mut invocation = script.prepare_invoke();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(batch.len() * 2);
    for cell in batch.iter().flat_map(|pending| &pending.cells) {
        if !index.contains_key(cell.key.as_str()) {
            index.insert(&cell.key, index.len() + 1);
            invocation.key(&cell.key);
        }
    }
    for pending in batch {
        invocation.arg(pending.cells.len());
        for cell in &pending.cells {
            invocation
                .arg(index[cell.key.as_str()])
                .arg(cell.interval)
                .arg(cell.tolerance);
        }
    }
    invocation
}

/// Splits the reply between the batch's checks, in order.
fn answer(batch: &mut Vec<Pending>, reply: Result<Vec<i64>, String>) {
    let reply = match reply {
        Ok(reply) => reply,
        Err(e) => {
            for pending in batch.drain(..) {
                let _gone = pending.reply.send(Err(e.clone()));
            }
            return;
        }
    };
    let mut rest = reply.as_slice();
    for pending in batch.drain(..) {
        let len = 2 + 2 * pending.cells.len();
        let part = if rest.len() >= len {
            let (part, tail) = rest.split_at(len);
            rest = tail;
            Ok(part.to_vec())
        } else {
            Err("the limit script's reply is shorter than its batch".to_owned())
        };
        let _gone = pending.reply.send(part);
    }
}

/// Closed while Redis answers; open for [`OPEN_FOR_US`] after [`FAILURES_TO_OPEN`] failures in a
/// row; then one request at a time probes it (half-open) until one succeeds.
#[derive(Debug, Default)]
pub struct Breaker {
    failures: AtomicU32,
    /// 0 when closed, else the time the next probe may go.
    open_until: AtomicU64,
}

impl Breaker {
    /// Whether a call may go to Redis now. Once the open period is over, exactly one caller wins
    /// the probe; the others keep skipping for another period unless it succeeds.
    pub fn allows(&self, now: u64) -> bool {
        let until = self.open_until.load(Ordering::Acquire);
        if until == 0 {
            return true;
        }
        now >= until
            && self
                .open_until
                .compare_exchange(
                    until,
                    now + OPEN_FOR_US,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_ok()
    }

    pub fn succeeded(&self) {
        self.failures.store(0, Ordering::Relaxed);
        if self.open_until.swap(0, Ordering::AcqRel) != 0 {
            tracing::info!("Redis answers again: shared rate limits resume");
        }
    }

    pub fn failed(&self, now: u64) {
        let failures = self.failures.fetch_add(1, Ordering::Relaxed) + 1;
        if failures >= FAILURES_TO_OPEN {
            let was = self.open_until.swap(now + OPEN_FOR_US, Ordering::AcqRel);
            if was == 0 {
                tracing::warn!("Redis failing: rate limits fall back until it answers");
            }
        }
    }

    pub fn is_open(&self, _now: u64) -> bool {
        self.open_until.load(Ordering::Acquire) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_after_failures_and_probes_once() {
        let breaker = Breaker::default();
        let t = 1_000_000_000;
        for _ in 0..FAILURES_TO_OPEN {
            assert!(breaker.allows(t));
            breaker.failed(t);
        }
        assert!(!breaker.allows(t + 1));
        assert!(breaker.is_open(t + 1));
        let later = t + OPEN_FOR_US;
        assert!(breaker.allows(later), "one probe after the open period");
        assert!(!breaker.allows(later), "only one");
        breaker.succeeded();
        assert!(breaker.allows(later));
        assert!(!breaker.is_open(later));
    }
}
