//! Hypothesis tests with two-sided p-values, matching scipy.stats: Student's t (one sample, two
//! samples pooled or Welch, paired), chi-square (goodness of fit, contingency with Yates'
//! correction for 2×2 as scipy applies it) and Mann–Whitney U (normal approximation with tie and
//! continuity corrections, scipy's `method="asymptotic"`).

use super::statistics::{check_sample, mean};
use super::{MathError, Result};

/// A test's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
    /// Degrees of freedom, where the test has them.
    pub df: Option<f64>,
}

fn sample_variance(values: &[f64]) -> f64 {
    let m = mean(values);
    values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64
}

fn at_least_two(values: &[f64], field: &str) -> Result<()> {
    check_sample(values, field)?;
    if values.len() < 2 {
        return Err(MathError::invalid(field, "needs at least two values"));
    }
    Ok(())
}

fn t_result(t: f64, df: f64) -> Result<TestResult> {
    if !t.is_finite() {
        return Err(MathError::invalid("a", "the samples have no variance"));
    }
    Ok(TestResult {
        statistic: t,
        p_value: student_t_two_sided(t, df),
        df: Some(df),
    })
}

/// One-sample t-test of `mean(a) = mu`.
pub fn t_test_one_sample(a: &[f64], mu: f64) -> Result<TestResult> {
    at_least_two(a, "a")?;
    let n = a.len() as f64;
    t_result((mean(a) - mu) / (sample_variance(a) / n).sqrt(), n - 1.0)
}

/// Two-sample t-test; `equal_variance` false is Welch's test.
pub fn t_test_two_sample(a: &[f64], b: &[f64], equal_variance: bool) -> Result<TestResult> {
    at_least_two(a, "a")?;
    at_least_two(b, "b")?;
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (va, vb) = (sample_variance(a), sample_variance(b));
    let difference = mean(a) - mean(b);
    if equal_variance {
        let df = na + nb - 2.0;
        let pooled = ((na - 1.0) * va + (nb - 1.0) * vb) / df;
        t_result(difference / (pooled * (1.0 / na + 1.0 / nb)).sqrt(), df)
    } else {
        let (sa, sb) = (va / na, vb / nb);
        let df = (sa + sb).powi(2) / (sa.powi(2) / (na - 1.0) + sb.powi(2) / (nb - 1.0));
        t_result(difference / (sa + sb).sqrt(), df)
    }
}

/// Paired t-test on `a[i] − b[i]`.
pub fn t_test_paired(a: &[f64], b: &[f64]) -> Result<TestResult> {
    if a.len() != b.len() {
        return Err(MathError::invalid(
            "b",
            format!("has {} values; a has {}", b.len(), a.len()),
        ));
    }
    let differences: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    t_test_one_sample(&differences, 0.0)
}

/// Goodness of fit of observed counts to expected ones (uniform when `expected` is absent).
pub fn chi_square_fit(observed: &[f64], expected: Option<&[f64]>) -> Result<TestResult> {
    check_sample(observed, "observed")?;
    if observed.len() < 2 {
        return Err(MathError::invalid(
            "observed",
            "needs at least two categories",
        ));
    }
    let total: f64 = observed.iter().sum();
    let expected: Vec<f64> = match expected {
        Some(e) => {
            check_sample(e, "expected")?;
            if e.len() != observed.len() {
                return Err(MathError::invalid(
                    "expected",
                    "must have one count per observed category",
                ));
            }
            let sum: f64 = e.iter().sum();
            if ((sum - total) / total).abs() > 1e-8 {
                return Err(MathError::invalid(
                    "expected",
                    "must add up to the same total as observed",
                ));
            }
            e.to_vec()
        }
        None => vec![total / observed.len() as f64; observed.len()],
    };
    if let Some(i) = expected.iter().position(|e| *e <= 0.0) {
        return Err(MathError::invalid(
            format!("expected[{i}]"),
            "must be positive",
        ));
    }
    let statistic = observed
        .iter()
        .zip(&expected)
        .map(|(o, e)| (o - e).powi(2) / e)
        .sum();
    let df = (observed.len() - 1) as f64;
    Ok(TestResult {
        statistic,
        p_value: chi_square_sf(statistic, df),
        df: Some(df),
    })
}

/// Independence in a contingency table (rows of counts).
pub fn chi_square_contingency(table: &[Vec<f64>]) -> Result<TestResult> {
    let rows = table.len();
    let columns = table.first().map_or(0, Vec::len);
    if rows < 2 || columns < 2 || table.iter().any(|r| r.len() != columns) {
        return Err(MathError::invalid(
            "table",
            "must be a rectangle of at least 2×2 counts",
        ));
    }
    for (i, row) in table.iter().enumerate() {
        if let Some(j) = row.iter().position(|v| !v.is_finite() || *v < 0.0) {
            return Err(MathError::invalid(
                format!("table[{i}][{j}]"),
                "must be a count (0 or more)",
            ));
        }
    }
    let row_sums: Vec<f64> = table.iter().map(|r| r.iter().sum()).collect();
    let column_sums: Vec<f64> = (0..columns)
        .map(|j| table.iter().map(|r| r[j]).sum())
        .collect();
    let total: f64 = row_sums.iter().sum();
    if row_sums.contains(&0.0) || column_sums.contains(&0.0) {
        return Err(MathError::invalid(
            "table",
            "a row or column adds up to zero",
        ));
    }
    let df = ((rows - 1) * (columns - 1)) as f64;
    let mut statistic = 0.0;
    for (i, row) in table.iter().enumerate() {
        for (j, observed) in row.iter().enumerate() {
            let expected = row_sums[i] * column_sums[j] / total;
            let mut difference = (observed - expected).abs();
            if df == 1.0 {
                // Yates' continuity correction, never past zero (scipy's rule).
                difference = (difference - 0.5).max(0.0);
            }
            statistic += difference.powi(2) / expected;
        }
    }
    Ok(TestResult {
        statistic,
        p_value: chi_square_sf(statistic, df),
        df: Some(df),
    })
}

/// Mann–Whitney U of `a` against `b`: U of `a`, two-sided p from the normal approximation.
pub fn mann_whitney(a: &[f64], b: &[f64]) -> Result<TestResult> {
    check_sample(a, "a")?;
    check_sample(b, "b")?;
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    let mut all: Vec<(f64, usize)> = a
        .iter()
        .map(|v| (*v, 0))
        .chain(b.iter().map(|v| (*v, 1)))
        .collect();
    all.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut rank_sum_a = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < all.len() {
        let tied = all[i..].iter().take_while(|x| x.0 == all[i].0).count();
        let average_rank = (i + 1 + i + tied) as f64 / 2.0;
        rank_sum_a += average_rank * all[i..i + tied].iter().filter(|x| x.1 == 0).count() as f64;
        tie_term += (tied as f64).powi(3) - tied as f64;
        i += tied;
    }
    let u = rank_sum_a - n1 * (n1 + 1.0) / 2.0;
    let n = n1 + n2;
    let mean_u = n1 * n2 / 2.0;
    let sd = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    if sd == 0.0 {
        return Err(MathError::invalid("b", "every value is the same"));
    }
    // scipy: z from the larger of U and n1·n2 − U, minus the continuity correction.
    let big = u.max(n1 * n2 - u);
    let z = (big - mean_u - 0.5) / sd;
    Ok(TestResult {
        statistic: u,
        p_value: (2.0 * normal_sf(z)).min(1.0),
        df: None,
    })
}

// --- distributions -----------------------------------------------------------------------

/// Two-sided tail of Student's t with `df` degrees of freedom.
pub fn student_t_two_sided(t: f64, df: f64) -> f64 {
    incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
}

/// Upper tail of chi-square with `df` degrees of freedom.
pub fn chi_square_sf(x: f64, df: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    upper_incomplete_gamma(df / 2.0, x / 2.0)
}

/// Upper tail of the standard normal.
pub fn normal_sf(z: f64) -> f64 {
    if z < 0.0 {
        return 1.0 - normal_sf(-z);
    }
    0.5 * upper_incomplete_gamma(0.5, z * z / 2.0)
}

/// ln Γ(x), Lanczos (g = 7, n = 9): about 15 significant digits for x > 0.
fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut sum = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        sum += c / (x + i as f64);
    }
    let t = x + G + 0.5;
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + sum.ln()
}

/// Regularized incomplete beta I_x(a, b) (continued fraction, modified Lentz).
fn incomplete_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_fraction(a, b, x) / a
    } else {
        1.0 - front * beta_fraction(b, a, 1.0 - x) / b
    }
}

fn beta_fraction(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..=300 {
        let m = f64::from(m);
        let even = m * (b - m) * x / ((a + 2.0 * m - 1.0) * (a + 2.0 * m));
        for coefficient in [
            even,
            -(a + m) * (a + b + m) * x / ((a + 2.0 * m) * (a + 2.0 * m + 1.0)),
        ] {
            d = 1.0 + coefficient * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coefficient / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        if (d * c - 1.0).abs() < 1e-16 {
            break;
        }
    }
    h
}

/// Regularized upper incomplete gamma Q(a, x).
fn upper_incomplete_gamma(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    let prefix = (-x + a * x.ln() - ln_gamma(a)).exp();
    if x < a + 1.0 {
        // Series for the lower part.
        let (mut term, mut sum, mut k) = (1.0 / a, 1.0 / a, a);
        for _ in 0..1_000 {
            k += 1.0;
            term *= x / k;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        1.0 - prefix * sum
    } else {
        // Continued fraction for the upper part (modified Lentz).
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..1_000 {
            let an = -f64::from(i) * (f64::from(i) - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let delta = d * c;
            h *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        prefix * h
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1e-3), "{a} != {b}");
    }

    const A: [f64; 7] = [5.1, 4.9, 5.6, 5.8, 6.0, 5.3, 5.7];
    const B: [f64; 6] = [4.2, 4.8, 5.0, 4.6, 4.4, 5.1];

    #[test]
    fn distributions_match_scipy() {
        close(student_t_two_sided(2.0, 5.0), 0.101_939_478_829_858_35);
        close(chi_square_sf(3.0, 4.0), 0.557_825_400_371_074_8);
        close(2.0 * normal_sf(1.96), 0.049_995_790_296_440_87);
    }

    #[test]
    fn t_tests_match_scipy() {
        let one = t_test_one_sample(&A, 5.0).unwrap();
        close(one.statistic, 3.231_993_677_674_837_7);
        close(one.p_value, 0.017_865_665_064_734_665);
        let pooled = t_test_two_sample(&A, &B, true).unwrap();
        close(pooled.statistic, 3.833_530_285_625_761_4);
        close(pooled.p_value, 0.002_777_402_242_860_954);
        let welch = t_test_two_sample(&A, &B, false).unwrap();
        close(welch.p_value, 0.002_589_391_909_769_687);
        close(welch.df.unwrap(), 10.984_770_697_532_978);
        let paired = t_test_paired(&[1.0, 2.0, 3.0, 4.0, 5.0], &[1.5, 2.1, 2.9, 4.6, 5.2]).unwrap();
        close(paired.statistic, -2.017_991_366_836_466);
        close(paired.p_value, 0.113_757_804_828_625_73);
    }

    #[test]
    fn chi_square_matches_scipy() {
        let uniform = chi_square_fit(&[16.0, 18.0, 16.0, 14.0, 12.0, 12.0], None).unwrap();
        close(uniform.statistic, 2.0);
        close(uniform.p_value, 0.849_145_036_084_609_6);
        let fit = chi_square_fit(
            &[16.0, 18.0, 16.0, 14.0, 12.0, 12.0],
            Some(&[16.0, 16.0, 16.0, 16.0, 16.0, 8.0]),
        )
        .unwrap();
        close(fit.p_value, 0.623_387_627_749_582_2);
        let table =
            chi_square_contingency(&[vec![10.0, 20.0, 30.0], vec![6.0, 9.0, 17.0]]).unwrap();
        close(table.statistic, 0.271_574_651_504_035_04);
        close(table.p_value, 0.873_028_283_380_073);
        let yates = chi_square_contingency(&[vec![12.0, 5.0], vec![7.0, 9.0]]).unwrap();
        close(yates.statistic, 1.455_996_378_814_684);
        close(yates.p_value, 0.227_568_214_575_806_42);
        assert!(chi_square_fit(&[1.0, 2.0], Some(&[1.0, 1.0])).is_err());
    }

    #[test]
    fn mann_whitney_matches_scipy() {
        let test = mann_whitney(&A, &B).unwrap();
        close(test.statistic, 39.5);
        close(test.p_value, 0.010_024_934_710_329_487);
        let ties: Vec<f64> = (1..=10).map(f64::from).collect();
        let other: Vec<f64> = (5..=15).map(f64::from).collect();
        let test = mann_whitney(&ties, &other).unwrap();
        close(test.statistic, 18.0);
        close(test.p_value, 0.010_016_063_391_463_935);
    }
}
