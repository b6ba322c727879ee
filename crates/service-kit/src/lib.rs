//! What every FlowForge service shares.
//!
//! A service builds its routes as a [`utoipa_axum::router::OpenApiRouter`] and hands them to
//! [`Kit::app`], which adds the common surface of DESIGN.md: `GET /health` (dependency checks and a
//! readiness latch), `GET /metrics` (Prometheus, labelled by route template), `GET /openapi.json`,
//! the JSON error envelope for every failure (404, 405, 413, 415, 422, 500, 504), request ids and
//! structured access logs. [`serve`] runs the result with graceful shutdown.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use flowforge_service_kit::{Kit, ServiceConfig};
//! let config = ServiceConfig::from_env("crypto", 3001)?;
//! let kit = Kit::new("crypto", "0.1.0", config.limits.clone());
//! let app = kit.app(utoipa_axum::router::OpenApiRouter::new());
//! flowforge_service_kit::serve(app, config.addr).await?;
//! # Ok(()) }
//! ```

mod binary;
mod blocking;
mod config;
mod error;
mod extract;
mod health;
mod kit;
mod metrics;
mod middleware;
mod serve;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

pub use binary::{
    BinaryFiles, BinaryInput, BinaryOutput, BodyStream, FilePart, JsonOrBinary, JsonOrStream,
    ResponseFormat, decode_base64,
};
pub use blocking::BlockingPool;
pub use config::{ConfigError, Limits, ServiceConfig};
pub use error::{ApiError, ErrorBody, ErrorDetail, ErrorEnvelope, current_request_id};
pub use extract::{
    ApiJson, ApiQuery, Batch, BatchItem, BatchRequest, BatchResponse, MAX_BATCH_ITEMS, OneOrBatch,
    OneOrBatchResponse,
};
pub use health::{Health, HealthCheck, ReadinessLatch};
pub use kit::Kit;
pub use metrics::Metrics;
pub use middleware::{generate_request_id, is_well_formed_request_id, request_ids};
pub use serve::{init_tracing, serve, serve_listener, shutdown_signal};

/// The request-id header, accepted from clients when well-formed and returned on every response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";
