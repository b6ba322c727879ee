//! The one mapping from domain errors to the error envelope.

use flowforge_service_kit::ApiError;
use http::StatusCode;

use crate::domain::CryptoError;

impl From<CryptoError> for ApiError {
    fn from(error: CryptoError) -> Self {
        match error {
            CryptoError::Invalid { field, message } => ApiError::invalid_field(field, message),
            CryptoError::InvalidKey { field, message } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "INVALID_KEY",
                "The key cannot be used",
            )
            .with_detail(field, message),
            CryptoError::DecryptionFailed => ApiError::new(
                StatusCode::BAD_REQUEST,
                "DECRYPTION_FAILED",
                "Decryption failed: wrong key or passphrase, wrong associated data, or the data was modified",
            ),
            CryptoError::MessageTooLong(message) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "MESSAGE_TOO_LONG",
                message,
            ),
            CryptoError::Internal(cause) => ApiError::internal(cause),
        }
    }
}
