//! HTTP surface: DTOs and handlers, one file per resource. Handlers extract, validate, call one
//! domain function and map the result; errors go through `errors.rs`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain;
use crate::state::AppState;

mod cipher;
mod encode;
mod hash;
mod jwt;
mod keys;
mod mac;
mod password;
mod random;
mod signature;

/// Every crypto route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(hash::hash))
        .routes(routes!(mac::hmac))
        .routes(routes!(mac::verify_hmac))
        .routes(routes!(mac::verify_webhook))
        .routes(routes!(cipher::encrypt))
        .routes(routes!(cipher::decrypt))
        .routes(routes!(keys::generate_key))
        .routes(routes!(signature::sign))
        .routes(routes!(signature::verify))
        .routes(routes!(jwt::sign_jwt))
        .routes(routes!(jwt::verify_jwt))
        .routes(routes!(password::hash_password))
        .routes(routes!(password::verify_password))
        .routes(routes!(random::random))
        .routes(routes!(encode::encode))
}

/// How a text field carries bytes.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputEncoding {
    /// The text's UTF-8 bytes.
    #[default]
    Utf8,
    /// Base64, standard or URL-safe, padding optional.
    Base64,
    /// Hexadecimal.
    Hex,
}

impl From<InputEncoding> for domain::encoding::InputEncoding {
    fn from(value: InputEncoding) -> Self {
        match value {
            InputEncoding::Utf8 => Self::Utf8,
            InputEncoding::Base64 => Self::Base64,
            InputEncoding::Hex => Self::Hex,
        }
    }
}

/// How output bytes are written.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// Lowercase hexadecimal.
    Hex,
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 without padding.
    Base64url,
}

impl From<OutputFormat> for domain::encoding::OutputFormat {
    fn from(value: OutputFormat) -> Self {
        match value {
            OutputFormat::Hex => Self::Hex,
            OutputFormat::Base64 => Self::Base64,
            OutputFormat::Base64url => Self::Base64Url,
        }
    }
}

/// Decodes a text field in `encoding`, naming `field` in errors.
fn decode_input(
    text: &str,
    encoding: InputEncoding,
    field: &'static str,
) -> Result<Vec<u8>, domain::CryptoError> {
    domain::encoding::InputEncoding::from(encoding).decode(text, field)
}

impl OutputFormat {
    /// Serde default for digests and tags.
    fn hex() -> Self {
        Self::Hex
    }

    /// Serde default for signatures.
    fn base64() -> Self {
        Self::Base64
    }
}

/// The name a value has on the wire (`sha3-256`, `ecdsa-p256`), for metric labels.
fn wire_name(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The current Unix time in seconds.
fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// `{"valid": bool}`-style answers share this shape.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyResponse {
    /// Whether the signature or tag is valid.
    pub valid: bool,
}
