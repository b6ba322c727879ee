//! `validate` against JSON Schema and `schema/infer` from samples.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::schema::{self, Draft, SchemaViolation};
use crate::state::AppState;

/// A JSON Schema dialect.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
pub enum SchemaDraft {
    #[serde(rename = "2020-12")]
    Draft202012,
    #[serde(rename = "2019-09")]
    Draft201909,
    #[serde(rename = "draft-07")]
    Draft7,
    #[serde(rename = "draft-06")]
    Draft6,
    #[serde(rename = "draft-04")]
    Draft4,
}

impl From<SchemaDraft> for Draft {
    fn from(draft: SchemaDraft) -> Self {
        match draft {
            SchemaDraft::Draft202012 => Self::Draft202012,
            SchemaDraft::Draft201909 => Self::Draft201909,
            SchemaDraft::Draft7 => Self::Draft7,
            SchemaDraft::Draft6 => Self::Draft6,
            SchemaDraft::Draft4 => Self::Draft4,
        }
    }
}

/// Validate data against a schema.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "schema": {"type": "object", "required": ["email"], "properties": {"email": {"type": "string", "format": "email"}}},
    "data": {"email": "not-an-email"}
}))]
pub struct ValidateRequest {
    #[schema(value_type = Object)]
    pub schema: Value,
    #[schema(value_type = Object)]
    pub data: Value,
    /// The dialect when the schema's `$schema` does not name one (default 2020-12).
    #[serde(default)]
    pub draft: Option<SchemaDraft>,
    /// Check `format` (email, date-time, uri, …) too (default true).
    #[serde(default = "yes")]
    pub formats: bool,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidateResponse {
    pub valid: bool,
    /// Every violation (at most 1000), each with its instance path.
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<SchemaViolation>,
}

/// JSON Schema validation (2020-12, 2019-09, draft-07, -06, -04) listing every error with its
/// instance path. Invalid data is a 200 with `valid: false`; an invalid schema is a 422.
#[utoipa::path(
    post,
    path = "/api/v1/data/validate",
    tag = "schemas",
    request_body = ValidateRequest,
    responses((status = 200, description = "Whether the data is valid, and why not", body = ValidateResponse))
)]
pub async fn validate(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<ValidateRequest>,
) -> Result<Json<ValidateResponse>, ApiError> {
    let outcome = state
        .cpu
        .run(move || {
            Ok(schema::validate(
                &r.schema,
                &r.data,
                r.draft.map(Draft::from),
                r.formats,
            )?)
        })
        .await;
    state.record("validate", outcome.is_ok());
    let errors = outcome?;
    Ok(Json(ValidateResponse {
        valid: errors.is_empty(),
        errors,
    }))
}

/// Infer a schema.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"samples": [{"id": 1, "email": "ada@example.com"}, {"id": 2, "email": "bob@example.com", "tags": ["vip"]}]}))]
pub struct InferRequest {
    /// Sample documents (n8n items).
    #[schema(value_type = Vec<Object>)]
    pub samples: Vec<Value>,
}

/// A 2020-12 schema every sample satisfies: merged types, `required` for fields in every
/// sample, array items, and formats (date-time, date, email, uuid, uri) when every string fits.
#[utoipa::path(
    post,
    path = "/api/v1/data/schema/infer",
    tag = "schemas",
    request_body = InferRequest,
    responses((status = 200, description = "`{\"schema\": …}`", body = Object))
)]
pub async fn infer(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<InferRequest>,
) -> Result<Json<Value>, ApiError> {
    if r.samples.is_empty() {
        return Err(ApiError::invalid_field(
            "samples",
            "give at least one sample",
        ));
    }
    let outcome = state.cpu.run(move || Ok(schema::infer(&r.samples))).await;
    state.record("infer", outcome.is_ok());
    Ok(Json(json!({ "schema": outcome? })))
}
