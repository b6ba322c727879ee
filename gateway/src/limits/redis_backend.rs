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
#[derive(PartialEq, Eq, Hash)]
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
            let groups = groups(&batch);
            let reply: Result<Vec<i64>, String> = invocation(&script, &batch, &groups)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| e.to_string());
            answer(&mut batch, &groups, reply);
        }
        batch.clear();
    }
}

/// The checks of a batch with the same limits (one subject's), in arrival order: the script
/// decides a group at once, however many checks it holds.
type Groups = Vec<Vec<usize>>;

fn groups(batch: &[Pending]) -> Groups {
    let mut index: HashMap<&[Cell], usize> = HashMap::with_capacity(batch.len());
    let mut groups: Groups = Vec::new();
    for (i, pending) in batch.iter().enumerate() {
        let group = *index.entry(&pending.cells).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[group].push(i);
    }
    groups
}

/// One script call for `batch`: its distinct keys, then per group its size and its limits by
/// key index.
fn invocation<'a>(
    script: &'a Script,
    batch: &[Pending],
    groups: &Groups,
) -> redis::ScriptInvocation<'a> {
    let mut invocation = script.prepare_invoke();
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(groups.len() * 2);
    for group in groups {
        for cell in &batch[group[0]].cells {
            if !index.contains_key(cell.key.as_str()) {
                index.insert(&cell.key, index.len() + 1);
                invocation.key(&cell.key);
            }
        }
    }
    for group in groups {
        let cells = &batch[group[0]].cells;
        invocation.arg(group.len()).arg(cells.len());
        for cell in cells {
            invocation
                .arg(index[cell.key.as_str()])
                .arg(cell.interval)
                .arg(cell.tolerance);
        }
    }
    invocation
}

/// Each check's answer, from its group's part of the reply: how many of the group were admitted
/// and each limit's use before the group. The group's checks are then decided in order as if
/// one by one: the first `admitted` each take a cell, the rest are refused and move nothing.
/// The answer is laid out as [`decision`] reads it.
fn group_answers(cells: &[Cell], size: usize, admitted: i64, used_before: &[i64]) -> Vec<Vec<i64>> {
    let admitted = usize::try_from(admitted.max(0)).unwrap_or(0).min(size);
    (0..size)
        .map(|i| {
            let is_admitted = i < admitted;
            // Cells taken in the group once this check is decided.
            let taken = (if is_admitted { i + 1 } else { admitted }) as i64;
            let mut answer = Vec::with_capacity(2 + 2 * cells.len());
            let retry = if is_admitted {
                0
            } else {
                cells
                    .iter()
                    .zip(used_before)
                    .map(|(cell, &used)| {
                        used + (taken + 1) * cell.interval as i64 - cell.tolerance as i64
                    })
                    .max()
                    .unwrap_or(0)
                    .max(0)
            };
            answer.extend([i64::from(is_admitted), retry]);
            for (cell, &used) in cells.iter().zip(used_before) {
                let (interval, tolerance) = (cell.interval as i64, cell.tolerance as i64);
                let used = used + taken * interval;
                answer.extend([(tolerance - used.min(tolerance)) / interval, used]);
            }
            answer
        })
        .collect()
}

/// Splits the reply between the batch's checks.
fn answer(batch: &mut Vec<Pending>, groups: &Groups, reply: Result<Vec<i64>, String>) {
    let mut answers: Vec<Option<Result<Vec<i64>, String>>> = Vec::new();
    answers.resize_with(batch.len(), || None);
    match reply {
        Ok(reply) => {
            let mut rest = reply.as_slice();
            for group in groups {
                let cells = &batch[group[0]].cells;
                let Some((&[admitted], tail)) = rest.split_first_chunk::<1>() else {
                    break;
                };
                if tail.len() < cells.len() {
                    break;
                }
                let (used_before, tail) = tail.split_at(cells.len());
                rest = tail;
                for (&i, answer) in
                    group
                        .iter()
                        .zip(group_answers(cells, group.len(), admitted, used_before))
                {
                    answers[i] = Some(Ok(answer));
                }
            }
        }
        Err(e) => answers.fill_with(|| Some(Err(e.clone()))),
    }
    for (pending, answer) in batch.drain(..).zip(answers) {
        let answer = answer
            .unwrap_or_else(|| Err("the limit script's reply is shorter than its batch".into()));
        let _gone = pending.reply.send(answer);
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
    use super::super::gcra::{self, Rate};
    use super::*;

    /// A group decided at once answers exactly what the checks one by one would: the in-process
    /// GCRA, run check after check from the same TATs at the same instant.
    #[test]
    fn a_group_answers_as_its_checks_would_one_by_one() {
        let now = 1_000_000_000_000u64;
        let cases: [(&[Rate], &[u64], usize); 5] = [
            (&[Rate::per_minute(5), Rate::per_day(100)], &[0, 0], 8),
            (&[Rate::per_minute(50), Rate::per_day(30)], &[0, 0], 40),
            // Part of the minute already used, the day nearly full.
            (
                &[Rate::per_minute(10), Rate::per_day(20)],
                &[30_000_000, 17 * 4_320_000_000],
                6,
            ),
            // Locked out already: every check refused.
            (&[Rate::per_minute(3)], &[60_000_000], 4),
            (&[Rate::per_day(7)], &[0], 7),
        ];
        for (rates, used, size) in cases {
            let cells: Vec<Cell> = rates
                .iter()
                .enumerate()
                .map(|(i, rate)| Cell {
                    key: format!("k{i}"),
                    interval: rate.interval(),
                    tolerance: rate.tolerance(),
                })
                .collect();
            // What the script computes: how many fit, and each limit's use before the group.
            let fits = rates
                .iter()
                .zip(used)
                .map(|(rate, &u)| (rate.tolerance() as i64 - u as i64) / rate.interval() as i64)
                .min()
                .unwrap();
            let used_before: Vec<i64> = used.iter().map(|&u| u as i64).collect();
            let answers = group_answers(&cells, size, fits.clamp(0, size as i64), &used_before);

            let mut tats: Vec<u64> = used.iter().map(|&u| now + u).collect();
            for (n, answer) in answers.iter().enumerate() {
                let verdicts: Vec<_> = rates
                    .iter()
                    .zip(&tats)
                    .map(|(&rate, &tat)| gcra::check(rate, Some(tat), now))
                    .collect();
                let admitted = verdicts.iter().all(|v| v.admitted);
                if admitted {
                    for (tat, verdict) in tats.iter_mut().zip(&verdicts) {
                        *tat = verdict.next_tat;
                    }
                }
                let retry = verdicts.iter().map(|v| v.retry_after_us).max().unwrap();
                let mut expected = vec![i64::from(admitted), retry as i64];
                for (&rate, &tat) in rates.iter().zip(&tats) {
                    let (left, used) = gcra::remaining(rate, tat, now);
                    expected.extend([left as i64, used as i64]);
                }
                assert_eq!(answer, &expected, "check {n} of {rates:?} from {used:?}");
            }
        }
    }

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
