//! What every handler shares.

use std::sync::Arc;

use flowforge_service_kit::{BlockingPool, Metrics};

use crate::domain::Store;
use crate::domain::embed::TextEmbedder;

/// Shared state: the collections, the text embedder, the worker pool and the counters.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub embedder: Arc<TextEmbedder>,
    pub cpu: BlockingPool,
    /// `vector_operations_total{operation}`.
    operations: prometheus::IntCounterVec,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(metrics: &Metrics, store: Arc<Store>, embedder: Arc<TextEmbedder>) -> Self {
        Self {
            store,
            embedder,
            cpu: BlockingPool::per_cpu(),
            operations: metrics.counter(
                "vector_operations_total",
                "Operations by kind",
                &["operation"],
            ),
        }
    }

    pub fn record(&self, operation: &str) {
        self.operations.with_label_values(&[operation]).inc();
    }
}
