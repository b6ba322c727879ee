//! The image work itself, free of HTTP: decoding with limits, operations, encoding, analysis.

pub mod analysis;
pub mod codec;
pub mod draw;
pub mod ops;

/// Why an image could not be processed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImageError {
    /// Bad options, naming the field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// Past the pixel budget or an output dimension limit.
    #[error("{0}")]
    TooLarge(String),
    /// A format this service does not read or write.
    #[error("{0}")]
    Unsupported(String),
    /// A truncated or malformed file.
    #[error("{0}")]
    Corrupt(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T> = std::result::Result<T, ImageError>;

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> ImageError {
    ImageError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

/// Bounds on one request's images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLimits {
    /// Most pixels of an input (width × height).
    pub max_pixels: u64,
    /// Largest width or height of an output.
    pub max_dimension: u32,
    /// Most bytes the decoder may allocate.
    pub max_decode_bytes: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_pixels: 50_000_000,
            max_dimension: 16_384,
            max_decode_bytes: 1024 * 1024 * 1024,
        }
    }
}
