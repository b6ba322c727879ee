//! Tiered rate limits: per consumer, a per-minute and a per-day GCRA limit checked together.
//! With Redis every gateway shares one exact count (one script call per request); without it the
//! same algorithm runs in process. When Redis fails, `onFailure` decides: `allow` lets the
//! in-process limiter take over as a backstop, `deny` refuses with 503.

pub mod gcra;
mod local;
mod redis_backend;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::RETRY_AFTER;
use http::{HeaderName, HeaderValue};

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
    pub fn rates(&self) -> Vec<Rate> {
        self.per_minute
            .map(Rate::per_minute)
            .into_iter()
            .chain(self.per_day.map(Rate::per_day))
            .collect()
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
        let mut windows =
            tier.rates()
                .into_iter()
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

    /// The rate-limit headers (DESIGN.md "Headers"); `RateLimit-*` describe the tighter window.
    pub fn headers(&self) -> Vec<(HeaderName, HeaderValue)> {
        let mut headers = Vec::with_capacity(8);
        if let Some(w) = self.minute {
            headers.push((LIMIT_MINUTE, HeaderValue::from(w.limit)));
            headers.push((REMAINING_MINUTE, HeaderValue::from(w.remaining)));
        }
        if let Some(w) = self.day {
            headers.push((LIMIT_DAY, HeaderValue::from(w.limit)));
            headers.push((REMAINING_DAY, HeaderValue::from(w.remaining)));
        }
        let tightest = [self.minute, self.day]
            .into_iter()
            .flatten()
            .min_by_key(|w| (w.remaining, std::cmp::Reverse(w.reset_us)));
        if let Some(w) = tightest {
            headers.push((RATELIMIT_LIMIT, HeaderValue::from(w.limit)));
            headers.push((RATELIMIT_REMAINING, HeaderValue::from(w.remaining)));
            headers.push((RATELIMIT_RESET, HeaderValue::from(seconds_up(w.reset_us))));
        }
        if !self.admitted {
            headers.push((
                RETRY_AFTER,
                HeaderValue::from(seconds_up(self.retry_after_us).max(1)),
            ));
        }
        headers
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
        let headers: std::collections::HashMap<_, _> = decision
            .headers()
            .into_iter()
            .map(|(name, value)| (name.as_str().to_owned(), value))
            .collect();
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
        let headers = decision.headers();
        assert!(!headers.iter().any(|(name, _)| name == "retry-after"));
        assert!(
            headers
                .iter()
                .any(|(name, value)| name == "ratelimit-limit" && value == "10")
        );
    }
}
