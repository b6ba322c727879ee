//! `POST /api/v1/math/derivative`, `simplify`, `solve` and `integrate`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::symbolic::{self, SolveMethod};
use crate::state::AppState;

fn x() -> String {
    "x".into()
}

/// Differentiate an expression.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"expression": "3x^3 + sin(x)", "variable": "x", "at": 0}))]
pub struct DerivativeRequest {
    pub expression: String,
    /// The variable (default `x`).
    #[serde(default = "x")]
    pub variable: String,
    /// Also evaluate the derivative here.
    #[serde(default)]
    pub at: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DerivativeResponse {
    /// The simplified derivative, in the notation `evaluate` reads.
    pub derivative: String,
    /// Its value at `at`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// Symbolic derivative (sum, product, quotient, power and chain rules; trig, exp, logs, roots).
#[utoipa::path(
    post,
    path = "/api/v1/math/derivative",
    tag = "algebra",
    request_body = DerivativeRequest,
    responses((status = 200, description = "The derivative", body = DerivativeResponse))
)]
pub async fn derivative(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<DerivativeRequest>,
) -> Result<Json<DerivativeResponse>, ApiError> {
    let outcome = symbolic::derivative(&r.expression, &r.variable).and_then(|derivative| {
        let value =
            r.at.map(|at| symbolic::evaluate_at(&derivative, &r.variable, at))
                .transpose()?;
        Ok(DerivativeResponse { derivative, value })
    });
    state.record("derivative", outcome.is_ok());
    Ok(Json(outcome?))
}

/// Simplify an expression.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"expression": "2 * 3 * x + 0 * y"}))]
pub struct SimplifyRequest {
    pub expression: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimplifyResponse {
    pub result: String,
}

/// Fold constants and apply identities (x·1, x+0, x−x, x·x = x², (xᵃ)ᵇ = xᵃᵇ…).
#[utoipa::path(
    post,
    path = "/api/v1/math/simplify",
    tag = "algebra",
    request_body = SimplifyRequest,
    responses((status = 200, description = "The simplified expression", body = SimplifyResponse))
)]
pub async fn simplify(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SimplifyRequest>,
) -> Result<Json<SimplifyResponse>, ApiError> {
    let outcome = symbolic::simplify(&r.expression);
    state.record("simplify", outcome.is_ok());
    Ok(Json(SimplifyResponse { result: outcome? }))
}

/// Solve an equation in one variable.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"equation": "x^2 - 5x + 6 = 0"}))]
pub struct SolveRequest {
    /// `lhs = rhs`, or an expression equal to 0.
    pub equation: String,
    #[serde(default = "x")]
    pub variable: String,
    /// Where to look for roots of non-polynomial equations (default −100).
    #[serde(default)]
    pub from: Option<f64>,
    /// (default 100)
    #[serde(default)]
    pub to: Option<f64>,
}

/// A root; `im` is 0 for real roots.
#[derive(Debug, Serialize, ToSchema)]
pub struct RootOut {
    pub re: f64,
    pub im: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SolveResponse {
    /// `polynomial`: every root, complex ones included; `numeric`: the real roots where the
    /// function changes sign within [from, to].
    pub method: String,
    pub roots: Vec<RootOut>,
    /// The real roots alone.
    pub real: Vec<f64>,
}

/// Roots of an equation: every root of a polynomial, sign-change roots of anything else.
#[utoipa::path(
    post,
    path = "/api/v1/math/solve",
    tag = "algebra",
    request_body = SolveRequest,
    responses((status = 200, description = "The roots", body = SolveResponse))
)]
pub async fn solve(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SolveRequest>,
) -> Result<Json<SolveResponse>, ApiError> {
    let interval = (r.from.unwrap_or(-100.0), r.to.unwrap_or(100.0));
    let outcome = state
        .cpu
        .run(move || symbolic::solve(&r.equation, &r.variable, interval).map_err(ApiError::from))
        .await;
    state.record("solve", outcome.is_ok());
    let (roots, method) = outcome?;
    Ok(Json(SolveResponse {
        method: match method {
            SolveMethod::Polynomial => "polynomial",
            SolveMethod::Numeric => "numeric",
        }
        .into(),
        real: roots.iter().filter(|r| r.im == 0.0).map(|r| r.re).collect(),
        roots: roots
            .into_iter()
            .map(|r| RootOut { re: r.re, im: r.im })
            .collect(),
    }))
}

/// A definite integral.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"expression": "3x^2 + 1", "from": 0, "to": 2}))]
pub struct IntegrateRequest {
    pub expression: String,
    #[serde(default = "x")]
    pub variable: String,
    pub from: f64,
    pub to: f64,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IntegrateResponse {
    pub value: f64,
    /// For polynomials, an antiderivative (exact); otherwise `null` (the value is numeric,
    /// adaptive Simpson to about 1e-12).
    pub antiderivative: Option<String>,
}

/// ∫ expression d(variable) from `from` to `to`: exact for polynomials, numeric otherwise.
#[utoipa::path(
    post,
    path = "/api/v1/math/integrate",
    tag = "algebra",
    request_body = IntegrateRequest,
    responses((status = 200, description = "The integral", body = IntegrateResponse))
)]
pub async fn integrate(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<IntegrateRequest>,
) -> Result<Json<IntegrateResponse>, ApiError> {
    let outcome = state
        .cpu
        .run(move || {
            symbolic::integrate(&r.expression, &r.variable, r.from, r.to).map_err(ApiError::from)
        })
        .await;
    state.record("integrate", outcome.is_ok());
    let integral = outcome?;
    Ok(Json(IntegrateResponse {
        value: integral.value,
        antiderivative: integral.antiderivative,
    }))
}
