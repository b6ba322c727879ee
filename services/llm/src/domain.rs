//! The llm service's work, free of HTTP: local GGUF generation and embeddings on candle, and
//! backends (local or an upstream OpenAI-compatible server) chosen by model name.

pub mod backend;
pub mod embedder;
pub mod generator;
pub mod json_constraint;
pub mod model;
pub mod native;
pub mod sampler;
pub mod template;
pub mod text;
pub mod tokenizer;
pub mod upstream;

use std::sync::Arc;

pub use json_constraint::Grammar;
pub use sampler::SamplingParams;
pub use template::Message;

/// Why a request could not be served.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    /// The input is wrong in one field.
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    /// No configured backend serves this model.
    #[error("model `{model}` is not served here; available: {available}")]
    UnknownModel { model: String, available: String },
    /// The prompt and the completion would not fit the model's context.
    #[error("{0}")]
    ContextLength(String),
    /// An input has more tokens than the model reads.
    #[error("{0}")]
    TooManyTokens(String),
    /// The operation is not offered for this model or with these options.
    #[error("{message}")]
    Unsupported { field: String, message: String },
    /// The queue is full: try again shortly.
    #[error("{0}")]
    Overloaded(String),
    /// The models are still loading.
    #[error("the models are still loading")]
    Starting,
    /// An upstream server failed or could not be reached.
    #[error("{0}")]
    Upstream(String),
    /// A model could not be loaded.
    #[error("{0}")]
    Load(String),
    #[error("tokenization failed: {0}")]
    Tokenize(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<candle_core::Error> for LlmError {
    fn from(error: candle_core::Error) -> Self {
        Self::Internal(error.to_string())
    }
}

impl LlmError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

/// How a generation should be shaped, whatever backend runs it.
#[derive(Debug, Clone, Default)]
pub struct GenerationOptions {
    /// The most tokens to generate; `None` lets the backend choose (up to the context).
    pub max_tokens: Option<usize>,
    pub sampling: SamplingParams,
    /// Generation ends before any of these strings; they are not part of the text.
    pub stop: Vec<String>,
    pub response_format: ResponseFormat,
}

/// What the text must be.
#[derive(Debug, Clone, Default)]
pub enum ResponseFormat {
    #[default]
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid under a schema: the compiled grammar and the schema as sent.
    JsonSchema {
        name: String,
        schema: serde_json::Value,
        grammar: Arc<Grammar>,
    },
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FinishReason {
    /// The model ended its turn, a stop string came, or the JSON value was complete.
    Stop,
    /// `max_tokens` or the context ran out.
    Length,
}

impl FinishReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Stop => "stop",
            Self::Length => "length",
        }
    }
}

/// Token counts of one generation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
}

/// What a generation produces, in order: text pieces, then one `Done` (or an `Error`).
#[derive(Debug, Clone)]
pub enum Event {
    Text(String),
    Done {
        finish_reason: FinishReason,
        usage: Usage,
    },
    Error(LlmError),
}

/// The events of one generation; dropping it cancels the generation.
pub type EventStream = tokio::sync::mpsc::Receiver<Event>;

/// Embeddings of several inputs, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: usize,
}
