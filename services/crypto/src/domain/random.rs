//! Random values: bytes, UUIDs, tokens and passwords, all from the OS CSPRNG.

use ring::rand::SystemRandom;

use super::cipher::random_bytes;
use super::{CryptoError, Result};

const LOWERCASE: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPERCASE: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "!#$%&*+-.:=?@^_~";
/// Characters easily confused when read aloud or on paper.
const AMBIGUOUS: &str = "Il1O0o";

/// Which characters a password draws from; each chosen class appears at least once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Charset {
    pub lowercase: bool,
    pub uppercase: bool,
    pub digits: bool,
    pub symbols: bool,
    pub exclude_ambiguous: bool,
}

/// `len` random bytes.
pub fn bytes(len: usize) -> Result<Vec<u8>> {
    random_bytes(&SystemRandom::new(), len)
}

/// A random (version 4) UUID.
pub fn uuid_v4() -> Result<String> {
    let mut raw: [u8; 16] = bytes(16)?
        .try_into()
        .map_err(|_| CryptoError::Internal("uuid".into()))?;
    raw[6] = (raw[6] & 0x0f) | 0x40;
    raw[8] = (raw[8] & 0x3f) | 0x80;
    Ok(uuid::Uuid::from_bytes(raw).hyphenated().to_string())
}

/// A time-ordered (version 7) UUID: sortable, for database keys.
pub fn uuid_v7() -> String {
    uuid::Uuid::now_v7().hyphenated().to_string()
}

/// A password of `len` characters with at least one of each chosen class.
pub fn password(len: usize, charset: Charset) -> Result<String> {
    let keep = |class: &str| -> Vec<char> {
        class
            .chars()
            .filter(|c| !(charset.exclude_ambiguous && AMBIGUOUS.contains(*c)))
            .collect()
    };
    let classes: Vec<Vec<char>> = [
        (charset.lowercase, LOWERCASE),
        (charset.uppercase, UPPERCASE),
        (charset.digits, DIGITS),
        (charset.symbols, SYMBOLS),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, class)| keep(class))
    .collect();
    if classes.is_empty() {
        return Err(CryptoError::invalid(
            "charset",
            "choose at least one of lowercase, uppercase, digits, symbols",
        ));
    }
    if len < classes.len() {
        return Err(CryptoError::invalid(
            "length",
            format!(
                "must be at least {} to include every chosen class",
                classes.len()
            ),
        ));
    }
    let alphabet: Vec<char> = classes.concat();
    let rng = SystemRandom::new();
    let mut chars: Vec<char> = classes
        .iter()
        .map(|class| pick(&rng, class))
        .collect::<Result<_>>()?;
    while chars.len() < len {
        chars.push(pick(&rng, &alphabet)?);
    }
    // Fisher-Yates, so the guaranteed characters are not always first.
    for i in (1..chars.len()).rev() {
        let j = uniform(&rng, i + 1)?;
        chars.swap(i, j);
    }
    Ok(chars.into_iter().collect())
}

fn pick(rng: &SystemRandom, from: &[char]) -> Result<char> {
    Ok(from[uniform(rng, from.len())?])
}

/// A uniform index below `bound`, by rejection sampling (no modulo bias).
fn uniform(rng: &SystemRandom, bound: usize) -> Result<usize> {
    let bound = bound as u32;
    let zone = u32::MAX - (u32::MAX % bound);
    loop {
        let raw = random_bytes(rng, 4)?;
        let value = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
        if value < zone {
            return Ok((value % bound) as usize);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Charset = Charset {
        lowercase: true,
        uppercase: true,
        digits: true,
        symbols: true,
        exclude_ambiguous: false,
    };

    #[test]
    fn passwords_honour_the_charset() {
        for _ in 0..50 {
            let p = password(8, ALL).unwrap();
            assert_eq!(p.chars().count(), 8);
            assert!(
                p.chars().any(|c| c.is_ascii_lowercase())
                    && p.chars().any(|c| c.is_ascii_uppercase())
            );
            assert!(
                p.chars().any(|c| c.is_ascii_digit()) && p.chars().any(|c| SYMBOLS.contains(c))
            );
        }
        let digits = Charset {
            lowercase: false,
            uppercase: false,
            symbols: false,
            exclude_ambiguous: true,
            ..ALL
        };
        let pin = password(64, digits).unwrap();
        assert!(
            pin.chars()
                .all(|c| c.is_ascii_digit() && c != '0' && c != '1'),
            "{pin}"
        );
        assert!(password(3, ALL).is_err());
        assert!(
            password(
                8,
                Charset {
                    lowercase: false,
                    uppercase: false,
                    digits: false,
                    symbols: false,
                    ..ALL
                }
            )
            .is_err()
        );
    }

    #[test]
    fn uuids_have_their_version() {
        let v4 = uuid_v4().unwrap();
        assert_eq!(uuid::Uuid::parse_str(&v4).unwrap().get_version_num(), 4);
        assert_eq!(
            uuid::Uuid::parse_str(&uuid_v7()).unwrap().get_version_num(),
            7
        );
        assert_ne!(uuid_v4().unwrap(), v4);
    }
}
