//! Limits shared by every gateway through Redis: one `EVALSHA` of `limit.lua` per request, under a
//! tight timeout and a circuit breaker so a slow or dead Redis costs at most a few requests one
//! timeout each, then nothing until a probe finds it back.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Decision, LimiterUnavailable, LocalLimiter, OnFailure, Tier, now_us};

/// Consecutive failures that open the breaker.
const FAILURES_TO_OPEN: u32 = 3;
/// How long an open breaker skips Redis before one request probes it.
const OPEN_FOR_US: u64 = 1_000_000;

pub struct RedisLimiter {
    client: redis::Client,
    connection: OnceLock<ConnectionManager>,
    script: Script,
    prefix: String,
    timeout: Duration,
    on_failure: OnFailure,
    breaker: Breaker,
    fallback: LocalLimiter,
    /// Whether Redis has answered once (health reports `connecting` until then).
    answered: std::sync::atomic::AtomicBool,
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
            connection: OnceLock::new(),
            script: Script::new(include_str!("limit.lua")),
            prefix,
            timeout,
            on_failure,
            breaker: Breaker::default(),
            fallback: LocalLimiter::new(),
            answered: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub fn breaker(&self) -> &Breaker {
        &self.breaker
    }

    pub fn has_answered(&self) -> bool {
        self.answered.load(Ordering::Relaxed)
    }

    /// The shared connection and whether it is new. It is created on first use by a request, so
    /// its driver task lives on the proxy's runtime: a check then costs no hop to another
    /// thread. Reconnects are the manager's job; waits are bounded by ours.
    fn connection(&self) -> Result<(ConnectionManager, bool), redis::RedisError> {
        if let Some(connection) = self.connection.get() {
            return Ok((connection.clone(), false));
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(250))))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let manager = ConnectionManager::new_lazy_with_config(self.client.clone(), config)?;
        Ok((self.connection.get_or_init(|| manager).clone(), true))
    }

    pub async fn check(&self, subject: &str, tier: &Tier) -> Result<Decision, LimiterUnavailable> {
        let now = now_us();
        if !self.breaker.allows(now) {
            return self.fall_back(subject, tier, now, "circuit open");
        }
        let (connection, new) = match self.connection() {
            Ok(found) => found,
            Err(e) => {
                self.breaker.failed(now);
                return self.fall_back(subject, tier, now, &e.to_string());
            }
        };
        // The first call also connects: it gets the connect timeout rather than the call timeout.
        let timeout = if new {
            self.connect_timeout()
        } else {
            self.timeout
        };
        match tokio::time::timeout(timeout, self.eval(connection, subject, tier)).await {
            Ok(Ok(decision)) => {
                self.answered.store(true, Ordering::Relaxed);
                self.breaker.succeeded();
                Ok(decision)
            }
            Ok(Err(e)) => {
                self.breaker.failed(now_us());
                self.fall_back(subject, tier, now_us(), &e.to_string())
            }
            Err(_) => {
                self.breaker.failed(now_us());
                self.fall_back(subject, tier, now_us(), "timed out")
            }
        }
    }

    fn connect_timeout(&self) -> Duration {
        self.timeout.max(Duration::from_millis(250))
    }

    async fn eval(
        &self,
        mut connection: ConnectionManager,
        subject: &str,
        tier: &Tier,
    ) -> redis::RedisResult<Decision> {
        let mut invocation = self.script.prepare_invoke();
        for rate in tier.rates() {
            let suffix = if rate.period_us == super::Rate::MINUTE_US {
                "m"
            } else {
                "d"
            };
            invocation
                .key(format!("{}rl:{subject}:{suffix}", self.prefix))
                .arg(rate.interval())
                .arg(rate.tolerance());
        }
        let reply: Vec<i64> = invocation.invoke_async(&mut connection).await?;
        let [admitted, retry, rest @ ..] = reply.as_slice() else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::Parse,
                "unexpected reply from the limit script",
            )));
        };
        let parts: Vec<(u64, u64)> = rest
            .chunks_exact(2)
            .map(|pair| (pair[0].max(0) as u64, pair[1].max(0) as u64))
            .collect();
        Ok(Decision::from_parts(
            tier,
            *admitted == 1,
            (*retry).max(0) as u64,
            &parts,
        ))
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
