//! Assembling a service: its routes plus the common surface and layers.

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::extract::Extension;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde_json::{Value, json};
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::Limits;
use crate::error::{ApiError, ErrorBody, ErrorDetail, ErrorEnvelope};
use crate::health::{Health, HealthReport};
use crate::metrics::Metrics;
use crate::middleware::{ObserveState, observe};

/// A service's shared parts: identity, limits, metrics and health.
#[derive(Debug, Clone)]
pub struct Kit {
    name: String,
    version: String,
    limits: Limits,
    metrics: Metrics,
    health: Health,
}

#[derive(OpenApi)]
#[openapi(components(schemas(ErrorEnvelope, ErrorBody, ErrorDetail)))]
struct KitDoc;

impl Kit {
    /// The parts for service `name` (e.g. `crypto`, `data-transform`) at `version`.
    pub fn new(name: &str, version: &str, limits: Limits) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            limits,
            metrics: Metrics::new(name),
            health: Health::new(name, version),
        }
    }

    /// The metrics registry, for the service's own counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Health: register dependency checks, take readiness latches.
    pub fn health(&self) -> &Health {
        &self.health
    }

    /// The limits requests are held to.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The service's routes plus `/health`, `/metrics`, `/openapi.json`, the envelope fallbacks and
    /// every layer (request id, limits, timeout, panic capture, metrics, access log).
    pub fn app(&self, api: OpenApiRouter) -> Router {
        let (router, openapi) = OpenApiRouter::new()
            .routes(routes!(get_health))
            .layer(Extension(self.health.clone()))
            .merge(api)
            .split_for_parts();
        let document: Arc<Value> = Arc::new(self.finish_openapi(openapi));
        let metrics = self.metrics.clone();

        router
            .route(
                "/metrics",
                get(move || async move { metrics_response(&metrics) }),
            )
            .route(
                "/openapi.json",
                get(move || async move { Json(document.as_ref().clone()) }),
            )
            .fallback(|| async { ApiError::not_found("No such route") })
            .method_not_allowed_fallback(|| async {
                ApiError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "METHOD_NOT_ALLOWED",
                    "Method not allowed on this route",
                )
            })
            .layer(CatchPanicLayer::custom(|_| {
                ApiError::internal("handler panicked").into_response()
            }))
            .layer(DefaultBodyLimit::max(self.limits.max_body_bytes))
            .layer(axum::middleware::from_fn_with_state(
                ObserveState {
                    metrics: self.metrics.clone(),
                    limits: self.limits.clone(),
                },
                observe,
            ))
    }

    /// Titles the document, registers the envelope, makes operation ids unique across services
    /// (`crypto_hash`) and documents the envelope on every 4XX/5XX an operation does not list.
    fn finish_openapi(&self, mut openapi: utoipa::openapi::OpenApi) -> Value {
        openapi.merge(KitDoc::openapi());
        // utoipa fills `info` from the crate that calls it; describe the service instead.
        let mut license = utoipa::openapi::License::new("Apache-2.0");
        license.identifier = Some("Apache-2.0".to_owned());
        openapi.info = utoipa::openapi::Info::builder()
            .title(format!("FlowForge {} API", self.name))
            .version(self.version.clone())
            .description(Some(format!(
                "The FlowForge {} service. Errors use one envelope: `{{\"error\": {{code, message, details, requestId}}}}`.",
                self.name
            )))
            .license(Some(license))
            .build();
        let mut document = serde_json::to_value(&openapi).unwrap_or_else(|_| json!({}));
        let prefix = self.name.replace('-', "_");
        let error_response = json!({
            "description": "Error envelope",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}}}
        });
        if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
            for item in paths.values_mut().filter_map(Value::as_object_mut) {
                for operation in item.values_mut().filter_map(Value::as_object_mut) {
                    if let Some(Value::String(id)) = operation.get_mut("operationId")
                        && !id.starts_with(&format!("{prefix}_"))
                    {
                        *id = format!("{prefix}_{id}");
                    }
                    let responses = operation.entry("responses").or_insert_with(|| json!({}));
                    if let Some(responses) = responses.as_object_mut() {
                        for range in ["4XX", "5XX"] {
                            responses
                                .entry(range)
                                .or_insert_with(|| error_response.clone());
                        }
                    }
                }
            }
        }
        document
    }
}

/// Service health: dependency checks and readiness.
#[utoipa::path(
    get,
    path = "/health",
    tag = "operations",
    responses(
        (status = 200, description = "Healthy", body = HealthReport),
        (status = 503, description = "Starting, or a dependency is down", body = HealthReport)
    )
)]
async fn get_health(Extension(health): Extension<Health>) -> Response {
    let report = health.report().await;
    let status = if report.status == "healthy" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report)).into_response()
}

fn metrics_response(metrics: &Metrics) -> Response {
    (
        [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        metrics.render(),
    )
        .into_response()
}
