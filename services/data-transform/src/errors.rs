//! The one mapping from domain errors to the error envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::DataError;

impl From<DataError> for ApiError {
    fn from(error: DataError) -> Self {
        let unprocessable = |code: &'static str, message: String| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, message)
        };
        match error {
            DataError::Invalid { field, message } => ApiError::invalid_field(field, message),
            DataError::Malformed(message) => {
                unprocessable("MALFORMED_INPUT", "The input does not parse".into())
                    .with_detail("input", message)
            }
            DataError::QueryFailed(message) => unprocessable("QUERY_FAILED", message),
            DataError::TooComplex(message) => unprocessable("EXPRESSION_TOO_COMPLEX", message),
            DataError::Timeout(message) => unprocessable("TIMEOUT", message),
            DataError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
