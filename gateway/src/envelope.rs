//! Errors the gateway itself answers, in the services' envelope.

use bytes::Bytes;
use flowforge_service_kit::{ErrorBody, ErrorEnvelope};

/// An error the gateway produces: status, stable code, message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
}

impl GatewayError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn not_found() -> Self {
        Self::new(
            404,
            "NOT_FOUND",
            "No such route; services live under /api/v1/<service>/",
        )
    }

    pub fn no_upstream(service: &str) -> Self {
        Self::new(
            503,
            "UPSTREAM_UNAVAILABLE",
            format!("No healthy instance of the {service} service"),
        )
    }

    /// The envelope JSON with `request_id`.
    pub fn body(&self, request_id: &str) -> Bytes {
        let envelope = ErrorEnvelope {
            error: ErrorBody {
                code: self.code.to_owned(),
                message: self.message.clone(),
                details: Vec::new(),
                request_id: Some(request_id.to_owned()),
            },
        };
        Bytes::from(serde_json::to_vec(&envelope).unwrap_or_default())
    }
}

/// The envelope for a failure pingora reports while proxying, by the status it would send.
/// The envelope for a refused credential: 401, 403 for a key outside its scopes, 503 when the
/// store that would answer is down.
pub fn for_auth_failure(failure: &crate::identity::AuthFailure) -> GatewayError {
    use crate::identity::AuthFailure;
    match failure {
        AuthFailure::OutOfScope(_) | AuthFailure::Disabled => {
            GatewayError::new(403, "FORBIDDEN", failure.to_string())
        }
        AuthFailure::StoreUnavailable => {
            GatewayError::new(503, "UPSTREAM_UNAVAILABLE", failure.to_string())
        }
        _ => GatewayError::new(401, "UNAUTHORIZED", failure.to_string()),
    }
}

pub fn for_proxy_failure(status: u16, service: Option<&str>) -> GatewayError {
    let service = service.unwrap_or("upstream");
    match status {
        400 => GatewayError::new(400, "VALIDATION_ERROR", "Malformed request"),
        413 => GatewayError::new(413, "PAYLOAD_TOO_LARGE", "Request body exceeds the limit"),
        502 => GatewayError::new(
            502,
            "UPSTREAM_UNAVAILABLE",
            format!("The {service} service could not be reached"),
        ),
        503 => GatewayError::no_upstream(service),
        504 => GatewayError::new(
            504,
            "TIMEOUT",
            format!("The {service} service did not answer in time"),
        ),
        _ => GatewayError::new(500, "INTERNAL_ERROR", "Internal error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_shape() {
        let body = GatewayError::not_found().body("req-1");
        let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "NOT_FOUND");
        assert_eq!(json["error"]["requestId"], "req-1");
        assert!(json["error"].get("details").is_none());
    }

    #[test]
    fn proxy_failures_map_to_codes() {
        assert_eq!(
            for_proxy_failure(502, Some("crypto")).code,
            "UPSTREAM_UNAVAILABLE"
        );
        assert_eq!(for_proxy_failure(504, None).code, "TIMEOUT");
        assert_eq!(for_proxy_failure(500, None).code, "INTERNAL_ERROR");
        assert_eq!(for_proxy_failure(418, None).status, 500);
    }
}
