//! The math itself, free of HTTP: expressions, descriptive statistics, linear algebra, finance.

pub mod expr;
pub mod finance;
pub mod hypothesis;
pub mod matrix;
pub mod numbers;
pub mod statistics;
pub mod symbolic;
pub mod units;

/// Why a computation could not be done.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MathError {
    /// Bad input, naming the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// The expression does not parse; the message says where.
    #[error("{0}")]
    Parse(String),
    /// Input beyond the sandbox's bounds.
    #[error("{0}")]
    TooComplex(String),
    /// A matrix that has no inverse (or no unique solution).
    #[error("{0}")]
    Singular(String),
    /// An iteration that did not converge (IRR, say).
    #[error("{0}")]
    NoConvergence(String),
}

impl MathError {
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, MathError>;
