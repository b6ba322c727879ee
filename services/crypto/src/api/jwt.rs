//! `POST /api/v1/crypto/jwt/sign` and `jwt/verify`.

use axum::Json;
use axum::extract::State;
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::{InputEncoding, decode_input, unix_now};
use crate::domain::jwt::{self, Expectations, JwtAlgorithm as Algorithm, JwtKey};
use crate::state::AppState;

/// A JWS algorithm. `none` does not exist here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum JwtAlgorithm {
    #[serde(rename = "HS256", alias = "hs256")]
    Hs256,
    #[serde(rename = "HS384", alias = "hs384")]
    Hs384,
    #[serde(rename = "HS512", alias = "hs512")]
    Hs512,
    #[serde(rename = "RS256", alias = "rs256")]
    Rs256,
    #[serde(rename = "ES256", alias = "es256")]
    Es256,
    #[serde(rename = "EdDSA", alias = "eddsa")]
    EdDsa,
}

impl JwtAlgorithm {
    fn domain(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::Hs256,
            Self::Hs384 => Algorithm::Hs384,
            Self::Hs512 => Algorithm::Hs512,
            Self::Rs256 => Algorithm::Rs256,
            Self::Es256 => Algorithm::Es256,
            Self::EdDsa => Algorithm::EdDsa,
        }
    }
}

/// Sign a JWT.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"algorithm": "HS256", "secret": "change-me", "claims": {"sub": "user-1"}, "expiresIn": 3600}))]
pub struct SignJwtRequest {
    /// The algorithm.
    pub algorithm: JwtAlgorithm,
    /// The claims (a JSON object). `iat` is added unless present.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// HS*: the shared secret, as text in `secretEncoding`.
    #[serde(default)]
    pub secret: Option<String>,
    /// How `secret` carries bytes (default `utf8`).
    #[serde(default)]
    pub secret_encoding: InputEncoding,
    /// RS256, ES256, EdDSA: the PEM private key.
    #[serde(default)]
    pub private_key: Option<String>,
    /// Sets `exp` to now + this many seconds.
    #[serde(default)]
    pub expires_in: Option<i64>,
    /// Sets `nbf` to now + this many seconds.
    #[serde(default)]
    pub not_before: Option<i64>,
    /// Sets `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Sets `aud`.
    #[serde(default)]
    pub audience: Option<String>,
    /// Sets `sub`.
    #[serde(default)]
    pub subject: Option<String>,
    /// Sets the header's `kid`.
    #[serde(default)]
    pub key_id: Option<String>,
}

/// A signed JWT.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignJwtResponse {
    /// The compact token.
    pub token: String,
    /// The claims as signed.
    pub claims: Map<String, Value>,
}

/// Sign a JWT with a secret (HS*) or a PEM private key (RS256, ES256, EdDSA).
#[utoipa::path(
    post,
    path = "/api/v1/crypto/jwt/sign",
    tag = "jwt",
    request_body = SignJwtRequest,
    responses((status = 200, description = "The token", body = SignJwtResponse))
)]
pub async fn sign_jwt(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<SignJwtRequest>,
) -> Result<Json<SignJwtResponse>, ApiError> {
    let now = unix_now();
    let mut claims = r.claims;
    claims.entry("iat").or_insert(now.into());
    let offsets = [("exp", r.expires_in), ("nbf", r.not_before)];
    for (name, offset) in offsets {
        if let Some(offset) = offset {
            claims.insert(name.into(), (now + offset).into());
        }
    }
    for (name, value) in [("iss", r.issuer), ("aud", r.audience), ("sub", r.subject)] {
        if let Some(value) = value {
            claims.insert(name.into(), value.into());
        }
    }
    let secret = r
        .secret
        .as_deref()
        .map(|s| decode_input(s, r.secret_encoding, "secret"))
        .transpose()?;
    let key = jwt_key(secret.as_deref(), r.private_key.as_deref(), "privateKey")?;
    let pool_claims = claims.clone();
    let algorithm = r.algorithm.domain();
    let key_id = r.key_id;
    let key = OwnedKey::from(key);
    let token = state
        .cpu
        .run(move || {
            jwt::sign(algorithm, key.borrow(), key_id.as_deref(), &pool_claims)
                .map_err(ApiError::from)
        })
        .await?;
    state.operations.record("jwt_sign", algorithm.name(), true);
    Ok(Json(SignJwtResponse { token, claims }))
}

/// Verify a JWT.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerifyJwtRequest {
    /// The compact token.
    pub token: String,
    /// HS*: the shared secret, as text in `secretEncoding`.
    #[serde(default)]
    pub secret: Option<String>,
    /// How `secret` carries bytes (default `utf8`).
    #[serde(default)]
    pub secret_encoding: InputEncoding,
    /// RS256, ES256, EdDSA: the PEM public key.
    #[serde(default)]
    pub public_key: Option<String>,
    /// Accepted algorithms (default: those that fit the key's kind).
    #[serde(default)]
    pub algorithms: Option<Vec<JwtAlgorithm>>,
    /// Required `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Required audience (in `aud`).
    #[serde(default)]
    pub audience: Option<String>,
    /// Clock skew allowed for `exp` and `nbf`, seconds (default 60).
    #[serde(default = "default_leeway")]
    pub leeway_seconds: i64,
    /// Refuse tokens without `exp` (default false).
    #[serde(default)]
    pub require_exp: bool,
}

fn default_leeway() -> i64 {
    60
}

/// A JWT verification.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyJwtResponse {
    /// Whether the token is valid now.
    pub valid: bool,
    /// Why not: `malformed`, `algorithm_not_allowed`, `invalid_signature`, `expired`, `missing_exp`,
    /// `not_yet_valid`, `wrong_issuer`, `wrong_audience`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The token's header.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<Value>,
    /// The claims, present once the signature checked out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<Value>,
}

/// Verify a JWT's signature, `exp`/`nbf` (with leeway), `iss` and `aud`; `alg: none` and algorithm
/// confusion are refused.
#[utoipa::path(
    post,
    path = "/api/v1/crypto/jwt/verify",
    tag = "jwt",
    request_body = VerifyJwtRequest,
    responses((status = 200, description = "The verdict", body = VerifyJwtResponse))
)]
pub async fn verify_jwt(
    State(state): State<AppState>,
    ApiJson(r): ApiJson<VerifyJwtRequest>,
) -> Result<Json<VerifyJwtResponse>, ApiError> {
    if r.leeway_seconds < 0 {
        return Err(ApiError::invalid_field(
            "leewaySeconds",
            "must not be negative",
        ));
    }
    let secret = r
        .secret
        .as_deref()
        .map(|s| decode_input(s, r.secret_encoding, "secret"))
        .transpose()?;
    let key = OwnedKey::from(jwt_key(
        secret.as_deref(),
        r.public_key.as_deref(),
        "publicKey",
    )?);
    let expect = Expectations {
        algorithms: r
            .algorithms
            .map(|list| list.into_iter().map(JwtAlgorithm::domain).collect()),
        issuer: r.issuer,
        audience: r.audience,
        leeway_seconds: r.leeway_seconds,
        require_exp: r.require_exp,
        now: unix_now(),
    };
    let token = r.token;
    let verdict = state
        .cpu
        .run(move || jwt::verify(&token, key.borrow(), &expect).map_err(ApiError::from))
        .await?;
    state.operations.record("jwt_verify", "jwt", verdict.valid);
    Ok(Json(VerifyJwtResponse {
        valid: verdict.valid,
        reason: verdict.reason.map(str::to_owned),
        header: verdict.header,
        claims: verdict.claims,
    }))
}

/// Exactly one of a secret or a PEM key.
fn jwt_key<'a>(
    secret: Option<&'a [u8]>,
    pem: Option<&'a str>,
    pem_field: &'static str,
) -> Result<JwtKey<'a>, ApiError> {
    match (secret, pem) {
        (Some(secret), None) => Ok(JwtKey::Secret(secret)),
        (None, Some(pem)) => Ok(JwtKey::Pem(pem)),
        (Some(_), Some(_)) => Err(ApiError::invalid_field(
            "secret",
            format!("send either `secret` or `{pem_field}`, not both"),
        )),
        (None, None) => Err(ApiError::invalid_field(
            "secret",
            format!("send `secret` (HS*) or `{pem_field}` (PEM)"),
        )),
    }
}

/// A key that can move to the CPU pool.
enum OwnedKey {
    Secret(Vec<u8>),
    Pem(String),
}

impl From<JwtKey<'_>> for OwnedKey {
    fn from(key: JwtKey<'_>) -> Self {
        match key {
            JwtKey::Secret(secret) => Self::Secret(secret.to_vec()),
            JwtKey::Pem(pem) => Self::Pem(pem.to_owned()),
        }
    }
}

impl OwnedKey {
    fn borrow(&self) -> JwtKey<'_> {
        match self {
            Self::Secret(secret) => JwtKey::Secret(secret),
            Self::Pem(pem) => JwtKey::Pem(pem),
        }
    }
}
