//! Webhook signature presets: the schemes GitHub, Stripe, Slack and Shopify sign deliveries with.

use super::encoding::decode_signature;
use super::mac::MacAlgorithm;
use super::{CryptoError, Result};

/// A webhook sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// `X-Hub-Signature-256: sha256=<hex>` over the raw body.
    Github,
    /// `Stripe-Signature: t=<unix>,v1=<hex>[,v1=…]` over `<t>.<body>`, with a timestamp tolerance.
    Stripe,
    /// `X-Slack-Signature: v0=<hex>` over `v0:<X-Slack-Request-Timestamp>:<body>`.
    Slack,
    /// `X-Shopify-Hmac-Sha256: <base64>` over the raw body.
    Shopify,
}

/// A delivery to check.
#[derive(Debug, Clone)]
pub struct Delivery<'a> {
    pub secret: &'a [u8],
    pub payload: &'a [u8],
    /// The signature header's value, as received.
    pub signature: &'a str,
    /// Slack's `X-Slack-Request-Timestamp`; Stripe carries its own in the signature header.
    pub timestamp: Option<i64>,
    /// How old (or how far in the future) a timestamp may be, in seconds.
    pub tolerance_seconds: i64,
    /// The current Unix time.
    pub now: i64,
}

/// The outcome: valid, or why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub valid: bool,
    /// Why the delivery was refused, when it was.
    pub reason: Option<&'static str>,
    /// The signed timestamp, for the schemes that have one.
    pub timestamp: Option<i64>,
}

impl Verdict {
    fn valid(timestamp: Option<i64>) -> Self {
        Self {
            valid: true,
            reason: None,
            timestamp,
        }
    }
    fn refused(reason: &'static str, timestamp: Option<i64>) -> Self {
        Self {
            valid: false,
            reason: Some(reason),
            timestamp,
        }
    }
}

/// Checks a delivery's signature (and timestamp, where the scheme signs one).
pub fn verify(provider: Provider, delivery: &Delivery<'_>) -> Result<Verdict> {
    let sha256 = MacAlgorithm::Sha256;
    match provider {
        Provider::Github => {
            let hex = delivery
                .signature
                .trim()
                .strip_prefix("sha256=")
                .unwrap_or(delivery.signature.trim());
            Ok(check_tag(
                sha256,
                delivery.secret,
                delivery.payload,
                hex,
                None,
            ))
        }
        Provider::Shopify => Ok(check_tag(
            sha256,
            delivery.secret,
            delivery.payload,
            delivery.signature,
            None,
        )),
        Provider::Slack => {
            let timestamp = delivery.timestamp.ok_or_else(|| {
                CryptoError::invalid(
                    "timestamp",
                    "Slack signs X-Slack-Request-Timestamp; send its value",
                )
            })?;
            if (delivery.now - timestamp).abs() > delivery.tolerance_seconds {
                return Ok(Verdict::refused(
                    "timestamp_outside_tolerance",
                    Some(timestamp),
                ));
            }
            let Some(hex) = delivery.signature.trim().strip_prefix("v0=") else {
                return Ok(Verdict::refused("malformed_signature", Some(timestamp)));
            };
            let mut base = format!("v0:{timestamp}:").into_bytes();
            base.extend_from_slice(delivery.payload);
            Ok(check_tag(
                sha256,
                delivery.secret,
                &base,
                hex,
                Some(timestamp),
            ))
        }
        Provider::Stripe => {
            let mut timestamp = None;
            let mut candidates = Vec::new();
            for part in delivery.signature.split(',') {
                match part.trim().split_once('=') {
                    Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
                    Some(("v1", sig)) => candidates.push(sig),
                    _ => {}
                }
            }
            let Some(timestamp) = timestamp else {
                return Ok(Verdict::refused("malformed_signature", None));
            };
            if candidates.is_empty() {
                return Ok(Verdict::refused("malformed_signature", Some(timestamp)));
            }
            if (delivery.now - timestamp).abs() > delivery.tolerance_seconds {
                return Ok(Verdict::refused(
                    "timestamp_outside_tolerance",
                    Some(timestamp),
                ));
            }
            let mut signed = format!("{timestamp}.").into_bytes();
            signed.extend_from_slice(delivery.payload);
            // Stripe sends several v1 signatures while a secret is being rolled; any may match.
            let matched = candidates
                .iter()
                .any(|sig| check_tag(sha256, delivery.secret, &signed, sig, Some(timestamp)).valid);
            Ok(if matched {
                Verdict::valid(Some(timestamp))
            } else {
                Verdict::refused("signature_mismatch", Some(timestamp))
            })
        }
    }
}

fn check_tag(
    algorithm: MacAlgorithm,
    secret: &[u8],
    message: &[u8],
    encoded: &str,
    timestamp: Option<i64>,
) -> Verdict {
    match decode_signature(encoded, Some(algorithm.tag_len())) {
        Some(tag) if algorithm.verify(secret, message, &tag) => Verdict::valid(timestamp),
        Some(_) => Verdict::refused("signature_mismatch", timestamp),
        None => Verdict::refused("malformed_signature", timestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::encoding::base64;

    fn delivery<'a>(
        payload: &'a [u8],
        signature: &'a str,
        timestamp: Option<i64>,
        now: i64,
    ) -> Delivery<'a> {
        Delivery {
            secret: b"It's a Secret to Everybody",
            payload,
            signature,
            timestamp,
            tolerance_seconds: 300,
            now,
        }
    }

    /// GitHub's documented example: secret "It's a Secret to Everybody", payload "Hello, World!".
    #[test]
    fn github_documented_example() {
        let sig = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(
            verify(Provider::Github, &delivery(b"Hello, World!", sig, None, 0))
                .unwrap()
                .valid
        );
        let refused = verify(Provider::Github, &delivery(b"Hello, World?", sig, None, 0)).unwrap();
        assert_eq!(refused.reason, Some("signature_mismatch"));
    }

    #[test]
    fn stripe_checks_timestamp_and_any_v1() {
        let body = br#"{"id":"evt_1"}"#;
        let secret = b"It's a Secret to Everybody";
        let good = hex::encode(
            MacAlgorithm::Sha256.sign(secret, &[b"1700000000.".as_slice(), body].concat()),
        );
        let header = format!("t=1700000000,v1={},v1={good},v0=abc", "00".repeat(32));
        assert!(
            verify(
                Provider::Stripe,
                &delivery(body, &header, None, 1_700_000_100)
            )
            .unwrap()
            .valid
        );
        let late = verify(
            Provider::Stripe,
            &delivery(body, &header, None, 1_700_000_301),
        )
        .unwrap();
        assert_eq!(late.reason, Some("timestamp_outside_tolerance"));
        let forged = format!("t=1700000001,v1={good}");
        assert_eq!(
            verify(
                Provider::Stripe,
                &delivery(body, &forged, None, 1_700_000_001)
            )
            .unwrap()
            .reason,
            Some("signature_mismatch")
        );
        assert_eq!(
            verify(Provider::Stripe, &delivery(body, "garbage", None, 0))
                .unwrap()
                .reason,
            Some("malformed_signature")
        );
    }

    #[test]
    fn slack_signs_version_timestamp_and_body() {
        let body = b"token=x&team_id=T1";
        let secret = b"It's a Secret to Everybody";
        let sig = format!(
            "v0={}",
            hex::encode(MacAlgorithm::Sha256.sign(secret, b"v0:1531420618:token=x&team_id=T1"))
        );
        assert!(
            verify(
                Provider::Slack,
                &delivery(body, &sig, Some(1531420618), 1531420618)
            )
            .unwrap()
            .valid
        );
        assert!(
            !verify(
                Provider::Slack,
                &delivery(body, &sig, Some(1531420619), 1531420618)
            )
            .unwrap()
            .valid
        );
        assert!(verify(Provider::Slack, &delivery(body, &sig, None, 0)).is_err());
    }

    #[test]
    fn shopify_uses_base64() {
        let body = br#"{"order":1}"#;
        let sig = base64(&MacAlgorithm::Sha256.sign(b"It's a Secret to Everybody", body));
        assert!(
            verify(Provider::Shopify, &delivery(body, &sig, None, 0))
                .unwrap()
                .valid
        );
    }
}
