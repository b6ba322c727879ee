//! The one mapping from domain errors to the error envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::ImageError;

impl From<ImageError> for ApiError {
    fn from(error: ImageError) -> Self {
        match error {
            ImageError::Invalid { field, message } => ApiError::invalid_field(field, message),
            ImageError::TooLarge(message) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "IMAGE_TOO_LARGE", message)
            }
            ImageError::Unsupported(message) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_FORMAT",
                message,
            ),
            ImageError::Corrupt(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "CORRUPT_INPUT", message)
            }
            ImageError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
