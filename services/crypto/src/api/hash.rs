//! `POST /api/v1/crypto/hash`.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::{ApiError, Batch, BinaryInput, JsonOrStream, OneOrBatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{InputEncoding, OutputFormat, decode_input};
use crate::domain::hash::HashAlgorithm as Algorithm;
use crate::state::AppState;

/// Multipart files above this size are hashed on the CPU pool rather than on the async runtime.
const INLINE_HASH_LIMIT: usize = 64 * 1024;

/// A digest algorithm. `md5` and `sha1` are broken for collision resistance: use them only for
/// legacy checksums, never for security.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
pub enum HashAlgorithm {
    #[serde(rename = "md5")]
    Md5,
    #[serde(rename = "sha1")]
    Sha1,
    #[serde(rename = "sha224")]
    Sha224,
    #[default]
    #[serde(rename = "sha256")]
    Sha256,
    #[serde(rename = "sha384")]
    Sha384,
    #[serde(rename = "sha512")]
    Sha512,
    #[serde(rename = "sha3-256")]
    Sha3_256,
    #[serde(rename = "sha3-384")]
    Sha3_384,
    #[serde(rename = "sha3-512")]
    Sha3_512,
    #[serde(rename = "blake3")]
    Blake3,
}

impl HashAlgorithm {
    fn domain(self) -> Algorithm {
        match self {
            Self::Md5 => Algorithm::Md5,
            Self::Sha1 => Algorithm::Sha1,
            Self::Sha224 => Algorithm::Sha224,
            Self::Sha256 => Algorithm::Sha256,
            Self::Sha384 => Algorithm::Sha384,
            Self::Sha512 => Algorithm::Sha512,
            Self::Sha3_256 => Algorithm::Sha3_256,
            Self::Sha3_384 => Algorithm::Sha3_384,
            Self::Sha3_512 => Algorithm::Sha3_512,
            Self::Blake3 => Algorithm::Blake3,
        }
    }

    fn label(self) -> String {
        super::wire_name(self)
    }
}

/// Hash text or bytes given in JSON.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"algorithm": "sha256", "input": "abc"}))]
pub struct HashRequest {
    /// The digest algorithm (default `sha256`).
    #[serde(default)]
    pub algorithm: HashAlgorithm,
    /// The data, as text in `inputEncoding`.
    pub input: String,
    /// How `input` carries bytes (default `utf8`).
    #[serde(default)]
    pub input_encoding: InputEncoding,
    /// How the digest is written (default `hex`).
    #[serde(default = "OutputFormat::hex")]
    pub output_format: OutputFormat,
}

/// Options when the data is a file (raw body or multipart), given as query or form fields.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HashFileOptions {
    #[serde(default)]
    algorithm: HashAlgorithm,
    #[serde(default = "OutputFormat::hex")]
    output_format: OutputFormat,
}

/// A digest.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"algorithm": "sha256", "digest": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "outputFormat": "hex", "inputBytes": 3}))]
pub struct HashResponse {
    /// The algorithm used.
    pub algorithm: HashAlgorithm,
    /// The digest in `outputFormat`.
    pub digest: String,
    /// How the digest is written.
    pub output_format: OutputFormat,
    /// How many bytes were hashed.
    pub input_bytes: usize,
}

fn digest(
    state: &AppState,
    algorithm: HashAlgorithm,
    data: &[u8],
    output_format: OutputFormat,
) -> HashResponse {
    let digest = algorithm.domain().digest(data);
    state.operations.record("hash", &algorithm.label(), true);
    HashResponse {
        algorithm,
        digest: crate::domain::encoding::OutputFormat::from(output_format).encode(&digest),
        output_format,
        input_bytes: data.len(),
    }
}

/// Hash data: JSON text (`input`), a batch (`items`), a raw body (options in the query) or a
/// multipart `file` (options as form fields).
#[utoipa::path(
    post,
    path = "/api/v1/crypto/hash",
    tag = "hash",
    request_body(
        content = OneOrBatch<HashRequest>,
        description = "JSON, or a file as a raw body (`?algorithm=sha256&outputFormat=hex`) or multipart `file`"
    ),
    responses(
        (status = 200, description = "The digest, or per-item results for a batch", body = flowforge_service_kit::OneOrBatchResponse<HashResponse>),
        (status = 422, description = "Invalid input", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn hash(
    State(state): State<AppState>,
    request: JsonOrStream<Batch<HashRequest>, HashFileOptions>,
) -> Result<Response, ApiError> {
    match request {
        JsonOrStream::Json(batch) => batch.respond(|r: HashRequest| {
            let data = decode_input(&r.input, r.input_encoding, "input")?;
            Ok(digest(&state, r.algorithm, &data, r.output_format))
        }),
        JsonOrStream::File(BinaryInput { bytes, options, .. }) => {
            let HashFileOptions {
                algorithm,
                output_format,
            } = options;
            let response = if bytes.len() <= INLINE_HASH_LIMIT {
                digest(&state, algorithm, &bytes, output_format)
            } else {
                let pool_state = state.clone();
                state
                    .cpu
                    .run(move || Ok(digest(&pool_state, algorithm, &bytes, output_format)))
                    .await?
            };
            Ok(axum::Json(response).into_response())
        }
        // A raw body is hashed as it arrives: no copy of the upload is held, and hashing overlaps
        // the transfer. Chunks are at most a few hundred KiB, well under a millisecond of work.
        JsonOrStream::Stream(mut body) => {
            let HashFileOptions {
                algorithm,
                output_format,
            } = body.options;
            let mut hasher = algorithm.domain().hasher();
            while let Some(chunk) = body.next_chunk().await? {
                hasher.update(&chunk);
            }
            state.operations.record("hash", &algorithm.label(), true);
            Ok(axum::Json(HashResponse {
                algorithm,
                digest: crate::domain::encoding::OutputFormat::from(output_format)
                    .encode(&hasher.finish()),
                output_format,
                input_bytes: body.received(),
            })
            .into_response())
        }
    }
}
