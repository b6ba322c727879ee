//! What every handler shares.

use std::path::PathBuf;

use flowforge_service_kit::{BlockingPool, Metrics};

use crate::domain::jq::JqLimits;

/// Shared state: the CPU pool, the jq worker and the business counter.
#[derive(Clone)]
pub struct AppState {
    /// Where parsing and rendering of large inputs run.
    pub cpu: BlockingPool,
    /// The executable started (with `--jq-worker`) for each jq filter.
    pub worker: PathBuf,
    pub jq_limits: JqLimits,
    /// `data_operations_total{operation,outcome}`.
    operations: prometheus::IntCounterVec,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(metrics: &Metrics, cpu: BlockingPool, worker: PathBuf) -> Self {
        Self {
            cpu,
            worker,
            jq_limits: JqLimits::default(),
            operations: metrics.counter(
                "data_operations_total",
                "Data transformations performed, by operation and outcome",
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
