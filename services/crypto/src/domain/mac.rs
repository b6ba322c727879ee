//! HMAC: signing and constant-time verification.

use ring::hmac;

/// An HMAC hash function. `Sha1` remains for legacy webhooks and TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacAlgorithm {
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl MacAlgorithm {
    fn ring(self) -> hmac::Algorithm {
        match self {
            MacAlgorithm::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            MacAlgorithm::Sha256 => hmac::HMAC_SHA256,
            MacAlgorithm::Sha384 => hmac::HMAC_SHA384,
            MacAlgorithm::Sha512 => hmac::HMAC_SHA512,
        }
    }

    /// Length of a tag in bytes.
    pub fn tag_len(self) -> usize {
        match self {
            MacAlgorithm::Sha1 => 20,
            MacAlgorithm::Sha256 => 32,
            MacAlgorithm::Sha384 => 48,
            MacAlgorithm::Sha512 => 64,
        }
    }

    /// The tag of `message` under `key`.
    pub fn sign(self, key: &[u8], message: &[u8]) -> Vec<u8> {
        hmac::sign(&hmac::Key::new(self.ring(), key), message)
            .as_ref()
            .to_vec()
    }

    /// An incremental HMAC, for messages that arrive in chunks.
    pub fn signer(self, key: &[u8]) -> hmac::Context {
        hmac::Context::with_key(&hmac::Key::new(self.ring(), key))
    }

    /// Whether `tag` authenticates `message` under `key`, compared in constant time.
    pub fn verify(self, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
        hmac::verify(&hmac::Key::new(self.ring(), key), message, tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2 ("Jefe") and test case 1.
    #[test]
    fn rfc4231_vectors() {
        let data = b"what do ya want for nothing?";
        let check = |alg: MacAlgorithm, key: &[u8], data: &[u8], expected: &str| {
            let tag = alg.sign(key, data);
            assert_eq!(hex::encode(&tag), expected, "{alg:?}");
            assert!(alg.verify(key, data, &tag));
            assert_eq!(tag.len(), alg.tag_len());
        };
        check(
            MacAlgorithm::Sha256,
            b"Jefe",
            data,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        );
        check(
            MacAlgorithm::Sha384,
            b"Jefe",
            data,
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
        );
        check(
            MacAlgorithm::Sha512,
            b"Jefe",
            data,
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        );
        check(
            MacAlgorithm::Sha256,
            &[0x0b; 20],
            b"Hi There",
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
        );
        check(
            MacAlgorithm::Sha1,
            b"key",
            b"The quick brown fox jumps over the lazy dog",
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9",
        );
    }

    #[test]
    fn tampering_fails_verification() {
        let tag = MacAlgorithm::Sha256.sign(b"k", b"message");
        assert!(!MacAlgorithm::Sha256.verify(b"k", b"messagE", &tag));
        assert!(!MacAlgorithm::Sha256.verify(b"K", b"message", &tag));
        assert!(!MacAlgorithm::Sha256.verify(b"k", b"message", &tag[..31]));
    }

    #[test]
    fn chunked_signing_equals_one_shot() {
        let message: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let mut signer = MacAlgorithm::Sha512.signer(b"key");
        for chunk in message.chunks(4093) {
            signer.update(chunk);
        }
        assert_eq!(
            signer.sign().as_ref(),
            MacAlgorithm::Sha512.sign(b"key", &message).as_slice()
        );
    }
}
