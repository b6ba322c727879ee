//! What every handler shares.

use flowforge_service_kit::{BlockingPool, Metrics};
use prometheus_counter::OperationCounter;

/// Shared state: the CPU pool and the business counters.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Where KDFs, RSA and big hashes run.
    pub cpu: BlockingPool,
    /// `crypto_operations_total{operation,algorithm,outcome}`.
    pub operations: OperationCounter,
}

impl AppState {
    /// Registers the service's counters on `metrics`.
    pub fn new(metrics: &Metrics, cpu: BlockingPool) -> Self {
        Self {
            cpu,
            operations: OperationCounter::register(metrics),
        }
    }
}

mod prometheus_counter {
    use flowforge_service_kit::Metrics;

    /// Counts operations by kind, algorithm and outcome.
    #[derive(Clone)]
    pub struct OperationCounter(prometheus::IntCounterVec);

    impl std::fmt::Debug for OperationCounter {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("OperationCounter")
        }
    }

    impl OperationCounter {
        pub(super) fn register(metrics: &Metrics) -> Self {
            Self(metrics.counter(
                "crypto_operations_total",
                "Crypto operations performed, by operation, algorithm and outcome",
                &["operation", "algorithm", "outcome"],
            ))
        }

        /// Counts one operation; `ok` tells success from failure.
        pub fn record(&self, operation: &str, algorithm: &str, ok: bool) {
            self.0
                .with_label_values(&[operation, algorithm, if ok { "ok" } else { "error" }])
                .inc();
        }
    }
}
