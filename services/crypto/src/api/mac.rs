//! `POST /api/v1/crypto/hmac`, `hmac/verify` and `webhook/verify`.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::{ApiError, ApiJson, Batch, BinaryInput, JsonOrStream, OneOrBatch};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{InputEncoding, OutputFormat, VerifyResponse, decode_input, unix_now};
use crate::domain::CryptoError;
use crate::domain::encoding::decode_signature;
use crate::domain::mac::MacAlgorithm;
use crate::domain::webhook::{self, Delivery, Provider};
use crate::state::AppState;

/// The HMAC hash function; `sha1` only for legacy senders.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    Sha1,
    #[default]
    Sha256,
    Sha384,
    Sha512,
}

impl HmacAlgorithm {
    fn domain(self) -> MacAlgorithm {
        match self {
            Self::Sha1 => MacAlgorithm::Sha1,
            Self::Sha256 => MacAlgorithm::Sha256,
            Self::Sha384 => MacAlgorithm::Sha384,
            Self::Sha512 => MacAlgorithm::Sha512,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }
}

/// Compute an HMAC.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"algorithm": "sha256", "key": "Jefe", "input": "what do ya want for nothing?"}))]
pub struct HmacRequest {
    /// Hash function (default `sha256`).
    #[serde(default)]
    pub algorithm: HmacAlgorithm,
    /// The secret key, as text in `keyEncoding`.
    pub key: String,
    /// How `key` carries bytes (default `utf8`).
    #[serde(default)]
    pub key_encoding: InputEncoding,
    /// The message, as text in `inputEncoding`.
    pub input: String,
    /// How `input` carries bytes (default `utf8`).
    #[serde(default)]
    pub input_encoding: InputEncoding,
    /// How the tag is written (default `hex`).
    #[serde(default = "OutputFormat::hex")]
    pub output_format: OutputFormat,
}

/// Options when the message is a file (raw body or multipart).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HmacFileOptions {
    #[serde(default)]
    algorithm: HmacAlgorithm,
    key: String,
    #[serde(default)]
    key_encoding: InputEncoding,
    #[serde(default = "OutputFormat::hex")]
    output_format: OutputFormat,
}

/// An HMAC tag.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HmacResponse {
    /// The hash function used.
    pub algorithm: HmacAlgorithm,
    /// The tag in `outputFormat`.
    pub signature: String,
    /// How the tag is written.
    pub output_format: OutputFormat,
}

fn compute(
    state: &AppState,
    algorithm: HmacAlgorithm,
    key: &[u8],
    message: &[u8],
    format: OutputFormat,
) -> HmacResponse {
    let tag = algorithm.domain().sign(key, message);
    state.operations.record("hmac", algorithm.label(), true);
    HmacResponse {
        algorithm,
        signature: crate::domain::encoding::OutputFormat::from(format).encode(&tag),
        output_format: format,
    }
}

/// Compute an HMAC over JSON text, a batch, a raw body or a multipart `file`.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/hmac",
    tag = "hmac",
    request_body(content = OneOrBatch<HmacRequest>, description = "JSON, or a file as a raw body (`?key=…&algorithm=sha256`) or multipart `file`"),
    responses((status = 200, description = "The tag, or per-item results for a batch", body = flowforge_service_kit::OneOrBatchResponse<HmacResponse>))
)]
pub async fn hmac(
    State(state): State<AppState>,
    request: JsonOrStream<Batch<HmacRequest>, HmacFileOptions>,
) -> Result<Response, ApiError> {
    match request {
        JsonOrStream::Json(batch) => batch.respond(|r: HmacRequest| {
            let key = decode_input(&r.key, r.key_encoding, "key")?;
            let message = decode_input(&r.input, r.input_encoding, "input")?;
            Ok(compute(
                &state,
                r.algorithm,
                &key,
                &message,
                r.output_format,
            ))
        }),
        JsonOrStream::File(BinaryInput {
            bytes, options: o, ..
        }) => {
            let key = decode_input(&o.key, o.key_encoding, "key")?;
            Ok(Json(compute(&state, o.algorithm, &key, &bytes, o.output_format)).into_response())
        }
        // A raw body is authenticated as it streams in, like `hash`.
        JsonOrStream::Stream(mut body) => {
            let key = decode_input(&body.options.key, body.options.key_encoding, "key")?;
            let (algorithm, output_format) = (body.options.algorithm, body.options.output_format);
            let mut signer = algorithm.domain().signer(&key);
            while let Some(chunk) = body.next_chunk().await? {
                signer.update(&chunk);
            }
            state.operations.record("hmac", algorithm.label(), true);
            let signature = crate::domain::encoding::OutputFormat::from(output_format)
                .encode(signer.sign().as_ref());
            Ok(Json(HmacResponse {
                algorithm,
                signature,
                output_format,
            })
            .into_response())
        }
    }
}

/// Check an HMAC tag in constant time.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyHmacRequest {
    /// Hash function (default `sha256`).
    #[serde(default)]
    pub algorithm: HmacAlgorithm,
    /// The secret key, as text in `keyEncoding`.
    pub key: String,
    /// How `key` carries bytes (default `utf8`).
    #[serde(default)]
    pub key_encoding: InputEncoding,
    /// The message, as text in `inputEncoding`.
    pub input: String,
    /// How `input` carries bytes (default `utf8`).
    #[serde(default)]
    pub input_encoding: InputEncoding,
    /// The tag to check, hex or base64 (an `sha256=` style prefix is ignored).
    pub signature: String,
}

/// Verify an HMAC tag (hex or base64), compared in constant time.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/hmac/verify",
    tag = "hmac",
    request_body = VerifyHmacRequest,
    responses((status = 200, description = "Whether the tag is valid", body = VerifyResponse))
)]
pub async fn verify_hmac(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<VerifyHmacRequest>,
) -> Result<Json<VerifyResponse>, ApiError> {
    let key = decode_input(&r.key, r.key_encoding, "key")?;
    let message = decode_input(&r.input, r.input_encoding, "input")?;
    let algorithm = r.algorithm.domain();
    let encoded = r
        .signature
        .split_once('=')
        .filter(|(p, _)| p.starts_with("sha"))
        .map_or(r.signature.as_str(), |(_, s)| s);
    let tag = decode_signature(encoded, Some(algorithm.tag_len())).ok_or_else(|| {
        CryptoError::invalid(
            "signature",
            format!("is not a {}-byte tag in hex or base64", algorithm.tag_len()),
        )
    })?;
    let valid = algorithm.verify(&key, &message, &tag);
    state
        .operations
        .record("hmac_verify", r.algorithm.label(), valid);
    Ok(Json(VerifyResponse { valid }))
}

/// A webhook sender whose signature scheme is built in.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookProvider {
    /// `X-Hub-Signature-256`.
    Github,
    /// `Stripe-Signature` (timestamped).
    Stripe,
    /// `X-Slack-Signature` with `X-Slack-Request-Timestamp`.
    Slack,
    /// `X-Shopify-Hmac-Sha256`.
    Shopify,
}

/// Verify a webhook delivery.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"provider": "github", "secret": "It's a Secret to Everybody", "payload": "Hello, World!",
    "signature": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"}))]
pub struct VerifyWebhookRequest {
    /// Who sent it.
    pub provider: WebhookProvider,
    /// The webhook's signing secret.
    pub secret: String,
    /// The raw request body exactly as received, as text in `payloadEncoding`.
    pub payload: String,
    /// How `payload` carries bytes (default `utf8`).
    #[serde(default)]
    pub payload_encoding: InputEncoding,
    /// The signature header's value.
    pub signature: String,
    /// Slack only: the `X-Slack-Request-Timestamp` header's value.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Stripe and Slack: how old a delivery may be, in seconds (default 300).
    #[serde(default = "default_tolerance")]
    pub tolerance_seconds: i64,
}

fn default_tolerance() -> i64 {
    300
}

/// A webhook verification.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyWebhookResponse {
    /// Whether the delivery is authentic (and fresh, where the scheme is timestamped).
    pub valid: bool,
    /// Why not: `signature_mismatch`, `malformed_signature` or `timestamp_outside_tolerance`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The signed timestamp, for Stripe and Slack.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
}

/// Verify a GitHub, Stripe, Slack or Shopify webhook signature.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/webhook/verify",
    tag = "hmac",
    request_body = VerifyWebhookRequest,
    responses((status = 200, description = "The verdict", body = VerifyWebhookResponse))
)]
pub async fn verify_webhook(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<VerifyWebhookRequest>,
) -> Result<Json<VerifyWebhookResponse>, ApiError> {
    if r.tolerance_seconds < 0 {
        return Err(ApiError::invalid_field(
            "toleranceSeconds",
            "must not be negative",
        ));
    }
    let payload = decode_input(&r.payload, r.payload_encoding, "payload")?;
    let provider = match r.provider {
        WebhookProvider::Github => Provider::Github,
        WebhookProvider::Stripe => Provider::Stripe,
        WebhookProvider::Slack => Provider::Slack,
        WebhookProvider::Shopify => Provider::Shopify,
    };
    let delivery = Delivery {
        secret: r.secret.as_bytes(),
        payload: &payload,
        signature: &r.signature,
        timestamp: r.timestamp,
        tolerance_seconds: r.tolerance_seconds,
        now: unix_now(),
    };
    let verdict = webhook::verify(provider, &delivery)?;
    state.operations.record(
        "webhook_verify",
        &super::wire_name(r.provider),
        verdict.valid,
    );
    Ok(Json(VerifyWebhookResponse {
        valid: verdict.valid,
        reason: verdict.reason.map(str::to_owned),
        timestamp: verdict.timestamp,
    }))
}
