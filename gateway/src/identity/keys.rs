//! API keys: `ff_<env>_<random>`, shown once; only their SHA-256 (and a short display prefix) is
//! ever stored. A SHA-256 of 190 random bits needs no salt or slow hash: there is nothing to guess.

use std::fmt;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// 32 base62 characters: 190 bits of randomness.
const RANDOM_CHARS: usize = 32;
/// Characters of a key kept for display (`ff_live_AbCd…`).
const PREFIX_CHARS: usize = 12;

/// The SHA-256 of a key, the only form in which keys are kept.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyHash(pub [u8; 32]);

/// A hash map is given 8 of its bytes, not all 32 (they are already a hash). The map's own seeded
/// hasher still runs over them, so crafted keys cannot aim at one bucket.
impl std::hash::Hash for KeyHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut first = [0; 8];
        first.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(first));
    }
}

impl KeyHash {
    pub fn of(key: &str) -> Self {
        let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
        let mut hash = [0; 32];
        hash.copy_from_slice(digest.as_ref());
        Self(hash)
    }

    /// Parses `sha256:<64 hex>` (the config file's `keyHashes`).
    pub fn parse(text: &str) -> Option<Self> {
        let hex_digits = text.strip_prefix("sha256:")?;
        let mut hash = [0; 32];
        hex::decode_to_slice(hex_digits, &mut hash).ok()?;
        Some(Self(hash))
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.to_hex())
    }
}

impl fmt::Debug for KeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyHash({self})")
    }
}

/// Whether `env` may name a key's environment (`live`, `test`, `demo`…).
pub fn is_valid_env(env: &str) -> bool {
    (1..=16).contains(&env.len())
        && env
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A new key for `env` (checked with [`is_valid_env`] by the caller).
pub fn generate_key(env: &str) -> String {
    let mut random = [0u8; RANDOM_CHARS];
    getrandom::fill(&mut random).expect("the operating system's random source failed");
    // 248 is the largest multiple of 62 below 256: rejecting above it keeps characters uniform.
    let mut chars = String::with_capacity(RANDOM_CHARS);
    let mut pool = random.to_vec();
    while chars.len() < RANDOM_CHARS {
        for byte in pool.drain(..) {
            if byte < 248 && chars.len() < RANDOM_CHARS {
                chars.push(ALPHABET[usize::from(byte % 62)] as char);
            }
        }
        if chars.len() < RANDOM_CHARS {
            let mut more = [0u8; 8];
            getrandom::fill(&mut more).expect("the operating system's random source failed");
            pool.extend_from_slice(&more);
        }
    }
    format!("ff_{env}_{chars}")
}

/// The part of a key shown in listings.
pub fn display_prefix(key: &str) -> String {
    key.chars().take(PREFIX_CHARS).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_sha256_in_the_config_notation() {
        // sha256("abc"), FIPS 180-2 appendix B.1.
        let hash = KeyHash::of("abc");
        assert_eq!(
            hash.to_string(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(KeyHash::parse(&hash.to_string()), Some(hash));
        assert_eq!(KeyHash::parse("sha256:abcd"), None);
        assert_eq!(KeyHash::parse("md5:ba7816bf"), None);
    }

    #[test]
    fn generated_keys_have_the_documented_shape_and_differ() {
        let key = generate_key("live");
        let random = key.strip_prefix("ff_live_").unwrap();
        assert_eq!(random.len(), RANDOM_CHARS);
        assert!(random.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert_ne!(generate_key("live"), key);
        assert_eq!(display_prefix(&key), &key[..12]);
    }

    #[test]
    fn environments_are_short_lowercase_words() {
        assert!(is_valid_env("live"));
        assert!(is_valid_env("test2"));
        assert!(!is_valid_env(""));
        assert!(!is_valid_env("Live"));
        assert!(!is_valid_env("a_b"));
    }
}
