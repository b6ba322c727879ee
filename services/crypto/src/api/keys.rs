//! `POST /api/v1/crypto/keys/generate`.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::keys::{self, GeneratedKey, KeySpec};
use crate::state::AppState;

/// What kind of key to make.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum KeyType {
    #[serde(rename = "aes-128")]
    Aes128,
    #[serde(rename = "aes-256")]
    Aes256,
    #[serde(rename = "chacha20")]
    Chacha20,
    #[serde(rename = "hmac")]
    Hmac,
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-p256")]
    EcdsaP256,
    #[serde(rename = "ecdsa-p384")]
    EcdsaP384,
    #[serde(rename = "rsa")]
    Rsa,
}

/// Generate a key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"type": "ed25519"}))]
pub struct GenerateKeyRequest {
    /// The key type.
    #[serde(rename = "type")]
    pub key_type: KeyType,
    /// RSA only: 2048 (default), 3072 or 4096.
    #[serde(default)]
    pub bits: Option<usize>,
    /// HMAC only: key length in bytes, 16 to 128 (default 32).
    #[serde(default)]
    pub bytes: Option<usize>,
}

/// A generated key: `key` for symmetric types, PEM pair for asymmetric ones; JWK for both.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerateKeyResponse {
    /// The key type.
    #[serde(rename = "type")]
    pub key_type: KeyType,
    /// Symmetric key, base64.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Private key, PKCS#8 PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub private_key_pem: Option<String>,
    /// Public key, SPKI PEM.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key_pem: Option<String>,
    /// The key as a JWK (private parts included).
    pub jwk: BTreeMap<String, String>,
    /// The public key as a JWK.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_jwk: Option<BTreeMap<String, String>>,
}

/// Generate a symmetric key or a key pair. RSA keys take up to seconds and run on the CPU pool.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/keys/generate",
    tag = "keys",
    request_body = GenerateKeyRequest,
    responses((status = 200, description = "The key", body = GenerateKeyResponse))
)]
pub async fn generate_key(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<GenerateKeyRequest>,
) -> Result<Json<GenerateKeyResponse>, ApiError> {
    let mismatch = |field: &str| {
        ApiError::invalid_field(
            field.to_owned(),
            format!(
                "applies only to {} keys",
                if field == "bits" { "rsa" } else { "hmac" }
            ),
        )
    };
    let spec = match r.key_type {
        KeyType::Rsa => KeySpec::Rsa {
            bits: r.bits.unwrap_or(2048),
        },
        KeyType::Hmac => KeySpec::Hmac {
            bytes: r.bytes.unwrap_or(32),
        },
        _ if r.bits.is_some() => return Err(mismatch("bits")),
        _ if r.bytes.is_some() => return Err(mismatch("bytes")),
        KeyType::Aes128 => KeySpec::Aes128,
        KeyType::Aes256 => KeySpec::Aes256,
        KeyType::Chacha20 => KeySpec::ChaCha20,
        KeyType::Ed25519 => KeySpec::Ed25519,
        KeyType::EcdsaP256 => KeySpec::EcdsaP256,
        KeyType::EcdsaP384 => KeySpec::EcdsaP384,
    };
    let generated = state
        .cpu
        .run(move || keys::generate(spec).map_err(ApiError::from))
        .await?;
    state
        .operations
        .record("keys_generate", &super::wire_name(r.key_type), true);
    let owned = |jwk: keys::Jwk| jwk.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Ok(Json(match generated {
        GeneratedKey::Symmetric { key, jwk } => GenerateKeyResponse {
            key_type: r.key_type,
            key: Some(keys::key_base64(&key)),
            private_key_pem: None,
            public_key_pem: None,
            jwk: owned(jwk),
            public_jwk: None,
        },
        GeneratedKey::Pair {
            private_pem,
            public_pem,
            private_jwk,
            public_jwk,
        } => GenerateKeyResponse {
            key_type: r.key_type,
            key: None,
            private_key_pem: Some(private_pem),
            public_key_pem: Some(public_pem),
            jwk: owned(private_jwk),
            public_jwk: Some(owned(public_jwk)),
        },
    }))
}
