//! What every handler shares.

use flowforge_service_kit::{BlockingPool, Metrics};

/// Shared state: the CPU pool and the business counter.
#[derive(Clone)]
pub struct AppState {
    /// Where matrix work runs.
    pub cpu: BlockingPool,
    /// `math_operations_total{operation,outcome}`.
    operations: prometheus::IntCounterVec,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("cpu", &self.cpu)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Registers the service's counter on `metrics`.
    pub fn new(metrics: &Metrics, cpu: BlockingPool) -> Self {
        Self {
            cpu,
            operations: metrics.counter(
                "math_operations_total",
                "Math operations performed, by operation and outcome",
                &["operation", "outcome"],
            ),
        }
    }

    /// Counts one operation; `ok` tells success from failure.
    pub fn record(&self, operation: &str, ok: bool) {
        self.operations
            .with_label_values(&[operation, if ok { "ok" } else { "error" }])
            .inc();
    }
}
