//! Bearer JWT verification (RFC 7519 / JWS compact) on `ring`: HS256/384/512, RS256/384/512,
//! PS256/384/512, ES256/384 and EdDSA, with keys inline (PEM or shared secret) or from a JWKS URL.
//!
//! Algorithm confusion is impossible by construction: every key has one family (HMAC secret, RSA,
//! P-256, P-384, Ed25519) and verifies only that family's algorithms, so an RSA public key is
//! never tried as an HMAC secret; `alg: none` is not an algorithm here at all. An issuer accepts
//! only the algorithms its config lists.

use std::sync::Arc;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self as sig, RsaPublicKeyComponents, UnparsedPublicKey};
use serde_json::{Map, Value};

use crate::config::JwtSection;

/// JWKS documents are fetched again after this long, or at once for an unknown `kid`.
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);
/// An unknown `kid` triggers at most one fetch per this interval (tokens with made-up kids must
/// not turn the gateway into a JWKS flooder).
const JWKS_MIN_REFETCH: Duration = Duration::from_secs(5);
const JWKS_FETCH_TIMEOUT: Duration = Duration::from_secs(3);

/// A JWS algorithm the gateway verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Hs256,
    Hs384,
    Hs512,
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Algorithm {
    pub const ALL: [Self; 12] = [
        Self::Hs256,
        Self::Hs384,
        Self::Hs512,
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::EdDsa,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    fn family(self) -> Family {
        match self {
            Self::Hs256 | Self::Hs384 | Self::Hs512 => Family::Hmac,
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                Family::Rsa
            }
            Self::Es256 => Family::P256,
            Self::Es384 => Family::P384,
            Self::EdDsa => Family::Ed25519,
        }
    }

    fn rsa_params(self) -> &'static sig::RsaParameters {
        match self {
            Self::Rs384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Self::Rs512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Self::Ps256 => &sig::RSA_PSS_2048_8192_SHA256,
            Self::Ps384 => &sig::RSA_PSS_2048_8192_SHA384,
            Self::Ps512 => &sig::RSA_PSS_2048_8192_SHA512,
            _ => &sig::RSA_PKCS1_2048_8192_SHA256,
        }
    }

    fn hmac(self) -> ring::hmac::Algorithm {
        match self {
            Self::Hs384 => ring::hmac::HMAC_SHA384,
            Self::Hs512 => ring::hmac::HMAC_SHA512,
            _ => ring::hmac::HMAC_SHA256,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Hmac,
    Rsa,
    P256,
    P384,
    Ed25519,
}

/// Key material of one family.
#[derive(Clone)]
enum KeyMaterial {
    Secret(Vec<u8>),
    /// PKCS#1 RSAPublicKey DER (from PEM).
    RsaDer(Vec<u8>),
    /// Modulus and exponent (from JWKS).
    RsaParts {
        n: Vec<u8>,
        e: Vec<u8>,
    },
    /// Uncompressed EC point, or the raw Ed25519 key.
    Raw(Family, Vec<u8>),
}

#[derive(Clone)]
struct VerifyKey {
    kid: Option<String>,
    material: KeyMaterial,
}

impl VerifyKey {
    fn family(&self) -> Family {
        match &self.material {
            KeyMaterial::Secret(_) => Family::Hmac,
            KeyMaterial::RsaDer(_) | KeyMaterial::RsaParts { .. } => Family::Rsa,
            KeyMaterial::Raw(family, _) => *family,
        }
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        if alg.family() != self.family() {
            return false;
        }
        match &self.material {
            KeyMaterial::Secret(secret) => {
                let key = ring::hmac::Key::new(alg.hmac(), secret);
                ring::hmac::verify(&key, message, signature).is_ok()
            }
            KeyMaterial::RsaDer(der) => UnparsedPublicKey::new(alg.rsa_params(), der)
                .verify(message, signature)
                .is_ok(),
            KeyMaterial::RsaParts { n, e } => RsaPublicKeyComponents { n, e }
                .verify(alg.rsa_params(), message, signature)
                .is_ok(),
            KeyMaterial::Raw(family, bytes) => {
                let algorithm: &dyn sig::VerificationAlgorithm = match family {
                    Family::P256 => &sig::ECDSA_P256_SHA256_FIXED,
                    Family::P384 => &sig::ECDSA_P384_SHA384_FIXED,
                    _ => &sig::ED25519,
                };
                UnparsedPublicKey::new(algorithm, bytes)
                    .verify(message, signature)
                    .is_ok()
            }
        }
    }
}

/// Why a token was refused (the text goes to the client: no secrets, no token echo).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TokenError(pub String);

fn refuse(message: impl Into<String>) -> TokenError {
    TokenError(message.into())
}

/// Who a verified token names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenIdentity {
    /// The issuer that vouched for it (limits count per issuer and subject).
    pub issuer: String,
    pub consumer_id: String,
    /// The tier claim when present (checked against known tiers by the caller).
    pub tier: Option<String>,
    pub default_tier: String,
}

/// Every configured issuer.
pub struct JwtVerifier {
    issuers: Vec<Issuer>,
}

struct Issuer {
    issuer: String,
    audiences: Vec<String>,
    algorithms: Vec<Algorithm>,
    keys: Vec<VerifyKey>,
    jwks: Option<Jwks>,
    consumer_claim: String,
    tier_claim: String,
    default_tier: String,
    leeway: u64,
}

struct Jwks {
    url: String,
    client: reqwest::Client,
    cache: ArcSwap<JwksCache>,
    fetching: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct JwksCache {
    keys: Vec<VerifyKey>,
    fetched: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Checks an issuer section at config load: returns the field and why.
pub fn check_issuer(section: &JwtSection) -> Result<(), (&'static str, String)> {
    if section.issuer.is_empty() {
        return Err(("issuer", "must not be empty".into()));
    }
    for name in &section.algorithms {
        if Algorithm::from_name(name).is_none() {
            let known: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
            return Err((
                "algorithms",
                format!("`{name}` is not supported; supported: {}", known.join(", ")),
            ));
        }
    }
    if section.algorithms.is_empty() {
        return Err((
            "algorithms",
            "list the algorithms this issuer signs with".into(),
        ));
    }
    if section.keys.is_empty() && section.jwks_url.is_none() {
        return Err((
            "keys",
            "give `keys` (PEM or shared secret) or `jwksUrl`".into(),
        ));
    }
    if let Some(url) = &section.jwks_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(("jwksUrl", "must be an http(s) URL".into()));
    }
    for key in &section.keys {
        inline_key(key).map_err(|e| ("keys", e.0))?;
    }
    Ok(())
}

/// A PEM public key, or else the text itself as an HMAC secret.
fn inline_key(text: &str) -> Result<VerifyKey, TokenError> {
    let material = if text.trim_start().starts_with("-----BEGIN") {
        pem_public_key(text)?
    } else {
        if text.len() < 32 {
            return Err(refuse("an HMAC secret needs at least 32 characters"));
        }
        KeyMaterial::Secret(text.as_bytes().to_vec())
    };
    Ok(VerifyKey {
        kid: None,
        material,
    })
}

fn pem_public_key(text: &str) -> Result<KeyMaterial, TokenError> {
    use spki::der::asn1::ObjectIdentifier as Oid;
    const RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    const EC: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    const P256: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    const P384: Oid = Oid::new_unwrap("1.3.132.0.34");
    const ED25519: Oid = Oid::new_unwrap("1.3.101.112");
    let (label, der) = spki::der::pem::decode_vec(text.trim().as_bytes())
        .map_err(|e| refuse(format!("a key is not PEM: {e}")))?;
    if label != "PUBLIC KEY" {
        return Err(refuse(format!(
            "a PEM key must be a PUBLIC KEY, not {label}"
        )));
    }
    let info = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
        .map_err(|e| refuse(format!("a key is not a SubjectPublicKeyInfo: {e}")))?;
    let bytes = info
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| refuse("a key has an unaligned bit string"))?
        .to_vec();
    let params = info.algorithm.parameters_oid().ok();
    match (info.algorithm.oid, params) {
        (RSA, _) => Ok(KeyMaterial::RsaDer(bytes)),
        (EC, Some(P256)) => Ok(KeyMaterial::Raw(Family::P256, bytes)),
        (EC, Some(P384)) => Ok(KeyMaterial::Raw(Family::P384, bytes)),
        (ED25519, _) => Ok(KeyMaterial::Raw(Family::Ed25519, bytes)),
        (oid, _) => Err(refuse(format!("unsupported key algorithm {oid}"))),
    }
}

/// Keys of a JWKS document; keys of unknown types, `use: enc` and symmetric keys are skipped.
fn jwks_keys(document: &Value) -> Vec<VerifyKey> {
    let Some(keys) = document.get("keys").and_then(Value::as_array) else {
        return Vec::new();
    };
    keys.iter()
        .filter(|k| {
            k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|k| {
            let field = |name: &str| {
                k.get(name)
                    .and_then(Value::as_str)
                    .and_then(|v| URL_SAFE_NO_PAD.decode(v).ok())
            };
            let material = match (
                k.get("kty").and_then(Value::as_str)?,
                k.get("crv").and_then(Value::as_str),
            ) {
                ("RSA", _) => KeyMaterial::RsaParts {
                    n: field("n")?,
                    e: field("e")?,
                },
                ("EC", Some(crv @ ("P-256" | "P-384"))) => {
                    let mut point = vec![4];
                    point.extend(field("x")?);
                    point.extend(field("y")?);
                    let family = if crv == "P-256" {
                        Family::P256
                    } else {
                        Family::P384
                    };
                    KeyMaterial::Raw(family, point)
                }
                ("OKP", Some("Ed25519")) => KeyMaterial::Raw(Family::Ed25519, field("x")?),
                _ => return None,
            };
            Some(VerifyKey {
                kid: k.get("kid").and_then(Value::as_str).map(str::to_owned),
                material,
            })
        })
        .collect()
}

impl JwtVerifier {
    /// Builds verifiers for checked sections (see [`check_issuer`]).
    pub fn new(sections: &[JwtSection]) -> Self {
        let client = reqwest::Client::builder()
            .timeout(JWKS_FETCH_TIMEOUT)
            .build()
            .unwrap_or_default();
        let issuers = sections
            .iter()
            .map(|s| Issuer {
                issuer: s.issuer.clone(),
                audiences: s.audiences.clone(),
                algorithms: s
                    .algorithms
                    .iter()
                    .filter_map(|a| Algorithm::from_name(a))
                    .collect(),
                keys: s.keys.iter().filter_map(|k| inline_key(k).ok()).collect(),
                jwks: s.jwks_url.as_ref().map(|url| Jwks {
                    url: url.clone(),
                    client: client.clone(),
                    cache: ArcSwap::from_pointee(JwksCache::default()),
                    fetching: tokio::sync::Mutex::new(()),
                }),
                consumer_claim: s.consumer_claim.clone().unwrap_or_else(|| "sub".into()),
                tier_claim: s.tier_claim.clone().unwrap_or_else(|| "tier".into()),
                default_tier: s.default_tier.clone().unwrap_or_else(|| "free".into()),
                leeway: s.leeway_seconds.unwrap_or(60),
            })
            .collect();
        Self { issuers }
    }

    pub fn is_empty(&self) -> bool {
        self.issuers.is_empty()
    }

    /// Verifies `token` at `now` (seconds since the epoch).
    pub async fn verify(&self, token: &str, now: u64) -> Result<TokenIdentity, TokenError> {
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refuse(
                "the bearer token is not a JWT (three dot-separated parts)",
            ));
        };
        let header = decode_json(header_b64, "header")?;
        let claims = decode_json(payload_b64, "payload")?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature_b64)
            .map_err(|_| refuse("the token's signature is not base64url"))?;
        let alg_name = header.get("alg").and_then(Value::as_str).unwrap_or("none");
        let alg = Algorithm::from_name(alg_name)
            .ok_or_else(|| refuse(format!("algorithm `{alg_name}` is not accepted")))?;
        let iss = claims
            .get("iss")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let issuer = self
            .issuers
            .iter()
            .find(|i| i.issuer == iss)
            .ok_or_else(|| refuse("the token's issuer is not trusted"))?;
        if !issuer.algorithms.contains(&alg) {
            return Err(refuse(format!(
                "algorithm {alg_name} is not accepted for this issuer"
            )));
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let message = &token.as_bytes()[..header_b64.len() + 1 + payload_b64.len()];
        if !issuer
            .signature_verifies(alg, kid, message, &signature)
            .await
        {
            return Err(refuse("the token's signature does not verify"));
        }
        issuer.check_claims(&claims, now)
    }
}

fn decode_json(part: &str, what: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| refuse(format!("the token's {what} is not base64url")))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(refuse(format!("the token's {what} is not a JSON object"))),
    }
}

impl Issuer {
    async fn signature_verifies(
        &self,
        alg: Algorithm,
        kid: Option<&str>,
        message: &[u8],
        signature: &[u8],
    ) -> bool {
        let matches =
            |key: &VerifyKey| kid.is_none() || key.kid.is_none() || key.kid.as_deref() == kid;
        if self
            .keys
            .iter()
            .filter(|k| matches(k))
            .any(|k| k.verifies(alg, message, signature))
        {
            return true;
        }
        let Some(jwks) = &self.jwks else {
            return false;
        };
        let cache = jwks.current().await;
        let known_kid =
            kid.is_none_or(|kid| cache.keys.iter().any(|k| k.kid.as_deref() == Some(kid)));
        let cache = if known_kid {
            cache
        } else {
            jwks.refresh(Instant::now()).await
        };
        cache
            .keys
            .iter()
            .filter(|k| matches(k))
            .any(|k| k.verifies(alg, message, signature))
    }

    fn check_claims(
        &self,
        claims: &Map<String, Value>,
        now: u64,
    ) -> Result<TokenIdentity, TokenError> {
        let number = |name: &str| claims.get(name).and_then(Value::as_f64);
        let exp = number("exp").ok_or_else(|| refuse("the token has no `exp` claim"))?;
        let now_f = now as f64;
        let leeway = self.leeway as f64;
        if now_f >= exp + leeway {
            return Err(refuse("the token has expired"));
        }
        if number("nbf").is_some_and(|nbf| now_f + leeway < nbf) {
            return Err(refuse("the token is not valid yet"));
        }
        if !self.audiences.is_empty() {
            let audiences: Vec<&str> = match claims.get("aud") {
                Some(Value::String(one)) => vec![one.as_str()],
                Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
                _ => Vec::new(),
            };
            if !audiences
                .iter()
                .any(|a| self.audiences.iter().any(|want| want == a))
            {
                return Err(refuse("the token is not meant for this audience"));
            }
        }
        let consumer_id = match claims.get(&self.consumer_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(refuse(format!(
                    "the token has no `{}` claim naming the consumer",
                    self.consumer_claim
                )));
            }
        };
        Ok(TokenIdentity {
            issuer: self.issuer.clone(),
            consumer_id,
            tier: claims
                .get(&self.tier_claim)
                .and_then(Value::as_str)
                .map(str::to_owned),
            default_tier: self.default_tier.clone(),
        })
    }
}

impl Jwks {
    /// The cached keys, fetched first if there are none yet or they are old.
    async fn current(&self) -> Arc<JwksCache> {
        let cache = self.cache.load_full();
        match cache.fetched {
            Some(at) if at.elapsed() < JWKS_MAX_AGE => cache,
            _ => self.refresh(Instant::now()).await,
        }
    }

    /// Fetches the document once for everyone waiting (single flight); on failure the old keys
    /// stay. Asked again within [`JWKS_MIN_REFETCH`] of the last attempt, it returns the cache.
    async fn refresh(&self, asked_at: Instant) -> Arc<JwksCache> {
        let _one_fetch = self.fetching.lock().await;
        let cache = self.cache.load_full();
        if let Some(last) = cache.last_attempt
            && (last >= asked_at || last.elapsed() < JWKS_MIN_REFETCH)
        {
            return cache;
        }
        let fetched = async {
            let response = self
                .client
                .get(&self.url)
                .send()
                .await?
                .error_for_status()?;
            response.json::<Value>().await
        }
        .await;
        let now = Instant::now();
        let next = match fetched {
            Ok(document) => JwksCache {
                keys: jwks_keys(&document),
                fetched: Some(now),
                last_attempt: Some(now),
            },
            Err(e) => {
                tracing::warn!(url = %self.url, error = %e, "JWKS fetch failed; keeping the cached keys");
                JwksCache {
                    keys: cache.keys.clone(),
                    fetched: cache.fetched,
                    last_attempt: Some(now),
                }
            }
        };
        let next = Arc::new(next);
        self.cache.store(next.clone());
        next
    }
}
