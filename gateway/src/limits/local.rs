//! The in-process limiter: the same GCRA as the Redis script, on sharded maps. Used when no Redis
//! is configured, and as the backstop while Redis is failing.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::Mutex;

use super::gcra::{self, Rate};
use super::{Decision, Tier};

const SHARDS: usize = 16;
/// A shard sweeps out idle subjects when it grows past this many, then again each time it has
/// doubled since (so a sweep costs amortized O(1) per new subject).
const SWEEP_ABOVE: usize = 4_096;

/// Per subject, the TAT of the minute and the day limit.
type Tats = [Option<u64>; 2];

#[derive(Default)]
struct Shard {
    subjects: HashMap<String, Tats>,
    next_sweep: usize,
}

#[derive(Default)]
pub struct LocalLimiter {
    shards: [Mutex<Shard>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

impl LocalLimiter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Checks one request at `now` (microseconds) and counts it if admitted.
    pub fn check(&self, subject: &str, tier: &Tier, now: u64) -> Decision {
        let shard = &self.shards[self.hasher.hash_one(subject) as usize % SHARDS];
        let mut shard = shard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if shard.subjects.len() >= shard.next_sweep.max(SWEEP_ABOVE) {
            shard
                .subjects
                .retain(|_, tats| tats.iter().flatten().any(|&tat| tat > now));
            shard.next_sweep = shard.subjects.len() * 2;
        }
        let tats = shard.subjects.entry(subject.to_owned()).or_default();
        let limits: Vec<(usize, Rate)> = [
            (0, tier.per_minute.map(Rate::per_minute)),
            (1, tier.per_day.map(Rate::per_day)),
        ]
        .into_iter()
        .filter_map(|(slot, rate)| rate.map(|r| (slot, r)))
        .collect();
        let verdicts: Vec<_> = limits
            .iter()
            .map(|&(slot, rate)| gcra::check(rate, tats[slot], now))
            .collect();
        let admitted = verdicts.iter().all(|v| v.admitted);
        let retry_after_us = verdicts.iter().map(|v| v.retry_after_us).max().unwrap_or(0);
        let parts: Vec<(u64, u64)> = limits
            .iter()
            .zip(&verdicts)
            .map(|(&(slot, rate), verdict)| {
                if admitted {
                    tats[slot] = Some(verdict.next_tat);
                }
                let tat = tats[slot].map_or(now, |t| t.max(now));
                gcra::remaining(rate, tat, now)
            })
            .collect();
        Decision::from_parts(tier, admitted, retry_after_us, &parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000_000;

    fn tier(per_minute: Option<u64>, per_day: Option<u64>) -> Tier {
        Tier {
            name: "t".into(),
            per_minute,
            per_day,
        }
    }

    #[test]
    fn exactly_the_limit_is_admitted_and_refusals_are_not_counted() {
        let limiter = LocalLimiter::new();
        let free = tier(Some(5), Some(7));
        let admitted: Vec<bool> = (0..8)
            .map(|_| limiter.check("a", &free, NOW).admitted)
            .collect();
        assert_eq!(
            admitted,
            [true, true, true, true, true, false, false, false]
        );
        // A minute later the minute limit is whole again, but only 2 of the day's 7 are left.
        let later = NOW + Rate::MINUTE_US;
        let decision = limiter.check("a", &free, later);
        assert!(decision.admitted);
        assert_eq!(decision.day.map(|w| w.remaining), Some(1));
        assert!(limiter.check("a", &free, later).admitted);
        let refused = limiter.check("a", &free, later);
        assert!(!refused.admitted);
        assert_eq!(refused.day.map(|w| w.remaining), Some(0));
        assert_eq!(refused.minute.map(|w| w.remaining), Some(3));
    }

    #[test]
    fn subjects_are_counted_apart() {
        let limiter = LocalLimiter::new();
        let one = tier(Some(1), None);
        assert!(limiter.check("a", &one, NOW).admitted);
        assert!(limiter.check("b", &one, NOW).admitted);
        assert!(!limiter.check("a", &one, NOW).admitted);
    }

    #[test]
    fn idle_subjects_are_swept() {
        let limiter = LocalLimiter::new();
        let one = tier(Some(1), None);
        for i in 0..(SWEEP_ABOVE * SHARDS * 2) {
            limiter.check(&format!("s{i}"), &one, NOW);
        }
        // A minute later every `s` subject is idle; the shards sweep them once they have doubled.
        let later = NOW + Rate::MINUTE_US + 1;
        for i in 0..(SWEEP_ABOVE * SHARDS * 4) {
            limiter.check(&format!("t{i}"), &one, later);
        }
        for shard in &limiter.shards {
            let shard = shard.lock().unwrap();
            assert!(!shard.subjects.keys().any(|k| k.starts_with('s')));
            assert!(!shard.subjects.is_empty());
        }
    }
}
