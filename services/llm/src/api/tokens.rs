//! `tokenize` and `detokenize` for local chat models (vLLM's shape).

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::OpenAiJson;
use super::chat::ChatMessage;
use crate::domain::LlmError;
use crate::domain::backend::ModelKind;
use crate::errors::OpenAiError;
use crate::state::AppState;

/// `POST tokenize`: a prompt, or messages rendered with the model's chat template.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"prompt": "Hello world!"}))]
pub struct TokenizeRequest {
    /// A local chat model (default: the first chat model).
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub messages: Option<Vec<ChatMessage>>,
}

/// The tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenizeResponse {
    pub tokens: Vec<u32>,
    pub count: usize,
    /// Tokens one sequence of this model may hold.
    pub max_model_len: usize,
}

/// `POST detokenize`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"tokens": [19556, 905, 17]}))]
pub struct DetokenizeRequest {
    pub model: Option<String>,
    pub tokens: Vec<u32>,
}

/// The text.
#[derive(Debug, Serialize, ToSchema)]
pub struct DetokenizeResponse {
    pub prompt: String,
}

/// Token ids of a prompt, or of messages as the chat template writes them.
#[utoipa::path(
    post,
    path = "/api/v1/llm/tokenize",
    tag = "llm",
    request_body = TokenizeRequest,
    responses(
        (status = 200, description = "The token ids", body = TokenizeResponse),
        (status = 422, description = "Neither or both of prompt and messages; not a local chat model", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn tokenize(
    State(state): State<AppState>,
    OpenAiJson(request): OpenAiJson<TokenizeRequest>,
) -> Result<Json<TokenizeResponse>, OpenAiError> {
    let (model, _) = state
        .registry
        .resolve(request.model.as_deref(), ModelKind::Chat)?;
    let generator = state.registry.local.generator(&model)?;
    let language = generator.model();
    let text = match (request.prompt, request.messages) {
        (Some(prompt), None) => prompt,
        (None, Some(messages)) => language
            .template
            .render(&super::chat::messages(messages)?)?,
        _ => {
            return Err(LlmError::invalid("prompt", "send either prompt or messages").into());
        }
    };
    let tokens = language.tokenizer.encode(&text)?;
    Ok(Json(TokenizeResponse {
        count: tokens.len(),
        tokens,
        max_model_len: language.context_length,
    }))
}

/// The text of token ids.
#[utoipa::path(
    post,
    path = "/api/v1/llm/detokenize",
    tag = "llm",
    request_body = DetokenizeRequest,
    responses(
        (status = 200, description = "The text", body = DetokenizeResponse),
        (status = 422, description = "A token outside the vocabulary; not a local chat model", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn detokenize(
    State(state): State<AppState>,
    OpenAiJson(request): OpenAiJson<DetokenizeRequest>,
) -> Result<Json<DetokenizeResponse>, OpenAiError> {
    let (model, _) = state
        .registry
        .resolve(request.model.as_deref(), ModelKind::Chat)?;
    let tokenizer = &state.registry.local.generator(&model)?.model().tokenizer;
    Ok(Json(DetokenizeResponse {
        prompt: tokenizer.decode(&request.tokens, false)?,
    }))
}
