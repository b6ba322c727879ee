//! `POST /api/v1/crypto/sign` and `verify`.

use axum::extract::State;
use axum::response::Response;
use flowforge_service_kit::{ApiError, Batch, OneOrBatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{InputEncoding, OutputFormat, VerifyResponse, decode_input};
use crate::domain::CryptoError;
use crate::domain::encoding::{self, decode_signature};
use crate::domain::signature::{self as domain, EcdsaFormat, SignatureAlgorithm as Algorithm};
use crate::state::AppState;

/// A signature algorithm.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum SignatureAlgorithm {
    #[serde(rename = "ed25519")]
    Ed25519,
    #[serde(rename = "ecdsa-p256-sha256")]
    EcdsaP256Sha256,
    #[serde(rename = "ecdsa-p384-sha384")]
    EcdsaP384Sha384,
    #[serde(rename = "rsa-pss-sha256")]
    RsaPssSha256,
    #[serde(rename = "rsa-pkcs1-sha256")]
    RsaPkcs1Sha256,
}

impl SignatureAlgorithm {
    fn domain(self) -> Algorithm {
        match self {
            Self::Ed25519 => Algorithm::Ed25519,
            Self::EcdsaP256Sha256 => Algorithm::EcdsaP256Sha256,
            Self::EcdsaP384Sha384 => Algorithm::EcdsaP384Sha384,
            Self::RsaPssSha256 => Algorithm::RsaPssSha256,
            Self::RsaPkcs1Sha256 => Algorithm::RsaPkcs1Sha256,
        }
    }

    fn label(self) -> String {
        super::wire_name(self)
    }
}

/// ECDSA signature layout.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignatureFormat {
    /// ASN.1 DER (OpenSSL, Java).
    #[default]
    Der,
    /// Fixed-width r‖s (JOSE, WebCrypto).
    Raw,
}

impl From<SignatureFormat> for EcdsaFormat {
    fn from(value: SignatureFormat) -> Self {
        match value {
            SignatureFormat::Der => EcdsaFormat::Der,
            SignatureFormat::Raw => EcdsaFormat::Raw,
        }
    }
}

/// Sign a message.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignRequest {
    /// The algorithm; the key must be of its type.
    pub algorithm: SignatureAlgorithm,
    /// PEM private key: PKCS#8 `PRIVATE KEY` (any type) or PKCS#1 `RSA PRIVATE KEY`.
    pub private_key: String,
    /// The message, as text in `inputEncoding`.
    pub input: String,
    /// How `input` carries bytes (default `utf8`).
    #[serde(default)]
    pub input_encoding: InputEncoding,
    /// ECDSA only: `der` (default) or `raw`.
    #[serde(default)]
    pub signature_format: SignatureFormat,
    /// How the signature is written (default `base64`).
    #[serde(default = "OutputFormat::base64")]
    pub output_format: OutputFormat,
}

/// A signature.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignResponse {
    /// The algorithm used.
    pub algorithm: SignatureAlgorithm,
    /// The signature in `outputFormat`.
    pub signature: String,
}

/// Sign a message (or a batch) with a PEM private key. RSA runs on the CPU pool.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/sign",
    tag = "signatures",
    request_body = OneOrBatch<SignRequest>,
    responses((status = 200, description = "The signature, or per-item results for a batch", body = flowforge_service_kit::OneOrBatchResponse<SignResponse>))
)]
pub async fn sign(
    State(state): State<AppState>,
    batch: Batch<SignRequest>,
) -> Result<Response, ApiError> {
    let counter = state.operations.clone();
    batch
        .respond_blocking(&state.cpu, move |r: SignRequest| {
            let message = decode_input(&r.input, r.input_encoding, "input")?;
            let result = domain::sign(
                r.algorithm.domain(),
                &r.private_key,
                &message,
                r.signature_format.into(),
            );
            counter.record("sign", &r.algorithm.label(), result.is_ok());
            let signature = encoding::OutputFormat::from(r.output_format).encode(&result?);
            Ok(SignResponse {
                algorithm: r.algorithm,
                signature,
            })
        })
        .await
}

/// Verify a signature.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifySignatureRequest {
    /// The algorithm; the key must be of its type.
    pub algorithm: SignatureAlgorithm,
    /// PEM public key: SPKI `PUBLIC KEY` (any type) or PKCS#1 `RSA PUBLIC KEY`.
    pub public_key: String,
    /// The message, as text in `inputEncoding`.
    pub input: String,
    /// How `input` carries bytes (default `utf8`).
    #[serde(default)]
    pub input_encoding: InputEncoding,
    /// The signature, base64 or hex.
    pub signature: String,
    /// ECDSA only: `der` (default) or `raw`.
    #[serde(default)]
    pub signature_format: SignatureFormat,
}

/// Verify a signature (or a batch) with a PEM public key.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/verify",
    tag = "signatures",
    request_body = OneOrBatch<VerifySignatureRequest>,
    responses((status = 200, description = "Whether the signature is valid, or per-item results for a batch", body = flowforge_service_kit::OneOrBatchResponse<VerifyResponse>))
)]
pub async fn verify(
    State(state): State<AppState>,
    batch: Batch<VerifySignatureRequest>,
) -> Result<Response, ApiError> {
    let counter = state.operations.clone();
    batch
        .respond_blocking(&state.cpu, move |r: VerifySignatureRequest| {
            let message = decode_input(&r.input, r.input_encoding, "input")?;
            let signature = decode_signature(&r.signature, None)
                .ok_or_else(|| CryptoError::invalid("signature", "is neither base64 nor hex"))?;
            let valid = domain::verify(
                r.algorithm.domain(),
                &r.public_key,
                &message,
                &signature,
                r.signature_format.into(),
            )?;
            counter.record("verify", &r.algorithm.label(), valid);
            Ok(VerifyResponse { valid })
        })
        .await
}
