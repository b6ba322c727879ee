//! FlowForge math service: expressions in math.js notation, descriptive statistics and
//! correlation, linear algebra, and time-value-of-money finance.
//!
//! [`router`] gives the service's documented routes; [`app`] wraps them with the service kit.
//! Domain code (`domain`) knows nothing of HTTP; `api` maps it to JSON; `errors` maps its errors
//! to the envelope once.

pub mod api;
pub mod domain;
mod errors;
pub mod state;

use flowforge_service_kit::{BlockingPool, Kit};
use utoipa_axum::router::OpenApiRouter;

pub use state::AppState;

/// The service's name in metrics, logs and the OpenAPI document.
pub const SERVICE: &str = "math";
/// The default port (DESIGN.md).
pub const DEFAULT_PORT: u16 = 3002;

/// The math routes with their state, ready for [`Kit::app`].
pub fn router(state: AppState) -> OpenApiRouter {
    api::routes().with_state(state)
}

/// The whole service: routes, state and the kit's common surface.
pub fn app(kit: &Kit) -> axum::Router {
    let state = AppState::new(kit.metrics(), BlockingPool::per_cpu());
    kit.app(router(state))
}
