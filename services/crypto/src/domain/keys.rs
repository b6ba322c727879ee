//! Key generation and the PEM/JWK forms keys travel in.

use std::collections::BTreeMap;

use pkcs8::der::pem::{self, LineEnding};
use ring::rand::SystemRandom;
use ring::signature::{self as ring_sig, KeyPair};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey};

use super::cipher::random_bytes;
use super::encoding::{base64, base64url};
use super::{CryptoError, Result};

/// Object identifiers of the key algorithms we read and write.
pub(crate) mod oid {
    use pkcs8::der::asn1::ObjectIdentifier;
    pub const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
    pub const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
    pub const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
    pub const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
    pub const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
}

/// SubjectPublicKeyInfo DER is a fixed prefix plus the raw key for these algorithms (RFC 8410, RFC 5480).
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// PKCS#8 v1 PrivateKeyInfo for Ed25519 is this prefix plus the 32-byte seed (RFC 8410 section 7).
const ED25519_PKCS8_V1_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];
const P256_SPKI_PREFIX: [u8; 26] = [
    0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a,
    0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
];
const P384_SPKI_PREFIX: [u8; 23] = [
    0x30, 0x76, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x22, 0x03, 0x62, 0x00,
];

/// RSA sizes offered; generation is slow, so the set is closed.
pub const RSA_BITS: [usize; 3] = [2048, 3072, 4096];
/// HMAC key sizes allowed, in bytes.
pub const HMAC_KEY_BYTES: std::ops::RangeInclusive<usize> = 16..=128;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySpec {
    Aes128,
    Aes256,
    ChaCha20,
    Hmac { bytes: usize },
    Ed25519,
    EcdsaP256,
    EcdsaP384,
    Rsa { bits: usize },
}

/// A JSON Web Key, as ordered name → value pairs.
pub type Jwk = BTreeMap<&'static str, String>;

/// A generated key in every form the API returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GeneratedKey {
    Symmetric {
        key: Vec<u8>,
        jwk: Jwk,
    },
    Pair {
        private_pem: String,
        public_pem: String,
        private_jwk: Jwk,
        public_jwk: Jwk,
    },
}

/// Generates a key. RSA takes up to seconds: call it off the async runtime.
pub fn generate(spec: KeySpec) -> Result<GeneratedKey> {
    let rng = SystemRandom::new();
    match spec {
        KeySpec::Aes128 => symmetric(&rng, 16),
        KeySpec::Aes256 | KeySpec::ChaCha20 => symmetric(&rng, 32),
        KeySpec::Hmac { bytes } => {
            if !HMAC_KEY_BYTES.contains(&bytes) {
                return Err(CryptoError::invalid(
                    "bytes",
                    format!(
                        "HMAC keys are {} to {} bytes",
                        HMAC_KEY_BYTES.start(),
                        HMAC_KEY_BYTES.end()
                    ),
                ));
            }
            symmetric(&rng, bytes)
        }
        KeySpec::Ed25519 => {
            let pkcs8 = ring_sig::Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| rng_failed())?;
            let pair = ring_sig::Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).map_err(internal)?;
            let public = pair.public_key().as_ref();
            let seed = pkcs8_private_octets(pkcs8.as_ref())?;
            let seed = seed.get(2..).ok_or_else(|| internal("short Ed25519 key"))?; // inner OCTET STRING header
            let public_jwk = jwk(&[
                ("kty", "OKP".into()),
                ("crv", "Ed25519".into()),
                ("x", base64url(public)),
            ]);
            let mut private_jwk = public_jwk.clone();
            private_jwk.insert("d", base64url(seed));
            // ring writes PKCS#8 v2 (with the public key), which OpenSSL 3.0 cannot read; v1 is universal.
            let pkcs8_v1 = [&ED25519_PKCS8_V1_PREFIX[..], seed].concat();
            pair_forms(
                &pkcs8_v1,
                &[&ED25519_SPKI_PREFIX[..], public].concat(),
                private_jwk,
                public_jwk,
            )
        }
        KeySpec::EcdsaP256 | KeySpec::EcdsaP384 => {
            let (alg, crv, prefix): (_, _, &[u8]) = if spec == KeySpec::EcdsaP256 {
                (
                    &ring_sig::ECDSA_P256_SHA256_ASN1_SIGNING,
                    "P-256",
                    &P256_SPKI_PREFIX,
                )
            } else {
                (
                    &ring_sig::ECDSA_P384_SHA384_ASN1_SIGNING,
                    "P-384",
                    &P384_SPKI_PREFIX,
                )
            };
            let pkcs8 =
                ring_sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).map_err(|_| rng_failed())?;
            let pair =
                ring_sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).map_err(internal)?;
            let point = pair.public_key().as_ref(); // 0x04 || x || y
            let coordinate_len = (point.len() - 1) / 2;
            let ec_key = sec1::EcPrivateKey::try_from(pkcs8_private_octets(pkcs8.as_ref())?)
                .map_err(internal)?;
            let public_jwk = jwk(&[
                ("kty", "EC".into()),
                ("crv", crv.into()),
                ("x", base64url(&point[1..=coordinate_len])),
                ("y", base64url(&point[1 + coordinate_len..])),
            ]);
            let mut private_jwk = public_jwk.clone();
            private_jwk.insert("d", base64url(ec_key.private_key));
            pair_forms(
                pkcs8.as_ref(),
                &[prefix, point].concat(),
                private_jwk,
                public_jwk,
            )
        }
        KeySpec::Rsa { bits } => {
            if !RSA_BITS.contains(&bits) {
                return Err(CryptoError::invalid(
                    "bits",
                    "RSA keys are 2048, 3072 or 4096 bits",
                ));
            }
            let mut os_rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
            let key = rsa::RsaPrivateKey::new(&mut os_rng, bits).map_err(internal)?;
            let pkcs8 = key.to_pkcs8_der().map_err(internal)?;
            let spki = key.to_public_key().to_public_key_der().map_err(internal)?;
            let pkcs1 = key.to_pkcs1_der().map_err(internal)?;
            let parts = rsa::pkcs1::RsaPrivateKey::<pkcs8::der::asn1::UintRef<'_>>::try_from(
                pkcs1.as_bytes(),
            )
            .map_err(internal)?;
            let public_jwk = jwk(&[
                ("kty", "RSA".into()),
                ("n", base64url(parts.modulus.as_bytes())),
                ("e", base64url(parts.public_exponent.as_bytes())),
            ]);
            let mut private_jwk = public_jwk.clone();
            for (name, value) in [
                ("d", parts.private_exponent),
                ("p", parts.prime1),
                ("q", parts.prime2),
                ("dp", parts.exponent1),
                ("dq", parts.exponent2),
                ("qi", parts.coefficient),
            ] {
                private_jwk.insert(name, base64url(value.as_bytes()));
            }
            pair_forms(pkcs8.as_bytes(), spki.as_bytes(), private_jwk, public_jwk)
        }
    }
}

fn symmetric(rng: &SystemRandom, len: usize) -> Result<GeneratedKey> {
    let key = random_bytes(rng, len)?;
    let jwk = jwk(&[("kty", "oct".into()), ("k", base64url(&key))]);
    Ok(GeneratedKey::Symmetric { key, jwk })
}

fn pair_forms(
    pkcs8_der: &[u8],
    spki_der: &[u8],
    private_jwk: Jwk,
    public_jwk: Jwk,
) -> Result<GeneratedKey> {
    Ok(GeneratedKey::Pair {
        private_pem: to_pem("PRIVATE KEY", pkcs8_der)?,
        public_pem: to_pem("PUBLIC KEY", spki_der)?,
        private_jwk,
        public_jwk,
    })
}

fn jwk(pairs: &[(&'static str, String)]) -> Jwk {
    pairs.iter().cloned().collect()
}

/// PEM text with `label`.
pub fn to_pem(label: &str, der: &[u8]) -> Result<String> {
    pem::encode_string(label, LineEnding::LF, der).map_err(internal)
}

/// The label and DER of a PEM block; `field` names the input in errors.
pub fn from_pem(text: &str, field: &'static str) -> Result<(String, Vec<u8>)> {
    let (label, der) = pem::decode_vec(text.trim().as_bytes())
        .map_err(|e| CryptoError::key(field, format!("is not a PEM block: {e}")))?;
    Ok((label.to_owned(), der))
}

/// The `privateKey` OCTET STRING of a PKCS#8 PrivateKeyInfo.
fn pkcs8_private_octets(der: &[u8]) -> Result<&[u8]> {
    let info = pkcs8::PrivateKeyInfoRef::try_from(der).map_err(internal)?;
    Ok(info.private_key.as_bytes())
}

/// Standard base64 of bytes, for symmetric keys.
pub fn key_base64(key: &[u8]) -> String {
    base64(key)
}

fn internal(e: impl std::fmt::Display) -> CryptoError {
    CryptoError::Internal(e.to_string())
}

fn rng_failed() -> CryptoError {
    CryptoError::Internal("system RNG failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_sizes() {
        let len = |spec| match generate(spec).unwrap() {
            GeneratedKey::Symmetric { key, jwk } => {
                assert_eq!(jwk["kty"], "oct");
                key.len()
            }
            GeneratedKey::Pair { .. } => panic!("expected a symmetric key"),
        };
        assert_eq!(len(KeySpec::Aes128), 16);
        assert_eq!(len(KeySpec::Aes256), 32);
        assert_eq!(len(KeySpec::ChaCha20), 32);
        assert_eq!(len(KeySpec::Hmac { bytes: 64 }), 64);
        assert!(generate(KeySpec::Hmac { bytes: 8 }).is_err());
        assert!(generate(KeySpec::Rsa { bits: 1024 }).is_err());
    }

    #[test]
    fn pem_round_trip() {
        let (label, der) =
            from_pem(&to_pem("PUBLIC KEY", b"\x30\x00").unwrap(), "publicKey").unwrap();
        assert_eq!(
            (label.as_str(), der.as_slice()),
            ("PUBLIC KEY", b"\x30\x00".as_slice())
        );
        assert!(from_pem("garbage", "publicKey").is_err());
    }
}
