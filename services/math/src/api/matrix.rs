//! `POST /api/v1/math/matrix`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use nalgebra::DMatrix;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::matrix::{self, Rows, SolveMethod, to_rows};
use crate::state::AppState;

/// What to do with the matrices.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub enum MatrixOperation {
    /// a + b
    Add,
    /// a − b
    Subtract,
    /// a × b
    Multiply,
    /// aᵀ
    Transpose,
    /// det(a)
    Determinant,
    /// a⁻¹ (422 SINGULAR_MATRIX when there is none)
    Inverse,
    /// Moore–Penrose pseudo-inverse
    PseudoInverse,
    /// Numerical rank (SVD)
    Rank,
    /// Sum of the diagonal
    Trace,
    /// x with a x = b: exact for square a, least squares otherwise
    Solve,
    /// x minimizing ‖a x − b‖
    LeastSquares,
    /// Eigenvalues (and eigenvectors when a is symmetric)
    Eigen,
    /// P a = L U
    Lu,
    /// a = Q R
    Qr,
    /// a = U Σ Vᵀ
    Svd,
    /// a = L Lᵀ (symmetric positive-definite a)
    Cholesky,
}

/// A matrix operation; matrices are arrays of rows.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"operation": "solve", "a": [[2, 1], [1, 3]], "b": [5, 10]}))]
pub struct MatrixRequest {
    pub operation: MatrixOperation,
    /// The matrix (at most 500×500).
    pub a: Rows,
    /// The second matrix (add, subtract, multiply), or the right-hand side of `solve` and
    /// `leastSquares`: a matrix, or a plain array for one column.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Object>>)]
    pub b: Option<Value>,
}

fn b_matrix(b: Option<&Value>) -> Result<DMatrix<f64>, ApiError> {
    let Some(b) = b else {
        return Err(ApiError::invalid_field("b", "this operation needs `b`"));
    };
    let rows: Rows = match b {
        Value::Array(items) if items.iter().all(Value::is_number) => items
            .iter()
            .map(|v| vec![v.as_f64().unwrap_or(f64::NAN)])
            .collect(),
        other => serde_json::from_value(other.clone()).map_err(|_| {
            ApiError::invalid_field(
                "b",
                "must be an array of rows of numbers, or an array of numbers",
            )
        })?,
    };
    Ok(matrix::from_rows(&rows, "b")?)
}

fn compute(
    operation: MatrixOperation,
    a: &DMatrix<f64>,
    b: Option<&Value>,
) -> Result<Value, ApiError> {
    use MatrixOperation as Op;
    let solved = |(x, method): (DMatrix<f64>, SolveMethod)| json!({"result": to_rows(&x), "method": match method { SolveMethod::Exact => "exact", SolveMethod::LeastSquares => "leastSquares" }});
    Ok(match operation {
        Op::Add => json!({"result": to_rows(&matrix::add(a, &b_matrix(b)?)?)}),
        Op::Subtract => json!({"result": to_rows(&matrix::subtract(a, &b_matrix(b)?)?)}),
        Op::Multiply => json!({"result": to_rows(&matrix::multiply(a, &b_matrix(b)?)?)}),
        Op::Transpose => json!({"result": to_rows(&a.transpose())}),
        Op::Determinant => json!({"result": matrix::determinant(a)?}),
        Op::Inverse => json!({"result": to_rows(&matrix::inverse(a)?)}),
        Op::PseudoInverse => json!({"result": to_rows(&matrix::pseudo_inverse(a)?)}),
        Op::Rank => json!({"result": matrix::rank(a)}),
        Op::Trace => json!({"result": matrix::trace(a)?}),
        Op::Solve => solved(matrix::solve(a, &b_matrix(b)?)?),
        Op::LeastSquares => solved(matrix::least_squares(a, &b_matrix(b)?)?),
        Op::Eigen => {
            let e = matrix::eigen(a)?;
            json!({"values": e.values, "imaginary": e.imaginary, "vectors": e.vectors.as_ref().map(to_rows), "symmetric": e.symmetric})
        }
        Op::Lu => {
            let (p, l, u) = matrix::lu(a)?;
            json!({"p": to_rows(&p), "l": to_rows(&l), "u": to_rows(&u)})
        }
        Op::Qr => {
            let (q, r) = matrix::qr(a);
            json!({"q": to_rows(&q), "r": to_rows(&r)})
        }
        Op::Svd => {
            let (u, s, v_t) = matrix::svd(a)?;
            json!({"u": to_rows(&u), "s": s, "vt": to_rows(&v_t)})
        }
        Op::Cholesky => json!({"l": to_rows(&matrix::cholesky(a)?)}),
    })
}

/// Matrix arithmetic, inverses, solving, eigenvalues and factorizations.
///
/// The answer's fields depend on the operation: `result` (a matrix or a number) for most,
/// `result` and `method` for `solve`, `values`/`imaginary`/`vectors`/`symmetric` for `eigen`,
/// `p`/`l`/`u` for `lu`, `q`/`r` for `qr`, `u`/`s`/`vt` for `svd`, `l` for `cholesky`.
#[utoipa::path(
    post,
    path = "/api/v1/math/matrix",
    tag = "matrices",
    request_body = MatrixRequest,
    responses((status = 200, description = "The answer", body = Object))
)]
pub async fn matrix(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<MatrixRequest>,
) -> Result<Json<Value>, ApiError> {
    let a = matrix::from_rows(&r.a, "a")?;
    let operation = r.operation;
    let b = r.b;
    let outcome = state
        .cpu
        .run(move || compute(operation, &a, b.as_ref()))
        .await;
    state.record("matrix", outcome.is_ok());
    Ok(Json(outcome?))
}
