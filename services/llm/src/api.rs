//! HTTP surface, OpenAI-shaped: `chat/completions`, `completions`, `embeddings`, `models`,
//! plus `rerank`, `tokenize` and `detokenize`. Each lives under `/api/v1/llm/` (documented) and
//! under `/v1/` (the same handler), so an OpenAI SDK pointed at either base URL works.
//!
//! OpenAI's field names are snake_case; these endpoints keep them so that existing clients send
//! their requests unchanged. Unknown fields are ignored, as OpenAI-compatible servers do.

pub mod chat;
pub mod embeddings;
pub mod models;
pub mod tokens;

use axum::extract::{FromRequest, Request};
use axum::routing::{get, post};
use flowforge_service_kit::ApiJson;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::errors::OpenAiError;
use crate::state::AppState;

/// Every llm route, documented under `/api/v1/llm/`, with `/v1/` aliases.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(chat::create_chat_completion))
        .routes(routes!(chat::create_completion))
        .routes(routes!(embeddings::create_embeddings))
        .routes(routes!(embeddings::rerank))
        .routes(routes!(models::list_models))
        .routes(routes!(models::get_model))
        .routes(routes!(tokens::tokenize))
        .routes(routes!(tokens::detokenize))
        .route("/v1/chat/completions", post(chat::create_chat_completion))
        .route("/v1/completions", post(chat::create_completion))
        .route("/v1/embeddings", post(embeddings::create_embeddings))
        .route("/v1/rerank", post(embeddings::rerank))
        .route("/v1/models", get(models::list_models))
        .route("/v1/models/{model}", get(models::get_model))
        .route("/v1/tokenize", post(tokens::tokenize))
        .route("/v1/detokenize", post(tokens::detokenize))
}

/// A JSON body whose rejection speaks OpenAI's error fields too.
#[derive(Debug)]
pub struct OpenAiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for OpenAiJson<T> {
    type Rejection = OpenAiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ApiJson(value) = ApiJson::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// Seconds since the Unix epoch, for `created`.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `"one"` or `["one", "two"]`.
#[derive(Debug, Clone, serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}
