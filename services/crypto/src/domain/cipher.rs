//! Authenticated encryption into one self-describing token, and RSA-OAEP.
//!
//! Token: `ff1.<algorithm>.<kdf>.<nonce>.<ciphertext+tag>`, base64url segments. `<kdf>` is `key`
//! for a raw key, or `argon2id:m=<KiB>,t=<passes>,p=<lanes>:<salt>` for a passphrase. The header
//! (`ff1.<algorithm>.<kdf>`) is authenticated together with the caller's AAD, so changing any
//! part of the token makes decryption fail.

use argon2::{Algorithm, Argon2, Params, Version};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use ring::aead;
use ring::rand::{SecureRandom, SystemRandom};

use super::encoding::{base64url, from_base64url};
use super::{CryptoError, Result};

const TOKEN_VERSION: &str = "ff1";
const KDF_RAW_KEY: &str = "key";
const KDF_ARGON2ID: &str = "argon2id";
const SALT_LEN: usize = 16;

/// An AEAD algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AeadAlgorithm {
    Aes256Gcm,
    Aes128Gcm,
    ChaCha20Poly1305,
    XChaCha20Poly1305,
}

impl AeadAlgorithm {
    const ALL: [AeadAlgorithm; 4] = [
        Self::Aes256Gcm,
        Self::Aes128Gcm,
        Self::ChaCha20Poly1305,
        Self::XChaCha20Poly1305,
    ];

    /// The name used in tokens and the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::Aes256Gcm => "aes-256-gcm",
            Self::Aes128Gcm => "aes-128-gcm",
            Self::ChaCha20Poly1305 => "chacha20-poly1305",
            Self::XChaCha20Poly1305 => "xchacha20-poly1305",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.name() == name)
    }

    /// Key length in bytes.
    pub fn key_len(self) -> usize {
        if self == Self::Aes128Gcm { 16 } else { 32 }
    }

    fn nonce_len(self) -> usize {
        if self == Self::XChaCha20Poly1305 {
            24
        } else {
            12
        }
    }

    fn seal(self, key: &[u8], nonce: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>> {
        match self.ring() {
            Some(ring_alg) => {
                let key = ring_key(ring_alg, key)?;
                let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
                    .map_err(|_| internal("nonce length"))?;
                let mut in_out = plaintext.to_vec();
                key.seal_in_place_append_tag(nonce, aead::Aad::from(aad), &mut in_out)
                    .map_err(|_| internal("seal"))?;
                Ok(in_out)
            }
            None => xchacha(key)?
                .encrypt(
                    xnonce(nonce)?,
                    Payload {
                        msg: plaintext,
                        aad,
                    },
                )
                .map_err(|_| internal("seal")),
        }
    }

    fn open(self, key: &[u8], nonce: &[u8], aad: &[u8], ciphertext: &[u8]) -> Result<Vec<u8>> {
        match self.ring() {
            Some(ring_alg) => {
                let key = ring_key(ring_alg, key)?;
                let nonce = aead::Nonce::try_assume_unique_for_key(nonce)
                    .map_err(|_| CryptoError::DecryptionFailed)?;
                let mut in_out = ciphertext.to_vec();
                let plaintext = key
                    .open_in_place(nonce, aead::Aad::from(aad), &mut in_out)
                    .map_err(|_| CryptoError::DecryptionFailed)?;
                Ok(plaintext.to_vec())
            }
            None => xchacha(key)?
                .decrypt(
                    xnonce(nonce)?,
                    Payload {
                        msg: ciphertext,
                        aad,
                    },
                )
                .map_err(|_| CryptoError::DecryptionFailed),
        }
    }

    fn ring(self) -> Option<&'static aead::Algorithm> {
        match self {
            Self::Aes256Gcm => Some(&aead::AES_256_GCM),
            Self::Aes128Gcm => Some(&aead::AES_128_GCM),
            Self::ChaCha20Poly1305 => Some(&aead::CHACHA20_POLY1305),
            Self::XChaCha20Poly1305 => None,
        }
    }
}

fn ring_key(algorithm: &'static aead::Algorithm, key: &[u8]) -> Result<aead::LessSafeKey> {
    aead::UnboundKey::new(algorithm, key)
        .map(aead::LessSafeKey::new)
        .map_err(|_| CryptoError::key("key", format!("must be {} bytes", algorithm.key_len())))
}

fn xchacha(key: &[u8]) -> Result<chacha20poly1305::XChaCha20Poly1305> {
    chacha20poly1305::XChaCha20Poly1305::new_from_slice(key)
        .map_err(|_| CryptoError::key("key", "must be 32 bytes"))
}

fn xnonce(nonce: &[u8]) -> Result<&chacha20poly1305::XNonce> {
    <&chacha20poly1305::XNonce>::try_from(nonce).map_err(|_| CryptoError::DecryptionFailed)
}

fn internal(what: &str) -> CryptoError {
    CryptoError::Internal(format!("AEAD {what} failed"))
}

/// What the key is derived from.
#[derive(Debug, Clone, Copy)]
pub enum Secret<'a> {
    /// A raw key of the algorithm's length.
    Key(&'a [u8]),
    /// A passphrase, stretched with Argon2id.
    Passphrase(&'a str),
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl KdfParams {
    /// OWASP's recommended Argon2id settings (19 MiB, 2 passes, 1 lane).
    pub const OWASP: KdfParams = KdfParams {
        memory_kib: 19 * 1024,
        iterations: 2,
        parallelism: 1,
    };
    /// The most a token may ask for, so a crafted token cannot exhaust memory or CPU.
    pub const MAX: KdfParams = KdfParams {
        memory_kib: 256 * 1024,
        iterations: 10,
        parallelism: 8,
    };

    fn within_limits(self) -> bool {
        self.memory_kib <= Self::MAX.memory_kib
            && self.iterations <= Self::MAX.iterations
            && self.parallelism <= Self::MAX.parallelism
    }

    /// Derives `len` key bytes from `passphrase` and `salt`.
    pub fn derive(self, passphrase: &[u8], salt: &[u8], len: usize) -> Result<Vec<u8>> {
        let params = Params::new(
            self.memory_kib,
            self.iterations,
            self.parallelism,
            Some(len),
        )
        .map_err(|e| CryptoError::invalid("kdf", format!("invalid Argon2id parameters: {e}")))?;
        let mut key = vec![0u8; len];
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, &mut key)
            .map_err(|e| CryptoError::invalid("passphrase", format!("cannot derive a key: {e}")))?;
        Ok(key)
    }
}

/// A decrypted token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    pub algorithm: AeadAlgorithm,
    pub plaintext: Vec<u8>,
}

/// Encrypts `plaintext` into a token.
pub fn encrypt(
    algorithm: AeadAlgorithm,
    secret: Secret<'_>,
    plaintext: &[u8],
    aad: &[u8],
) -> Result<String> {
    let rng = SystemRandom::new();
    let (kdf_segment, key) = match secret {
        Secret::Key(key) => {
            check_key_len(algorithm, key)?;
            (KDF_RAW_KEY.to_owned(), key.to_vec())
        }
        Secret::Passphrase(passphrase) => {
            if passphrase.is_empty() {
                return Err(CryptoError::invalid("passphrase", "must not be empty"));
            }
            let salt = random_bytes(&rng, SALT_LEN)?;
            let params = KdfParams::OWASP;
            let key = params.derive(passphrase.as_bytes(), &salt, algorithm.key_len())?;
            let segment = format!(
                "{KDF_ARGON2ID}:m={},t={},p={}:{}",
                params.memory_kib,
                params.iterations,
                params.parallelism,
                base64url(&salt)
            );
            (segment, key)
        }
    };
    let header = format!("{TOKEN_VERSION}.{}.{kdf_segment}", algorithm.name());
    let nonce = random_bytes(&rng, algorithm.nonce_len())?;
    let ciphertext = algorithm.seal(&key, &nonce, &bound_aad(&header, aad), plaintext)?;
    Ok(format!(
        "{header}.{}.{}",
        base64url(&nonce),
        base64url(&ciphertext)
    ))
}

/// Decrypts a token made by [`encrypt`]. Any mismatch is [`CryptoError::DecryptionFailed`].
pub fn decrypt(token: &str, secret: Secret<'_>, aad: &[u8]) -> Result<Decrypted> {
    let malformed =
        |why: &str| CryptoError::invalid("token", format!("is not a FlowForge token: {why}"));
    let parts: Vec<&str> = token.trim().split('.').collect();
    let [version, algorithm, kdf, nonce, ciphertext] = parts[..] else {
        return Err(malformed(
            "expected ff1.<algorithm>.<kdf>.<nonce>.<ciphertext>",
        ));
    };
    if version != TOKEN_VERSION {
        return Err(malformed("unknown version"));
    }
    let algorithm =
        AeadAlgorithm::from_name(algorithm).ok_or_else(|| malformed("unknown algorithm"))?;
    let nonce = from_base64url(nonce).ok_or_else(|| malformed("nonce is not base64url"))?;
    let ciphertext =
        from_base64url(ciphertext).ok_or_else(|| malformed("ciphertext is not base64url"))?;

    let key = match (kdf, secret) {
        (KDF_RAW_KEY, Secret::Key(key)) => {
            check_key_len(algorithm, key)?;
            key.to_vec()
        }
        (KDF_RAW_KEY, Secret::Passphrase(_)) => {
            return Err(CryptoError::invalid(
                "passphrase",
                "this token was encrypted with a raw key; send `key`",
            ));
        }
        (kdf, Secret::Passphrase(passphrase)) => {
            let (params, salt) =
                parse_kdf(kdf).ok_or_else(|| malformed("unreadable KDF segment"))?;
            if !params.within_limits() {
                return Err(malformed("KDF parameters exceed the service's limits"));
            }
            params.derive(passphrase.as_bytes(), &salt, algorithm.key_len())?
        }
        (_, Secret::Key(_)) => {
            return Err(CryptoError::invalid(
                "key",
                "this token was encrypted with a passphrase; send `passphrase`",
            ));
        }
    };
    let header = format!("{TOKEN_VERSION}.{}.{kdf}", algorithm.name());
    let plaintext = algorithm.open(&key, &nonce, &bound_aad(&header, aad), &ciphertext)?;
    Ok(Decrypted {
        algorithm,
        plaintext,
    })
}

fn check_key_len(algorithm: AeadAlgorithm, key: &[u8]) -> Result<()> {
    if key.len() == algorithm.key_len() {
        Ok(())
    } else {
        Err(CryptoError::key(
            "key",
            format!(
                "{} needs a {}-byte key, got {} bytes",
                algorithm.name(),
                algorithm.key_len(),
                key.len()
            ),
        ))
    }
}

/// The header is authenticated with the caller's AAD, separated so the two cannot run together.
fn bound_aad(header: &str, aad: &[u8]) -> Vec<u8> {
    let mut bound = Vec::with_capacity(header.len() + 1 + aad.len());
    bound.extend_from_slice(header.as_bytes());
    bound.push(0);
    bound.extend_from_slice(aad);
    bound
}

/// `argon2id:m=19456,t=2,p=1:<salt>`.
fn parse_kdf(segment: &str) -> Option<(KdfParams, Vec<u8>)> {
    let mut parts = segment.split(':');
    if parts.next()? != KDF_ARGON2ID {
        return None;
    }
    let mut params = KdfParams {
        memory_kib: 0,
        iterations: 0,
        parallelism: 0,
    };
    for pair in parts.next()?.split(',') {
        let (name, value) = pair.split_once('=')?;
        let value: u32 = value.parse().ok()?;
        match name {
            "m" => params.memory_kib = value,
            "t" => params.iterations = value,
            "p" => params.parallelism = value,
            _ => return None,
        }
    }
    let salt = from_base64url(parts.next()?)?;
    (parts.next().is_none() && salt.len() >= 8).then_some((params, salt))
}

/// `len` bytes from the operating system's CSPRNG.
pub fn random_bytes(rng: &SystemRandom, len: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes)
        .map_err(|_| CryptoError::Internal("system RNG failed".into()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// NIST GCM test vector (McGrew & Viega test case 3 / CAVP): AES-128-GCM, 96-bit IV.
    #[test]
    fn aes_gcm_known_vector() {
        let key = hex::decode("feffe9928665731c6d6a8f9467308308").unwrap();
        let nonce = hex::decode("cafebabefacedbaddecaf888").unwrap();
        let plaintext = hex::decode(concat!(
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
            "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255"
        ))
        .unwrap();
        let sealed = AeadAlgorithm::Aes128Gcm
            .seal(&key, &nonce, b"", &plaintext)
            .unwrap();
        assert_eq!(
            hex::encode(&sealed[..64]),
            concat!(
                "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e",
                "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985"
            )
        );
        assert_eq!(
            hex::encode(&sealed[64..]),
            "4d5c2af327cd64a62cf35abd2ba6fab4"
        );
    }

    #[test]
    fn every_algorithm_round_trips_with_key_and_passphrase() {
        for algorithm in AeadAlgorithm::ALL {
            let key = vec![7u8; algorithm.key_len()];
            let token = encrypt(algorithm, Secret::Key(&key), b"attack at dawn", b"ctx").unwrap();
            assert!(token.starts_with(&format!("ff1.{}.key.", algorithm.name())));
            let opened = decrypt(&token, Secret::Key(&key), b"ctx").unwrap();
            assert_eq!(
                (opened.algorithm, opened.plaintext.as_slice()),
                (algorithm, b"attack at dawn".as_slice())
            );

            let token = encrypt(algorithm, Secret::Passphrase("correct horse"), b"", b"").unwrap();
            assert_eq!(
                decrypt(&token, Secret::Passphrase("correct horse"), b"")
                    .unwrap()
                    .plaintext,
                b""
            );
            assert_eq!(
                decrypt(&token, Secret::Passphrase("wrong horse"), b""),
                Err(CryptoError::DecryptionFailed)
            );
        }
    }

    #[test]
    fn tampering_wrong_key_and_wrong_aad_fail() {
        let key = [1u8; 32];
        let token = encrypt(
            AeadAlgorithm::Aes256Gcm,
            Secret::Key(&key),
            b"secret",
            b"aad",
        )
        .unwrap();
        assert_eq!(
            decrypt(&token, Secret::Key(&[2u8; 32]), b"aad"),
            Err(CryptoError::DecryptionFailed)
        );
        assert_eq!(
            decrypt(&token, Secret::Key(&key), b"other"),
            Err(CryptoError::DecryptionFailed)
        );
        // Flip one ciphertext character.
        let mut chars: Vec<char> = token.chars().collect();
        let last = chars.len() - 3;
        chars[last] = if chars[last] == 'A' { 'B' } else { 'A' };
        let tampered: String = chars.into_iter().collect();
        assert_eq!(
            decrypt(&tampered, Secret::Key(&key), b"aad"),
            Err(CryptoError::DecryptionFailed)
        );
        // Swapping the algorithm in the header is caught by the authenticated header.
        let swapped = token.replacen("aes-256-gcm", "chacha20-poly1305", 1);
        assert_eq!(
            decrypt(&swapped, Secret::Key(&key), b"aad"),
            Err(CryptoError::DecryptionFailed)
        );
    }

    #[test]
    fn malformed_tokens_and_keys_are_input_errors() {
        assert!(matches!(
            decrypt("nope", Secret::Key(&[0; 32]), b""),
            Err(CryptoError::Invalid { field: "token", .. })
        ));
        assert!(matches!(
            encrypt(AeadAlgorithm::Aes128Gcm, Secret::Key(&[0; 32]), b"x", b""),
            Err(CryptoError::InvalidKey { field: "key", .. })
        ));
        let greedy = "ff1.aes-256-gcm.argon2id:m=4194304,t=2,p=1:AAAAAAAAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAA.AAAA";
        assert!(matches!(
            decrypt(greedy, Secret::Passphrase("p"), b""),
            Err(CryptoError::Invalid { field: "token", .. })
        ));
    }
}
