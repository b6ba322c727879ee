//! `POST /api/v1/crypto/encode`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::encoding::{self, Codec};
use crate::state::AppState;

/// A text encoding.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Encoding {
    Base64,
    Base64url,
    Hex,
    /// Percent-encoding of everything but RFC 3986 unreserved characters.
    Url,
}

/// Which way to go.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Text (UTF-8) → encoded.
    #[default]
    Encode,
    /// Encoded → text (UTF-8 when valid, else base64).
    Decode,
}

/// Encode or decode text.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"encoding": "base64", "input": "hello"}))]
pub struct EncodeRequest {
    /// The encoding.
    pub encoding: Encoding,
    /// `encode` (default) or `decode`.
    #[serde(default)]
    pub direction: Direction,
    /// The text to encode, or the encoded text to decode.
    pub input: String,
}

/// An encoding result.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EncodeResponse {
    /// The result.
    pub output: String,
    /// For `decode`: `utf8`, or `base64` when the decoded bytes are not UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_encoding: Option<String>,
}

/// Base64, base64url, hex and URL encoding, both directions.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/encode",
    tag = "encoding",
    request_body = EncodeRequest,
    responses((status = 200, description = "The result", body = EncodeResponse))
)]
pub async fn encode(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<EncodeRequest>,
) -> Result<Json<EncodeResponse>, ApiError> {
    let codec = match r.encoding {
        Encoding::Base64 => Codec::Base64,
        Encoding::Base64url => Codec::Base64Url,
        Encoding::Hex => Codec::Hex,
        Encoding::Url => Codec::Url,
    };
    let response = match r.direction {
        Direction::Encode => EncodeResponse {
            output: encoding::encode_with(codec, r.input.as_bytes()),
            output_encoding: None,
        },
        Direction::Decode => {
            let bytes = encoding::decode_with(codec, &r.input)?;
            match String::from_utf8(bytes) {
                Ok(text) => EncodeResponse {
                    output: text,
                    output_encoding: Some("utf8".into()),
                },
                Err(e) => EncodeResponse {
                    output: encoding::base64(e.as_bytes()),
                    output_encoding: Some("base64".into()),
                },
            }
        }
    };
    state
        .operations
        .record("encode", &super::wire_name(r.encoding), true);
    Ok(Json(response))
}
