//! FlowForge image service (`/api/v1/image/`): info, resize (fit modes, SIMD resampling), crop,
//! rotate, flip/flop, adjustments and conversion between JPEG, PNG, WebP (lossless), GIF, BMP,
//! TIFF and ICO, alone or as a pipeline with one decode and one encode.
//!
//! Hostile files are expected: dimensions are read before any pixel is decoded and checked
//! against a pixel budget, the decoder runs with allocation limits, and all pixel work runs on
//! the bounded CPU pool. [`router`] gives the documented routes; [`app`] wraps them with the kit.

pub mod api;
pub mod domain;
mod errors;
pub mod state;

use flowforge_service_kit::{BlockingPool, Kit};
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "image";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3005;

/// The routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// The whole service. `FLOWFORGE_IMAGE_MAX_PIXELS` (default 50,000,000) bounds the pixels of an
/// input; values that are not positive whole numbers keep the default.
pub fn app(kit: &Kit) -> axum::Router {
    let mut limits = domain::ImageLimits::default();
    if let Some(pixels) = std::env::var("FLOWFORGE_IMAGE_MAX_PIXELS")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|n| *n > 0)
    {
        limits.max_pixels = pixels;
    }
    app_with_limits(kit, limits)
}

/// The whole service with explicit limits (tests use small ones).
pub fn app_with_limits(kit: &Kit, limits: domain::ImageLimits) -> axum::Router {
    kit.app(router(AppState::new(
        kit.metrics(),
        BlockingPool::per_cpu(),
        limits,
    )))
}
