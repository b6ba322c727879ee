//! The generic cell rate algorithm (GCRA), shared by the in-process limiter and mirrored line for
//! line by the Redis script `limit.lua`. One number per limit (the theoretical arrival time, TAT)
//! and no window edges: a limit of N per period admits a burst of N, then one request every
//! period/N, and never 2N across a boundary as fixed windows do.
//!
//! Times are whole microseconds. The emission interval is rounded down to a whole microsecond and
//! the burst tolerance is N intervals, so the arithmetic is exact (also in Lua's doubles, below
//! 2^53) and a burst admits exactly N, never N±1 from rounding.

/// One limit: at most `limit` requests per `period_us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub limit: u64,
    pub period_us: u64,
}

impl Rate {
    pub const MINUTE_US: u64 = 60_000_000;
    pub const DAY_US: u64 = 86_400_000_000;

    pub fn per_minute(limit: u64) -> Self {
        Self {
            limit,
            period_us: Self::MINUTE_US,
        }
    }

    pub fn per_day(limit: u64) -> Self {
        Self {
            limit,
            period_us: Self::DAY_US,
        }
    }

    /// Microseconds between cells.
    pub fn interval(self) -> u64 {
        (self.period_us / self.limit.max(1)).max(1)
    }

    /// How far ahead of now the TAT may run: the burst, N cells.
    pub fn tolerance(self) -> u64 {
        self.interval().saturating_mul(self.limit)
    }
}

/// What one limit says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub admitted: bool,
    /// The TAT to store if the request is admitted.
    pub next_tat: u64,
    /// Microseconds until this request would be admitted (0 when admitted).
    pub retry_after_us: u64,
}

/// Checks one request against one limit, given the stored TAT (`None` for a fresh key).
pub fn check(rate: Rate, stored_tat: Option<u64>, now: u64) -> Verdict {
    let tat = stored_tat.map_or(now, |t| t.max(now));
    let next_tat = tat + rate.interval();
    let ahead = next_tat - now;
    if ahead > rate.tolerance() {
        Verdict {
            admitted: false,
            next_tat,
            retry_after_us: ahead - rate.tolerance(),
        }
    } else {
        Verdict {
            admitted: true,
            next_tat,
            retry_after_us: 0,
        }
    }
}

/// Requests still admitted at `now` given `tat`, and microseconds until the limit is whole again.
pub fn remaining(rate: Rate, tat: u64, now: u64) -> (u64, u64) {
    let used = tat.saturating_sub(now);
    let left = rate.tolerance().saturating_sub(used) / rate.interval();
    (left, used)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_790_000_000_000_000;

    fn drain(rate: Rate, now: u64, tat: &mut Option<u64>) -> u64 {
        let mut admitted = 0;
        loop {
            let verdict = check(rate, *tat, now);
            if !verdict.admitted {
                return admitted;
            }
            *tat = Some(verdict.next_tat);
            admitted += 1;
        }
    }

    #[test]
    fn a_fresh_limit_admits_exactly_its_burst() {
        for limit in [1, 2, 7, 100, 2_000, 50_000, 1_000_000] {
            for rate in [Rate::per_minute(limit), Rate::per_day(limit)] {
                let mut tat = None;
                assert_eq!(drain(rate, NOW, &mut tat), limit, "{rate:?}");
                assert_eq!(remaining(rate, tat.unwrap(), NOW).0, 0);
            }
        }
    }

    #[test]
    fn a_refused_request_does_not_move_the_tat() {
        let rate = Rate::per_minute(3);
        let mut tat = None;
        drain(rate, NOW, &mut tat);
        let before = tat;
        for _ in 0..10 {
            assert!(!check(rate, tat, NOW).admitted);
        }
        assert_eq!(tat, before);
        // One interval (20 s) later exactly one more fits, however many were refused meanwhile.
        assert_eq!(drain(rate, NOW + 20_000_000, &mut tat), 1);
    }

    #[test]
    fn retry_after_is_the_wait_for_the_next_cell() {
        let rate = Rate::per_minute(100);
        let mut tat = None;
        drain(rate, NOW, &mut tat);
        let verdict = check(rate, tat, NOW);
        assert_eq!(verdict.retry_after_us, 600_000);
        assert!(!check(rate, tat, NOW + verdict.retry_after_us - 1).admitted);
        assert!(check(rate, tat, NOW + verdict.retry_after_us).admitted);
    }

    #[test]
    fn remaining_counts_down_and_refills() {
        let rate = Rate::per_minute(10);
        let first = check(rate, None, NOW);
        assert_eq!(remaining(rate, first.next_tat, NOW), (9, 6_000_000));
        assert_eq!(remaining(rate, first.next_tat, NOW + 6_000_000), (10, 0));
    }
}
