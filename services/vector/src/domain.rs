//! The vector service's work, free of HTTP: collections of points (vectors with JSON payloads)
//! on Qdrant's embedded engine (`qdrant-edge`), kept on disk, and texts embedded in-process.

pub mod collections;
pub mod documents;
pub mod embed;
pub mod search;

pub use collections::{Collection, Store};
pub use search::{Example, Group, Query, RecommendStrategy, Search};

/// Why an operation failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum VectorError {
    /// The input is wrong in one field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("collection `{0}` does not exist")]
    NoCollection(String),
    #[error("collection `{0}` already exists")]
    Exists(String),
    /// A vector's length differs from the collection's.
    #[error("{0}")]
    DimensionMismatch(String),
    /// Texts cannot be embedded: no embedding model is loaded.
    #[error("{0}")]
    NoEmbedder(String),
    /// The embedding model is still loading.
    #[error("the embedding model is still loading")]
    Starting,
    /// The engine refused the operation (a bad filter value, say).
    #[error("{0}")]
    Engine(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl VectorError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The same error, said of the part of a request at `path` (one search of a batch, say).
    pub fn in_field(self, path: &str) -> Self {
        match self {
            Self::Invalid { field, message } => Self::Invalid {
                field: format!("{path}.{field}"),
                message,
            },
            Self::DimensionMismatch(message) => {
                Self::DimensionMismatch(format!("{path}: {message}"))
            }
            Self::Engine(message) => Self::Engine(format!("{path}: {message}")),
            other => other,
        }
    }
}

impl From<qdrant_edge::OperationError> for VectorError {
    fn from(error: qdrant_edge::OperationError) -> Self {
        use qdrant_edge::OperationError as E;
        match error {
            E::ValidationError { description } => Self::Engine(description),
            E::WrongVectorDimension {
                expected_dim,
                received_dim,
            } => Self::DimensionMismatch(format!(
                "the collection's vectors have {expected_dim} dimensions; got {received_dim}"
            )),
            E::VectorNameNotExists { received_name } => Self::invalid(
                "using",
                format!("the collection has no vector `{received_name}`"),
            ),
            other => Self::Internal(other.to_string()),
        }
    }
}
