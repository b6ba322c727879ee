//! `GET models` and `GET models/{model}`.

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::LlmError;
use crate::domain::backend::{ModelCard, ModelKind};
use crate::errors::OpenAiError;
use crate::state::AppState;

/// One model.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelObject {
    pub id: String,
    /// `model`.
    pub object: &'static str,
    pub created: u64,
    /// `flowforge` (local) or `upstream`.
    pub owned_by: String,
    /// `chat` or `embedding`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Tokens one sequence may hold (local chat models, once loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_length: Option<usize>,
    /// Length of the vectors (local embedding models, once loaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<usize>,
}

/// Every model (`object: list`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelObject>,
}

fn describe(state: &AppState, card: ModelCard) -> ModelObject {
    let local = &state.registry.local;
    let (kind, context_length, dimensions) = match card.kind {
        ModelKind::Chat => (
            "chat",
            local
                .generator(&card.id)
                .ok()
                .map(|g| g.model().context_length),
            None,
        ),
        ModelKind::Embedding => (
            "embedding",
            None,
            local.embedding(&card.id).ok().map(|e| e.dimensions()),
        ),
    };
    ModelObject {
        id: card.id,
        object: "model",
        created: state.started,
        owned_by: card.owned_by,
        kind,
        context_length: card.context_length.or(context_length),
        dimensions: card.dimensions.or(dimensions),
    }
}

/// The models served here, local and upstream.
#[utoipa::path(
    get,
    path = "/api/v1/llm/models",
    tag = "llm",
    responses((status = 200, description = "Every model", body = ModelList))
)]
pub async fn list_models(State(state): State<AppState>) -> Json<ModelList> {
    let data = state
        .registry
        .models()
        .into_iter()
        .map(|card| describe(&state, card))
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

/// One model.
#[utoipa::path(
    get,
    path = "/api/v1/llm/models/{model}",
    tag = "llm",
    params(("model" = String, Path, description = "A model id")),
    responses(
        (status = 200, description = "The model", body = ModelObject),
        (status = 404, description = "No such model", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn get_model(
    State(state): State<AppState>,
    Path(model): Path<String>,
) -> Result<Json<ModelObject>, OpenAiError> {
    let card = state
        .registry
        .models()
        .into_iter()
        .find(|c| c.id == model)
        .ok_or_else(|| {
            OpenAiError(flowforge_service_kit::ApiError::not_found(
                LlmError::UnknownModel {
                    model: model.clone(),
                    available: state
                        .registry
                        .models()
                        .iter()
                        .map(|c| c.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
                .to_string(),
            ))
        })?;
    Ok(Json(describe(&state, card)))
}
