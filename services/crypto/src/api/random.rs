//! `POST /api/v1/crypto/random`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::OutputFormat;
use crate::domain::encoding::{self, base64url};
use crate::domain::random::{self, Charset};
use crate::state::AppState;

/// Most values one request may ask for.
const MAX_COUNT: usize = 1000;
/// Most random bytes per value.
const MAX_BYTES: usize = 1024;
/// Longest password.
const MAX_PASSWORD_LEN: usize = 1024;

/// What kind of random value.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RandomKind {
    /// `length` random bytes in `format`.
    Bytes,
    /// A UUID (`uuidVersion` v4 or v7).
    Uuid,
    /// A URL-safe token from `length` random bytes (default 32).
    Token,
    /// A password of `length` characters (default 20) from the chosen classes.
    Password,
}

/// A UUID version.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UuidVersion {
    /// Random.
    #[default]
    V4,
    /// Time-ordered, good as a database key.
    V7,
}

/// Ask for random values.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"type": "password", "length": 24, "symbols": false}))]
pub struct RandomRequest {
    /// The kind of value.
    #[serde(rename = "type")]
    pub kind: RandomKind,
    /// Bytes (bytes, token) or characters (password).
    #[serde(default)]
    pub length: Option<usize>,
    /// How many values, 1 to 1000 (default 1).
    #[serde(default = "one")]
    pub count: usize,
    /// Bytes only: output format (default `hex`).
    #[serde(default)]
    pub format: Option<OutputFormat>,
    /// UUID only: version (default `v4`).
    #[serde(default)]
    pub uuid_version: UuidVersion,
    /// Password: include a–z (default true).
    #[serde(default = "yes")]
    pub lowercase: bool,
    /// Password: include A–Z (default true).
    #[serde(default = "yes")]
    pub uppercase: bool,
    /// Password: include 0–9 (default true).
    #[serde(default = "yes")]
    pub digits: bool,
    /// Password: include symbols (default true).
    #[serde(default = "yes")]
    pub symbols: bool,
    /// Password: leave out look-alikes `Il1O0o` (default false).
    #[serde(default)]
    pub exclude_ambiguous: bool,
}

fn one() -> usize {
    1
}

fn yes() -> bool {
    true
}

/// Random values.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RandomResponse {
    /// The kind of value.
    #[serde(rename = "type")]
    pub kind: RandomKind,
    /// The values.
    pub values: Vec<String>,
}

/// Random bytes, UUIDs, tokens or passwords from the operating system's CSPRNG.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/random",
    tag = "random",
    request_body = RandomRequest,
    responses((status = 200, description = "The values", body = RandomResponse))
)]
pub async fn random(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<RandomRequest>,
) -> Result<Json<RandomResponse>, ApiError> {
    if !(1..=MAX_COUNT).contains(&r.count) {
        return Err(ApiError::invalid_field(
            "count",
            format!("must be 1 to {MAX_COUNT}"),
        ));
    }
    let (default_len, max_len) = match r.kind {
        RandomKind::Bytes | RandomKind::Token => (32, MAX_BYTES),
        RandomKind::Password => (20, MAX_PASSWORD_LEN),
        RandomKind::Uuid => (0, 0),
    };
    let length = r.length.unwrap_or(default_len);
    if !matches!(r.kind, RandomKind::Uuid) && !(1..=max_len).contains(&length) {
        return Err(ApiError::invalid_field(
            "length",
            format!("must be 1 to {max_len}"),
        ));
    }
    let charset = Charset {
        lowercase: r.lowercase,
        uppercase: r.uppercase,
        digits: r.digits,
        symbols: r.symbols,
        exclude_ambiguous: r.exclude_ambiguous,
    };
    let format = encoding::OutputFormat::from(r.format.unwrap_or(OutputFormat::Hex));
    let values = (0..r.count)
        .map(|_| match (r.kind, r.uuid_version) {
            (RandomKind::Bytes, _) => random::bytes(length).map(|b| format.encode(&b)),
            (RandomKind::Token, _) => random::bytes(length).map(|b| base64url(&b)),
            (RandomKind::Uuid, UuidVersion::V4) => random::uuid_v4(),
            (RandomKind::Uuid, UuidVersion::V7) => Ok(random::uuid_v7()),
            (RandomKind::Password, _) => random::password(length, charset),
        })
        .collect::<Result<Vec<_>, _>>()?;
    state
        .operations
        .record("random", &super::wire_name(r.kind), true);
    Ok(Json(RandomResponse {
        kind: r.kind,
        values,
    }))
}
