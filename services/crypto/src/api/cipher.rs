//! `POST /api/v1/crypto/encrypt` and `decrypt`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::{ApiError, Batch, BinaryInput, JsonOrBinary, OneOrBatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{InputEncoding, decode_input};
use crate::domain::cipher::{self, AeadAlgorithm, Secret};
use crate::domain::encoding::{base64, decode_base64};
use crate::domain::{CryptoError, oaep};
use crate::state::AppState;

/// An encryption algorithm. The AEADs produce a self-describing FlowForge token;
/// `rsa-oaep-sha256` produces standard base64 ciphertext for small secrets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EncryptionAlgorithm {
    #[default]
    #[serde(rename = "aes-256-gcm")]
    Aes256Gcm,
    #[serde(rename = "aes-128-gcm")]
    Aes128Gcm,
    #[serde(rename = "chacha20-poly1305")]
    Chacha20Poly1305,
    #[serde(rename = "xchacha20-poly1305")]
    Xchacha20Poly1305,
    #[serde(rename = "rsa-oaep-sha256")]
    RsaOaepSha256,
}

impl EncryptionAlgorithm {
    fn aead(self) -> Option<AeadAlgorithm> {
        match self {
            Self::Aes256Gcm => Some(AeadAlgorithm::Aes256Gcm),
            Self::Aes128Gcm => Some(AeadAlgorithm::Aes128Gcm),
            Self::Chacha20Poly1305 => Some(AeadAlgorithm::ChaCha20Poly1305),
            Self::Xchacha20Poly1305 => Some(AeadAlgorithm::XChaCha20Poly1305),
            Self::RsaOaepSha256 => None,
        }
    }

    fn label(self) -> &'static str {
        self.aead().map_or("rsa-oaep-sha256", AeadAlgorithm::name)
    }

    fn from_aead(algorithm: AeadAlgorithm) -> Self {
        match algorithm {
            AeadAlgorithm::Aes256Gcm => Self::Aes256Gcm,
            AeadAlgorithm::Aes128Gcm => Self::Aes128Gcm,
            AeadAlgorithm::ChaCha20Poly1305 => Self::Chacha20Poly1305,
            AeadAlgorithm::XChaCha20Poly1305 => Self::Xchacha20Poly1305,
        }
    }
}

/// Encrypt with a raw key, a passphrase (Argon2id) or an RSA public key.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"algorithm": "aes-256-gcm", "plaintext": "attack at dawn", "passphrase": "correct horse battery staple"}))]
pub struct EncryptRequest {
    /// The algorithm (default `aes-256-gcm`).
    #[serde(default)]
    pub algorithm: EncryptionAlgorithm,
    /// The data, as text in `inputEncoding`.
    pub plaintext: String,
    /// How `plaintext` carries bytes (default `utf8`).
    #[serde(default)]
    pub input_encoding: InputEncoding,
    /// A raw key, base64 (16 bytes for aes-128-gcm, else 32).
    #[serde(default)]
    pub key: Option<String>,
    /// A passphrase, stretched with Argon2id (salt and parameters travel in the token).
    #[serde(default)]
    pub passphrase: Option<String>,
    /// RSA-OAEP: a PEM public key (SPKI or PKCS#1).
    #[serde(default)]
    pub public_key: Option<String>,
    /// Associated data: authenticated, not encrypted; decryption needs the same value.
    #[serde(default)]
    pub aad: Option<String>,
}

/// The secret fields of a request: `key` or `passphrase` for the AEADs, `publicKey`/`privateKey` for RSA.
#[derive(Debug, Default)]
struct SecretFields<'a> {
    key: Option<&'a str>,
    passphrase: Option<&'a str>,
    public_key: Option<&'a str>,
    private_key: Option<&'a str>,
}

impl EncryptRequest {
    fn secret(&self) -> SecretFields<'_> {
        SecretFields {
            key: self.key.as_deref(),
            passphrase: self.passphrase.as_deref(),
            public_key: self.public_key.as_deref(),
            private_key: None,
        }
    }
}

/// Options when the plaintext is a file (raw body or multipart).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EncryptFileOptions {
    #[serde(default)]
    algorithm: EncryptionAlgorithm,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    passphrase: Option<String>,
    #[serde(default)]
    public_key: Option<String>,
    #[serde(default)]
    aad: Option<String>,
}

impl EncryptFileOptions {
    fn secret(&self) -> SecretFields<'_> {
        SecretFields {
            key: self.key.as_deref(),
            passphrase: self.passphrase.as_deref(),
            public_key: self.public_key.as_deref(),
            private_key: None,
        }
    }
}

/// An encryption result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncryptResponse {
    /// The algorithm used.
    pub algorithm: EncryptionAlgorithm,
    /// The token (`ff1.…`), or base64 ciphertext for RSA-OAEP. Decrypt needs only this and the secret.
    pub token: String,
}

fn encrypt_bytes(
    algorithm: EncryptionAlgorithm,
    secret: &SecretFields<'_>,
    plaintext: &[u8],
    aad: Option<&str>,
) -> Result<EncryptResponse, ApiError> {
    let token = match algorithm.aead() {
        Some(aead) => {
            let key = decoded_key(secret)?;
            cipher::encrypt(
                aead,
                symmetric_secret(&key, secret)?,
                plaintext,
                aad.unwrap_or_default().as_bytes(),
            )?
        }
        None => {
            let pem = secret.public_key.ok_or_else(|| {
                ApiError::invalid_field("publicKey", "rsa-oaep-sha256 needs `publicKey` (PEM)")
            })?;
            if aad.is_some() {
                return Err(ApiError::invalid_field(
                    "aad",
                    "rsa-oaep-sha256 takes no associated data",
                ));
            }
            base64(&oaep::encrypt(pem, plaintext)?)
        }
    };
    Ok(EncryptResponse { algorithm, token })
}

fn decoded_key(secret: &SecretFields<'_>) -> Result<Option<Vec<u8>>, ApiError> {
    secret
        .key
        .map(|k| {
            decode_base64(k)
                .ok_or_else(|| ApiError::from(CryptoError::key("key", "is not valid base64")))
        })
        .transpose()
}

fn symmetric_secret<'a>(
    key: &'a Option<Vec<u8>>,
    fields: &SecretFields<'a>,
) -> Result<Secret<'a>, ApiError> {
    match (key, fields.passphrase) {
        (Some(key), None) => Ok(Secret::Key(key)),
        (None, Some(passphrase)) => Ok(Secret::Passphrase(passphrase)),
        (Some(_), Some(_)) => Err(ApiError::invalid_field(
            "key",
            "send either `key` or `passphrase`, not both",
        )),
        (None, None) => Err(ApiError::invalid_field(
            "key",
            "send `key` (base64) or `passphrase`",
        )),
    }
}

/// Encrypt JSON text, a batch, a raw body or a multipart `file` into a self-describing token.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/encrypt",
    tag = "encryption",
    request_body(content = OneOrBatch<EncryptRequest>, description = "JSON, or a file as a raw body (`?passphrase=…`) or multipart `file`"),
    responses(
        (status = 200, description = "The token, or per-item results for a batch", body = flowforge_service_kit::OneOrBatchResponse<EncryptResponse>),
        (status = 422, description = "Bad key, or plaintext too long for RSA-OAEP (`MESSAGE_TOO_LONG`)", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn encrypt(
    State(state): State<AppState>,
    request: JsonOrBinary<Batch<EncryptRequest>, EncryptFileOptions>,
) -> Result<Response, ApiError> {
    let counter = state.operations.clone();
    match request {
        JsonOrBinary::Json(batch) => {
            batch
                .respond_blocking(&state.cpu, move |r: EncryptRequest| {
                    let plaintext = decode_input(&r.plaintext, r.input_encoding, "plaintext")?;
                    let result =
                        encrypt_bytes(r.algorithm, &r.secret(), &plaintext, r.aad.as_deref());
                    counter.record("encrypt", r.algorithm.label(), result.is_ok());
                    result
                })
                .await
        }
        JsonOrBinary::Binary(BinaryInput {
            bytes, options: o, ..
        }) => {
            let response = state
                .cpu
                .run(move || {
                    let result = encrypt_bytes(o.algorithm, &o.secret(), &bytes, o.aad.as_deref());
                    counter.record("encrypt", o.algorithm.label(), result.is_ok());
                    result
                })
                .await?;
            Ok(Json(response).into_response())
        }
    }
}

/// How decrypted bytes are returned.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PlaintextEncoding {
    /// UTF-8 text when the bytes are valid UTF-8, else base64 (the answer says which).
    #[default]
    Auto,
    Utf8,
    Base64,
    Hex,
}

/// Decrypt a token.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecryptRequest {
    /// The token from `encrypt` (or base64 RSA-OAEP ciphertext with `privateKey`).
    pub token: String,
    /// The raw key (base64) the token was made with.
    #[serde(default)]
    pub key: Option<String>,
    /// The passphrase the token was made with.
    #[serde(default)]
    pub passphrase: Option<String>,
    /// RSA-OAEP: the PEM private key (PKCS#8 or PKCS#1); `token` is then base64 ciphertext.
    #[serde(default)]
    pub private_key: Option<String>,
    /// The associated data given at encryption, if any.
    #[serde(default)]
    pub aad: Option<String>,
    /// How to return the plaintext (default `auto`).
    #[serde(default)]
    pub output_encoding: PlaintextEncoding,
}

/// A decryption result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DecryptResponse {
    /// The algorithm the token was made with.
    pub algorithm: EncryptionAlgorithm,
    /// The plaintext, written in `encoding`.
    pub plaintext: String,
    /// How `plaintext` is written: `utf8`, `base64` or `hex`.
    pub encoding: PlaintextEncoding,
}

fn decrypt_token(r: &DecryptRequest) -> Result<DecryptResponse, ApiError> {
    let secret = SecretFields {
        key: r.key.as_deref(),
        passphrase: r.passphrase.as_deref(),
        public_key: None,
        private_key: r.private_key.as_deref(),
    };
    let (algorithm, plaintext) = match secret.private_key {
        Some(pem) => {
            if secret.key.is_some() || secret.passphrase.is_some() {
                return Err(ApiError::invalid_field(
                    "privateKey",
                    "send `privateKey` alone for RSA-OAEP",
                ));
            }
            let ciphertext = decode_base64(&r.token).ok_or_else(|| {
                ApiError::invalid_field("token", "RSA-OAEP ciphertext must be base64")
            })?;
            (
                EncryptionAlgorithm::RsaOaepSha256,
                oaep::decrypt(pem, &ciphertext)?,
            )
        }
        None => {
            let key = decoded_key(&secret)?;
            let opened = cipher::decrypt(
                &r.token,
                symmetric_secret(&key, &secret)?,
                r.aad.as_deref().unwrap_or_default().as_bytes(),
            )?;
            (
                EncryptionAlgorithm::from_aead(opened.algorithm),
                opened.plaintext,
            )
        }
    };
    let (plaintext, encoding) = match r.output_encoding {
        PlaintextEncoding::Auto => match String::from_utf8(plaintext) {
            Ok(text) => (text, PlaintextEncoding::Utf8),
            Err(bytes) => (base64(bytes.as_bytes()), PlaintextEncoding::Base64),
        },
        PlaintextEncoding::Utf8 => {
            let text = String::from_utf8(plaintext).map_err(|_| {
                ApiError::invalid_field(
                    "outputEncoding",
                    "the plaintext is not UTF-8; use base64 or hex",
                )
            })?;
            (text, PlaintextEncoding::Utf8)
        }
        PlaintextEncoding::Base64 => (base64(&plaintext), PlaintextEncoding::Base64),
        PlaintextEncoding::Hex => (hex::encode(&plaintext), PlaintextEncoding::Hex),
    };
    Ok(DecryptResponse {
        algorithm,
        plaintext,
        encoding,
    })
}

/// Decrypt a token (or a batch). Wrong key, wrong AAD or any tampering gives 400 DECRYPTION_FAILED.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/decrypt",
    tag = "encryption",
    request_body = OneOrBatch<DecryptRequest>,
    responses(
        (status = 200, description = "The plaintext, or per-item results for a batch", body = flowforge_service_kit::OneOrBatchResponse<DecryptResponse>),
        (status = 400, description = "`DECRYPTION_FAILED`: wrong key or passphrase, wrong AAD, or tampered data", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn decrypt(
    State(state): State<AppState>,
    batch: Batch<DecryptRequest>,
) -> Result<Response, ApiError> {
    let counter = state.operations.clone();
    batch
        .respond_blocking(&state.cpu, move |r: DecryptRequest| {
            let result = decrypt_token(&r);
            let label = result.as_ref().map_or("unknown", |d| d.algorithm.label());
            counter.record("decrypt", label, result.is_ok());
            result
        })
        .await
}
