//! Descriptive statistics over one sample. Conventions follow numpy/scipy defaults where they
//! differ: quantiles interpolate linearly (numpy's default, R type 7); skewness and kurtosis are
//! the biased moment estimators (scipy's `skew`, `kurtosis` with `fisher=True`); `mad` is the
//! unscaled median absolute deviation (math.js `mad`).

use super::{MathError, Result};

/// Everything `describe` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub sum: f64,
    pub mean: f64,
    pub median: f64,
    /// Every most frequent value, ascending.
    pub mode: Vec<f64>,
    pub min: f64,
    pub max: f64,
    pub range: f64,
    pub variance_sample: Option<f64>,
    pub variance_population: f64,
    pub std_sample: Option<f64>,
    pub std_population: f64,
    /// `(p, value)` for each asked percentile `p` in 0..=100.
    pub percentiles: Vec<(f64, f64)>,
    pub iqr: f64,
    pub mad: f64,
    /// `None` when every value is the same.
    pub skewness: Option<f64>,
    pub kurtosis: Option<f64>,
}

/// Checks a sample: not empty, only finite numbers.
pub fn check_sample(values: &[f64], field: &str) -> Result<()> {
    if values.is_empty() {
        return Err(MathError::invalid(field, "needs at least one number"));
    }
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(MathError::invalid(
            format!("{field}[{i}]"),
            "is not a finite number",
        ));
    }
    Ok(())
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
}

/// Linear-interpolation quantile (`q` in 0..=1) of sorted values.
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let position = q * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = position.ceil() as usize;
    sorted[below] + (sorted[above] - sorted[below]) * (position - below as f64)
}

pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Describes `values`, reporting the percentiles asked for (each 0..=100).
pub fn describe(values: &[f64], percentiles: &[f64]) -> Result<Summary> {
    check_sample(values, "values")?;
    for (i, p) in percentiles.iter().enumerate() {
        if !(0.0..=100.0).contains(p) {
            return Err(MathError::invalid(
                format!("percentiles[{i}]"),
                "must be between 0 and 100",
            ));
        }
    }
    let n = values.len();
    let sorted = sorted(values);
    let sum: f64 = values.iter().sum();
    let mean = sum / n as f64;
    let squares: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
    let variance_population = squares / n as f64;
    let variance_sample = (n > 1).then(|| squares / (n - 1) as f64);
    let median = quantile_sorted(&sorted, 0.5);
    let deviations = sorted_abs_deviations(&sorted, median);
    let m3 = values.iter().map(|v| (v - mean).powi(3)).sum::<f64>() / n as f64;
    let m4 = values.iter().map(|v| (v - mean).powi(4)).sum::<f64>() / n as f64;
    let spread = variance_population > 0.0;
    Ok(Summary {
        count: n,
        sum,
        mean,
        median,
        mode: mode(&sorted),
        min: sorted[0],
        max: sorted[n - 1],
        range: sorted[n - 1] - sorted[0],
        variance_sample,
        variance_population,
        std_sample: variance_sample.map(f64::sqrt),
        std_population: variance_population.sqrt(),
        percentiles: percentiles
            .iter()
            .map(|p| (*p, quantile_sorted(&sorted, p / 100.0)))
            .collect(),
        iqr: quantile_sorted(&sorted, 0.75) - quantile_sorted(&sorted, 0.25),
        mad: quantile_sorted(&deviations, 0.5),
        skewness: spread.then(|| m3 / variance_population.powf(1.5)),
        kurtosis: spread.then(|| m4 / variance_population.powi(2) - 3.0),
    })
}

fn sorted_abs_deviations(sorted: &[f64], center: f64) -> Vec<f64> {
    let mut deviations: Vec<f64> = sorted.iter().map(|v| (v - center).abs()).collect();
    deviations.sort_by(f64::total_cmp);
    deviations
}

fn mode(sorted: &[f64]) -> Vec<f64> {
    let mut best = 0;
    let mut modes = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let run = sorted[i..].iter().take_while(|v| **v == sorted[i]).count();
        if run > best {
            best = run;
            modes.clear();
        }
        if run == best {
            modes.push(sorted[i]);
        }
        i += run;
    }
    modes
}

/// Pearson's correlation coefficient of two equally long samples.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check_pair(x, y)?;
    let (mx, my) = (mean(x), mean(y));
    let covariance: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum::<f64>().sqrt();
    let sy: f64 = y.iter().map(|b| (b - my).powi(2)).sum::<f64>().sqrt();
    if sx == 0.0 || sy == 0.0 {
        return Err(MathError::invalid(
            "y",
            "a constant sample has no correlation",
        ));
    }
    Ok(covariance / (sx * sy))
}

/// Spearman's rank correlation: Pearson's on average ranks (ties share their mean rank).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_pair(x, y)?;
    pearson(&ranks(x), &ranks(y))
}

fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let tied = order[i..]
            .iter()
            .take_while(|j| values[**j] == values[order[i]])
            .count();
        let average = (i + 1 + i + tied) as f64 / 2.0;
        for j in &order[i..i + tied] {
            ranks[*j] = average;
        }
        i += tied;
    }
    ranks
}

fn check_pair(x: &[f64], y: &[f64]) -> Result<()> {
    check_sample(x, "x")?;
    check_sample(y, "y")?;
    if x.len() != y.len() {
        return Err(MathError::invalid(
            "y",
            format!("has {} values; x has {}", y.len(), x.len()),
        ));
    }
    if x.len() < 2 {
        return Err(MathError::invalid("x", "needs at least two values"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) {
        assert!((a - b).abs() < 1e-9 * b.abs().max(1.0), "{a} != {b}");
    }

    #[test]
    fn matches_numpy_and_scipy() {
        // numpy/scipy on [2, 4, 4, 4, 5, 5, 7, 9]:
        // mean 5, median 4.5, var(ddof=0) 4, var(ddof=1) 4.571428571428571,
        // percentile(25) 4.0, percentile(90) 7.6, skew 0.65625, kurtosis -0.21875.
        let s = describe(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0], &[25.0, 90.0]).unwrap();
        assert_eq!((s.count, s.sum, s.mean, s.median), (8, 40.0, 5.0, 4.5));
        assert_eq!(s.mode, vec![4.0]);
        assert_eq!((s.min, s.max, s.range), (2.0, 9.0, 7.0));
        close(s.variance_population, 4.0);
        close(s.variance_sample.unwrap(), 4.571_428_571_428_571);
        close(s.std_population, 2.0);
        assert_eq!(s.percentiles, vec![(25.0, 4.0), (90.0, 7.6)]);
        close(s.iqr, 1.5);
        close(s.mad, 0.5);
        close(s.skewness.unwrap(), 0.65625);
        close(s.kurtosis.unwrap(), -0.21875);
    }

    #[test]
    fn edge_cases() {
        let one = describe(&[3.0], &[]).unwrap();
        assert_eq!(one.variance_sample, None);
        assert_eq!(one.skewness, None, "no spread, no skew");
        assert_eq!(
            describe(&[1.0, 1.0, 2.0, 2.0], &[]).unwrap().mode,
            vec![1.0, 2.0]
        );
        assert!(describe(&[], &[]).is_err());
        assert_eq!(
            describe(&[1.0, f64::NAN], &[]),
            Err(MathError::invalid("values[1]", "is not a finite number"))
        );
        assert!(describe(&[1.0], &[101.0]).is_err());
    }

    #[test]
    fn correlations_match_scipy() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 4.0, 5.0, 4.0, 5.0];
        // scipy.stats.pearsonr -> 0.7745966692414834; spearmanr -> 0.7378647873726218.
        close(pearson(&x, &y).unwrap(), 0.774_596_669_241_483_4);
        close(spearman(&x, &y).unwrap(), 0.737_864_787_372_621_8);
        assert!(pearson(&x, &[1.0, 1.0, 1.0, 1.0, 1.0]).is_err());
        assert!(pearson(&x, &[1.0]).is_err());
    }
}
