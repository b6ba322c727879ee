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

/// One histogram bin: `[from, to)`, the last one closed.
#[derive(Debug, Clone, PartialEq)]
pub struct Bin {
    pub from: f64,
    pub to: f64,
    pub count: usize,
}

/// Most bins in one histogram.
pub const MAX_BINS: usize = 10_000;

/// Equal-width bins over `range` (default min..max); `bins` defaults to Sturges' rule.
pub fn histogram(
    values: &[f64],
    bins: Option<usize>,
    range: Option<(f64, f64)>,
) -> Result<Vec<Bin>> {
    check_sample(values, "values")?;
    let sorted = sorted(values);
    let (low, high) = range.unwrap_or((sorted[0], sorted[sorted.len() - 1]));
    if !(low.is_finite() && high.is_finite() && low <= high) {
        return Err(MathError::invalid(
            "range",
            "must be [low, high] with low <= high",
        ));
    }
    let bin_count = bins.unwrap_or_else(|| (values.len() as f64).log2().ceil() as usize + 1);
    if bin_count == 0 || bin_count > MAX_BINS {
        return Err(MathError::invalid(
            "bins",
            format!("must be between 1 and {MAX_BINS}"),
        ));
    }
    // numpy widens an empty range to ±0.5 around the value.
    let (low, high) = if low == high {
        (low - 0.5, high + 0.5)
    } else {
        (low, high)
    };
    let width = (high - low) / bin_count as f64;
    let mut counts = vec![0; bin_count];
    for v in values.iter().filter(|v| (low..=high).contains(*v)) {
        let index = (((v - low) / width) as usize).min(bin_count - 1);
        counts[index] += 1;
    }
    // Edges are computed from `low`, never accumulated, so rounding does not drift; the last
    // edge is `high` itself.
    let edge = |i: usize| {
        if i == bin_count {
            high
        } else {
            low + width * i as f64
        }
    };
    Ok(counts
        .into_iter()
        .enumerate()
        .map(|(i, count)| Bin {
            from: edge(i),
            to: edge(i + 1),
            count,
        })
        .collect())
}

/// A fitted model.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    /// Polynomial: c0 + c1·x + c2·x² …; exponential: [a, b] of a·e^(b·x).
    pub coefficients: Vec<f64>,
    /// Coefficient of determination on the original scale.
    pub r_squared: f64,
}

/// Which curve to fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    Polynomial(usize),
    Exponential,
}

/// Most polynomial degree accepted.
pub const MAX_DEGREE: usize = 10;

/// Least-squares fit of `model` to the points.
pub fn regression(x: &[f64], y: &[f64], model: Model) -> Result<Fit> {
    check_sample(x, "x")?;
    check_sample(y, "y")?;
    if x.len() != y.len() {
        return Err(MathError::invalid(
            "y",
            format!("has {} values; x has {}", y.len(), x.len()),
        ));
    }
    let (degree, targets) = match model {
        Model::Polynomial(degree) => {
            if degree == 0 || degree > MAX_DEGREE {
                return Err(MathError::invalid(
                    "degree",
                    format!("must be between 1 and {MAX_DEGREE}"),
                ));
            }
            (degree, y.to_vec())
        }
        Model::Exponential => {
            if let Some(i) = y.iter().position(|v| *v <= 0.0) {
                return Err(MathError::invalid(
                    format!("y[{i}]"),
                    "an exponential fit needs positive y",
                ));
            }
            (1, y.iter().map(|v| v.ln()).collect())
        }
    };
    if x.len() <= degree {
        return Err(MathError::invalid(
            "x",
            format!("needs more than {degree} points"),
        ));
    }
    let design = nalgebra::DMatrix::from_fn(x.len(), degree + 1, |i, j| x[i].powi(j as i32));
    let rhs = nalgebra::DMatrix::from_column_slice(x.len(), 1, &targets);
    let (solution, _) = super::matrix::least_squares(&design, &rhs)?;
    let mut coefficients: Vec<f64> = solution.iter().copied().collect();
    if model == Model::Exponential {
        coefficients = vec![coefficients[0].exp(), coefficients[1]];
    }
    let fitted = Fit {
        r_squared: 0.0,
        coefficients,
    };
    let predicted: Vec<f64> = x.iter().map(|v| predict(&fitted, model, *v)).collect();
    let my = mean(y);
    let total: f64 = y.iter().map(|v| (v - my).powi(2)).sum();
    let residual: f64 = y.iter().zip(&predicted).map(|(v, p)| (v - p).powi(2)).sum();
    Ok(Fit {
        r_squared: if total == 0.0 {
            1.0
        } else {
            1.0 - residual / total
        },
        ..fitted
    })
}

/// The model's value at `x`.
pub fn predict(fit: &Fit, model: Model, x: f64) -> f64 {
    match model {
        Model::Polynomial(_) => fit
            .coefficients
            .iter()
            .rev()
            .fold(0.0, |acc, c| acc * x + c),
        Model::Exponential => fit.coefficients[0] * (fit.coefficients[1] * x).exp(),
    }
}

/// How outliers are found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutlierRule {
    /// Outside [Q1 − k·IQR, Q3 + k·IQR] (Tukey's fences; k = 1.5 usually).
    Iqr(f64),
    /// |z| above the threshold (3 usually), z with the sample standard deviation.
    ZScore(f64),
}

/// Indexes of outliers, and the fences used.
pub fn outliers(values: &[f64], rule: OutlierRule) -> Result<(Vec<usize>, f64, f64)> {
    check_sample(values, "values")?;
    let (low, high) = match rule {
        OutlierRule::Iqr(k) => {
            let sorted = sorted(values);
            let (q1, q3) = (
                quantile_sorted(&sorted, 0.25),
                quantile_sorted(&sorted, 0.75),
            );
            (q1 - k * (q3 - q1), q3 + k * (q3 - q1))
        }
        OutlierRule::ZScore(threshold) => {
            let (m, s) = (mean(values), sample_std(values)?);
            (m - threshold * s, m + threshold * s)
        }
    };
    let found = values
        .iter()
        .enumerate()
        .filter(|(_, v)| **v < low || **v > high)
        .map(|(i, _)| i)
        .collect();
    Ok((found, low, high))
}

fn sample_std(values: &[f64]) -> Result<f64> {
    if values.len() < 2 {
        return Err(MathError::invalid("values", "needs at least two values"));
    }
    let m = mean(values);
    Ok((values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt())
}

/// Standard scores with the sample standard deviation (scipy.stats.zscore with ddof=1).
pub fn zscores(values: &[f64]) -> Result<Vec<f64>> {
    check_sample(values, "values")?;
    let (m, s) = (mean(values), sample_std(values)?);
    if s == 0.0 {
        return Err(MathError::invalid(
            "values",
            "a constant sample has no standard scores",
        ));
    }
    Ok(values.iter().map(|v| (v - m) / s).collect())
}

/// Trailing moving average over `window` values (the first `window − 1` positions have none).
pub fn moving_average(values: &[f64], window: usize) -> Result<Vec<Option<f64>>> {
    check_sample(values, "values")?;
    if window == 0 || window > values.len() {
        return Err(MathError::invalid(
            "window",
            format!("must be between 1 and {}", values.len()),
        ));
    }
    let mut sum = 0.0;
    Ok(values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            sum += v;
            if i >= window {
                sum -= values[i - window];
            }
            (i + 1 >= window).then(|| sum / window as f64)
        })
        .collect())
}

pub fn cumulative_sum(values: &[f64]) -> Result<Vec<f64>> {
    check_sample(values, "values")?;
    Ok(values
        .iter()
        .scan(0.0, |sum, v| {
            *sum += v;
            Some(*sum)
        })
        .collect())
}

/// Rescales to 0..1 (min-max).
pub fn normalize(values: &[f64]) -> Result<Vec<f64>> {
    check_sample(values, "values")?;
    let sorted = sorted(values);
    let (low, high) = (sorted[0], sorted[sorted.len() - 1]);
    if low == high {
        return Err(MathError::invalid(
            "values",
            "a constant sample cannot be rescaled",
        ));
    }
    Ok(values.iter().map(|v| (v - low) / (high - low)).collect())
}

#[cfg(test)]
mod series_tests {
    use super::*;

    #[test]
    fn histogram_matches_numpy() {
        // numpy.histogram([1, 2, 2, 3, 3, 3, 4, 4, 4, 4], bins=3) -> counts [1, 2, 7], edges 1, 2, 3, 4.
        let bins = histogram(
            &[1.0, 2.0, 2.0, 3.0, 3.0, 3.0, 4.0, 4.0, 4.0, 4.0],
            Some(3),
            None,
        )
        .unwrap();
        let counts: Vec<usize> = bins.iter().map(|b| b.count).collect();
        assert_eq!(counts, [1, 2, 7]);
        assert_eq!((bins[0].from, bins[2].to), (1.0, 4.0));
        assert_eq!(histogram(&[5.0], Some(1), None).unwrap()[0].count, 1);
        assert!(histogram(&[1.0], Some(0), None).is_err());
    }

    #[test]
    fn regression_matches_numpy_polyfit() {
        let x = [0.0, 1.0, 2.0, 3.0, 4.0];
        let y = [1.0, 3.0, 7.0, 13.0, 21.0]; // exactly 1 + x + x²
        let fit = regression(&x, &y, Model::Polynomial(2)).unwrap();
        for (c, want) in fit.coefficients.iter().zip([1.0, 1.0, 1.0]) {
            assert!((c - want).abs() < 1e-9, "{:?}", fit.coefficients);
        }
        assert!((fit.r_squared - 1.0).abs() < 1e-12);
        // numpy.polyfit([1,2,3,4,5], [2,4,5,4,5], 1) -> slope 0.6, intercept 2.2; r² 0.6.
        let line = regression(
            &[1.0, 2.0, 3.0, 4.0, 5.0],
            &[2.0, 4.0, 5.0, 4.0, 5.0],
            Model::Polynomial(1),
        )
        .unwrap();
        assert!(
            (line.coefficients[0] - 2.2).abs() < 1e-9 && (line.coefficients[1] - 0.6).abs() < 1e-9
        );
        assert!((line.r_squared - 0.6).abs() < 1e-9);
        // y = 2·e^(0.5x) exactly.
        let xs = [0.0, 1.0, 2.0, 3.0];
        let ys: Vec<f64> = xs.iter().map(|x: &f64| 2.0 * (0.5 * x).exp()).collect();
        let exp = regression(&xs, &ys, Model::Exponential).unwrap();
        assert!(
            (exp.coefficients[0] - 2.0).abs() < 1e-9 && (exp.coefficients[1] - 0.5).abs() < 1e-9
        );
        assert!((predict(&exp, Model::Exponential, 4.0) - 2.0 * 2f64.exp()).abs() < 1e-9);
        assert!(regression(&xs, &[1.0, -1.0, 2.0, 3.0], Model::Exponential).is_err());
    }

    #[test]
    fn outliers_and_series() {
        let values = [10.0, 12.0, 11.0, 13.0, 12.0, 95.0, 11.0];
        let (found, _, high) = outliers(&values, OutlierRule::Iqr(1.5)).unwrap();
        assert_eq!(found, [5]);
        assert!(high < 95.0);
        // scipy.stats.zscore([1, 2, 3, 4, 5], ddof=1) -> [-1.2649, -0.6325, 0, 0.6325, 1.2649]
        let z = zscores(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert!((z[0] + 1.264_911_064_067_351_7).abs() < 1e-12);
        assert_eq!(
            moving_average(&[1.0, 2.0, 3.0, 4.0], 2).unwrap(),
            [None, Some(1.5), Some(2.5), Some(3.5)]
        );
        assert_eq!(cumulative_sum(&[1.0, 2.0, 3.0]).unwrap(), [1.0, 3.0, 6.0]);
        assert_eq!(normalize(&[2.0, 4.0, 6.0]).unwrap(), [0.0, 0.5, 1.0]);
        assert!(moving_average(&[1.0], 2).is_err());
    }
}
