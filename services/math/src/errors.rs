//! The one mapping from domain errors to the error envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::MathError;

impl From<MathError> for ApiError {
    fn from(error: MathError) -> Self {
        let unprocessable = |code: &'static str, message: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        };
        match error {
            MathError::Invalid { field, message } => ApiError::invalid_field(field, message),
            MathError::Parse(message) => {
                unprocessable("PARSE_ERROR", "The expression does not parse".into())
                    .with_detail("expression", message)
            }
            MathError::TooComplex(message) => unprocessable(
                "EXPRESSION_TOO_COMPLEX",
                format!("Input exceeds the service's limits: {message}"),
            ),
            MathError::Singular(message) => unprocessable("SINGULAR_MATRIX", message),
            MathError::NoConvergence(message) => unprocessable("NO_CONVERGENCE", message),
        }
    }
}
