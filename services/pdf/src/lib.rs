//! FlowForge PDF service (`/api/v1/pdf/`): generate documents (JSON model, Markdown, templates),
//! merge, split, extract/remove/rotate/reorder pages, extract text per page, read and write
//! metadata, watermark, number pages, encrypt/decrypt, compress, and turn images into PDFs.
//!
//! Everything runs on one object model (lopdf) off the async runtime with bounded concurrency.
//! Hostile files are expected: stream inflation is capped, page counts and image pixels are
//! checked before work, and long operations stop at a deadline. [`router`] gives the
//! documented routes; [`app`] wraps them with the kit.

pub mod api;
pub mod domain;
mod errors;
pub mod state;

use flowforge_service_kit::{BlockingPool, Kit};
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "pdf";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3003;

/// The routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// The whole service. `FLOWFORGE_PDF_MAX_PAGES` (default 2,000) bounds the pages of an input or
/// output, `FLOWFORGE_PDF_MAX_FILES` (default 100) the files of one merge; the time budget is
/// the kit's request timeout. Values that are not positive whole numbers keep the default.
pub fn app(kit: &Kit) -> axum::Router {
    let setting = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
    };
    let mut limits = domain::PdfLimits {
        max_time: kit.limits().request_timeout,
        ..domain::PdfLimits::default()
    };
    if let Some(pages) = setting("FLOWFORGE_PDF_MAX_PAGES") {
        limits.max_pages = pages;
    }
    if let Some(files) = setting("FLOWFORGE_PDF_MAX_FILES") {
        limits.max_files = files;
    }
    app_with_limits(kit, limits)
}

/// The whole service with explicit limits (tests use small ones).
pub fn app_with_limits(kit: &Kit, limits: domain::PdfLimits) -> axum::Router {
    kit.app(router(AppState::new(
        kit.metrics(),
        BlockingPool::per_cpu(),
        limits,
    )))
}
