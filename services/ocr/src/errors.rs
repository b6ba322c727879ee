//! The one mapping from domain errors to the error envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::OcrError;

impl From<OcrError> for ApiError {
    fn from(error: OcrError) -> Self {
        match error {
            OcrError::Invalid { field, message } => ApiError::invalid_field(field, message),
            OcrError::UnknownLanguage(message) => ApiError::invalid_field("languages", message),
            OcrError::TooLarge(message) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
            }
            OcrError::Unsupported(message) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_FORMAT",
                message,
            ),
            OcrError::Corrupt(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "CORRUPT_INPUT", message)
            }
            OcrError::PasswordRequired(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "PASSWORD_REQUIRED",
                message,
            ),
            OcrError::WrongPassword(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "DECRYPTION_FAILED",
                message,
            ),
            OcrError::Busy(message) => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ENGINES_BUSY", message)
            }
            OcrError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
