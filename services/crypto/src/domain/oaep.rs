//! RSA-OAEP with SHA-256: small secrets for a holder of the private key.

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::sha2::Sha256;
use rsa::traits::PublicKeyParts;
use rsa::{Oaep, RsaPrivateKey, RsaPublicKey};

use super::keys::from_pem;
use super::{CryptoError, Result};

/// SHA-256 output length; OAEP spends two hashes and two bytes of the modulus.
const HASH_LEN: usize = 32;

/// Most plaintext bytes a key of `modulus_bytes` can take.
pub fn max_plaintext_len(modulus_bytes: usize) -> usize {
    modulus_bytes.saturating_sub(2 * HASH_LEN + 2)
}

/// Encrypts `plaintext` to a PEM public key (SPKI or PKCS#1).
pub fn encrypt(public_key_pem: &str, plaintext: &[u8]) -> Result<Vec<u8>> {
    let (label, der) = from_pem(public_key_pem, "publicKey")?;
    let key = match label.as_str() {
        "PUBLIC KEY" => {
            RsaPublicKey::from_public_key_der(&der).map_err(|e| bad_key("publicKey", e))
        }
        "RSA PUBLIC KEY" => RsaPublicKey::from_pkcs1_der(&der).map_err(|e| bad_key("publicKey", e)),
        other => Err(CryptoError::key(
            "publicKey",
            format!("unexpected PEM label `{other}`; expected an RSA PUBLIC KEY"),
        )),
    }?;
    let max = max_plaintext_len(key.size());
    if plaintext.len() > max {
        return Err(CryptoError::MessageTooLong(format!(
            "RSA-OAEP-SHA256 with a {}-bit key encrypts at most {max} bytes, got {}; encrypt larger data with \
             aes-256-gcm and wrap only its key with RSA",
            key.size() * 8,
            plaintext.len()
        )));
    }
    let mut rng = rsa::rand_core::UnwrapErr(getrandom::SysRng);
    key.encrypt(&mut rng, Oaep::<Sha256>::new(), plaintext)
        .map_err(|e| CryptoError::Internal(e.to_string()))
}

/// Decrypts with a PEM private key (PKCS#8 or PKCS#1). Any failure is [`CryptoError::DecryptionFailed`].
pub fn decrypt(private_key_pem: &str, ciphertext: &[u8]) -> Result<Vec<u8>> {
    let (label, der) = from_pem(private_key_pem, "privateKey")?;
    let key = match label.as_str() {
        "PRIVATE KEY" => RsaPrivateKey::from_pkcs8_der(&der).map_err(|e| bad_key("privateKey", e)),
        "RSA PRIVATE KEY" => {
            RsaPrivateKey::from_pkcs1_der(&der).map_err(|e| bad_key("privateKey", e))
        }
        other => Err(CryptoError::key(
            "privateKey",
            format!("unexpected PEM label `{other}`; expected an RSA PRIVATE KEY"),
        )),
    }?;
    key.decrypt(Oaep::<Sha256>::new(), ciphertext)
        .map_err(|_| CryptoError::DecryptionFailed)
}

fn bad_key(field: &'static str, e: impl std::fmt::Display) -> CryptoError {
    CryptoError::key(field, format!("is not an RSA key: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::keys::{GeneratedKey, KeySpec, generate};

    #[test]
    fn round_trip_limit_and_wrong_key() {
        let GeneratedKey::Pair {
            private_pem,
            public_pem,
            ..
        } = generate(KeySpec::Rsa { bits: 2048 }).unwrap()
        else {
            panic!("expected a key pair")
        };
        let ciphertext = encrypt(&public_pem, b"session key").unwrap();
        assert_eq!(ciphertext.len(), 256);
        assert_eq!(decrypt(&private_pem, &ciphertext).unwrap(), b"session key");

        assert!(encrypt(&public_pem, &[0u8; 190]).is_ok());
        let Err(CryptoError::MessageTooLong(message)) = encrypt(&public_pem, &[0u8; 191]) else {
            panic!("expected MessageTooLong")
        };
        assert!(message.contains("at most 190 bytes"), "{message}");

        let mut tampered = ciphertext.clone();
        tampered[10] ^= 1;
        assert_eq!(
            decrypt(&private_pem, &tampered),
            Err(CryptoError::DecryptionFailed)
        );
    }
}
