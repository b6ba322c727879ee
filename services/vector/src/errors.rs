//! The one mapping from domain errors to the envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::VectorError;

impl From<VectorError> for ApiError {
    fn from(error: VectorError) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match error {
            VectorError::Invalid { field, message } => ApiError::invalid_field(field, message),
            VectorError::NoCollection(_) => ApiError::new(
                StatusCode::NOT_FOUND,
                "COLLECTION_NOT_FOUND",
                error.to_string(),
            ),
            VectorError::Exists(_) => {
                ApiError::new(StatusCode::CONFLICT, "COLLECTION_EXISTS", error.to_string())
            }
            VectorError::DimensionMismatch(message) => {
                ApiError::new(unprocessable, "DIMENSION_MISMATCH", message)
            }
            VectorError::Engine(message) => {
                ApiError::new(unprocessable, "VALIDATION_ERROR", message)
            }
            VectorError::NoEmbedder(message) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "EMBEDDINGS_UNAVAILABLE",
                message,
            ),
            VectorError::Starting => ApiError::unavailable("The embedding model is still loading"),
            VectorError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
