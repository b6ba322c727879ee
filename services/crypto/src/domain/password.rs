//! Password hashing for storage: Argon2id (default) and bcrypt, as PHC / modular-crypt strings.

use argon2::password_hash::phc::PasswordHash;
use argon2::{Argon2, Params, PasswordHasher, PasswordVerifier};
use ring::rand::SystemRandom;

use super::cipher::{KdfParams, random_bytes};
use super::{CryptoError, Result};

/// bcrypt's default and bounds: below 4 is refused by the algorithm, above 15 takes seconds per hash.
pub const BCRYPT_DEFAULT_COST: u32 = 12;
pub const BCRYPT_COSTS: std::ops::RangeInclusive<u32> = 4..=15;
/// bcrypt ignores bytes past 72; we refuse them rather than silently truncate.
const BCRYPT_MAX_PASSWORD: usize = 72;
/// Longest password accepted at all.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// How to hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSpec {
    Argon2id(KdfParams),
    Bcrypt { cost: u32 },
}

/// The outcome of a verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordCheck {
    pub valid: bool,
    /// `argon2id`, `argon2i`, `argon2d` or `bcrypt`.
    pub algorithm: String,
    /// Whether the hash is weaker than what `hash` would make today.
    pub needs_rehash: bool,
}

/// Hashes `password`. Deliberately slow: call it off the async runtime.
pub fn hash(password: &str, spec: PasswordSpec) -> Result<String> {
    check_length(password)?;
    match spec {
        PasswordSpec::Argon2id(params) => {
            if params.memory_kib > KdfParams::MAX.memory_kib
                || params.iterations > KdfParams::MAX.iterations
                || params.parallelism > KdfParams::MAX.parallelism
            {
                return Err(CryptoError::invalid(
                    "memoryKib",
                    format!(
                        "Argon2id parameters are limited to {} KiB, {} iterations and {} lanes",
                        KdfParams::MAX.memory_kib,
                        KdfParams::MAX.iterations,
                        KdfParams::MAX.parallelism
                    ),
                ));
            }
            let argon = argon2_with(params)?;
            let salt = random_bytes(&SystemRandom::new(), 16)?;
            let phc = argon
                .hash_password_with_salt(password.as_bytes(), &salt)
                .map_err(|e| CryptoError::Internal(e.to_string()))?;
            Ok(phc.to_string())
        }
        PasswordSpec::Bcrypt { cost } => {
            if !BCRYPT_COSTS.contains(&cost) {
                return Err(CryptoError::invalid("cost", "bcrypt cost must be 4 to 15"));
            }
            if password.len() > BCRYPT_MAX_PASSWORD {
                return Err(CryptoError::invalid(
                    "password",
                    "bcrypt uses only the first 72 bytes; use argon2id for longer passwords",
                ));
            }
            bcrypt::hash(password, cost).map_err(|e| CryptoError::Internal(e.to_string()))
        }
    }
}

/// Checks `password` against a stored hash. Deliberately slow: call it off the async runtime.
pub fn verify(password: &str, stored: &str) -> Result<PasswordCheck> {
    check_length(password)?;
    let stored = stored.trim();
    if stored.starts_with("$2") {
        let cost = bcrypt_cost(stored)
            .ok_or_else(|| CryptoError::invalid("hash", "is not a bcrypt hash"))?;
        if !BCRYPT_COSTS.contains(&cost) {
            return Err(CryptoError::invalid(
                "hash",
                "bcrypt cost outside 4 to 15 is not verified here",
            ));
        }
        let valid = password.len() <= BCRYPT_MAX_PASSWORD
            && bcrypt::verify(password, stored)
                .map_err(|e| CryptoError::invalid("hash", format!("is not a bcrypt hash: {e}")))?;
        return Ok(PasswordCheck {
            valid,
            algorithm: "bcrypt".into(),
            needs_rehash: cost < BCRYPT_DEFAULT_COST,
        });
    }
    let parsed = PasswordHash::new(stored).map_err(|e| {
        CryptoError::invalid(
            "hash",
            format!("is neither a PHC argon2 string nor a bcrypt hash: {e}"),
        )
    })?;
    let algorithm = parsed.algorithm.to_string();
    if !algorithm.starts_with("argon2") {
        return Err(CryptoError::invalid(
            "hash",
            format!("algorithm `{algorithm}` is not supported"),
        ));
    }
    let params = Params::try_from(&parsed)
        .map_err(|e| CryptoError::invalid("hash", format!("has bad parameters: {e}")))?;
    let cost = KdfParams {
        memory_kib: params.m_cost(),
        iterations: params.t_cost(),
        parallelism: params.p_cost(),
    };
    if cost.memory_kib > KdfParams::MAX.memory_kib
        || cost.iterations > KdfParams::MAX.iterations
        || cost.parallelism > KdfParams::MAX.parallelism
    {
        return Err(CryptoError::invalid(
            "hash",
            "Argon2 parameters exceed the service's limits",
        ));
    }
    let valid = Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok();
    let weaker = algorithm != "argon2id"
        || cost.memory_kib < KdfParams::OWASP.memory_kib
        || cost.iterations < KdfParams::OWASP.iterations;
    Ok(PasswordCheck {
        valid,
        algorithm,
        needs_rehash: weaker,
    })
}

fn argon2_with(params: KdfParams) -> Result<Argon2<'static>> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| CryptoError::invalid("memoryKib", format!("invalid Argon2id parameters: {e}")))?;
    Ok(Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        params,
    ))
}

fn check_length(password: &str) -> Result<()> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CryptoError::invalid(
            "password",
            format!("longer than {MAX_PASSWORD_BYTES} bytes"),
        ));
    }
    Ok(())
}

/// `$2b$12$…` → 12.
fn bcrypt_cost(stored: &str) -> Option<u32> {
    stored.split('$').nth(2)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST_ARGON: KdfParams = KdfParams {
        memory_kib: 1024,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn argon2id_round_trip_and_rehash_hint() {
        let phc = hash("hunter2", PasswordSpec::Argon2id(FAST_ARGON)).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{phc}");
        let check = verify("hunter2", &phc).unwrap();
        assert!(check.valid && check.needs_rehash);
        assert!(!verify("hunter3", &phc).unwrap().valid);
        let strong = hash("hunter2", PasswordSpec::Argon2id(KdfParams::OWASP)).unwrap();
        assert!(!verify("hunter2", &strong).unwrap().needs_rehash);
    }

    /// The reference CLI's example from the Argon2 README (`argon2 somesalt -t 2 -m 16 -p 4 -l 24`).
    #[test]
    fn verifies_the_reference_implementations_hash() {
        let reference =
            "$argon2i$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG";
        let check = verify("password", reference).unwrap();
        assert!(
            check.valid && check.needs_rehash && check.algorithm == "argon2i",
            "{check:?}"
        );
        assert!(!verify("passwore", reference).unwrap().valid);
    }

    #[test]
    fn bcrypt_round_trip_and_limits() {
        let stored = hash("correct horse", PasswordSpec::Bcrypt { cost: 4 }).unwrap();
        assert!(stored.starts_with("$2b$04$"));
        let check = verify("correct horse", &stored).unwrap();
        assert!(check.valid && check.needs_rehash && check.algorithm == "bcrypt");
        assert!(!verify("wrong", &stored).unwrap().valid);
        assert!(hash(&"x".repeat(73), PasswordSpec::Bcrypt { cost: 4 }).is_err());
        assert!(hash("x", PasswordSpec::Bcrypt { cost: 3 }).is_err());
        assert!(
            verify(
                "x",
                "$2b$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
            )
            .is_err()
        );
        assert!(verify("x", "not a hash").is_err());
    }

    #[test]
    fn refuses_greedy_argon2_hashes() {
        let greedy = "$argon2id$v=19$m=4194304,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        assert!(verify("password", greedy).is_err());
    }
}
