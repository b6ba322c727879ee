//! FlowForge vector service (`/api/v1/vector/`): collections of points (vectors with JSON
//! payloads) on Qdrant's embedded engine, kept on disk under `FLOWFORGE_VECTOR_DATA_DIR`;
//! points and queries may be given as text, embedded in-process with the llm service's
//! embedding model; nearest-neighbour, keyword (BM25) and hybrid search with Qdrant's payload
//! filters, recommendations, batches and groups.
//!
//! [`router`] gives the documented routes; [`app`] wraps them with the kit, opens the store and
//! loads the embedding model in the background (`/health` says `starting` until it has).

pub mod api;
pub mod domain;
mod errors;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;

use flowforge_service_kit::Kit;
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

use crate::domain::embed::TextEmbedder;
use crate::domain::{Store, VectorError};

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "vector";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3007;

const ENV_DATA_DIR: &str = "FLOWFORGE_VECTOR_DATA_DIR";
const ENV_QDRANT_URL: &str = "FLOWFORGE_VECTOR_QDRANT_URL";
const ENV_EMBEDDING_MODEL: &str = "FLOWFORGE_VECTOR_EMBEDDING_MODEL";

/// Where the data lives and which model embeds texts.
#[derive(Debug, Clone)]
pub struct VectorConfig {
    pub data_dir: PathBuf,
    pub embedding_model_dir: PathBuf,
}

impl VectorConfig {
    /// `FLOWFORGE_VECTOR_DATA_DIR` (default `~/.local/share/flowforge/vector`),
    /// `FLOWFORGE_VECTOR_EMBEDDING_MODEL` (default the fetched all-MiniLM-L6-v2).
    pub fn from_env() -> Result<Self, String> {
        if std::env::var(ENV_QDRANT_URL).is_ok_and(|v| !v.trim().is_empty()) {
            return Err(format!(
                "{ENV_QDRANT_URL} is set, but a Qdrant server backend is not built yet; unset it \
                 to use the embedded engine"
            ));
        }
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        Ok(Self {
            data_dir: var(ENV_DATA_DIR).unwrap_or_else(default_data_dir),
            embedding_model_dir: var(ENV_EMBEDDING_MODEL)
                .unwrap_or_else(flowforge_embeddings::default_model_dir),
        })
    }
}

fn default_data_dir() -> PathBuf {
    let data = std::env::var("XDG_DATA_HOME")
        .ok()
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var("HOME")
                .ok()
                .map(|h| PathBuf::from(h).join(".local/share"))
        })
        .unwrap_or_else(|| PathBuf::from("/tmp"));
    data.join("flowforge").join("vector")
}

/// The routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// The whole service configured from the environment; a bad setting stops start-up.
pub fn app(kit: &Kit) -> axum::Router {
    let config = VectorConfig::from_env().unwrap_or_else(|e| panic!("vector configuration: {e}"));
    app_with(kit, config).unwrap_or_else(|e| panic!("vector: {e}"))
}

/// The whole service on the store at `config.data_dir`.
pub fn app_with(kit: &Kit, config: VectorConfig) -> Result<axum::Router, VectorError> {
    let store = Arc::new(Store::open(&config.data_dir)?);
    let embedder = Arc::new(TextEmbedder::new(config.embedding_model_dir));
    let latch = kit.health().latch();
    let loading = Arc::clone(&embedder);
    let load = move || {
        if let Err(error) = loading.load() {
            // Vectors still work; texts answer 503 EMBEDDINGS_UNAVAILABLE with the reason.
            tracing::error!(%error, "the embedding model could not load");
        }
        drop(latch);
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(load);
        }
        Err(_) => load(),
    }
    Ok(kit.app(router(AppState::new(kit.metrics(), store, embedder))))
}
