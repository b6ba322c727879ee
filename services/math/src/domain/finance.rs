//! Time value of money with the spreadsheet conventions (Excel/LibreOffice `PMT`, `PV`, `FV`,
//! `NPV`, `IRR`): cash paid out is negative, `type` 1 means payments at the start of a period.

use super::{MathError, Result};

/// When payments fall in each period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PaymentTiming {
    #[default]
    End,
    Start,
}

impl PaymentTiming {
    fn factor(self, rate: f64) -> f64 {
        match self {
            Self::End => 1.0,
            Self::Start => 1.0 + rate,
        }
    }
}

fn check_periods(periods: f64) -> Result<()> {
    if periods.is_finite() && periods > 0.0 {
        Ok(())
    } else {
        Err(MathError::invalid("periods", "must be a positive number"))
    }
}

/// The payment per period that takes `present` to `future` over `periods` at `rate`.
pub fn pmt(
    rate: f64,
    periods: f64,
    present: f64,
    future: f64,
    timing: PaymentTiming,
) -> Result<f64> {
    check_periods(periods)?;
    if rate == 0.0 {
        return Ok(-(present + future) / periods);
    }
    let growth = (1.0 + rate).powf(periods);
    Ok(-(rate * (present * growth + future)) / (timing.factor(rate) * (growth - 1.0)))
}

pub fn fv(
    rate: f64,
    periods: f64,
    payment: f64,
    present: f64,
    timing: PaymentTiming,
) -> Result<f64> {
    check_periods(periods)?;
    if rate == 0.0 {
        return Ok(-(present + payment * periods));
    }
    let growth = (1.0 + rate).powf(periods);
    Ok(-(present * growth + payment * timing.factor(rate) * (growth - 1.0) / rate))
}

pub fn pv(
    rate: f64,
    periods: f64,
    payment: f64,
    future: f64,
    timing: PaymentTiming,
) -> Result<f64> {
    check_periods(periods)?;
    if rate == 0.0 {
        return Ok(-(future + payment * periods));
    }
    let growth = (1.0 + rate).powf(periods);
    Ok(-(future + payment * timing.factor(rate) * (growth - 1.0) / rate) / growth)
}

/// Net present value of cash flows at the end of periods 1, 2, … (Excel's `NPV`); pass
/// `include_initial` to treat the first flow as period 0 (numpy-financial's `npv`).
pub fn npv(rate: f64, flows: &[f64], include_initial: bool) -> Result<f64> {
    if flows.is_empty() {
        return Err(MathError::invalid(
            "cashFlows",
            "needs at least one cash flow",
        ));
    }
    let offset = if include_initial { 0 } else { 1 };
    Ok(flows
        .iter()
        .enumerate()
        .map(|(t, flow)| flow / (1.0 + rate).powi((t + offset) as i32))
        .sum())
}

/// The rate at which the flows' NPV (first flow at period 0) is zero: Newton's method from
/// `guess`, then bisection on a bracketing interval if Newton wanders off.
pub fn irr(flows: &[f64], guess: f64) -> Result<f64> {
    if flows.len() < 2 || !flows.iter().any(|f| *f < 0.0) || !flows.iter().any(|f| *f > 0.0) {
        return Err(MathError::invalid(
            "cashFlows",
            "needs at least one negative and one positive cash flow",
        ));
    }
    let value = |r: f64| -> f64 {
        flows
            .iter()
            .enumerate()
            .map(|(t, f)| f / (1.0 + r).powi(t as i32))
            .sum()
    };
    let slope = |r: f64| -> f64 {
        flows
            .iter()
            .enumerate()
            .skip(1)
            .map(|(t, f)| -(t as f64) * f / (1.0 + r).powi(t as i32 + 1))
            .sum()
    };
    let mut rate = guess;
    for _ in 0..100 {
        let (v, d) = (value(rate), slope(rate));
        if d == 0.0 || !d.is_finite() {
            break;
        }
        let next = rate - v / d;
        if !next.is_finite() || next <= -1.0 {
            break;
        }
        if (next - rate).abs() < 1e-12 {
            return Ok(next);
        }
        rate = next;
    }
    // Bisection over (-0.99, 10]: NPV changes sign there for every ordinary investment.
    let (mut low, mut high) = (-0.99, 10.0);
    if value(low).signum() == value(high).signum() {
        return Err(MathError::NoConvergence(
            "no internal rate of return between -99% and 1000%".into(),
        ));
    }
    for _ in 0..200 {
        let middle = (low + high) / 2.0;
        if value(middle).signum() == value(low).signum() {
            low = middle;
        } else {
            high = middle;
        }
    }
    Ok((low + high) / 2.0)
}

/// How amounts are rounded to cents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Rounding {
    /// 2.345 → 2.35, −2.345 → −2.35.
    #[default]
    HalfUp,
    /// Banker's rounding: 2.345 → 2.34, 2.355 → 2.36.
    HalfEven,
    /// No rounding.
    None,
}

pub fn round_amount(amount: f64, decimals: u32, rounding: Rounding) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    // Remove binary representation noise first (2.345 is stored as 2.34499…).
    let scaled = (amount * scale * 1e9).round() / 1e9;
    let rounded = match rounding {
        Rounding::None => return amount,
        Rounding::HalfUp => scaled.round(),
        Rounding::HalfEven => {
            let floor = scaled.floor();
            let diff = scaled - floor;
            if (diff - 0.5).abs() < 1e-9 {
                if floor % 2.0 == 0.0 {
                    floor
                } else {
                    floor + 1.0
                }
            } else {
                scaled.round()
            }
        }
    };
    rounded / scale
}

/// One row of an amortization schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct Installment {
    pub period: u32,
    pub payment: f64,
    pub interest: f64,
    pub principal: f64,
    pub balance: f64,
}

/// Most periods in one schedule.
pub const MAX_SCHEDULE: u32 = 1_200;

/// A level-payment loan schedule, each amount rounded; the last payment absorbs the rounding so
/// the balance ends at exactly zero.
pub fn amortization(
    principal: f64,
    rate: f64,
    periods: u32,
    decimals: u32,
    rounding: Rounding,
) -> Result<Vec<Installment>> {
    if !(principal.is_finite() && principal > 0.0) {
        return Err(MathError::invalid("principal", "must be a positive number"));
    }
    if periods == 0 || periods > MAX_SCHEDULE {
        return Err(MathError::invalid(
            "periods",
            format!("must be between 1 and {MAX_SCHEDULE}"),
        ));
    }
    let payment = round_amount(
        -pmt(rate, f64::from(periods), principal, 0.0, PaymentTiming::End)?,
        decimals,
        rounding,
    );
    let mut balance = principal;
    let mut schedule = Vec::with_capacity(periods as usize);
    for period in 1..=periods {
        let interest = round_amount(balance * rate, decimals, rounding);
        let mut principal_part = round_amount(payment - interest, decimals, rounding);
        if period == periods {
            principal_part = balance;
        }
        balance = round_amount(balance - principal_part, decimals, rounding);
        schedule.push(Installment {
            period,
            payment: round_amount(interest + principal_part, decimals, rounding),
            interest,
            principal: principal_part,
            balance,
        });
    }
    Ok(schedule)
}

/// `principal` compounded `per_year` times a year for `years` (continuously when `per_year` is 0).
pub fn compound(principal: f64, annual_rate: f64, years: f64, per_year: u32) -> Result<f64> {
    if !years.is_finite() || years < 0.0 {
        return Err(MathError::invalid("years", "must be zero or more"));
    }
    Ok(if per_year == 0 {
        principal * (annual_rate * years).exp()
    } else {
        let n = f64::from(per_year);
        principal * (1.0 + annual_rate / n).powf(n * years)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) {
        assert!((a - b).abs() < tolerance, "{a} != {b}");
    }

    #[test]
    fn spreadsheet_values() {
        // Excel: PMT(0.05/12, 360, 200000) = -1073.64324602…
        close(
            pmt(0.05 / 12.0, 360.0, 200_000.0, 0.0, PaymentTiming::End).unwrap(),
            -1_073.643_246_024_28,
            1e-8,
        );
        // Excel: PMT(0.08/12, 10, 10000, 0, 1) = -1030.16432717…
        close(
            pmt(0.08 / 12.0, 10.0, 10_000.0, 0.0, PaymentTiming::Start).unwrap(),
            -1_030.164_327_177_977,
            1e-8,
        );
        // Excel: FV(0.06/12, 10, -200, -500, 1) = 2581.40337406…
        close(
            fv(0.005, 10.0, -200.0, -500.0, PaymentTiming::Start).unwrap(),
            2_581.403_374_060_136,
            1e-8,
        );
        // Excel: PV(0.08/12, 240, 500) = -59777.14585…
        close(
            pv(0.08 / 12.0, 240.0, 500.0, 0.0, PaymentTiming::End).unwrap(),
            -59_777.145_851_187_8,
            1e-7,
        );
        assert_eq!(
            pmt(0.0, 10.0, 1_000.0, 0.0, PaymentTiming::End).unwrap(),
            -100.0
        );
        // Excel: NPV(0.1, -10000, 3000, 4200, 6800) = 1188.44341…
        close(
            npv(0.1, &[-10_000.0, 3_000.0, 4_200.0, 6_800.0], false).unwrap(),
            1_188.443_412_335_222,
            1e-8,
        );
        // Excel: IRR({-70000, 12000, 15000, 18000, 21000, 26000}) = 0.08663094803…
        close(
            irr(
                &[-70_000.0, 12_000.0, 15_000.0, 18_000.0, 21_000.0, 26_000.0],
                0.1,
            )
            .unwrap(),
            0.086_630_948_036_531_3,
            1e-10,
        );
        assert!(irr(&[100.0, 200.0], 0.1).is_err());
    }

    #[test]
    fn rounding_modes() {
        assert_eq!(round_amount(2.345, 2, Rounding::HalfUp), 2.35);
        assert_eq!(round_amount(-2.345, 2, Rounding::HalfUp), -2.35);
        assert_eq!(round_amount(2.345, 2, Rounding::HalfEven), 2.34);
        assert_eq!(round_amount(2.355, 2, Rounding::HalfEven), 2.36);
        assert_eq!(round_amount(2.5, 0, Rounding::HalfEven), 2.0);
        assert_eq!(round_amount(2.3456, 2, Rounding::None), 2.3456);
    }

    #[test]
    fn amortization_ends_at_zero() {
        let schedule = amortization(10_000.0, 0.01, 12, 2, Rounding::HalfUp).unwrap();
        assert_eq!(schedule.len(), 12);
        assert_eq!(schedule[0].payment, 888.49);
        assert_eq!(schedule[0].interest, 100.0);
        assert_eq!(schedule[0].principal, 788.49);
        assert_eq!(schedule[11].balance, 0.0);
        let principal_paid: f64 = schedule.iter().map(|i| i.principal).sum();
        close(principal_paid, 10_000.0, 1e-6);
        close(
            compound(1_000.0, 0.05, 10.0, 12).unwrap(),
            1_647.009_497_690_28,
            1e-8,
        );
        close(
            compound(1_000.0, 0.05, 10.0, 0).unwrap(),
            1_648.721_270_700_128,
            1e-8,
        );
    }
}
