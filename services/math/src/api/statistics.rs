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
