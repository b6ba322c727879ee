//! `POST /api/v1/crypto/password/hash` and `password/verify`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::cipher::KdfParams;
use crate::domain::password::{self, BCRYPT_DEFAULT_COST, PasswordSpec};
use crate::state::AppState;

/// A password hashing algorithm.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PasswordAlgorithm {
    /// Argon2id (OWASP's first choice).
    #[default]
    Argon2id,
    /// bcrypt, for systems that need it; passwords are limited to 72 bytes.
    Bcrypt,
}

/// Hash a password for storage.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"password": "correct horse battery staple"}))]
pub struct HashPasswordRequest {
    /// The password (at most 4096 bytes).
    pub password: String,
    /// The algorithm (default `argon2id`).
    #[serde(default)]
    pub algorithm: PasswordAlgorithm,
    /// Argon2id memory in KiB (default 19456, at most 262144).
    #[serde(default)]
    pub memory_kib: Option<u32>,
    /// Argon2id passes (default 2, at most 10).
    #[serde(default)]
    pub iterations: Option<u32>,
    /// Argon2id lanes (default 1, at most 8).
    #[serde(default)]
    pub parallelism: Option<u32>,
    /// bcrypt cost, 4 to 15 (default 12).
    #[serde(default)]
    pub cost: Option<u32>,
}

/// A stored-password hash.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HashPasswordResponse {
    /// The algorithm used.
    pub algorithm: PasswordAlgorithm,
    /// PHC string (`$argon2id$v=19$…`) or bcrypt hash (`$2b$12$…`), salt included.
    pub hash: String,
}

/// Hash a password with Argon2id (OWASP parameters by default) or bcrypt.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/password/hash",
    tag = "passwords",
    request_body = HashPasswordRequest,
    responses((status = 200, description = "The hash", body = HashPasswordResponse))
)]
pub async fn hash_password(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<HashPasswordRequest>,
) -> Result<Json<HashPasswordResponse>, ApiError> {
    let spec = match r.algorithm {
        PasswordAlgorithm::Argon2id => {
            if r.cost.is_some() {
                return Err(ApiError::invalid_field("cost", "applies only to bcrypt"));
            }
            PasswordSpec::Argon2id(KdfParams {
                memory_kib: r.memory_kib.unwrap_or(KdfParams::OWASP.memory_kib),
                iterations: r.iterations.unwrap_or(KdfParams::OWASP.iterations),
                parallelism: r.parallelism.unwrap_or(KdfParams::OWASP.parallelism),
            })
        }
        PasswordAlgorithm::Bcrypt => {
            if r.memory_kib.is_some() || r.iterations.is_some() || r.parallelism.is_some() {
                return Err(ApiError::invalid_field(
                    "memoryKib",
                    "memoryKib, iterations and parallelism apply only to argon2id",
                ));
            }
            PasswordSpec::Bcrypt {
                cost: r.cost.unwrap_or(BCRYPT_DEFAULT_COST),
            }
        }
    };
    let password_text = r.password;
    let hash = state
        .cpu
        .run(move || password::hash(&password_text, spec).map_err(ApiError::from))
        .await?;
    state.operations.record(
        "password_hash",
        if matches!(r.algorithm, PasswordAlgorithm::Bcrypt) {
            "bcrypt"
        } else {
            "argon2id"
        },
        true,
    );
    Ok(Json(HashPasswordResponse {
        algorithm: r.algorithm,
        hash,
    }))
}

/// Check a password against a stored hash.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyPasswordRequest {
    /// The password to check.
    pub password: String,
    /// The stored hash (Argon2 PHC string or bcrypt).
    pub hash: String,
}

/// A password check.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyPasswordResponse {
    /// Whether the password matches.
    pub valid: bool,
    /// The stored hash's algorithm.
    pub algorithm: String,
    /// Whether the stored hash is weaker than today's default: rehash on the next successful login.
    pub needs_rehash: bool,
}

/// Verify a password against an Argon2 or bcrypt hash (costs above the service's limits are refused).
#[utoipa::path(
    post,
    path = "/api/v1/crypto/password/verify",
    tag = "passwords",
    request_body = VerifyPasswordRequest,
    responses((status = 200, description = "The verdict", body = VerifyPasswordResponse))
)]
pub async fn verify_password(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<VerifyPasswordRequest>,
) -> Result<Json<VerifyPasswordResponse>, ApiError> {
    let check = state
        .cpu
        .run(move || password::verify(&r.password, &r.hash).map_err(ApiError::from))
        .await?;
    state
        .operations
        .record("password_verify", &check.algorithm, check.valid);
    Ok(Json(VerifyPasswordResponse {
        valid: check.valid,
        algorithm: check.algorithm,
        needs_rehash: check.needs_rehash,
    }))
}
