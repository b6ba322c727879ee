//! The one mapping from domain errors to the envelope, which here also carries OpenAI's `type`
//! and `param` so that OpenAI SDKs read their usual fields from the same body.

use axum::Json;
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::ApiError;
use http::StatusCode;
use http::header::RETRY_AFTER;
use serde_json::{Value, json};

use crate::domain::LlmError;

impl From<LlmError> for ApiError {
    fn from(error: LlmError) -> Self {
        let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
        match error {
            LlmError::Invalid { field, message } => ApiError::invalid_field(field, message),
            LlmError::UnknownModel { .. } => {
                ApiError::new(unprocessable, "MODEL_NOT_FOUND", error.to_string())
                    .with_detail("model", error.to_string())
            }
            LlmError::ContextLength(message) => {
                ApiError::new(unprocessable, "CONTEXT_LENGTH_EXCEEDED", message.clone())
                    .with_detail("messages", message)
            }
            LlmError::TooManyTokens(message) => {
                ApiError::new(unprocessable, "TOO_MANY_TOKENS", message)
            }
            LlmError::Unsupported { field, message } => {
                ApiError::new(unprocessable, "UNSUPPORTED", message.clone())
                    .with_detail(field, message)
            }
            LlmError::Overloaded(message) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "QUEUE_FULL", message)
            }
            LlmError::Starting => ApiError::unavailable("The models are still loading"),
            LlmError::Upstream(message) => {
                ApiError::new(StatusCode::BAD_GATEWAY, "UPSTREAM_UNAVAILABLE", message)
            }
            LlmError::Load(cause) | LlmError::Tokenize(cause) | LlmError::Internal(cause) => {
                ApiError::internal(cause)
            }
        }
    }
}

/// An error answered in the envelope plus OpenAI's fields.
#[derive(Debug)]
pub struct OpenAiError(pub ApiError);

impl From<ApiError> for OpenAiError {
    fn from(error: ApiError) -> Self {
        Self(error)
    }
}

impl From<LlmError> for OpenAiError {
    fn from(error: LlmError) -> Self {
        Self(error.into())
    }
}

/// OpenAI's error `type` for a status.
fn error_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "server_error",
    }
}

impl OpenAiError {
    /// The body: `{"error": {code, message, details, requestId, type, param}}`.
    pub fn body(&self) -> Value {
        let mut body = serde_json::to_value(self.0.body()).unwrap_or_else(|_| json!({}));
        body["type"] = json!(error_type(self.0.status()));
        body["param"] = self
            .0
            .details()
            .first()
            .map_or(Value::Null, |d| json!(d.field));
        json!({ "error": body })
    }
}

impl IntoResponse for OpenAiError {
    fn into_response(self) -> Response {
        let mut response = (self.0.status(), Json(self.body())).into_response();
        if self.0.status() == StatusCode::TOO_MANY_REQUESTS {
            response
                .headers_mut()
                .insert(RETRY_AFTER, http::HeaderValue::from_static("1"));
        }
        response
    }
}
