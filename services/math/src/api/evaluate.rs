//! `POST /api/v1/math/evaluate`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::NumberOut;
use crate::domain::expr::{self, ExprLimits, ModeEvaluation, NumberMode};
use crate::domain::numbers::{Exact, MAX_PRECISION};
use crate::state::AppState;

/// Most expressions in one request.
const MAX_EXPRESSIONS: usize = 1_000;

/// One expression, or several evaluated independently.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"expression": "a = 2; b = a * 3; b ^ 2", "scope": {"x": 4}}))]
pub struct EvaluateRequest {
    /// math.js notation: `+ - * / % ^ !`, comparisons, functions (`sqrt`, `log(x, base)`,
    /// `round(x, n)`, `gcd`, `combinations`…), constants (`pi`, `e`…), units and conversion
    /// (`5 cm to inch`, `60 km/h to m/s`, `100 degC to degF`, `1.5 GiB in MiB`), assignments and
    /// several statements separated by `;` or new lines.
    #[serde(default)]
    pub expression: Option<String>,
    /// Several expressions (at most 1000), each evaluated on its own with the same scope.
    #[serde(default)]
    pub expressions: Option<Vec<String>>,
    /// Variables the expressions may use.
    #[serde(default)]
    pub scope: BTreeMap<String, f64>,
    /// Significant digits in `formatted` (1 to 17; default: up to 14, math.js's display); with
    /// `number: bignumber`, the digits computed with (1 to 1000, default 64).
    #[serde(default)]
    pub precision: Option<u32>,
    /// The number system (math.js's `number` setting): `number` (f64 with units, and complex
    /// numbers when an expression needs them: `sqrt(-4)`, `2 + 3i`), `fraction` (exact:
    /// `1/3 + 1/6` is `1/2`) or `bignumber` (decimals: `0.1 + 0.2` is `0.3`).
    #[serde(default)]
    pub number: NumberSystem,
}

/// math.js's number systems.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum NumberSystem {
    #[default]
    Number,
    Fraction,
    Bignumber,
}

/// The value of an expression's last statement.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EvaluateResult {
    /// The value (in `unit` for quantities); `null` when not finite (see `formatted`), 1/0 for
    /// comparisons.
    pub result: Option<f64>,
    /// The value as text, with its unit.
    pub formatted: String,
    /// `number`, `boolean`, `quantity`, `complex`, `fraction` or `bignumber`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The real and imaginary parts of a complex result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub complex: Option<ComplexOut>,
    /// The unit of a quantity (`inch`, `km / h`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Variables the expression assigned.
    pub variables: BTreeMap<String, NumberOut>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ComplexOut {
    pub re: f64,
    pub im: f64,
}

/// One result, or `results` in the order of `expressions`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EvaluateResponse {
    One(EvaluateResult),
    Many { results: Vec<EvaluateResult> },
}

/// The number mode a request asks for, with its precision checked.
fn mode_of(number: NumberSystem, precision: Option<u32>) -> Result<NumberMode, ApiError> {
    Ok(match number {
        NumberSystem::Number => NumberMode::Number,
        NumberSystem::Fraction => NumberMode::Fraction,
        NumberSystem::Bignumber => {
            let digits = u64::from(precision.unwrap_or(64));
            if !(1..=MAX_PRECISION).contains(&digits) {
                return Err(ApiError::invalid_field(
                    "precision",
                    format!("big numbers have 1 to {MAX_PRECISION} digits"),
                ));
            }
            NumberMode::BigNumber(digits)
        }
    })
}

fn exact_out(value: &Exact, precision: Option<u32>) -> NumberOut {
    let digits = precision.map_or(14, |p| p.clamp(1, 17) as usize);
    let approx = value.approx();
    NumberOut {
        value: approx.filter(|v| v.is_finite()),
        formatted: value.formatted(digits),
        unit: None,
    }
}

fn run(
    text: &str,
    scope: &BTreeMap<String, f64>,
    precision: Option<u32>,
    mode: NumberMode,
) -> Result<EvaluateResult, ApiError> {
    let program = expr::parse(text, ExprLimits::default())?;
    let evaluation = match expr::evaluate_in_mode(&program, scope, mode)? {
        ModeEvaluation::Real(evaluation) => evaluation,
        ModeEvaluation::Exact(exact) => {
            let display = if matches!(mode, NumberMode::BigNumber(_)) {
                None
            } else {
                precision
            };
            let out = exact_out(&exact.value, display);
            let complex = match exact.value {
                Exact::Complex(c) if c.im != 0.0 => Some(ComplexOut { re: c.re, im: c.im }),
                _ => None,
            };
            let kind = match (&exact.value, &complex) {
                _ if exact.is_boolean => "boolean",
                (Exact::Complex(_), None) => "number",
                (value, _) => value.kind(),
            };
            let formatted = if exact.is_boolean {
                (out.value != Some(0.0)).to_string()
            } else {
                out.formatted
            };
            return Ok(EvaluateResult {
                result: out.value,
                formatted,
                kind: kind.into(),
                complex,
                unit: None,
                variables: exact
                    .assigned
                    .iter()
                    .map(|(name, value)| (name.clone(), exact_out(value, display)))
                    .collect(),
            });
        }
    };
    let number = NumberOut::quantity(&evaluation.value, precision);
    let (result, formatted, kind) = if evaluation.is_boolean {
        let truth = evaluation.value.number != 0.0;
        (
            Some(f64::from(u8::from(truth))),
            truth.to_string(),
            "boolean",
        )
    } else if number.unit.is_some() {
        (number.value, number.formatted, "quantity")
    } else {
        (number.value, number.formatted, "number")
    };
    Ok(EvaluateResult {
        result,
        formatted,
        kind: kind.into(),
        complex: None,
        unit: number.unit,
        variables: evaluation
            .assigned
            .iter()
            .map(|(name, value)| (name.clone(), NumberOut::quantity(value, precision)))
            .collect(),
    })
}

/// Evaluate math.js-style expressions with variables.
#[utoipa::path(
    post,
    path = "/api/v1/math/evaluate",
    tag = "expressions",
    request_body = EvaluateRequest,
    responses((status = 200, description = "The value", body = EvaluateResponse))
)]
pub async fn evaluate(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<EvaluateRequest>,
) -> Result<Json<EvaluateResponse>, ApiError> {
    if let Some(name) = r.scope.keys().find(|k| !is_identifier(k)) {
        return Err(ApiError::invalid_field(
            format!("scope.{name}"),
            "variable names are letters, digits and `_`, not starting with a digit",
        ));
    }
    let mode = mode_of(r.number, r.precision)?;
    let outcome = match (r.expression, r.expressions) {
        (Some(text), None) => run(&text, &r.scope, r.precision, mode).map(EvaluateResponse::One),
        (None, Some(list)) => {
            if list.len() > MAX_EXPRESSIONS {
                return Err(ApiError::invalid_field(
                    "expressions",
                    format!("at most {MAX_EXPRESSIONS} expressions"),
                ));
            }
            list.iter()
                .enumerate()
                .map(|(i, text)| {
                    run(text, &r.scope, r.precision, mode)
                        .map_err(|e| e.with_detail("expressions", format!("expression {i} failed")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map(|results| EvaluateResponse::Many { results })
        }
        _ => Err(ApiError::invalid_field(
            "expression",
            "give `expression` or `expressions`",
        )),
    };
    state.record("evaluate", outcome.is_ok());
    outcome.map(Json)
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_')
}
