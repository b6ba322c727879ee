//! Limits shared by every gateway through Redis, under a tight timeout and a circuit breaker so a
//! slow or dead Redis costs at most a few requests one timeout each, then nothing until a probe
//! finds it back.
//!
//! Checks go to Redis in batches: one task per gateway owns the call, and every check that
//! arrives while a call is in flight goes in the next one, a single `EVALSHA` of `limit.lua` that
//! decides them in arrival order. An idle gateway sends each check alone, at once; a busy one
//! pays one round trip, one script run and one read and write per key for a whole batch, which
//! is what keeps Redis (not the gateway) from being the limit on throughput.
//!
//! Leases: a subject busy enough to have two checks in one batch, or [`BUSY_CHECKS`] within
//! [`BUSY_WINDOW_US`], or a few on its last lease, is also granted cells ahead (about what it
//! would spend in [`LEASE_US`], at most [`MAX_LEASE_CELLS`], and only while more than
//! [`LEASE_FLOOR`] cells remain, at most an eighth of them), taken in Redis in the same atomic
//! step. The gateway spends them on that subject's next checks without a round trip. Whatever is
//! left after [`LEASE_US`] goes back to Redis, as if never taken, unless the subject is still
//! busy: a lease down to half its cells or past half its time is topped up in the background
//! (what the subject would spend in the next [`LEASE_US`] at its pace, less what it holds), so
//! its checks never wait for a call while it stays busy. So no replica ever admits a
//! request whose cell Redis has not counted (never more than the limit), a refused or unsent
//! request counts nowhere, and near the limit there are no leases: checks are decided one by one
//! as before.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use prometheus::IntCounter;
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
/// Cells asked ahead for a subject whose checks share a call, before its pace is known.
const FIRST_LEASE_CELLS: u32 = 128;
/// Most cells one lease holds: a few tens of milliseconds of one very busy consumer's traffic
/// (about 40 ms at 50,000 requests a second). Leases sized for the pace, not capped at a few milliseconds of
/// it, are what keep a saturated gateway's checks from waiting for Redis: a top-up then has
/// tens of milliseconds to come back, not the last quarter of 128 cells (about 1 ms at full
/// speed, less than a loaded machine may take to schedule Redis). Cells a gateway holds when it
/// dies are lost to its subject until the window refills, so this stays bounded.
const MAX_LEASE_CELLS: u32 = 2048;
/// No lease unless more cells than this would remain: near the limit, every check goes to
/// Redis, so replicas never refuse a request while another holds its cell.
const LEASE_FLOOR: i64 = 64;
/// How long a lease's cells may be spent before the rest goes back. Long enough that a
/// moderately busy subject (100 a second) is topped up every ten checks, not every few: each
/// top-up is a batch slot in a call and a script step in Redis, and at 50 ms leases 200 such
/// subjects needed one top-up per two or three checks. Short enough that what a subject that
/// stopped still holds is back within a fifth of a second.
const LEASE_US: u64 = 200_000;
/// How long a spent lease is remembered, as the hint that its subject's next check asks for one.
const SPENT_HINT_US: u64 = 1_000_000;
/// A subject checked this many times within [`BUSY_WINDOW_US`] (40 a second or more) asks for
/// a lease, even when its checks never share a call (many consumers, each moderately busy).
const BUSY_CHECKS: u32 = 3;
const BUSY_WINDOW_US: u64 = 50_000;
/// How often the batching task gives back the rest of expired leases.
const SWEEP_EVERY: Duration = Duration::from_millis(20);

pub struct RedisLimiter {
    client: redis::Client,
    queue: OnceLock<mpsc::UnboundedSender<Pending>>,
    script: Script,
    prefix: String,
    timeout: Duration,
    on_failure: OnFailure,
    breaker: Breaker,
    fallback: LocalLimiter,
    /// Cells granted ahead, and how busy subjects without them are (shared with the batching
    /// task).
    leases: Arc<Mutex<Leases>>,
    /// Whether Redis has answered once (health reports `connecting` until then).
    answered: std::sync::atomic::AtomicBool,
    /// Script calls made (each carries one batch of checks).
    calls: IntCounter,
    /// Checks that waited for a call (the others were admitted from leases).
    waited: IntCounter,
}

/// What this gateway keeps per subject (a fast seeded hash: it is looked up on every check).
type Leases = foldhash::HashMap<String, Subject>;

/// One limit of a check, as the script takes it.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Cell {
    key: String,
    interval: u64,
    tolerance: u64,
}

/// A check waiting for the next call; its caller may stop waiting (timeout), and then it is
/// left out rather than counted. Without a `reply` it only gives back `back` cells.
struct Pending {
    subject: String,
    cells: Vec<Cell>,
    reply: Option<oneshot::Sender<Result<Vec<i64>, String>>>,
    /// Unspent cells of an expired lease, returned in this call.
    back: u32,
    /// Cells asked ahead (the subject's last lease ran out before it expired).
    want: u32,
}

impl Pending {
    fn is_check(&self) -> bool {
        self.reply.is_some()
    }
}

/// What this gateway keeps of a subject between its calls.
enum Subject {
    Leased(Lease),
    /// No lease: its checks since `since_us`, to tell a busy subject; `then` is what its next
    /// check asks for when its last lease, spent on a few checks, has just expired.
    Seen {
        since_us: u64,
        checks: u32,
        then: u32,
    },
}

impl Subject {
    fn seen_at(now: u64) -> Self {
        Self::Seen {
            since_us: now,
            checks: 1,
            then: 0,
        }
    }
}

/// Cells of one subject's limits taken in Redis ahead of its checks.
struct Lease {
    cells: Vec<Cell>,
    /// Not spent yet.
    left: u32,
    expires_us: u64,
    /// Per limit (in `tier.rates()` order): cells Redis had left once the lease was taken, and
    /// when (this machine's clock) the limit would be whole again.
    windows: Vec<(u64, u64)>,
    /// Spent to the last cell before it expired: the subject's next call asks for another.
    ran_out: bool,
    /// Cells it was granted (with what an earlier lease still held).
    granted: u32,
    /// A top-up has been asked for (once per lease: its answer is a new lease).
    topping_up: bool,
}

impl Lease {
    /// Cells to ask for ahead of this lease's end, once its subject has spent half of its cells
    /// or of its time, so that a subject that stays busy never waits for a call: what it would
    /// spend in the next lease at its pace (and half again), less what it still holds, and at
    /// least a few (the answer is a new lease, with what this one still holds and a new
    /// expiry). Nothing for a subject that spent few cells: its lease expires and goes back.
    /// Half, not the last quarter: a moderately busy subject's lease holds a few cells, and its
    /// last quarter would leave the top-up about one check's time to come back.
    fn top_up(&mut self, now: u64) -> u32 {
        let late = self.expires_us.saturating_sub(now) < LEASE_US / 2;
        let low = self.left * 2 <= self.granted;
        let spent = self.granted - self.left;
        if self.topping_up || !(late || low) || spent < BUSY_CHECKS {
            return 0;
        }
        self.topping_up = true;
        let started = self.expires_us.saturating_sub(LEASE_US);
        pace_lease(spent + 1, now.saturating_sub(started), MAX_LEASE_CELLS)
            .saturating_sub(self.left)
            .max(BUSY_CHECKS)
    }

    /// What the next lease asks for once this one expired: what this one was spent on, and half
    /// as many again, if that was a few checks (otherwise the subject is not busy enough).
    fn renewal(&self) -> u32 {
        let spent = self.granted - self.left;
        if spent < BUSY_CHECKS - 1 {
            return 0;
        }
        (spent + spent / 2).clamp(BUSY_CHECKS, MAX_LEASE_CELLS)
    }
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
            leases: Arc::default(),
            answered: std::sync::atomic::AtomicBool::new(false),
            calls: counter(
                "gateway_rate_limit_calls_total",
                "Calls to Redis by the rate limiter, each carrying a batch of checks",
            ),
            waited: counter(
                "gateway_rate_limit_waits_total",
                "Rate-limit checks that waited for a call to Redis (the others spent cells leased ahead)",
            ),
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
        self.calls.get()
    }

    /// Checks so far that waited for a call to Redis rather than spending a leased cell.
    pub fn waited(&self) -> u64 {
        self.waited.get()
    }

    /// The two counters above, for the gateway's metrics.
    pub fn counters(&self) -> [IntCounter; 2] {
        [self.calls.clone(), self.waited.clone()]
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
                self.leases.clone(),
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
        let (back, want) = match self.spend_lease(subject, tier, now) {
            Ok((decision, top_up)) => {
                if top_up > 0 {
                    self.ask_ahead(subject, tier, top_up, now);
                }
                return Ok(decision);
            }
            Err(after) => after,
        };
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
            subject: subject.to_owned(),
            cells: self.cells(subject, tier),
            reply: Some(reply),
            back,
            want,
        };
        if queue.send(pending).is_err() {
            self.breaker.failed(now);
            return self.fall_back(subject, tier, now, "the batching task has stopped");
        }
        self.waited.inc();
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

    /// Queues a top-up of `subject`'s lease for the next call; nobody waits for it. Skipped while
    /// Redis is failing (the lease then ends as it would have).
    fn ask_ahead(&self, subject: &str, tier: &Tier, want: u32, now: u64) {
        let Some(queue) = self.queue.get() else {
            return;
        };
        if self.breaker.is_open(now) {
            return;
        }
        let _stopped = queue.send(Pending {
            subject: subject.to_owned(),
            cells: self.cells(subject, tier),
            reply: None,
            back: 0,
            want,
        });
    }

    /// Admits a check from the subject's lease when it has a cell left (with the top-up to ask
    /// for, if it is time for one); otherwise says what the
    /// call to Redis should carry: the unspent cells of an expired lease, and how many to ask
    /// ahead (a lease spent before it expired asks for twice as many; a subject without one
    /// asks once it is busy, for what it would spend during a lease at its pace).
    fn spend_lease(
        &self,
        subject: &str,
        tier: &Tier,
        now: u64,
    ) -> Result<(Decision, u32), (u32, u32)> {
        let mut leases = lock(&self.leases);
        let Some(known) = leases.get_mut(subject) else {
            leases.insert(subject.to_owned(), Subject::seen_at(now));
            return Err((0, 0));
        };
        let lease = match known {
            Subject::Leased(lease) => lease,
            Subject::Seen {
                since_us,
                checks,
                then,
            } => {
                let recent = now.saturating_sub(*since_us) <= BUSY_WINDOW_US;
                let want = match (recent, *then) {
                    (false, _) => 0,
                    (true, 1..) => *then,
                    (true, 0) if *checks + 1 >= BUSY_CHECKS => {
                        // A pace from a few checks may be a burst: the first lease is
                        // small, and grows with the pace its top-ups measure.
                        pace_lease(
                            *checks + 1,
                            now.saturating_sub(*since_us),
                            FIRST_LEASE_CELLS,
                        )
                    }
                    (true, 0) => {
                        *checks += 1;
                        return Err((0, 0));
                    }
                };
                *known = Subject::seen_at(now);
                return Err((0, want));
            }
        };
        if lease.expires_us > now && lease.left > 0 {
            lease.left -= 1;
            lease.ran_out = lease.left == 0;
            // Cells still leased here are this subject's as much as those left in Redis.
            let mut parts = [(0, 0); 2];
            for (part, &(left, whole_at)) in parts.iter_mut().zip(&lease.windows) {
                *part = (left + u64::from(lease.left), whole_at.saturating_sub(now));
            }
            let parts = &parts[..lease.windows.len().min(2)];
            let top_up = lease.top_up(now);
            return Ok((Decision::from_parts(tier, true, 0, parts), top_up));
        }
        let want = if lease.ran_out {
            lease
                .granted
                .saturating_mul(2)
                .clamp(BUSY_CHECKS, MAX_LEASE_CELLS)
        } else {
            lease.renewal()
        };
        if lease.expires_us > now {
            // Spent, not expired: nothing to give back yet.
            return Err((0, want));
        }
        let back = lease.left;
        *known = Subject::seen_at(now);
        Err((back, want))
    }

    /// Cells leased out and not spent yet, over every subject (for tests and metrics).
    pub fn leased(&self) -> u64 {
        lock(&self.leases)
            .values()
            .map(|known| match known {
                Subject::Leased(lease) => u64::from(lease.left),
                Subject::Seen { .. } => 0,
            })
            .sum()
    }

    fn connect_timeout(&self) -> Duration {
        self.timeout.max(Duration::from_millis(250))
    }

    fn cells(&self, subject: &str, tier: &Tier) -> Vec<Cell> {
        tier.rates()
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
/// one call, and hands each its share of the reply; every [`SWEEP_EVERY`] it also gives back
/// what expired leases left. Ends when the limiter is dropped.
async fn send_batches(
    mut connection: ConnectionManager,
    script: Script,
    mut queue: mpsc::UnboundedReceiver<Pending>,
    calls: IntCounter,
    leases: Arc<Mutex<Leases>>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            taken = queue.recv_many(&mut batch, MAX_BATCH) => {
                if taken == 0 {
                    return;
                }
            }
            _ = sweep.tick() => batch.extend(expired_leases(&leases, now_us())),
        }
        // A check whose caller gave up counts nowhere, but what it carried back still goes.
        batch.retain_mut(|pending| {
            if pending
                .reply
                .as_ref()
                .is_some_and(oneshot::Sender::is_closed)
            {
                pending.reply = None;
            }
            pending.is_check() || pending.back > 0 || pending.want > 0
        });
        if !batch.is_empty() {
            calls.inc();
            let groups = groups(&batch);
            let reply: Result<Vec<i64>, String> = invocation(&script, &batch, &groups)
                .invoke_async(&mut connection)
                .await
                .map_err(|e| e.to_string());
            answer(&mut batch, &groups, reply, &leases);
        }
        batch.clear();
    }
}

/// Removes leases that have expired, as give-backs of what they left, and forgets subjects
/// neither leased nor busy lately.
fn expired_leases(leases: &Mutex<Leases>, now: u64) -> Vec<Pending> {
    let mut leases = lock(leases);
    let mut back = Vec::new();
    leases.retain(|subject, known| {
        let lease = match known {
            Subject::Leased(lease) => lease,
            Subject::Seen { since_us, .. } => return *since_us + BUSY_WINDOW_US > now,
        };
        if lease.expires_us > now {
            return true;
        }
        if lease.left > 0 {
            back.push(Pending {
                subject: subject.clone(),
                cells: std::mem::take(&mut lease.cells),
                reply: None,
                back: lease.left,
                want: 0,
            });
            // Still busy: its next check asks for a lease at once.
            let then = lease.renewal();
            *known = Subject::Seen {
                since_us: now,
                checks: 0,
                then,
            };
            return then > 0;
        }
        // A spent lease stays a little as the hint to ask for another.
        lease.expires_us + SPENT_HINT_US > now
    });
    back
}

/// Cells to ask ahead for a subject checked `checks` times in `over_us` (from the first check
/// to the last): what it would spend during a lease at that pace, and half as many again, at
/// most `most`.
fn pace_lease(checks: u32, over_us: u64, most: u32) -> u32 {
    let per_lease = u64::from(checks - 1) * LEASE_US * 3 / (2 * over_us.max(1));
    u32::try_from(per_lease)
        .unwrap_or(most)
        .clamp(BUSY_CHECKS, most)
}

#[allow(clippy::expect_used)] // fixed, valid metric definitions: failure is a programming error
fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric")
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The checks of a batch with the same limits (one subject's), in arrival order: the script
/// decides a group at once, however many checks it holds, after taking back what the group's
/// give-backs return.
struct Group {
    /// Any member (its cells and subject stand for all).
    first: usize,
    /// The checks, in arrival order (give-backs are not among them).
    checks: Vec<usize>,
    back: u32,
    want: u32,
}

fn groups(batch: &[Pending]) -> Vec<Group> {
    let mut index: HashMap<&[Cell], usize> = HashMap::with_capacity(batch.len());
    let mut groups: Vec<Group> = Vec::new();
    for (i, pending) in batch.iter().enumerate() {
        let group = *index.entry(&pending.cells).or_insert_with(|| {
            groups.push(Group {
                first: i,
                checks: Vec::new(),
                back: 0,
                want: 0,
            });
            groups.len() - 1
        });
        let group = &mut groups[group];
        if pending.is_check() {
            group.checks.push(i);
        }
        group.back += pending.back;
        group.want = group.want.max(pending.want);
    }
    for group in &mut groups {
        // Two checks of one subject within one round trip: busy enough for a lease.
        if group.checks.len() >= 2 {
            group.want = group.want.max(FIRST_LEASE_CELLS);
        }
    }
    groups
}

/// One script call for `batch`: its distinct keys, the lease floor, then per group its number
/// of checks, the cells it asks ahead, the cells it gives back, and its limits by key index.
fn invocation<'a>(
    script: &'a Script,
    batch: &[Pending],
    groups: &[Group],
) -> redis::ScriptInvocation<'a> {
    let mut invocation = script.prepare_invoke();
    invocation.arg(LEASE_FLOOR);
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(groups.len() * 2);
    for group in groups {
        for cell in &batch[group.first].cells {
            if !index.contains_key(cell.key.as_str()) {
                index.insert(&cell.key, index.len() + 1);
                invocation.key(&cell.key);
            }
        }
    }
    for group in groups {
        let cells = &batch[group.first].cells;
        invocation
            .arg(group.checks.len())
            .arg(group.want)
            .arg(group.back)
            .arg(cells.len());
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

/// Splits the reply between the batch's checks, and keeps the leases it granted.
fn answer(
    batch: &mut Vec<Pending>,
    groups: &[Group],
    reply: Result<Vec<i64>, String>,
    leases: &Mutex<Leases>,
) {
    let mut answers: Vec<Option<Result<Vec<i64>, String>>> = Vec::new();
    answers.resize_with(batch.len(), || None);
    match reply {
        Ok(reply) => {
            let now = now_us();
            let mut rest = reply.as_slice();
            for group in groups {
                let cells = &batch[group.first].cells;
                let Some((&[admitted, leased], tail)) = rest.split_first_chunk::<2>() else {
                    break;
                };
                if tail.len() < cells.len() {
                    break;
                }
                let (used_before, tail) = tail.split_at(cells.len());
                rest = tail;
                for (&i, answer) in group.checks.iter().zip(group_answers(
                    cells,
                    group.checks.len(),
                    admitted,
                    used_before,
                )) {
                    answers[i] = Some(Ok(answer));
                }
                if let Ok(leased @ 1..) = u32::try_from(leased) {
                    let taken = admitted.max(0) + i64::from(leased);
                    let windows = cells
                        .iter()
                        .zip(used_before)
                        .map(|(cell, &used)| {
                            let (interval, tolerance) =
                                (cell.interval as i64, cell.tolerance as i64);
                            let used = used + taken * interval;
                            let left = (tolerance - used.min(tolerance)) / interval;
                            (left.max(0) as u64, now + used.max(0) as u64)
                        })
                        .collect();
                    let subject = batch[group.first].subject.clone();
                    let mut leases = lock(leases);
                    // Checks of another batch may still hold cells of an earlier lease: they stay.
                    let earlier = match leases.get(&subject) {
                        Some(Subject::Leased(lease)) => lease.left,
                        _ => 0,
                    };
                    leases.insert(
                        subject,
                        Subject::Leased(Lease {
                            cells: cells.clone(),
                            left: leased + earlier,
                            expires_us: now + LEASE_US,
                            windows,
                            ran_out: false,
                            granted: leased + earlier,
                            topping_up: false,
                        }),
                    );
                }
            }
        }
        Err(e) => {
            tracing::debug!(error = %e, "limit call failed; give-backs in it are lost");
            answers.fill_with(|| Some(Err(e.clone())));
        }
    }
    for (pending, answer) in batch.drain(..).zip(answers) {
        let Some(reply) = pending.reply else {
            continue;
        };
        let answer = answer
            .unwrap_or_else(|| Err("the limit script's reply is shorter than its batch".into()));
        let _gone = reply.send(answer);
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
    fn a_lease_asked_by_pace_covers_a_lease_of_traffic_and_half_again() {
        // 100 a second: 20 checks in a lease's 200 ms, 30 with half again.
        let most = MAX_LEASE_CELLS;
        assert_eq!(pace_lease(3, 20_000, most), 30);
        assert_eq!(pace_lease(3, 2_000, most), 300);
        assert_eq!(pace_lease(3, 0, most), most, "a burst asks for the most");
        assert_eq!(pace_lease(3, 0, FIRST_LEASE_CELLS), FIRST_LEASE_CELLS);
        // 2,500 a second: 500 in a lease, 750 with half again; 25,000 a second (a saturated
        // gateway here) would be ten times that, more than a lease holds.
        assert_eq!(pace_lease(26, 10_000, most), 750);
        assert_eq!(pace_lease(251, 10_000, most), most);
        assert_eq!(
            pace_lease(3, 300_000, most),
            BUSY_CHECKS,
            "and never for less than this"
        );
    }

    #[test]
    fn an_expired_lease_spent_on_a_few_checks_is_renewed_at_the_next_check() {
        let client = redis::Client::open("redis://127.0.0.1:1").unwrap();
        let limiter = RedisLimiter::new(
            client,
            String::new(),
            Duration::from_millis(1),
            OnFailure::Deny,
        );
        let tier = Tier {
            name: "t".into(),
            per_minute: None,
            per_day: Some(100_000),
        };
        let lease = |left| {
            Subject::Leased(Lease {
                cells: limiter.cells("s", &tier),
                left,
                expires_us: 1_000,
                windows: vec![(0, 0)],
                ran_out: false,
                granted: 10,
                topping_up: false,
            })
        };
        let renew = |subject: &str, now| limiter.spend_lease(subject, &tier, now).err();
        // A check finds its lease expired: it gives back the rest and asks for what was spent
        // and half again; a lease spent on one check asks for nothing.
        lock(&limiter.leases).insert("busy".into(), lease(5));
        lock(&limiter.leases).insert("idle".into(), lease(9));
        assert_eq!(renew("busy", 2_000), Some((5, 7)));
        assert_eq!(renew("idle", 2_000), Some((9, 0)));
        // The sweep finds them first: the rest goes back with it, and the busy subject's next
        // check asks as it would have.
        lock(&limiter.leases).insert("busy".into(), lease(5));
        lock(&limiter.leases).insert("idle".into(), lease(9));
        let back: u32 = expired_leases(&limiter.leases, 2_000)
            .iter()
            .map(|p| p.back)
            .sum();
        assert_eq!(back, 14);
        assert_eq!(renew("busy", 3_000), Some((0, 7)));
        assert_eq!(renew("idle", 3_000), Some((0, 0)));
        // Past the window the hint is gone.
        lock(&limiter.leases).insert("busy".into(), lease(5));
        expired_leases(&limiter.leases, 2_000);
        assert_eq!(renew("busy", 2_000 + BUSY_WINDOW_US + 1), Some((0, 0)));
    }

    #[test]
    fn a_lease_is_topped_up_once_in_its_second_half_of_cells_or_of_time() {
        // Leases from 0 to LEASE_US, `left` of `granted` cells unspent, looked at `share` of
        // the way through. The amounts depend only on the share (the pace is measured over
        // the lease's time, and asked for a lease's time).
        let at = |share: f64| (LEASE_US as f64 * share) as u64;
        let lease = |left, granted| Lease {
            cells: Vec::new(),
            left,
            expires_us: LEASE_US,
            windows: Vec::new(),
            ran_out: false,
            granted,
            topping_up: false,
        };
        assert_eq!(lease(80, 100).top_up(at(0.2)), 0, "neither low nor late");
        assert_eq!(lease(51, 100).top_up(at(0.48)), 0, "neither, just");
        // Low: 50 spent in 40 % of a lease is 125 a lease, 187 with half again; it holds 50.
        assert_eq!(lease(50, 100).top_up(at(0.4)), 187 - 50);
        // Late: 60 spent in 80 % of a lease is 75 a lease, 112 with half again; it holds 40.
        let mut late = lease(40, 100);
        assert_eq!(late.top_up(at(0.8)), 112 - 40);
        assert_eq!(late.top_up(at(0.82)), 0, "once per lease");
        // Low and early: 76 spent in 10 % of a lease is 760 a lease, 1140 with half again,
        // less the 24 it holds; a faster pace asks for the most.
        assert_eq!(lease(24, 100).top_up(at(0.1)), 1140 - 24);
        assert_eq!(lease(24, 100).top_up(at(0.02)), MAX_LEASE_CELLS - 24);
        assert_eq!(lease(8, 10).top_up(at(0.9)), 0, "spent on too few checks");
        // Holding more than its pace needs: a few, so that the answer renews the lease.
        assert_eq!(lease(90, 100).top_up(at(0.9)), BUSY_CHECKS);
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
