//! `POST /api/v1/math/statistics/describe` and `statistics/correlation`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::domain::statistics;
use crate::state::AppState;

/// Most values in one sample.
const MAX_VALUES: usize = 1_000_000;

/// Numbers, or a field of each item (n8n sends items).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"items": [{"order": {"total": 12.5}}, {"order": {"total": 20}}], "field": "order.total"}))]
pub struct DescribeRequest {
    /// The sample.
    #[serde(default)]
    pub values: Option<Vec<f64>>,
    /// Objects to take `field` from.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub items: Option<Vec<Value>>,
    /// Dot path into each item (`order.total`).
    #[serde(default)]
    pub field: Option<String>,
    /// Percentiles to report, 0 to 100 (default 25, 50, 75).
    #[serde(default)]
    pub percentiles: Option<Vec<f64>>,
}

/// Sample and population forms of a measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct Spread {
    /// With n − 1 (Bessel); `null` for one value.
    pub sample: Option<f64>,
    /// With n.
    pub population: f64,
}

/// A sample described.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DescribeResponse {
    pub count: usize,
    pub sum: f64,
    pub mean: f64,
    pub median: f64,
    /// Every most frequent value, ascending.
    pub mode: Vec<f64>,
    pub min: f64,
    pub max: f64,
    pub range: f64,
    pub variance: Spread,
    pub std: Spread,
    /// Percentile → value (linear interpolation, numpy's default).
    pub percentiles: BTreeMap<String, f64>,
    /// 75th minus 25th percentile.
    pub iqr: f64,
    /// Median absolute deviation (unscaled).
    pub mad: f64,
    /// Biased moment estimator (scipy's default); `null` without spread.
    pub skewness: Option<f64>,
    /// Excess kurtosis, biased (scipy's default); `null` without spread.
    pub kurtosis: Option<f64>,
}

/// The numbers at `field` of every item.
pub fn field_values(items: &[Value], field: &str) -> Result<Vec<f64>, ApiError> {
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let found = field.split('.').try_fold(item, |value, key| value.get(key));
            match found {
                Some(Value::Number(n)) => n.as_f64().ok_or_else(|| {
                    ApiError::invalid_field(format!("items[{i}].{field}"), "is not a finite number")
                }),
                Some(other) => Err(ApiError::invalid_field(
                    format!("items[{i}].{field}"),
                    format!("is {}, not a number", kind(other)),
                )),
                None => Err(ApiError::invalid_field(
                    format!("items[{i}].{field}"),
                    "is missing",
                )),
            }
        })
        .collect()
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
        Value::Number(_) => "a number",
    }
}

fn sample(r: &DescribeRequest) -> Result<Vec<f64>, ApiError> {
    let values = match (&r.values, &r.items, &r.field) {
        (Some(values), None, None) => values.clone(),
        (None, Some(items), Some(field)) => field_values(items, field)?,
        (None, Some(_), None) => {
            return Err(ApiError::invalid_field(
                "field",
                "name the field to read from each item",
            ));
        }
        _ => {
            return Err(ApiError::invalid_field(
                "values",
                "give `values`, or `items` with `field`",
            ));
        }
    };
    if values.len() > MAX_VALUES {
        return Err(ApiError::invalid_field(
            "values",
            format!("at most {MAX_VALUES} values"),
        ));
    }
    Ok(values)
}

/// Count, sum, mean, median, mode, spread, percentiles, IQR, MAD, skewness and kurtosis.
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/describe",
    tag = "statistics",
    request_body = DescribeRequest,
    responses((status = 200, description = "The sample described", body = DescribeResponse))
)]
pub async fn describe(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<DescribeRequest>,
) -> Result<Json<DescribeResponse>, ApiError> {
    let values = sample(&r)?;
    let percentiles = r
        .percentiles
        .clone()
        .unwrap_or_else(|| vec![25.0, 50.0, 75.0]);
    let summary = statistics::describe(&values, &percentiles);
    state.record("describe", summary.is_ok());
    let s = summary?;
    Ok(Json(DescribeResponse {
        count: s.count,
        sum: s.sum,
        mean: s.mean,
        median: s.median,
        mode: s.mode,
        min: s.min,
        max: s.max,
        range: s.range,
        variance: Spread {
            sample: s.variance_sample,
            population: s.variance_population,
        },
        std: Spread {
            sample: s.std_sample,
            population: s.std_population,
        },
        percentiles: s
            .percentiles
            .into_iter()
            .map(|(p, v)| (super::format_number(p, None), v))
            .collect(),
        iqr: s.iqr,
        mad: s.mad,
        skewness: s.skewness,
        kurtosis: s.kurtosis,
    }))
}

/// A correlation coefficient.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CorrelationMethod {
    /// Linear (Pearson's r).
    #[default]
    Pearson,
    /// Rank (Spearman's ρ), ties sharing their mean rank.
    Spearman,
}

/// Two equally long samples.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5], "method": "spearman"}))]
pub struct CorrelationRequest {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    #[serde(default)]
    pub method: CorrelationMethod,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CorrelationResponse {
    pub method: CorrelationMethod,
    /// Between −1 and 1.
    pub coefficient: f64,
    pub n: usize,
}

/// Pearson's or Spearman's correlation of two samples.
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/correlation",
    tag = "statistics",
    request_body = CorrelationRequest,
    responses((status = 200, description = "The coefficient", body = CorrelationResponse))
)]
pub async fn correlation(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<CorrelationRequest>,
) -> Result<Json<CorrelationResponse>, ApiError> {
    if r.x.len() > MAX_VALUES {
        return Err(ApiError::invalid_field(
            "x",
            format!("at most {MAX_VALUES} values"),
        ));
    }
    let coefficient = match r.method {
        CorrelationMethod::Pearson => statistics::pearson(&r.x, &r.y),
        CorrelationMethod::Spearman => statistics::spearman(&r.x, &r.y),
    };
    state.record("correlation", coefficient.is_ok());
    Ok(Json(CorrelationResponse {
        method: r.method,
        coefficient: coefficient?,
        n: r.x.len(),
    }))
}

/// A sample: numbers, or a field of each item.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SampleRequest {
    #[serde(default)]
    pub values: Option<Vec<f64>>,
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub items: Option<Vec<Value>>,
    /// Dot path into each item.
    #[serde(default)]
    pub field: Option<String>,
    /// `histogram`: number of bins (default: Sturges' rule).
    #[serde(default)]
    pub bins: Option<usize>,
    /// `histogram`: [low, high] (default: the sample's min and max).
    #[serde(default)]
    pub range: Option<[f64; 2]>,
    /// `outliers`: `iqr` (Tukey's fences, default) or `zscore`.
    #[serde(default)]
    pub method: Option<OutlierMethod>,
    /// `outliers`: k for the IQR fences (default 1.5) or the |z| limit (default 3).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// `series`: what to compute.
    #[serde(default)]
    pub operation: Option<SeriesOperation>,
    /// `series` `movingAverage`: values per window.
    #[serde(default)]
    pub window: Option<usize>,
}

impl SampleRequest {
    fn sample(&self) -> Result<Vec<f64>, ApiError> {
        sample(&DescribeRequest {
            values: self.values.clone(),
            items: self.items.clone(),
            field: self.field.clone(),
            percentiles: None,
        })
    }
}

/// Outlier rule.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutlierMethod {
    Iqr,
    Zscore,
}

/// A transformation of a series.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum SeriesOperation {
    /// Trailing mean over `window` values; `null` until the window fills.
    MovingAverage,
    CumulativeSum,
    /// Min-max to 0..1.
    Normalize,
    /// Standard scores (sample standard deviation).
    Zscore,
}

/// Equal-width bins (numpy.histogram's edges and counting).
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/histogram",
    tag = "statistics",
    request_body = SampleRequest,
    responses((status = 200, description = "`{\"bins\": [{\"from\", \"to\", \"count\"}]}`", body = Object))
)]
pub async fn histogram(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SampleRequest>,
) -> Result<Json<Value>, ApiError> {
    let values = r.sample()?;
    let bins = statistics::histogram(&values, r.bins, r.range.map(|[low, high]| (low, high)));
    state.record("histogram", bins.is_ok());
    let bins: Vec<Value> = bins?
        .iter()
        .map(|b| serde_json::json!({"from": b.from, "to": b.to, "count": b.count}))
        .collect();
    Ok(Json(serde_json::json!({ "bins": bins })))
}

/// Outliers by Tukey's IQR fences or by z-score.
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/outliers",
    tag = "statistics",
    request_body = SampleRequest,
    responses((status = 200, description = "`{\"outliers\": [{\"index\", \"value\"}], \"lower\", \"upper\"}`", body = Object))
)]
pub async fn outliers(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SampleRequest>,
) -> Result<Json<Value>, ApiError> {
    let values = r.sample()?;
    let rule = match r.method.unwrap_or(OutlierMethod::Iqr) {
        OutlierMethod::Iqr => statistics::OutlierRule::Iqr(r.threshold.unwrap_or(1.5)),
        OutlierMethod::Zscore => statistics::OutlierRule::ZScore(r.threshold.unwrap_or(3.0)),
    };
    let found = statistics::outliers(&values, rule);
    state.record("outliers", found.is_ok());
    let (indexes, lower, upper) = found?;
    let outliers: Vec<Value> = indexes
        .iter()
        .map(|i| serde_json::json!({"index": i, "value": values[*i]}))
        .collect();
    Ok(Json(
        serde_json::json!({"outliers": outliers, "lower": lower, "upper": upper}),
    ))
}

/// Moving average, cumulative sum, min-max normalization or z-scores of a series.
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/series",
    tag = "statistics",
    request_body = SampleRequest,
    responses((status = 200, description = "`{\"result\": [number | null]}`", body = Object))
)]
pub async fn series(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SampleRequest>,
) -> Result<Json<Value>, ApiError> {
    let values = r.sample()?;
    let Some(operation) = r.operation else {
        return Err(ApiError::invalid_field(
            "operation",
            "movingAverage, cumulativeSum, normalize or zscore",
        ));
    };
    let result: Result<Vec<Option<f64>>, _> = match operation {
        SeriesOperation::MovingAverage => {
            let window = r
                .window
                .ok_or_else(|| ApiError::invalid_field("window", "movingAverage needs it"))?;
            statistics::moving_average(&values, window)
        }
        SeriesOperation::CumulativeSum => {
            statistics::cumulative_sum(&values).map(|v| v.into_iter().map(Some).collect())
        }
        SeriesOperation::Normalize => {
            statistics::normalize(&values).map(|v| v.into_iter().map(Some).collect())
        }
        SeriesOperation::Zscore => {
            statistics::zscores(&values).map(|v| v.into_iter().map(Some).collect())
        }
    };
    state.record("series", result.is_ok());
    Ok(Json(serde_json::json!({ "result": result? })))
}

/// The curve to fit.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RegressionModel {
    /// y = c0 + c1·x
    #[default]
    Linear,
    /// y = c0 + c1·x + … + cn·xⁿ (`degree` n, at most 10)
    Polynomial,
    /// y = a·e^(b·x) (fitted on ln y; y > 0)
    Exponential,
}

/// Points to fit, and where to predict.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"x": [1, 2, 3, 4, 5], "y": [2, 4, 5, 4, 5], "model": "linear", "predict": [6]}))]
pub struct RegressionRequest {
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    #[serde(default)]
    pub model: RegressionModel,
    /// Polynomial degree (default 2).
    #[serde(default)]
    pub degree: Option<usize>,
    /// x values to predict y at.
    #[serde(default)]
    pub predict: Vec<f64>,
}

/// Least-squares linear, polynomial or exponential regression with r² and predictions.
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/regression",
    tag = "statistics",
    request_body = RegressionRequest,
    responses((status = 200, description = "`{\"coefficients\", \"rSquared\", \"predictions\"}`; polynomial coefficients start at x⁰, exponential ones are [a, b]", body = Object))
)]
pub async fn regression(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<RegressionRequest>,
) -> Result<Json<Value>, ApiError> {
    if r.x.len() > MAX_VALUES || r.predict.len() > MAX_VALUES {
        return Err(ApiError::invalid_field(
            "x",
            format!("at most {MAX_VALUES} values"),
        ));
    }
    let model = match r.model {
        RegressionModel::Linear => statistics::Model::Polynomial(1),
        RegressionModel::Polynomial => statistics::Model::Polynomial(r.degree.unwrap_or(2)),
        RegressionModel::Exponential => statistics::Model::Exponential,
    };
    let (x, y) = (r.x, r.y);
    let fit = state
        .cpu
        .run(move || statistics::regression(&x, &y, model).map_err(ApiError::from))
        .await;
    state.record("regression", fit.is_ok());
    let fit = fit?;
    let predictions: Vec<Value> = r
        .predict
        .iter()
        .map(|x| serde_json::json!({"x": x, "y": statistics::predict(&fit, model, *x)}))
        .collect();
    Ok(Json(serde_json::json!({
        "model": r.model,
        "coefficients": fit.coefficients,
        "rSquared": fit.r_squared,
        "predictions": predictions,
    })))
}

/// A hypothesis test (two-sided p-values, as scipy.stats computes them).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum HypothesisTest {
    /// One-sample t-test of mean(a) = mu (default mu 0).
    TTest,
    /// Two-sample t-test with pooled variance.
    TTestIndependent,
    /// Welch's two-sample t-test (unequal variances).
    WelchTTest,
    /// Paired t-test of a[i] − b[i].
    TTestPaired,
    /// Goodness of fit of `observed` counts to `expected` (uniform when absent).
    ChiSquare,
    /// Independence in a contingency `table` (Yates' correction for 2×2).
    ChiSquareContingency,
    /// Mann–Whitney U of a against b (normal approximation with tie and continuity correction).
    MannWhitney,
}

/// Samples and options for a test.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"test": "welchTTest", "a": [5.1, 4.9, 5.6, 5.8, 6.0], "b": [4.2, 4.8, 5.0, 4.6]}))]
pub struct TestRequest {
    pub test: HypothesisTest,
    #[serde(default)]
    pub a: Option<Vec<f64>>,
    #[serde(default)]
    pub b: Option<Vec<f64>>,
    /// The hypothesized mean for `tTest` (default 0).
    #[serde(default)]
    pub mu: Option<f64>,
    #[serde(default)]
    pub observed: Option<Vec<f64>>,
    #[serde(default)]
    pub expected: Option<Vec<f64>>,
    /// Rows of counts for `chiSquareContingency`.
    #[serde(default)]
    pub table: Option<Vec<Vec<f64>>>,
}

/// A test's statistic and p-value.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestResponse {
    pub test: HypothesisTest,
    /// t, χ² or U.
    pub statistic: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Degrees of freedom (not for Mann–Whitney).
    pub df: Option<f64>,
}

fn given<'a>(value: &'a Option<Vec<f64>>, field: &str) -> Result<&'a [f64], ApiError> {
    let values = value
        .as_deref()
        .ok_or_else(|| ApiError::invalid_field(field, "this test needs it"))?;
    if values.len() > MAX_VALUES {
        return Err(ApiError::invalid_field(
            field,
            format!("at most {MAX_VALUES} values"),
        ));
    }
    Ok(values)
}

/// t-tests (one sample, independent, Welch, paired), chi-square (fit, contingency) and
/// Mann–Whitney U, with p-values matching scipy.stats.
#[utoipa::path(
    post,
    path = "/api/v1/math/statistics/test",
    tag = "statistics",
    request_body = TestRequest,
    responses((status = 200, description = "The statistic and p-value", body = TestResponse))
)]
pub async fn hypothesis_test(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<TestRequest>,
) -> Result<Json<TestResponse>, ApiError> {
    use crate::domain::hypothesis as h;
    use HypothesisTest as T;
    let outcome = match r.test {
        T::TTest => h::t_test_one_sample(given(&r.a, "a")?, r.mu.unwrap_or(0.0)),
        T::TTestIndependent => h::t_test_two_sample(given(&r.a, "a")?, given(&r.b, "b")?, true),
        T::WelchTTest => h::t_test_two_sample(given(&r.a, "a")?, given(&r.b, "b")?, false),
        T::TTestPaired => h::t_test_paired(given(&r.a, "a")?, given(&r.b, "b")?),
        T::ChiSquare => h::chi_square_fit(given(&r.observed, "observed")?, r.expected.as_deref()),
        T::ChiSquareContingency => {
            let table = r
                .table
                .as_deref()
                .ok_or_else(|| ApiError::invalid_field("table", "this test needs it"))?;
            h::chi_square_contingency(table)
        }
        T::MannWhitney => h::mann_whitney(given(&r.a, "a")?, given(&r.b, "b")?),
    };
    state.record("test", outcome.is_ok());
    let result = outcome?;
    Ok(Json(TestResponse {
        test: r.test,
        statistic: result.statistic,
        p_value: result.p_value,
        df: result.df,
    }))
}
