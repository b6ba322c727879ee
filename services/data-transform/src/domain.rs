//! The transformations themselves, free of HTTP: formats, jq, JSON Patch, templates.

pub mod formats;
pub mod jq;
pub mod patch;
pub mod template;

/// Why a transformation could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    /// Bad input, naming the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Input that does not parse in its format; the message says where.
    #[error("{0}")]
    Malformed(String),
    /// A jq filter failed while running.
    #[error("{0}")]
    QueryFailed(String),
    /// Past the sandbox's bounds (CPU, memory, output).
    #[error("{0}")]
    TooComplex(String),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, DataError>;
