//! The crypto operations themselves. Nothing here knows about HTTP, axum or OpenAPI.

pub mod cipher;
pub mod encoding;
pub mod hash;
pub mod jwt;
pub mod keys;
pub mod mac;
pub mod oaep;
pub mod password;
pub mod random;
pub mod signature;
pub mod webhook;

/// Everything a crypto operation can refuse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// An input is malformed or out of range.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// A key is malformed, of the wrong type or the wrong size.
    #[error("{field}: {message}")]
    InvalidKey {
        field: &'static str,
        message: String,
    },
    /// Authenticated decryption failed: wrong key, wrong passphrase, wrong AAD or a tampered token.
    #[error("decryption failed")]
    DecryptionFailed,
    /// The message is too long for the key (RSA-OAEP).
    #[error("{0}")]
    MessageTooLong(String),
    /// A failure that is not the caller's fault (e.g. the system RNG).
    #[error("internal failure: {0}")]
    Internal(String),
}

impl CryptoError {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            message: message.into(),
        }
    }

    pub(crate) fn key(field: &'static str, message: impl Into<String>) -> Self {
        Self::InvalidKey {
            field,
            message: message.into(),
        }
    }
}

pub type Result<T, E = CryptoError> = std::result::Result<T, E>;
