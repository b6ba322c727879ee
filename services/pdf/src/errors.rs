//! The one mapping from domain errors to the error envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::PdfError;

impl From<PdfError> for ApiError {
    fn from(error: PdfError) -> Self {
        match error {
            PdfError::Invalid { field, message } => ApiError::invalid_field(field, message),
            PdfError::TooLarge(message) => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
            }
            PdfError::Unsupported(message) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_FORMAT",
                message,
            ),
            PdfError::Corrupt(message) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "CORRUPT_INPUT", message)
            }
            PdfError::PasswordRequired(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "PASSWORD_REQUIRED",
                message,
            ),
            PdfError::WrongPassword(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "DECRYPTION_FAILED",
                message,
            ),
            PdfError::Timeout(message) => {
                ApiError::new(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", message)
            }
            PdfError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
