//! The one error envelope of DESIGN.md, and the request id it carries.

use std::borrow::Cow;

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served; set by the kit's middleware around every handler.
    pub(crate) static REQUEST_ID: String;
}

/// The request id of the request this task is serving, if any.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// Every error response: `{"error": {...}}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"error": {"code": "VALIDATION_ERROR", "message": "Invalid input provided",
    "details": [{"field": "algorithm", "message": "unknown variant `sha999`"}], "requestId": "req-4f1c2a"}}))]
pub struct ErrorEnvelope {
    /// What went wrong.
    pub error: ErrorBody,
}

/// The body of an error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Stable SCREAMING_SNAKE code, e.g. `VALIDATION_ERROR`, `DECRYPTION_FAILED`.
    pub code: String,
    /// A sentence for humans; never contains secrets or internals.
    pub message: String,
    /// Per-field problems, when the input was at fault.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
    /// The request id, to quote when asking for help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One field's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// Path of the field, dotted (`items[2].algorithm`); `body` for the request as a whole.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error on its way to the client: status, code, message, details.
///
/// Services map their own error enums into this once (in their `errors.rs`).
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    status: StatusCode,
    code: Cow<'static, str>,
    message: String,
    details: Vec<ErrorDetail>,
}

impl ApiError {
    /// An error with any status and code.
    pub fn new(
        status: StatusCode,
        code: impl Into<Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// 422 VALIDATION_ERROR naming the field at fault.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            "Invalid input provided",
        )
        .with_detail(field, message)
    }

    /// 400 VALIDATION_ERROR for a request that could not be read at all (malformed JSON, say).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }

    /// 404 NOT_FOUND.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "NOT_FOUND", message)
    }

    /// 413 PAYLOAD_TOO_LARGE with the limit in the message.
    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("Request body exceeds the limit of {limit_bytes} bytes"),
        )
    }

    /// 415 UNSUPPORTED_MEDIA_TYPE.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            message,
        )
    }

    /// 503 SERVICE_UNAVAILABLE-style overload answer, with code UPSTREAM_UNAVAILABLE per DESIGN.md.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "UPSTREAM_UNAVAILABLE",
            message,
        )
    }

    /// 504 TIMEOUT.
    pub fn timeout(message: impl Into<String>) -> Self {
        Self::new(StatusCode::GATEWAY_TIMEOUT, "TIMEOUT", message)
    }

    /// 500 INTERNAL_ERROR. The cause is logged with the request id and never sent to the client.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal error",
        )
    }

    /// Adds one field's problem.
    pub fn with_detail(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.details.push(ErrorDetail {
            field: field.into(),
            message: message.into(),
        });
        self
    }

    /// The HTTP status this error is sent with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The stable error code.
    pub fn code(&self) -> &str {
        &self.code
    }

    /// The message for humans.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The per-field details.
    pub fn details(&self) -> &[ErrorDetail] {
        &self.details
    }

    /// The body as it goes to the client, stamped with the current request id.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            code: self.code.to_string(),
            message: self.message.clone(),
            details: self.details.clone(),
            request_id: current_request_id(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorEnvelope { error: self.body() })).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn envelope_carries_code_details_and_request_id() {
        let error = ApiError::invalid_field("algorithm", "must be one of: sha256, sha512");
        let body = REQUEST_ID
            .scope("req-test".to_owned(), async move { error.body() })
            .await;
        let json = serde_json::to_value(ErrorEnvelope { error: body }).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"error": {"code": "VALIDATION_ERROR", "message": "Invalid input provided",
                "details": [{"field": "algorithm", "message": "must be one of: sha256, sha512"}],
                "requestId": "req-test"}})
        );
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let error = ApiError::internal("connection string postgres://user:secret@db");
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!error.message().contains("secret"));
    }
}
