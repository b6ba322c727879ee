//! Text encodings of bytes: how inputs arrive and how outputs leave.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

use super::{CryptoError, Result};

/// How a text field carries bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InputEncoding {
    /// The text's UTF-8 bytes.
    #[default]
    Utf8,
    /// Base64 (standard or URL-safe, padding optional).
    Base64,
    /// Hexadecimal.
    Hex,
}

/// How output bytes are written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Hex,
    Base64,
    Base64Url,
}

impl InputEncoding {
    /// The bytes `text` stands for; `field` names the input in errors.
    pub fn decode(self, text: &str, field: &'static str) -> Result<Vec<u8>> {
        match self {
            InputEncoding::Utf8 => Ok(text.as_bytes().to_vec()),
            InputEncoding::Base64 => decode_base64(text)
                .ok_or_else(|| CryptoError::invalid(field, "is not valid base64")),
            InputEncoding::Hex => hex::decode(text.trim())
                .map_err(|e| CryptoError::invalid(field, format!("is not valid hex: {e}"))),
        }
    }
}

impl OutputFormat {
    /// `bytes` as text in this format.
    pub fn encode(self, bytes: &[u8]) -> String {
        match self {
            OutputFormat::Hex => hex::encode(bytes),
            OutputFormat::Base64 => STANDARD.encode(bytes),
            OutputFormat::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
        }
    }
}

/// Standard or URL-safe base64, padded or not, ignoring whitespace.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(&compact).ok())
}

/// Decodes a signature or tag given as hex or base64, choosing the reading that has
/// `expected_len` bytes when one is known (hex text is often valid base64 too).
pub fn decode_signature(text: &str, expected_len: Option<usize>) -> Option<Vec<u8>> {
    let text = text.trim();
    let from_hex = hex::decode(text).ok();
    let from_base64 = decode_base64(text);
    match expected_len {
        Some(len) => [from_hex, from_base64]
            .into_iter()
            .flatten()
            .find(|bytes| bytes.len() == len),
        None => from_hex.or(from_base64),
    }
}

/// URL-safe base64 without padding (JWT, JWK, tokens).
pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strict URL-safe base64 without padding, as JOSE requires.
pub fn from_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Standard base64 with padding.
pub fn base64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// The `encode` operation's codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    Base64,
    Base64Url,
    Hex,
    Url,
}

/// Encodes bytes as text with `codec`.
pub fn encode_with(codec: Codec, bytes: &[u8]) -> String {
    match codec {
        Codec::Base64 => STANDARD.encode(bytes),
        Codec::Base64Url => URL_SAFE_NO_PAD.encode(bytes),
        Codec::Hex => hex::encode(bytes),
        Codec::Url => percent_encoding::percent_encode(bytes, URL_COMPONENT).to_string(),
    }
}

/// Decodes text written with `codec`.
pub fn decode_with(codec: Codec, text: &str) -> Result<Vec<u8>> {
    let invalid = |what: &str| CryptoError::invalid("input", format!("is not valid {what}"));
    match codec {
        Codec::Base64 | Codec::Base64Url => decode_base64(text).ok_or_else(|| invalid("base64")),
        Codec::Hex => hex::decode(text.trim()).map_err(|_| invalid("hex")),
        Codec::Url => Ok(percent_encoding::percent_decode_str(&text.replace('+', " ")).collect()),
    }
}

/// Everything but RFC 3986 unreserved characters is escaped, as `encodeURIComponent` does
/// (which also keeps `!'()*`; we escape those too, as RFC 3986 recommends).
const URL_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_encodings() {
        assert_eq!(
            InputEncoding::Utf8.decode("hé", "input").unwrap(),
            "hé".as_bytes()
        );
        assert_eq!(
            InputEncoding::Base64.decode("aGk=", "input").unwrap(),
            b"hi"
        );
        assert_eq!(InputEncoding::Hex.decode("6869", "input").unwrap(), b"hi");
        assert!(matches!(
            InputEncoding::Hex.decode("zz", "key"),
            Err(CryptoError::Invalid { field: "key", .. })
        ));
    }

    #[test]
    fn signature_decoding_prefers_the_expected_length() {
        let tag = [0xabu8; 32];
        assert_eq!(decode_signature(&hex::encode(tag), Some(32)).unwrap(), tag);
        assert_eq!(decode_signature(&base64(&tag), Some(32)).unwrap(), tag);
        assert!(decode_signature("not a sig", Some(32)).is_none());
    }

    #[test]
    fn codecs_round_trip() {
        let data = "a b&c=d/é?".as_bytes();
        for codec in [Codec::Base64, Codec::Base64Url, Codec::Hex, Codec::Url] {
            assert_eq!(
                decode_with(codec, &encode_with(codec, data)).unwrap(),
                data,
                "{codec:?}"
            );
        }
        assert_eq!(encode_with(Codec::Url, b"a b&c"), "a%20b%26c");
        assert_eq!(decode_with(Codec::Url, "a+b%26c").unwrap(), b"a b&c");
    }
}
