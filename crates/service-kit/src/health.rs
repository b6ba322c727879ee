//! `GET /health`: the service's own state, its registered dependency checks, and a readiness latch.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, join_all};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long one dependency check may take before it counts as unhealthy.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// A dependency check: resolves to `Err(reason)` when the dependency is down.
pub type HealthCheck = Arc<dyn Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The health of one service: start time, dependency checks and pending start-up tasks.
#[derive(Clone)]
pub struct Health {
    inner: Arc<HealthInner>,
}

struct HealthInner {
    service: String,
    version: String,
    started: Instant,
    checks: RwLock<Vec<(String, HealthCheck)>>,
    pending: AtomicUsize,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

/// Held by a start-up task (model load, migrations); the service reports ready once all are dropped.
#[derive(Debug)]
#[must_use = "the service is not ready until this latch is dropped"]
pub struct ReadinessLatch {
    health: Health,
}

impl Drop for ReadinessLatch {
    fn drop(&mut self) {
        self.health.inner.pending.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The `/health` answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"status": "healthy", "service": "crypto", "version": "0.1.0", "uptime": 123, "checks": {}}))]
pub struct HealthReport {
    /// `healthy`, `starting` (a start-up task is pending) or `unhealthy` (a dependency is down).
    pub status: String,
    /// The service's name.
    pub service: String,
    /// The service's version.
    pub version: String,
    /// Seconds since start.
    pub uptime: u64,
    /// Each dependency's state: `healthy` or `unhealthy: <reason>`.
    pub checks: BTreeMap<String, String>,
}

impl Health {
    pub(crate) fn new(service: &str, version: &str) -> Self {
        Self {
            inner: Arc::new(HealthInner {
                service: service.to_owned(),
                version: version.to_owned(),
                started: Instant::now(),
                checks: RwLock::new(Vec::new()),
                pending: AtomicUsize::new(0),
            }),
        }
    }

    /// Registers a dependency check run on every `/health` request (with a 2 s timeout).
    pub fn register_check<F, Fut>(&self, name: &str, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
    {
        let check: HealthCheck = Arc::new(move || Box::pin(check()));
        if let Ok(mut checks) = self.inner.checks.write() {
            checks.push((name.to_owned(), check));
        }
    }

    /// A latch that keeps the service `starting` (503) until dropped.
    pub fn latch(&self) -> ReadinessLatch {
        self.inner.pending.fetch_add(1, Ordering::AcqRel);
        ReadinessLatch {
            health: self.clone(),
        }
    }

    /// Whether every start-up latch has been dropped.
    pub fn is_ready(&self) -> bool {
        self.inner.pending.load(Ordering::Acquire) == 0
    }

    /// Runs every check concurrently and reports.
    pub async fn report(&self) -> HealthReport {
        let checks: Vec<(String, HealthCheck)> = self
            .inner
            .checks
            .read()
            .map(|c| c.clone())
            .unwrap_or_default();
        let results = join_all(checks.iter().map(|(name, check)| async move {
            let outcome = match tokio::time::timeout(CHECK_TIMEOUT, check()).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(reason)) => Err(reason),
                Err(_) => Err(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
            };
            (name.clone(), outcome)
        }))
        .await;
        let all_healthy = results.iter().all(|(_, r)| r.is_ok());
        let checks = results
            .into_iter()
            .map(|(name, r)| {
                (
                    name,
                    r.map_or_else(
                        |reason| format!("unhealthy: {reason}"),
                        |()| "healthy".to_owned(),
                    ),
                )
            })
            .collect();
        let status = if !all_healthy {
            "unhealthy"
        } else if !self.is_ready() {
            "starting"
        } else {
            "healthy"
        };
        HealthReport {
            status: status.to_owned(),
            service: self.inner.service.clone(),
            version: self.inner.version.clone(),
            uptime: self.inner.started.elapsed().as_secs(),
            checks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn latch_and_checks_decide_the_status() {
        let health = Health::new("ocr", "1.0.0");
        assert_eq!(health.report().await.status, "healthy");

        let latch = health.latch();
        assert_eq!(health.report().await.status, "starting");
        drop(latch);
        assert_eq!(health.report().await.status, "healthy");

        health.register_check("redis", || async { Err("connection refused".to_owned()) });
        let report = health.report().await;
        assert_eq!(report.status, "unhealthy");
        assert_eq!(report.checks["redis"], "unhealthy: connection refused");
    }
}
