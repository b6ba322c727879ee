//! The admin API on its own listener (default 127.0.0.1:8001), off unless `adminToken` is set.
//! Every route needs `Authorization: Bearer <adminToken>`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use flowforge_service_kit::{ApiError, ApiJson};
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use serde_json::{Value, json};

mod identity;

use crate::config::ConfigError;
use crate::state::Shared;

/// The admin listener as a pingora background service.
pub struct AdminService {
    pub shared: Arc<Shared>,
    pub addr: SocketAddr,
    pub token: String,
}

#[async_trait]
impl BackgroundService for AdminService {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let listener = match tokio::net::TcpListener::bind(self.addr).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::error!(addr = %self.addr, error = %e, "admin listener could not bind; admin API off");
                return;
            }
        };
        let app = router(self.shared.clone(), self.token.clone());
        let stopped = async move {
            let _ = shutdown.changed().await;
        };
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::error!(error = %e, "admin listener failed");
        }
    }
}

/// The admin routes (public for tests that drive them without a socket).
pub fn router(shared: Arc<Shared>, token: String) -> Router {
    Router::new()
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/reload", post(reload))
        .route("/services/{name}/weights", put(set_weights))
        .merge(identity::routes())
        .fallback(|| async { ApiError::not_found("No such admin route") })
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(token),
            require_token,
        ))
        .layer(axum::middleware::from_fn(
            flowforge_service_kit::request_ids,
        ))
        .with_state(shared)
}

async fn require_token(State(token): State<Arc<String>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    // Constant-time comparison: the token guards configuration changes.
    let matches = presented.is_some_and(|p| {
        p.len() == token.len()
            && p.bytes()
                .zip(token.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    });
    if matches {
        next.run(request).await
    } else {
        let mut response = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Admin API needs `Authorization: Bearer <adminToken>`",
        )
        .into_response();
        response.headers_mut().insert(
            http::header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer"),
        );
        response
    }
}

async fn status(State(shared): State<Arc<Shared>>) -> Json<Value> {
    let routes = shared.routes();
    let services: serde_json::Map<String, Value> = routes
        .config
        .services
        .iter()
        .map(|service| {
            let pool = routes.pools.by_segment(&service.segment);
            let groups: Vec<Value> = service
                .groups
                .iter()
                .map(|g| json!({"name": g.name, "weight": g.weight, "upstreams": g.upstreams.iter().map(ToString::to_string).collect::<Vec<_>>()}))
                .collect();
            let instances = pool.map(|p| p.instances()).unwrap_or_default();
            (service.name.clone(), json!({"path": format!("/api/v1/{}/", service.segment), "timeoutSeconds": service.timeout.as_secs(), "groups": groups, "instances": instances}))
        })
        .collect();
    let access = &shared.access;
    Json(json!({
        "listen": routes.config.listen.to_string(),
        "services": services,
        "access": {
            "store": access.store_kind(),
            "rateLimits": access.limiter.health(),
            "changeEvents": access.events.as_ref().map(|e| if e.is_subscribed() { "subscribed" } else { "connecting" }),
        },
    }))
}

async fn metrics(State(shared): State<Arc<Shared>>) -> Response {
    (
        [(
            http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.metrics.render(),
    )
        .into_response()
}

async fn reload(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    shared.reload().await.map_err(refused)?;
    Ok(Json(json!({"reloaded": true})))
}

async fn set_weights(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    ApiJson(weights): ApiJson<BTreeMap<String, u32>>,
) -> Result<Json<Value>, ApiError> {
    shared.set_weights(&name, &weights).await.map_err(refused)?;
    Ok(Json(json!({"service": name, "weights": weights})))
}

fn refused(error: ConfigError) -> ApiError {
    match error {
        ConfigError::Invalid { path, message } => ApiError::invalid_field(path, message),
        ConfigError::Read { .. } => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            error.to_string(),
        ),
    }
}
