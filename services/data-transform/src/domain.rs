//! The transformations themselves, free of HTTP: formats, queries, record shaping, schemas,
//! patches, templates, dates and text.

pub mod datetime;
pub mod formats;
pub mod jq;
pub mod patch;
pub mod records;
pub mod schema;
pub mod selectors;
pub mod sheets;
pub mod tables;
pub mod template;
pub mod text;
pub mod xml;

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
