//! Prometheus metrics: the HTTP series every service has, and its own business counters.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder,
};

/// Request-duration buckets in seconds: sub-millisecond crypto up to minute-long OCR and LLM calls.
const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// A service's metrics registry; every series carries the `service` label.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub(crate) requests: IntCounterVec,
    pub(crate) duration: HistogramVec,
    pub(crate) in_flight: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// A registry for `service` with the HTTP series registered.
    pub fn new(service: &str) -> Self {
        let labels = std::iter::once(("service".to_owned(), service.to_owned())).collect();
        let registry = Registry::new_custom(None, Some(labels)).expect("valid const labels");
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "http_requests_total",
                    "HTTP requests answered, by method, route template and status",
                ),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "http_request_duration_seconds",
                    "Time to answer an HTTP request",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["method", "route"],
            )
            .expect("valid metric"),
            in_flight: IntGauge::new("http_requests_in_flight", "HTTP requests being served")
                .expect("valid metric"),
            registry,
        };
        metrics.register(metrics.requests.clone());
        metrics.register(metrics.duration.clone());
        metrics.register(metrics.in_flight.clone());
        metrics
    }

    /// Registers a business counter (e.g. `crypto_operations_total{operation,algorithm}`).
    ///
    /// Panics if the name is taken or malformed: counters are registered once at start-up.
    pub fn counter(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let counter = IntCounterVec::new(Opts::new(name, help), labels).expect("valid counter");
        self.register(counter.clone());
        counter
    }

    /// Registers a business histogram of seconds (e.g. `ocr_page_seconds`), buckets from 10 ms
    /// to a minute.
    ///
    /// Panics if the name is taken or malformed: histograms are registered once at start-up.
    pub fn histogram(&self, name: &str, help: &str) -> prometheus::Histogram {
        let buckets = vec![0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];
        self.histogram_with(name, help, buckets)
    }

    /// Registers a business histogram with its own buckets (tokens per second, batch sizes).
    ///
    /// Panics if the name is taken or malformed: histograms are registered once at start-up.
    pub fn histogram_with(
        &self,
        name: &str,
        help: &str,
        buckets: Vec<f64>,
    ) -> prometheus::Histogram {
        let histogram =
            prometheus::Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .expect("valid histogram");
        self.register(histogram.clone());
        histogram
    }

    /// Registers a counter without labels (e.g. `llm_completion_tokens_total`).
    ///
    /// Panics if the name is taken or malformed: counters are registered once at start-up.
    pub fn int_counter(&self, name: &str, help: &str) -> prometheus::IntCounter {
        let counter =
            prometheus::IntCounter::with_opts(Opts::new(name, help)).expect("valid counter");
        self.register(counter.clone());
        counter
    }

    /// Registers a gauge (e.g. `llm_queue_depth`).
    ///
    /// Panics if the name is taken or malformed: gauges are registered once at start-up.
    pub fn gauge(&self, name: &str, help: &str) -> prometheus::IntGauge {
        let gauge = prometheus::IntGauge::with_opts(Opts::new(name, help)).expect("valid gauge");
        self.register(gauge.clone());
        gauge
    }

    fn register(&self, collector: impl prometheus::core::Collector + 'static) {
        self.registry
            .register(Box::new(collector))
            .expect("metric registered once");
    }

    /// The Prometheus text exposition of every series.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metric families.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_http_and_business_series_with_service_label() {
        let metrics = Metrics::new("crypto");
        metrics
            .requests
            .with_label_values(&["POST", "/api/v1/crypto/hash", "200"])
            .inc();
        metrics
            .counter("crypto_operations_total", "ops", &["operation"])
            .with_label_values(&["hash"])
            .inc_by(2);
        let text = metrics.render();
        assert!(text.contains(r#"http_requests_total{method="POST",route="/api/v1/crypto/hash",status="200",service="crypto"} 1"#), "{text}");
        assert!(
            text.contains(r#"crypto_operations_total{operation="hash",service="crypto"} 2"#),
            "{text}"
        );
        assert!(
            text.contains("http_requests_in_flight{service=\"crypto\"} 0"),
            "{text}"
        );
    }
}
