//! The gateway's Prometheus series, served on the admin listener.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    60.0,
];

/// Request counts and latencies by service, upstream health by instance.
#[derive(Clone)]
pub struct GatewayMetrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub upstream_duration: HistogramVec,
    pub upstream_healthy: IntGaugeVec,
    pub in_flight: IntGauge,
    pub rate_limited: IntCounterVec,
    pub auth_failures: IntCounterVec,
}

impl GatewayMetrics {
    #[allow(clippy::expect_used)] // fixed, valid metric definitions: failure is a programming error
    pub fn new() -> Self {
        let registry = Registry::new();
        let metrics = Self {
            requests: IntCounterVec::new(
                Opts::new(
                    "gateway_requests_total",
                    "Requests answered, by service and status",
                ),
                &["service", "status"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new(
                    "gateway_request_duration_seconds",
                    "Time to answer a request",
                )
                .buckets(BUCKETS.to_vec()),
                &["service"],
            )
            .expect("valid metric"),
            upstream_duration: HistogramVec::new(
                HistogramOpts::new(
                    "gateway_upstream_duration_seconds",
                    "Time from choosing an instance to the end of its answer",
                )
                .buckets(BUCKETS.to_vec()),
                &["service"],
            )
            .expect("valid metric"),
            upstream_healthy: IntGaugeVec::new(
                Opts::new(
                    "gateway_upstream_healthy",
                    "1 when the instance passes its health check",
                ),
                &["service", "instance"],
            )
            .expect("valid metric"),
            in_flight: IntGauge::new("gateway_requests_in_flight", "Requests being proxied")
                .expect("valid metric"),
            rate_limited: IntCounterVec::new(
                Opts::new(
                    "gateway_rate_limited_total",
                    "Requests refused with 429, by service",
                ),
                &["service"],
            )
            .expect("valid metric"),
            auth_failures: IntCounterVec::new(
                Opts::new(
                    "gateway_auth_failures_total",
                    "Requests refused before routing upstream, by reason",
                ),
                &["reason"],
            )
            .expect("valid metric"),
            registry,
        };
        for collector in [
            Box::new(metrics.requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(metrics.duration.clone()),
            Box::new(metrics.upstream_duration.clone()),
            Box::new(metrics.upstream_healthy.clone()),
            Box::new(metrics.in_flight.clone()),
            Box::new(metrics.rate_limited.clone()),
            Box::new(metrics.auth_failures.clone()),
        ] {
            metrics
                .registry
                .register(collector)
                .expect("registered once");
        }
        metrics
    }

    /// Adds counters kept elsewhere (the rate limiter's) to what [`GatewayMetrics::render`] shows.
    pub fn register_counters(&self, counters: Vec<prometheus::IntCounter>) {
        for counter in counters {
            if let Err(e) = self.registry.register(Box::new(counter)) {
                tracing::warn!(error = %e, "metric not registered");
            }
        }
    }

    /// The text exposition.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buffer);
        String::from_utf8(buffer).unwrap_or_default()
    }
}

impl Default for GatewayMetrics {
    fn default() -> Self {
        Self::new()
    }
}
