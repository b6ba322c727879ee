//! JSON Web Tokens (RFC 7519) in compact JWS form: signing, and verification that refuses
//! `alg: none` and algorithm confusion.

use serde_json::{Map, Value, json};

use super::encoding::{base64url, from_base64url};
use super::mac::MacAlgorithm;
use super::signature::{self, EcdsaFormat, SignatureAlgorithm};
use super::{CryptoError, Result};

/// A JWS algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Hs384,
    Hs512,
    Rs256,
    Es256,
    EdDsa,
}

impl JwtAlgorithm {
    const ALL: [JwtAlgorithm; 6] = [
        Self::Hs256,
        Self::Hs384,
        Self::Hs512,
        Self::Rs256,
        Self::Es256,
        Self::EdDsa,
    ];

    /// The `alg` header value.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::Hs384 => "HS384",
            Self::Hs512 => "HS512",
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    fn mac(self) -> Option<MacAlgorithm> {
        match self {
            Self::Hs256 => Some(MacAlgorithm::Sha256),
            Self::Hs384 => Some(MacAlgorithm::Sha384),
            Self::Hs512 => Some(MacAlgorithm::Sha512),
            _ => None,
        }
    }

    fn signature(self) -> Option<SignatureAlgorithm> {
        match self {
            Self::Rs256 => Some(SignatureAlgorithm::RsaPkcs1Sha256),
            Self::Es256 => Some(SignatureAlgorithm::EcdsaP256Sha256),
            Self::EdDsa => Some(SignatureAlgorithm::Ed25519),
            _ => None,
        }
    }
}

/// The key a token is signed or verified with.
#[derive(Debug, Clone, Copy)]
pub enum JwtKey<'a> {
    /// A shared secret, for HS*.
    Secret(&'a [u8]),
    /// A PEM key: private to sign, public to verify (RS256, ES256, EdDSA).
    Pem(&'a str),
}

/// Signs `claims` (a JSON object) with the given header parameters.
pub fn sign(
    algorithm: JwtAlgorithm,
    key: JwtKey<'_>,
    key_id: Option<&str>,
    claims: &Map<String, Value>,
) -> Result<String> {
    let mut header = json!({"alg": algorithm.name(), "typ": "JWT"});
    if let Some(kid) = key_id {
        header["kid"] = Value::String(kid.to_owned());
    }
    let signing_input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(Value::Object(claims.clone()).to_string().as_bytes())
    );
    let signature = match (algorithm.mac(), algorithm.signature(), key) {
        (Some(mac), _, JwtKey::Secret(secret)) => {
            if secret.is_empty() {
                return Err(CryptoError::key("secret", "must not be empty"));
            }
            mac.sign(secret, signing_input.as_bytes())
        }
        (_, Some(sig), JwtKey::Pem(pem)) => {
            signature::sign(sig, pem, signing_input.as_bytes(), EcdsaFormat::Raw)?
        }
        (Some(_), _, JwtKey::Pem(_)) => {
            return Err(CryptoError::key(
                "secret",
                format!("{} needs `secret`", algorithm.name()),
            ));
        }
        _ => {
            return Err(CryptoError::key(
                "privateKey",
                format!("{} needs `privateKey` (PEM)", algorithm.name()),
            ));
        }
    };
    Ok(format!("{signing_input}.{}", base64url(&signature)))
}

/// What a verification checks besides the signature.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// Allowed algorithms; `None` allows those that fit the key's kind.
    pub algorithms: Option<Vec<JwtAlgorithm>>,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    pub leeway_seconds: i64,
    pub require_exp: bool,
    /// The current Unix time.
    pub now: i64,
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub valid: bool,
    /// Why the token was refused: `malformed`, `algorithm_not_allowed`, `invalid_signature`,
    /// `expired`, `missing_exp`, `not_yet_valid`, `wrong_issuer`, `wrong_audience`.
    pub reason: Option<&'static str>,
    pub header: Option<Value>,
    /// Present once the signature has been checked.
    pub claims: Option<Value>,
}

impl Verdict {
    fn refused(reason: &'static str, header: Option<Value>, claims: Option<Value>) -> Self {
        Self {
            valid: false,
            reason: Some(reason),
            header,
            claims,
        }
    }
}

/// Verifies a compact JWT.
pub fn verify(token: &str, key: JwtKey<'_>, expect: &Expectations) -> Result<Verdict> {
    let segments: Vec<&str> = token.trim().split('.').collect();
    let [header_b64, claims_b64, signature_b64] = segments[..] else {
        return Ok(Verdict::refused("malformed", None, None));
    };
    let Some(header) = decode_json_object(header_b64) else {
        return Ok(Verdict::refused("malformed", None, None));
    };
    let Some(algorithm) = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(JwtAlgorithm::from_name)
    else {
        // `none`, and any algorithm we do not implement, is never accepted.
        return Ok(Verdict::refused(
            "algorithm_not_allowed",
            Some(header),
            None,
        ));
    };
    let fits_key = match key {
        JwtKey::Secret(_) => algorithm.mac().is_some(),
        JwtKey::Pem(_) => algorithm.signature().is_some(),
    };
    let listed = expect
        .algorithms
        .as_ref()
        .is_none_or(|allowed| allowed.contains(&algorithm));
    if !fits_key || !listed {
        return Ok(Verdict::refused(
            "algorithm_not_allowed",
            Some(header),
            None,
        ));
    }
    let Some(signature_bytes) = from_base64url(signature_b64) else {
        return Ok(Verdict::refused("malformed", Some(header), None));
    };
    let signing_input = &token.trim()[..header_b64.len() + 1 + claims_b64.len()];
    let signature_ok = match (algorithm.mac(), algorithm.signature(), key) {
        (Some(mac), _, JwtKey::Secret(secret)) => {
            mac.verify(secret, signing_input.as_bytes(), &signature_bytes)
        }
        (_, Some(sig), JwtKey::Pem(pem)) => signature::verify(
            sig,
            pem,
            signing_input.as_bytes(),
            &signature_bytes,
            EcdsaFormat::Raw,
        )?,
        _ => false,
    };
    if !signature_ok {
        return Ok(Verdict::refused("invalid_signature", Some(header), None));
    }
    let Some(claims) = decode_json_object(claims_b64) else {
        return Ok(Verdict::refused("malformed", Some(header), None));
    };
    let reason = check_claims(&claims, expect);
    let header = Some(header);
    let claims = Some(claims);
    Ok(match reason {
        Some(reason) => Verdict::refused(reason, header, claims),
        None => Verdict {
            valid: true,
            reason: None,
            header,
            claims,
        },
    })
}

fn check_claims(claims: &Value, expect: &Expectations) -> Option<&'static str> {
    let time = |name: &str| claims.get(name).map(|v| v.as_f64().map(|t| t as i64));
    match time("exp") {
        Some(Some(exp)) if expect.now > exp + expect.leeway_seconds => return Some("expired"),
        Some(None) => return Some("malformed"),
        None if expect.require_exp => return Some("missing_exp"),
        _ => {}
    }
    match time("nbf") {
        Some(Some(nbf)) if expect.now + expect.leeway_seconds < nbf => {
            return Some("not_yet_valid");
        }
        Some(None) => return Some("malformed"),
        _ => {}
    }
    if let Some(issuer) = &expect.issuer
        && claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str())
    {
        return Some("wrong_issuer");
    }
    if let Some(audience) = &expect.audience {
        let matches = match claims.get("aud") {
            Some(Value::String(aud)) => aud == audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(audience.as_str())),
            _ => false,
        };
        if !matches {
            return Some("wrong_audience");
        }
    }
    None
}

fn decode_json_object(segment: &str) -> Option<Value> {
    let bytes = from_base64url(segment)?;
    serde_json::from_slice::<Value>(&bytes)
        .ok()
        .filter(Value::is_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::{GeneratedKey, KeySpec, generate};

    fn expect(now: i64) -> Expectations {
        Expectations {
            algorithms: None,
            issuer: None,
            audience: None,
            leeway_seconds: 0,
            require_exp: false,
            now,
        }
    }

    /// RFC 7519 section 3.1 example, signed with the RFC 7515 appendix A.1 HMAC key.
    #[test]
    fn rfc7519_example_verifies() {
        let token = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let key = from_base64url("AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow").unwrap();
        let verdict = verify(
            token,
            JwtKey::Secret(&key),
            &Expectations {
                issuer: Some("joe".into()),
                ..expect(1300819380)
            },
        )
        .unwrap();
        assert!(verdict.valid, "{verdict:?}");
        assert_eq!(verdict.claims.unwrap()["http://example.com/is_root"], true);
        let late = verify(token, JwtKey::Secret(&key), &expect(1300819381)).unwrap();
        assert_eq!(late.reason, Some("expired"));
        let lenient = verify(
            token,
            JwtKey::Secret(&key),
            &Expectations {
                leeway_seconds: 60,
                ..expect(1300819381)
            },
        )
        .unwrap();
        assert!(lenient.valid);
    }

    #[test]
    fn refuses_none_and_algorithm_confusion() {
        let claims = Map::new();
        let none = format!("{}.{}.", base64url(br#"{"alg":"none"}"#), base64url(b"{}"));
        assert_eq!(
            verify(&none, JwtKey::Secret(b"k"), &expect(0))
                .unwrap()
                .reason,
            Some("algorithm_not_allowed")
        );

        // An HS256 token "signed" with an RSA public key's PEM text must not verify against that key.
        let GeneratedKey::Pair {
            private_pem,
            public_pem,
            ..
        } = generate(KeySpec::EcdsaP256).unwrap()
        else {
            panic!()
        };
        let confused = sign(
            JwtAlgorithm::Hs256,
            JwtKey::Secret(public_pem.as_bytes()),
            None,
            &claims,
        )
        .unwrap();
        assert_eq!(
            verify(&confused, JwtKey::Pem(&public_pem), &expect(0))
                .unwrap()
                .reason,
            Some("algorithm_not_allowed")
        );

        let es256 = sign(
            JwtAlgorithm::Es256,
            JwtKey::Pem(&private_pem),
            Some("k1"),
            &claims,
        )
        .unwrap();
        assert!(
            verify(&es256, JwtKey::Pem(&public_pem), &expect(0))
                .unwrap()
                .valid
        );
        let only_eddsa = Expectations {
            algorithms: Some(vec![JwtAlgorithm::EdDsa]),
            ..expect(0)
        };
        assert_eq!(
            verify(&es256, JwtKey::Pem(&public_pem), &only_eddsa)
                .unwrap()
                .reason,
            Some("algorithm_not_allowed")
        );
    }

    #[test]
    fn checks_time_issuer_and_audience() {
        let mut claims = Map::new();
        claims.insert("nbf".into(), json!(1000));
        claims.insert("exp".into(), json!(2000));
        claims.insert("iss".into(), json!("https://auth.example.com/"));
        claims.insert("aud".into(), json!(["flowforge", "other"]));
        let token = sign(
            JwtAlgorithm::Hs512,
            JwtKey::Secret(b"s3cret"),
            None,
            &claims,
        )
        .unwrap();
        let key = JwtKey::Secret(b"s3cret");
        let check = |e: Expectations| verify(&token, key, &e).unwrap().reason;
        assert_eq!(check(expect(1500)), None);
        assert_eq!(check(expect(999)), Some("not_yet_valid"));
        assert_eq!(
            check(Expectations {
                leeway_seconds: 5,
                ..expect(996)
            }),
            None
        );
        assert_eq!(
            check(Expectations {
                audience: Some("flowforge".into()),
                ..expect(1500)
            }),
            None
        );
        assert_eq!(
            check(Expectations {
                audience: Some("nope".into()),
                ..expect(1500)
            }),
            Some("wrong_audience")
        );
        assert_eq!(
            check(Expectations {
                issuer: Some("evil".into()),
                ..expect(1500)
            }),
            Some("wrong_issuer")
        );
        assert_eq!(
            verify(&token, JwtKey::Secret(b"wrong"), &expect(1500))
                .unwrap()
                .reason,
            Some("invalid_signature")
        );
        let no_exp = sign(JwtAlgorithm::Hs256, key, None, &Map::new()).unwrap();
        assert_eq!(
            verify(
                &no_exp,
                key,
                &Expectations {
                    require_exp: true,
                    ..expect(0)
                }
            )
            .unwrap()
            .reason,
            Some("missing_exp")
        );
    }

    #[test]
    fn rs256_and_eddsa_round_trip() {
        for (algorithm, spec) in [
            (JwtAlgorithm::Rs256, KeySpec::Rsa { bits: 2048 }),
            (JwtAlgorithm::EdDsa, KeySpec::Ed25519),
        ] {
            let GeneratedKey::Pair {
                private_pem,
                public_pem,
                ..
            } = generate(spec).unwrap()
            else {
                panic!()
            };
            let token = sign(algorithm, JwtKey::Pem(&private_pem), None, &Map::new()).unwrap();
            assert!(
                verify(&token, JwtKey::Pem(&public_pem), &expect(0))
                    .unwrap()
                    .valid,
                "{algorithm:?}"
            );
        }
    }
}
