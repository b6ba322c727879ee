//! FlowForge OCR service (`/api/v1/ocr/`): Tesseract 5 (the system's libtesseract, LSTM models)
//! behind a pool of warm engines, with preprocessing (deskew, binarization, denoising,
//! upscaling, orientation), images, multi-page TIFF and PDF input (text layers read directly,
//! scanned pages rendered by the shared renderer), and text, structured JSON, hOCR, TSV or
//! searchable-PDF output.
//!
//! The service reports ready only once every engine has loaded its models; a request waits for
//! a free engine up to a limit and then gets 503. [`router`] gives the documented routes;
//! [`app`] wraps them with the kit and starts loading the engines.

pub mod api;
pub mod domain;
mod errors;
pub mod state;

use std::time::Duration;

use flowforge_service_kit::Kit;
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

use crate::domain::OcrLimits;
use crate::domain::engine::EnginePool;

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "ocr";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3004;
/// The language every engine loads at start.
pub const DEFAULT_LANGUAGE: &str = "eng";

/// The routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// Pool and limits settings.
#[derive(Debug, Clone)]
pub struct OcrConfig {
    pub data_dir: std::path::PathBuf,
    pub engines: usize,
    pub wait: Duration,
    pub limits: OcrLimits,
}

impl OcrConfig {
    /// From the environment: `FLOWFORGE_OCR_TESSDATA` (the traineddata directory),
    /// `FLOWFORGE_OCR_ENGINES` (default: one per CPU), `FLOWFORGE_OCR_WAIT_SECONDS` (how long a
    /// request waits for an engine, default 30), `FLOWFORGE_OCR_MAX_PAGES` (default 50).
    pub fn from_env() -> Self {
        let number = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
        };
        let cpus = std::thread::available_parallelism().map_or(2, usize::from);
        let mut limits = OcrLimits::default();
        if let Some(pages) = number("FLOWFORGE_OCR_MAX_PAGES") {
            limits.max_pages = pages;
        }
        Self {
            data_dir: domain::default_data_dir(),
            engines: number("FLOWFORGE_OCR_ENGINES").unwrap_or(cpus).min(64),
            wait: Duration::from_secs(number("FLOWFORGE_OCR_WAIT_SECONDS").unwrap_or(30) as u64),
            limits,
        }
    }
}

/// The whole service configured from the environment.
pub fn app(kit: &Kit) -> axum::Router {
    app_with(kit, OcrConfig::from_env())
}

/// The whole service; the engines load on a blocking thread while `/health` says `starting`.
pub fn app_with(kit: &Kit, config: OcrConfig) -> axum::Router {
    let languages = domain::installed_languages(&config.data_dir);
    let pool = EnginePool::new(
        config.data_dir.clone(),
        DEFAULT_LANGUAGE,
        config.engines,
        config.wait,
    );
    let latch = kit.health().latch();
    let warming = pool.clone();
    let load = move || {
        if let Err(error) = warming.warm() {
            tracing::error!(%error, "OCR engines could not load; requests will wait and fail");
            // The latch stays held: the service never reports ready without engines.
            std::mem::forget(latch);
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            handle.spawn_blocking(load);
        }
        Err(_) => load(),
    }
    kit.app(router(AppState::new(
        kit.metrics(),
        pool,
        languages,
        config.limits,
    )))
}
