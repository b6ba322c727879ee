//! What every handler shares.

use flowforge_service_kit::{BlockingPool, Metrics};

use crate::domain::{Deadline, PdfLimits};

/// Shared state: the CPU pool, the limits and the business counter.
#[derive(Clone)]
pub struct AppState {
    /// Where parsing, layout and writing run.
    pub cpu: BlockingPool,
    pub limits: PdfLimits,
    /// `pdf_operations_total{operation,outcome}`.
    operations: prometheus::IntCounterVec,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(metrics: &Metrics, cpu: BlockingPool, limits: PdfLimits) -> Self {
        Self {
            cpu,
            limits,
            operations: metrics.counter(
                "pdf_operations_total",
                "PDF operations performed, by operation and outcome",
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

    /// The time budget of one operation, starting now.
    pub fn deadline(&self) -> Deadline {
        Deadline::after(self.limits.max_time)
    }
}
