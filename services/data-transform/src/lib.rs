//! FlowForge data-transform service (`/api/v1/data/`): conversion between JSON, JSON Lines,
//! CSV/TSV, YAML, TOML, XML, HTML and Markdown tables and XLSX; jq, JSONPath and JMESPath
//! queries; record pipelines and dataset comparison; JSON Schema validation and inference; JSON
//! Patch and Merge Patch; Jinja-style templates; dates in time zones; HTML/Markdown text tools.
//!
//! [`router`] gives the service's documented routes; [`app`] wraps them with the service kit.
//! Domain code (`domain`) knows nothing of HTTP; `api` maps it to JSON; `errors` maps its errors
//! to the envelope once. jq filters run in worker processes: see [`domain::jq`].

pub mod api;
pub mod domain;
mod errors;
pub mod state;

use std::path::PathBuf;

use flowforge_service_kit::{BlockingPool, Kit};
use utoipa_axum::router::OpenApiRouter;

pub use domain::jq::{WORKER_ARG, worker_main};
pub use state::AppState;

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "data-transform";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3008;

/// The routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// The whole service; jq workers are this executable started with [`WORKER_ARG`], so a binary
/// that serves this app must hand that argument to [`worker_main`].
///
/// `FLOWFORGE_DATA_TRANSFORM_JQ_TIMEOUT_SECONDS` (default 10) and
/// `FLOWFORGE_DATA_TRANSFORM_JQ_MEMORY_MIB` (default 2048) bound each filter; values that are not
/// positive whole numbers keep the defaults.
pub fn app(kit: &Kit) -> axum::Router {
    let worker =
        std::env::current_exe().unwrap_or_else(|_| PathBuf::from("flowforge-data-transform"));
    app_with_worker(kit, worker, jq_limits_from_env())
}

fn jq_limits_from_env() -> domain::jq::JqLimits {
    let number = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|n| *n > 0)
    };
    let mut limits = domain::jq::JqLimits::default();
    if let Some(seconds) = number("FLOWFORGE_DATA_TRANSFORM_JQ_TIMEOUT_SECONDS") {
        limits.timeout = std::time::Duration::from_secs(seconds);
    }
    if let Some(mib) = number("FLOWFORGE_DATA_TRANSFORM_JQ_MEMORY_MIB") {
        limits.memory_kib = mib * 1024;
    }
    limits
}

/// The whole service with jq workers started from `worker` under `limits` (tests pass the
/// service binary and shorter limits).
pub fn app_with_worker(kit: &Kit, worker: PathBuf, limits: domain::jq::JqLimits) -> axum::Router {
    let mut state = AppState::new(kit.metrics(), BlockingPool::per_cpu(), worker);
    state.jq_limits = limits;
    kit.app(router(state))
}
