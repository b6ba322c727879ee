//! Tiered rate limits: per consumer, a per-minute and a per-day GCRA limit checked together.
//! With Redis every gateway shares one exact count (one script call per request); without it the
//! same algorithm runs in process. When Redis fails, `onFailure` decides: `allow` lets the
//! in-process limiter take over as a backstop, `deny` refuses with 503.

pub mod gcra;
mod local;
mod redis_backend;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue};

use crate::headers::{
    LIMIT_DAY, LIMIT_MINUTE, RATELIMIT_LIMIT, RATELIMIT_REMAINING, RATELIMIT_RESET, REMAINING_DAY,
    REMAINING_MINUTE,
};

pub use gcra::Rate;
pub use local::LocalLimiter;
pub use redis_backend::{Breaker, RedisLimiter};

/// A tier's limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tier {
    pub name: String,
    pub per_minute: Option<u64>,
    pub per_day: Option<u64>,
}

impl Tier {
    /// The limits to check, minute first.
    pub fn rates(&self) -> impl Iterator<Item = Rate> {
        [
            self.per_minute.map(Rate::per_minute),
            self.per_day.map(Rate::per_day),
        ]
        .into_iter()
        .flatten()
    }

    pub fn is_unlimited(&self) -> bool {
        self.per_minute.is_none() && self.per_day.is_none()
    }

    /// A limit of 0 is a mistake (absent means unlimited): the field at fault and why.
    pub fn check_limits(&self) -> Result<(), (&'static str, &'static str)> {
        for (field, value) in [("perMinute", self.per_minute), ("perDay", self.per_day)] {
            if value == Some(0) {
                return Err((field, "must be at least 1 (leave it out for unlimited)"));
            }
        }
        Ok(())
    }
}

/// The default tiers (DESIGN.md "Tiers").
pub fn default_tiers() -> Vec<Tier> {
    [
        ("free", Some(100), Some(1_000)),
        ("basic", Some(500), Some(10_000)),
        ("pro", Some(2_000), Some(50_000)),
        ("enterprise", None, None),
    ]
    .into_iter()
    .map(|(name, per_minute, per_day)| Tier {
        name: name.into(),
        per_minute,
        per_day,
    })
    .collect()
}

/// One limit's state after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub limit: u64,
    pub remaining: u64,
    /// Microseconds until the limit is whole again.
    pub reset_us: u64,
}

/// The answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub admitted: bool,
    pub minute: Option<Window>,
    pub day: Option<Window>,
    /// Microseconds until a refused request would be admitted.
    pub retry_after_us: u64,
}

impl Decision {
    /// An unlimited tier's answer: admitted, nothing to report.
    pub fn unlimited() -> Self {
        Self {
            admitted: true,
            minute: None,
            day: None,
            retry_after_us: 0,
        }
    }

    /// Builds a decision from per-rate results in `tier.rates()` order.
    fn from_parts(tier: &Tier, admitted: bool, retry_after_us: u64, parts: &[(u64, u64)]) -> Self {
        let mut windows = tier
            .rates()
            .zip(parts)
            .map(|(rate, &(remaining, reset_us))| Window {
                limit: rate.limit,
                remaining,
                reset_us,
            });
        let minute = tier.per_minute.and_then(|_| windows.next());
        let day = tier.per_day.and_then(|_| windows.next());
        Self {
            admitted,
            minute,
            day,
            retry_after_us,
        }
    }

    /// How many headers [`Decision::write_headers`] adds.
    pub fn header_count(&self) -> usize {
        let windows = usize::from(self.minute.is_some()) + usize::from(self.day.is_some());
        2 * windows + if windows > 0 { 3 } else { 0 } + usize::from(!self.admitted)
    }

    /// Writes the rate-limit headers (DESIGN.md "Headers"); `RateLimit-*` describe the tighter
    /// window. Limits found in `known` are taken from there.
    pub fn write_headers(&self, headers: &mut HeaderMap, known: &LimitValues) {
        if let Some(w) = self.minute {
            headers.insert(LIMIT_MINUTE, known.value(w.limit));
            headers.insert(REMAINING_MINUTE, HeaderValue::from(w.remaining));
        }
        if let Some(w) = self.day {
            headers.insert(LIMIT_DAY, known.value(w.limit));
            headers.insert(REMAINING_DAY, HeaderValue::from(w.remaining));
        }
        let tightest = [self.minute, self.day]
            .into_iter()
            .flatten()
            .min_by_key(|w| (w.remaining, std::cmp::Reverse(w.reset_us)));
        if let Some(w) = tightest {
            headers.insert(RATELIMIT_LIMIT, known.value(w.limit));
            headers.insert(RATELIMIT_REMAINING, HeaderValue::from(w.remaining));
            headers.insert(RATELIMIT_RESET, HeaderValue::from(seconds_up(w.reset_us)));
        }
        if !self.admitted {
            headers.insert(
                RETRY_AFTER,
                HeaderValue::from(seconds_up(self.retry_after_us).max(1)),
            );
        }
    }
}

/// A tier's limits as header values, made once (with the identity that carries them) rather than
/// for every response: a value of its own costs an allocation and a formatting.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LimitValues(Vec<(u64, HeaderValue)>);

impl LimitValues {
    pub fn of(tier: &Tier) -> Self {
        Self(
            tier.rates()
                .map(|rate| (rate.limit, HeaderValue::from(rate.limit)))
                .collect(),
        )
    }

    fn value(&self, limit: u64) -> HeaderValue {
        self.0
            .iter()
            .find(|(known, _)| *known == limit)
            .map_or_else(|| HeaderValue::from(limit), |(_, value)| value.clone())
    }
}

fn seconds_up(us: u64) -> u64 {
    us.div_ceil(1_000_000)
}

/// Why a limit could not be checked.
#[derive(Debug, thiserror::Error)]
#[error("rate limiter unavailable: {0}")]
pub struct LimiterUnavailable(pub String);

/// What to do when Redis cannot answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFailure {
    /// Fall back to the in-process limiter (the default: an outage must not take the API down).
    Allow,
    /// Refuse with 503.
    Deny,
}

/// The limiter the gateway runs with.
#[allow(
    clippy::large_enum_variant,
    reason = "one limiter per process, never moved after start"
)]
pub enum Limiter {
    Local(LocalLimiter),
    Redis(RedisLimiter),
}

impl Limiter {
    /// Checks and, if admitted, counts one request of `subject` against `tier`.
    pub async fn check(&self, subject: &str, tier: &Tier) -> Result<Decision, LimiterUnavailable> {
        if tier.is_unlimited() {
            return Ok(Decision::unlimited());
        }
        match self {
            Self::Local(local) => Ok(local.check(subject, tier, now_us())),
            Self::Redis(redis) => redis.check(subject, tier).await,
        }
    }

    /// Counters the limiter keeps for the gateway's metrics (Redis calls and checks that waited
    /// for one; none in process).
    pub fn counters(&self) -> Vec<prometheus::IntCounter> {
        match self {
            Self::Local(_) => Vec::new(),
            Self::Redis(redis) => redis.counters().into(),
        }
    }

    /// `healthy`, `connecting`, `degraded` (Redis failing, fallback in use) or `local`.
    pub fn health(&self) -> &'static str {
        match self {
            Self::Local(_) => "local",
            Self::Redis(redis) if !redis.has_answered() => "connecting",
            Self::Redis(redis) if redis.breaker().is_open(now_us()) => "degraded",
            Self::Redis(_) => "healthy",
        }
    }

    /// Opens the Redis connection before traffic needs it, retrying until Redis answers.
    pub async fn connect(&self) {
        if let Self::Redis(redis) = self {
            while !redis.ping().await {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
}

/// Microseconds since the epoch by this machine's clock (Redis uses its own).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_micros() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_describe_both_windows_and_the_tighter_one() {
        let tier = Tier {
            name: "free".into(),
            per_minute: Some(100),
            per_day: Some(1000),
        };
        let decision = Decision::from_parts(
            &tier,
            false,
            600_001,
            &[(0, 60_000_000), (899, 8_640_000_000)],
        );
        let mut headers = HeaderMap::new();
        decision.write_headers(&mut headers, &LimitValues::of(&tier));
        assert_eq!(headers.len(), decision.header_count());
        assert_eq!(headers.len(), 8);
        assert_eq!(headers["x-ratelimit-limit-minute"], "100");
        assert_eq!(headers["x-ratelimit-remaining-minute"], "0");
        assert_eq!(headers["x-ratelimit-limit-day"], "1000");
        assert_eq!(headers["x-ratelimit-remaining-day"], "899");
        assert_eq!(headers["ratelimit-limit"], "100");
        assert_eq!(headers["ratelimit-remaining"], "0");
        assert_eq!(headers["ratelimit-reset"], "60");
        assert_eq!(headers["retry-after"], "1");
    }

    #[test]
    fn a_day_only_tier_reports_the_day() {
        let tier = Tier {
            name: "daily".into(),
            per_minute: None,
            per_day: Some(10),
        };
        let decision = Decision::from_parts(&tier, true, 0, &[(9, 8_640_000_000)]);
        assert_eq!(decision.minute, None);
        assert_eq!(decision.day.map(|w| w.remaining), Some(9));
        // Values not made ahead are made as needed.
        let mut headers = HeaderMap::new();
        decision.write_headers(&mut headers, &LimitValues::default());
        assert_eq!(headers.len(), decision.header_count());
        assert_eq!(headers.len(), 5);
        assert!(!headers.contains_key("retry-after"));
        assert!(!headers.contains_key("x-ratelimit-limit-minute"));
        assert_eq!(headers["x-ratelimit-remaining-day"], "9");
        assert_eq!(headers["ratelimit-limit"], "10");
        assert_eq!(headers["ratelimit-reset"], "8640");
        let mut none = HeaderMap::new();
        Decision::unlimited().write_headers(&mut none, &LimitValues::default());
        assert!(none.is_empty());
        assert_eq!(Decision::unlimited().header_count(), 0);
    }
}
