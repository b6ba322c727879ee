//! Digital signatures with PEM keys: Ed25519, ECDSA P-256/P-384, RSA-PSS and RSA PKCS#1 v1.5.

use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, UnparsedPublicKey};
use rsa::pkcs1::DecodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;

use super::keys::{from_pem, oid};
use super::{CryptoError, Result};

/// A signature algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    Ed25519,
    EcdsaP256Sha256,
    EcdsaP384Sha384,
    RsaPssSha256,
    RsaPkcs1Sha256,
}

/// How an ECDSA signature is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EcdsaFormat {
    /// ASN.1 DER `SEQUENCE { r, s }` (OpenSSL, Java).
    #[default]
    Der,
    /// Fixed-width `r || s` (JOSE, WebCrypto).
    Raw,
}

impl SignatureAlgorithm {
    fn key_family(self) -> KeyFamily {
        match self {
            Self::Ed25519 => KeyFamily::Ed25519,
            Self::EcdsaP256Sha256 => KeyFamily::P256,
            Self::EcdsaP384Sha384 => KeyFamily::P384,
            Self::RsaPssSha256 | Self::RsaPkcs1Sha256 => KeyFamily::Rsa,
        }
    }

    fn ecdsa_signing(
        self,
        format: EcdsaFormat,
    ) -> Option<&'static ring_sig::EcdsaSigningAlgorithm> {
        Some(match (self, format) {
            (Self::EcdsaP256Sha256, EcdsaFormat::Der) => &ring_sig::ECDSA_P256_SHA256_ASN1_SIGNING,
            (Self::EcdsaP256Sha256, EcdsaFormat::Raw) => &ring_sig::ECDSA_P256_SHA256_FIXED_SIGNING,
            (Self::EcdsaP384Sha384, EcdsaFormat::Der) => &ring_sig::ECDSA_P384_SHA384_ASN1_SIGNING,
            (Self::EcdsaP384Sha384, EcdsaFormat::Raw) => &ring_sig::ECDSA_P384_SHA384_FIXED_SIGNING,
            _ => return None,
        })
    }

    fn verification(self, format: EcdsaFormat) -> &'static dyn ring_sig::VerificationAlgorithm {
        match (self, format) {
            (Self::Ed25519, _) => &ring_sig::ED25519,
            (Self::EcdsaP256Sha256, EcdsaFormat::Der) => &ring_sig::ECDSA_P256_SHA256_ASN1,
            (Self::EcdsaP256Sha256, EcdsaFormat::Raw) => &ring_sig::ECDSA_P256_SHA256_FIXED,
            (Self::EcdsaP384Sha384, EcdsaFormat::Der) => &ring_sig::ECDSA_P384_SHA384_ASN1,
            (Self::EcdsaP384Sha384, EcdsaFormat::Raw) => &ring_sig::ECDSA_P384_SHA384_FIXED,
            (Self::RsaPssSha256, _) => &ring_sig::RSA_PSS_2048_8192_SHA256,
            (Self::RsaPkcs1Sha256, _) => &ring_sig::RSA_PKCS1_2048_8192_SHA256,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyFamily {
    Ed25519,
    P256,
    P384,
    Rsa,
}

impl KeyFamily {
    fn name(self) -> &'static str {
        match self {
            KeyFamily::Ed25519 => "an Ed25519 key",
            KeyFamily::P256 => "an EC P-256 key",
            KeyFamily::P384 => "an EC P-384 key",
            KeyFamily::Rsa => "an RSA key",
        }
    }
}

/// Signs `message` with a PEM private key (PKCS#8 `PRIVATE KEY`, or PKCS#1 `RSA PRIVATE KEY`).
pub fn sign(
    algorithm: SignatureAlgorithm,
    private_key_pem: &str,
    message: &[u8],
    format: EcdsaFormat,
) -> Result<Vec<u8>> {
    let rng = SystemRandom::new();
    let pkcs8 = private_key_pkcs8(private_key_pem, algorithm.key_family())?;
    let rejected = |e: ring::error::KeyRejected| {
        CryptoError::key(
            "privateKey",
            format!("is not usable as {}: {e}", algorithm.key_family().name()),
        )
    };
    match algorithm {
        SignatureAlgorithm::Ed25519 => {
            let pair =
                ring_sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&pkcs8).map_err(rejected)?;
            Ok(pair.sign(message).as_ref().to_vec())
        }
        SignatureAlgorithm::EcdsaP256Sha256 | SignatureAlgorithm::EcdsaP384Sha384 => {
            let signing = algorithm
                .ecdsa_signing(format)
                .ok_or_else(|| CryptoError::Internal("not ECDSA".into()))?;
            let pair =
                ring_sig::EcdsaKeyPair::from_pkcs8(signing, &pkcs8, &rng).map_err(rejected)?;
            let signature = pair
                .sign(&rng, message)
                .map_err(|_| CryptoError::Internal("ECDSA signing failed".into()))?;
            Ok(signature.as_ref().to_vec())
        }
        SignatureAlgorithm::RsaPssSha256 | SignatureAlgorithm::RsaPkcs1Sha256 => {
            let pair = ring_sig::RsaKeyPair::from_pkcs8(&pkcs8).map_err(rejected)?;
            let padding: &'static dyn ring_sig::RsaEncoding =
                if algorithm == SignatureAlgorithm::RsaPssSha256 {
                    &ring_sig::RSA_PSS_SHA256
                } else {
                    &ring_sig::RSA_PKCS1_SHA256
                };
            let mut signature = vec![0u8; pair.public().modulus_len()];
            pair.sign(padding, &rng, message, &mut signature)
                .map_err(|_| CryptoError::Internal("RSA signing failed".into()))?;
            Ok(signature)
        }
    }
}

/// Whether `signature` is valid for `message` under a PEM public key (SPKI `PUBLIC KEY`, or
/// PKCS#1 `RSA PUBLIC KEY`). A key of the wrong type is an error, not a `false`.
pub fn verify(
    algorithm: SignatureAlgorithm,
    public_key_pem: &str,
    message: &[u8],
    signature: &[u8],
    format: EcdsaFormat,
) -> Result<bool> {
    let key = public_key_bytes(public_key_pem, algorithm.key_family())?;
    Ok(UnparsedPublicKey::new(algorithm.verification(format), key)
        .verify(message, signature)
        .is_ok())
}

/// The DER of a PKCS#8 private key of `family`, converting PKCS#1 RSA keys.
fn private_key_pkcs8(pem: &str, family: KeyFamily) -> Result<Vec<u8>> {
    let (label, der) = from_pem(pem, "privateKey")?;
    match label.as_str() {
        "PRIVATE KEY" => {
            let info = pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
                .map_err(|e| CryptoError::key("privateKey", format!("is not a PKCS#8 key: {e}")))?;
            let found = family_of(info.algorithm.oid, info.algorithm.parameters_oid().ok());
            expect_family(found, family, "privateKey")?;
            Ok(der)
        }
        "RSA PRIVATE KEY" if family == KeyFamily::Rsa => {
            let key = rsa::RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| {
                CryptoError::key("privateKey", format!("is not a PKCS#1 RSA key: {e}"))
            })?;
            let pkcs8 = key
                .to_pkcs8_der()
                .map_err(|e| CryptoError::Internal(e.to_string()))?;
            Ok(pkcs8.as_bytes().to_vec())
        }
        "EC PRIVATE KEY" => Err(CryptoError::key(
            "privateKey",
            "SEC1 EC keys are not accepted; convert with `openssl pkcs8 -topk8 -nocrypt`",
        )),
        "ENCRYPTED PRIVATE KEY" => Err(CryptoError::key(
            "privateKey",
            "encrypted keys are not accepted; send it decrypted",
        )),
        other => Err(CryptoError::key(
            "privateKey",
            format!("unexpected PEM label `{other}`; expected PRIVATE KEY"),
        )),
    }
}

/// The raw public key ring verifies with: the SPKI's key bits (for RSA, the PKCS#1 RSAPublicKey).
fn public_key_bytes(pem: &str, family: KeyFamily) -> Result<Vec<u8>> {
    let (label, der) = from_pem(pem, "publicKey")?;
    match label.as_str() {
        "PUBLIC KEY" => {
            let spki = spki::SubjectPublicKeyInfoRef::try_from(der.as_slice()).map_err(|e| {
                CryptoError::key("publicKey", format!("is not a SubjectPublicKeyInfo: {e}"))
            })?;
            let found = family_of(spki.algorithm.oid, spki.algorithm.parameters_oid().ok());
            expect_family(found, family, "publicKey")?;
            spki.subject_public_key
                .as_bytes()
                .map(<[u8]>::to_vec)
                .ok_or_else(|| CryptoError::key("publicKey", "has an unaligned key bit string"))
        }
        "RSA PUBLIC KEY" if family == KeyFamily::Rsa => Ok(der),
        "PRIVATE KEY" | "RSA PRIVATE KEY" | "EC PRIVATE KEY" => Err(CryptoError::key(
            "publicKey",
            "is a private key; send the public key",
        )),
        other => Err(CryptoError::key(
            "publicKey",
            format!("unexpected PEM label `{other}`; expected PUBLIC KEY"),
        )),
    }
}

fn family_of(
    algorithm: pkcs8::der::asn1::ObjectIdentifier,
    curve: Option<pkcs8::der::asn1::ObjectIdentifier>,
) -> Option<KeyFamily> {
    match algorithm {
        a if a == oid::ED25519 => Some(KeyFamily::Ed25519),
        a if a == oid::RSA => Some(KeyFamily::Rsa),
        a if a == oid::EC_PUBLIC_KEY => match curve {
            Some(c) if c == oid::P256 => Some(KeyFamily::P256),
            Some(c) if c == oid::P384 => Some(KeyFamily::P384),
            _ => None,
        },
        _ => None,
    }
}

fn expect_family(found: Option<KeyFamily>, wanted: KeyFamily, field: &'static str) -> Result<()> {
    match found {
        Some(found) if found == wanted => Ok(()),
        Some(found) => Err(CryptoError::key(
            field,
            format!(
                "is {}, but the algorithm needs {}",
                found.name(),
                wanted.name()
            ),
        )),
        None => Err(CryptoError::key(
            field,
            format!(
                "is of an unsupported type; the algorithm needs {}",
                wanted.name()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::{GeneratedKey, KeySpec, generate, to_pem};

    fn pair(spec: KeySpec) -> (String, String) {
        match generate(spec).unwrap() {
            GeneratedKey::Pair {
                private_pem,
                public_pem,
                ..
            } => (private_pem, public_pem),
            GeneratedKey::Symmetric { .. } => panic!("expected a key pair"),
        }
    }

    /// RFC 8032 section 7.1, TEST 1: empty message.
    #[test]
    fn ed25519_rfc8032_test_1() {
        let seed = hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
            .unwrap();
        let pkcs8 = [
            hex::decode("302e020100300506032b657004220420").unwrap(),
            seed,
        ]
        .concat();
        let private_pem = to_pem("PRIVATE KEY", &pkcs8).unwrap();
        let signature = sign(
            SignatureAlgorithm::Ed25519,
            &private_pem,
            b"",
            EcdsaFormat::Der,
        )
        .unwrap();
        assert_eq!(
            hex::encode(&signature),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
        );
        let public =
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap();
        let public_pem = to_pem(
            "PUBLIC KEY",
            &[hex::decode("302a300506032b6570032100").unwrap(), public].concat(),
        )
        .unwrap();
        assert!(
            verify(
                SignatureAlgorithm::Ed25519,
                &public_pem,
                b"",
                &signature,
                EcdsaFormat::Der
            )
            .unwrap()
        );
        assert!(
            !verify(
                SignatureAlgorithm::Ed25519,
                &public_pem,
                b"x",
                &signature,
                EcdsaFormat::Der
            )
            .unwrap()
        );
    }

    #[test]
    fn every_algorithm_round_trips_and_detects_tampering() {
        let cases = [
            (
                SignatureAlgorithm::Ed25519,
                KeySpec::Ed25519,
                EcdsaFormat::Der,
                None,
            ),
            (
                SignatureAlgorithm::EcdsaP256Sha256,
                KeySpec::EcdsaP256,
                EcdsaFormat::Der,
                None,
            ),
            (
                SignatureAlgorithm::EcdsaP256Sha256,
                KeySpec::EcdsaP256,
                EcdsaFormat::Raw,
                Some(64),
            ),
            (
                SignatureAlgorithm::EcdsaP384Sha384,
                KeySpec::EcdsaP384,
                EcdsaFormat::Raw,
                Some(96),
            ),
            (
                SignatureAlgorithm::RsaPssSha256,
                KeySpec::Rsa { bits: 2048 },
                EcdsaFormat::Der,
                Some(256),
            ),
            (
                SignatureAlgorithm::RsaPkcs1Sha256,
                KeySpec::Rsa { bits: 2048 },
                EcdsaFormat::Der,
                Some(256),
            ),
        ];
        for (algorithm, spec, format, len) in cases {
            let (private_pem, public_pem) = pair(spec);
            let signature = sign(algorithm, &private_pem, b"payload", format).unwrap();
            if let Some(len) = len {
                assert_eq!(signature.len(), len, "{algorithm:?}");
            }
            assert!(
                verify(algorithm, &public_pem, b"payload", &signature, format).unwrap(),
                "{algorithm:?}"
            );
            assert!(
                !verify(algorithm, &public_pem, b"payloaD", &signature, format).unwrap(),
                "{algorithm:?}"
            );
        }
    }

    #[test]
    fn wrong_key_types_are_errors() {
        let (ed_private, ed_public) = pair(KeySpec::Ed25519);
        let (p256_private, _) = pair(KeySpec::EcdsaP256);
        assert!(matches!(
            sign(
                SignatureAlgorithm::EcdsaP384Sha384,
                &p256_private,
                b"m",
                EcdsaFormat::Der
            ),
            Err(CryptoError::InvalidKey {
                field: "privateKey",
                ..
            })
        ));
        assert!(matches!(
            verify(
                SignatureAlgorithm::RsaPssSha256,
                &ed_public,
                b"m",
                b"sig",
                EcdsaFormat::Der
            ),
            Err(CryptoError::InvalidKey {
                field: "publicKey",
                ..
            })
        ));
        assert!(matches!(
            verify(
                SignatureAlgorithm::Ed25519,
                &ed_private,
                b"m",
                b"sig",
                EcdsaFormat::Der
            ),
            Err(CryptoError::InvalidKey {
                field: "publicKey",
                ..
            })
        ));
    }
}
