//! What every handler shares.

use std::sync::Arc;

use flowforge_service_kit::Metrics;

use crate::domain::OcrLimits;
use crate::domain::engine::EnginePool;

/// Shared state: the engine pool, the installed languages, the limits and the counters.
#[derive(Clone)]
pub struct AppState {
    pub engines: EnginePool,
    pub languages: Arc<Vec<String>>,
    pub limits: OcrLimits,
    /// `ocr_pages_total{source,outcome}`.
    pages: prometheus::IntCounterVec,
    /// `ocr_page_seconds` histogram.
    page_seconds: prometheus::Histogram,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("engines", &self.engines)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn new(
        metrics: &Metrics,
        engines: EnginePool,
        languages: Vec<String>,
        limits: OcrLimits,
    ) -> Self {
        Self {
            engines,
            languages: Arc::new(languages),
            limits,
            pages: metrics.counter(
                "ocr_pages_total",
                "Pages read, by source (ocr or textLayer) and outcome",
                &["source", "outcome"],
            ),
            page_seconds: metrics.histogram("ocr_page_seconds", "Time to read one page"),
        }
    }

    pub fn record_page(&self, source: &str, ok: bool, seconds: f64) {
        self.pages
            .with_label_values(&[source, if ok { "ok" } else { "error" }])
            .inc();
        if ok {
            self.page_seconds.observe(seconds);
        }
    }
}
