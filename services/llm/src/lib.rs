//! FlowForge llm service (`/api/v1/llm/`, and OpenAI's `/v1/` paths as aliases): chat and text
//! completions from local GGUF models on candle (streamed as server-sent events, with seeds,
//! penalties, stop strings and JSON constrained by a schema), sentence embeddings with
//! continuous batching, reranking, tokenize/detokenize, and model names routed to an upstream
//! OpenAI-compatible server when one is configured.
//!
//! The models load on a blocking thread while `/health` says `starting`. [`router`] gives the
//! documented routes; [`app`] wraps them with the kit and starts loading.

pub mod api;
mod config;
pub mod domain;
mod errors;
pub mod state;

use std::sync::Arc;

use candle_core::Device;
use flowforge_service_kit::Kit;
use utoipa_axum::router::OpenApiRouter;

pub use config::{LlmConfig, ModelSource, UpstreamConfig};
pub use state::AppState;

use crate::domain::backend::{Backend, LoadedModels, LocalBackend, ModelCard, ModelKind, Registry};
use crate::domain::embedder::EmbeddingModel;
use crate::domain::generator::Generator;
use crate::domain::model::LanguageModel;
use crate::domain::upstream::UpstreamBackend;

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "llm";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3006;

/// The routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// The whole service configured from the environment; a bad setting stops start-up.
pub fn app(kit: &Kit) -> axum::Router {
    let config = LlmConfig::from_env().unwrap_or_else(|e| panic!("llm configuration: {e}"));
    app_with(kit, config).unwrap_or_else(|e| panic!("llm: {e}"))
}

/// The whole service; the local models load on a blocking thread while `/health` says `starting`.
pub fn app_with(kit: &Kit, config: LlmConfig) -> Result<axum::Router, domain::LlmError> {
    let state = AppState::new(kit.metrics(), &config);
    let mut cards: Vec<ModelCard> = config
        .chat_models
        .iter()
        .map(|m| ModelCard {
            id: m.id.clone(),
            kind: ModelKind::Chat,
            owned_by: "flowforge".into(),
            context_length: None,
            dimensions: None,
        })
        .collect();
    cards.extend(config.embedding_models.iter().map(|m| ModelCard {
        id: m.id.clone(),
        kind: ModelKind::Embedding,
        owned_by: "flowforge".into(),
        context_length: None,
        dimensions: None,
    }));
    let local = Arc::new(LocalBackend::new(cards));
    let mut others: Vec<Arc<dyn Backend>> = Vec::new();
    if let Some(upstream) = &config.upstream {
        others.push(Arc::new(UpstreamBackend::new(
            &upstream.base_url,
            upstream.api_key.clone(),
            upstream.models.clone(),
            upstream.timeout,
        )?));
    }
    let registry = Arc::new(Registry::new(Arc::clone(&local), others));
    let state = state.with_registry(registry);

    let latch = kit.health().latch();
    let metrics = state.generation_metrics.clone();
    let batch_sizes = state.embedding_batch_sizes.clone();
    let load = move || match load_models(&config, metrics, batch_sizes) {
        Ok(models) => {
            local.set_loaded(models);
            drop(latch);
        }
        Err(error) => {
            tracing::error!(%error, "the llm models could not load; the service stays unready");
            // The latch stays held: the service never reports ready without its models.
            std::mem::forget(latch);
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(load);
        }
        Err(_) => load(),
    }
    Ok(kit.app(router(state)))
}

fn load_models(
    config: &LlmConfig,
    metrics: domain::generator::GenerationMetrics,
    batch_sizes: prometheus::Histogram,
) -> Result<LoadedModels, domain::LlmError> {
    let device = device();
    let mut models = LoadedModels::default();
    for source in &config.chat_models {
        let started = std::time::Instant::now();
        let model = LanguageModel::load(&source.id, &source.path, device.clone())?;
        let runtime = match model.weights {
            domain::model::Weights::Native(_) => "native",
            domain::model::Weights::Candle(_) => "candle",
        };
        tracing::info!(model = %source.id, runtime, seconds = started.elapsed().as_secs_f64(), "chat model loaded");
        let generator = Generator::start(
            Arc::new(model),
            config.workers,
            config.queue,
            config.max_tokens,
            metrics.clone(),
        );
        models.chat.insert(source.id.clone(), generator);
    }
    for source in &config.embedding_models {
        let embedder = flowforge_embeddings::Embedder::load(&source.path, device.clone())
            .map_err(|e| domain::LlmError::Load(e.to_string()))?;
        models.embedding.insert(
            source.id.clone(),
            EmbeddingModel::start(
                &source.id,
                embedder,
                config.embedding_queue,
                batch_sizes.clone(),
            ),
        );
    }
    Ok(models)
}

/// The GPU with the `cuda` feature when one answers, else the CPU.
fn device() -> Device {
    #[cfg(feature = "cuda")]
    if let Ok(device) = Device::new_cuda(0) {
        return device;
    }
    Device::Cpu
}
