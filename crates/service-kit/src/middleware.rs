//! The layer around every route: request id, limits, timeout, access log and HTTP metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::HeaderValue;
use http::header::CONTENT_LENGTH;
use tracing::Instrument;

use crate::REQUEST_ID_HEADER;
use crate::config::Limits;
use crate::error::{ApiError, REQUEST_ID};
use crate::metrics::Metrics;

/// Longest client-supplied request id that is kept.
const MAX_REQUEST_ID_LEN: usize = 128;

#[derive(Clone)]
pub(crate) struct ObserveState {
    pub(crate) metrics: Metrics,
    pub(crate) limits: Limits,
}

/// Keeps `http_requests_in_flight` right even when a client disconnects and the future is dropped.
struct InFlight(prometheus::IntGauge);

impl InFlight {
    fn enter(gauge: &prometheus::IntGauge) -> Self {
        gauge.inc();
        Self(gauge.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

pub(crate) async fn observe(
    State(state): State<ObserveState>,
    mut req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let (request_id, header_value) = take_request_id(&mut req);
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    req.extensions_mut().insert(state.limits.clone());

    let _in_flight = InFlight::enter(&state.metrics.in_flight);
    let span = tracing::info_span!("request", request_id = %request_id);
    let limits = state.limits;
    let mut response = REQUEST_ID
        .scope(request_id, async move {
            if declared_length(&req).is_some_and(|len| len > limits.max_body_bytes) {
                return ApiError::payload_too_large(limits.max_body_bytes).into_response();
            }
            match tokio::time::timeout(limits.request_timeout, next.run(req)).await {
                Ok(response) => response,
                Err(_) => ApiError::timeout(format!(
                    "Request took longer than the limit of {} s",
                    limits.request_timeout.as_secs_f64()
                ))
                .into_response(),
            }
        })
        .instrument(span.clone())
        .await;

    if needs_envelope(&response) {
        response = REQUEST_ID
            .scope(
                request_id_for_envelope(&header_value),
                envelope_for(response),
            )
            .await;
    }
    let status = response.status();
    let elapsed = started.elapsed();
    state
        .metrics
        .requests
        .with_label_values(&[method.as_str(), route.as_str(), status.as_str()])
        .inc();
    state
        .metrics
        .duration
        .with_label_values(&[method.as_str(), route.as_str()])
        .observe(elapsed.as_secs_f64());
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %path,
            route = %route,
            status = status.as_u16(),
            latency_ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    });
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value);
    response
}

/// The request's id (the client's when well-formed, else a new one), set on the request's headers
/// so handlers and upstream calls see it; returned with its header value for the response.
fn take_request_id(req: &mut Request) -> (String, HeaderValue) {
    let request_id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_well_formed_request_id(id))
        .map_or_else(generate_request_id, str::to_owned);
    let header_value = HeaderValue::from_str(&request_id)
        .unwrap_or_else(|_| HeaderValue::from_static("req-invalid"));
    req.headers_mut()
        .insert(REQUEST_ID_HEADER, header_value.clone());
    (request_id, header_value)
}

/// Longest framework rejection text that is kept as the envelope's message.
const MAX_REJECTION_TEXT: usize = 512;

/// An error answer that is not JSON came from the framework (an extractor's plain-text rejection).
fn needs_envelope(response: &Response) -> bool {
    let status = response.status();
    let is_json = response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    (status.is_client_error() || status.is_server_error()) && !is_json
}

fn request_id_for_envelope(value: &HeaderValue) -> String {
    value.to_str().unwrap_or_default().to_owned()
}

/// Rewrites a plain-text error into the envelope, keeping its status; 5xx text is never echoed.
async fn envelope_for(response: Response) -> Response {
    use http::StatusCode;
    use http_body_util::BodyExt;
    let (parts, body) = response.into_parts();
    let status = parts.status;
    let text = match http_body_util::Limited::new(body, MAX_REJECTION_TEXT)
        .collect()
        .await
    {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_owned(),
        Err(_) => String::new(),
    };
    let code = match status {
        StatusCode::UNAUTHORIZED => "UNAUTHORIZED",
        StatusCode::FORBIDDEN => "FORBIDDEN",
        StatusCode::NOT_FOUND => "NOT_FOUND",
        StatusCode::METHOD_NOT_ALLOWED => "METHOD_NOT_ALLOWED",
        StatusCode::PAYLOAD_TOO_LARGE => "PAYLOAD_TOO_LARGE",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "UNSUPPORTED_MEDIA_TYPE",
        StatusCode::TOO_MANY_REQUESTS => "RATE_LIMITED",
        StatusCode::REQUEST_TIMEOUT | StatusCode::GATEWAY_TIMEOUT => "TIMEOUT",
        StatusCode::BAD_GATEWAY | StatusCode::SERVICE_UNAVAILABLE => "UPSTREAM_UNAVAILABLE",
        s if s.is_server_error() => "INTERNAL_ERROR",
        _ => "VALIDATION_ERROR",
    };
    let message = if status.is_client_error() && !text.is_empty() {
        text
    } else {
        status.canonical_reason().unwrap_or("Error").to_owned()
    };
    ApiError::new(status, code, message).into_response()
}

/// Request ids alone, for routers that are not a whole service (the gateway's admin API): the id is
/// taken from `X-Request-Id` when well-formed or generated, set for the envelope, and returned.
pub async fn request_ids(mut req: Request, next: Next) -> Response {
    let (request_id, header_value) = take_request_id(&mut req);
    let mut response = REQUEST_ID.scope(request_id, next.run(req)).await;
    response
        .headers_mut()
        .insert(REQUEST_ID_HEADER, header_value);
    response
}

fn declared_length(req: &Request) -> Option<usize> {
    req.headers()
        .get(CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Ids from clients are kept when short and made of safe characters, so they can go into logs as is.
pub fn is_well_formed_request_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A fresh request id: `req-` and 32 random hex digits.
pub fn generate_request_id() -> String {
    // Written directly rather than by `format!`, whose machinery cost the gateway 600
    // instructions a request.
    let mut id = String::with_capacity(36);
    id.push_str("req-");
    id.push_str(
        uuid::Uuid::new_v4()
            .simple()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    );
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_from_clients_are_checked() {
        for good in ["req-123", "abc_DEF.1:2", "a"] {
            assert!(is_well_formed_request_id(good), "{good}");
        }
        for bad in ["", "has space", "new\nline", "<script>", &"x".repeat(129)] {
            assert!(!is_well_formed_request_id(bad), "{bad}");
        }
        let generated = generate_request_id();
        assert!(generated.starts_with("req-") && is_well_formed_request_id(&generated));
        let digits = &generated["req-".len()..];
        assert_eq!(digits.len(), 32);
        assert!(
            digits
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        );
        assert_ne!(generated, generate_request_id());
    }
}
