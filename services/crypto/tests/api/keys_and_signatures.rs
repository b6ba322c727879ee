use serde_json::json;

use crate::{app, call, expect_error, key_pair};

#[tokio::test]
async fn generates_every_key_type_with_its_jwk() {
    let app = app();
    for (key_type, key_bytes) in [("aes-128", 16), ("aes-256", 32), ("chacha20", 32)] {
        let key = call(&app, "keys/generate", json!({"type": key_type})).await;
        assert_eq!(key["jwk"]["kty"], "oct");
        assert_eq!(
            base64_len(key["key"].as_str().unwrap()),
            key_bytes,
            "{key_type}"
        );
    }
    let hmac = call(&app, "keys/generate", json!({"type": "hmac", "bytes": 64})).await;
    assert_eq!(base64_len(hmac["key"].as_str().unwrap()), 64);

    for (key_type, kty, crv) in [
        ("ed25519", "OKP", Some("Ed25519")),
        ("ecdsa-p256", "EC", Some("P-256")),
        ("ecdsa-p384", "EC", Some("P-384")),
        ("rsa", "RSA", None),
    ] {
        let key = call(&app, "keys/generate", json!({"type": key_type})).await;
        assert!(
            key["privateKeyPem"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PRIVATE KEY-----"),
            "{key_type}"
        );
        assert!(
            key["publicKeyPem"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PUBLIC KEY-----"),
            "{key_type}"
        );
        assert_eq!(key["jwk"]["kty"], kty);
        assert_eq!(key["jwk"]["crv"].as_str(), crv);
        assert!(
            key["jwk"]["d"].is_string() && key["publicJwk"]["d"].is_null(),
            "{key_type}"
        );
    }
    let rsa = call(&app, "keys/generate", json!({"type": "rsa", "bits": 3072})).await;
    assert_eq!(base64_len(rsa["jwk"]["n"].as_str().unwrap()), 384);
    assert_eq!(rsa["jwk"]["e"], "AQAB");
}

fn base64_len(text: &str) -> usize {
    use base64::Engine;
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines
        .iter()
        .find_map(|e| e.decode(text).ok())
        .expect("base64")
        .len()
}

#[tokio::test]
async fn key_requests_are_validated() {
    let app = app();
    expect_error(
        &app,
        "keys/generate",
        json!({"type": "rsa", "bits": 1024}),
        422,
        "VALIDATION_ERROR",
        "bits",
    )
    .await;
    expect_error(
        &app,
        "keys/generate",
        json!({"type": "rsa", "bits": 65536}),
        422,
        "VALIDATION_ERROR",
        "bits",
    )
    .await;
    expect_error(
        &app,
        "keys/generate",
        json!({"type": "ed25519", "bits": 2048}),
        422,
        "VALIDATION_ERROR",
        "bits",
    )
    .await;
    expect_error(
        &app,
        "keys/generate",
        json!({"type": "hmac", "bytes": 4}),
        422,
        "VALIDATION_ERROR",
        "bytes",
    )
    .await;
    expect_error(
        &app,
        "keys/generate",
        json!({"type": "dsa"}),
        422,
        "VALIDATION_ERROR",
        "type",
    )
    .await;
}

#[tokio::test]
async fn every_signature_algorithm_round_trips() {
    let app = app();
    for (algorithm, key_type, format) in [
        ("ed25519", "ed25519", "der"),
        ("ecdsa-p256-sha256", "ecdsa-p256", "der"),
        ("ecdsa-p256-sha256", "ecdsa-p256", "raw"),
        ("ecdsa-p384-sha384", "ecdsa-p384", "raw"),
        ("rsa-pss-sha256", "rsa", "der"),
        ("rsa-pkcs1-sha256", "rsa", "der"),
    ] {
        let (private_pem, public_pem) = key_pair(&app, json!({"type": key_type})).await;
        let signed = call(&app, "sign", json!({"algorithm": algorithm, "privateKey": private_pem, "input": "invoice 42", "signatureFormat": format})).await;
        let verify = |input: &str| json!({"algorithm": algorithm, "publicKey": public_pem, "input": input, "signature": signed["signature"], "signatureFormat": format});
        assert_eq!(
            call(&app, "verify", verify("invoice 42")).await["valid"],
            true,
            "{algorithm} {format}"
        );
        assert_eq!(
            call(&app, "verify", verify("invoice 43")).await["valid"],
            false,
            "{algorithm} {format}"
        );
    }
}

#[tokio::test]
async fn signature_key_mismatches_are_invalid_key() {
    let app = app();
    let (ed_private, ed_public) = key_pair(&app, json!({"type": "ed25519"})).await;
    expect_error(
        &app,
        "sign",
        json!({"algorithm": "rsa-pss-sha256", "privateKey": ed_private, "input": "m"}),
        422,
        "INVALID_KEY",
        "privateKey",
    )
    .await;
    expect_error(
        &app,
        "sign",
        json!({"algorithm": "ed25519", "privateKey": "not pem", "input": "m"}),
        422,
        "INVALID_KEY",
        "privateKey",
    )
    .await;
    expect_error(
        &app,
        "verify",
        json!({"algorithm": "ed25519", "publicKey": ed_private, "input": "m", "signature": "AA=="}),
        422,
        "INVALID_KEY",
        "publicKey",
    )
    .await;
    expect_error(&app, "verify", json!({"algorithm": "ecdsa-p256-sha256", "publicKey": ed_public, "input": "m", "signature": "AA=="}), 422, "INVALID_KEY", "publicKey").await;
    expect_error(
        &app,
        "verify",
        json!({"algorithm": "ed25519", "publicKey": ed_public, "input": "m", "signature": "??"}),
        422,
        "VALIDATION_ERROR",
        "signature",
    )
    .await;
}

#[tokio::test]
async fn signature_batches() {
    let app = app();
    let (private_pem, public_pem) = key_pair(&app, json!({"type": "ed25519"})).await;
    let signed = call(&app, "sign", json!({"algorithm": "ed25519", "privateKey": private_pem, "items": [{"input": "a"}, {"input": "b"}]})).await;
    let (sig_a, sig_b) = (
        &signed["results"][0]["result"]["signature"],
        &signed["results"][1]["result"]["signature"],
    );
    let checked = call(&app, "verify", json!({"algorithm": "ed25519", "publicKey": public_pem, "items": [
        {"input": "a", "signature": sig_a}, {"input": "b", "signature": sig_a}, {"input": "b", "signature": sig_b}
    ]}))
    .await;
    let valid: Vec<_> = (0..3)
        .map(|i| checked["results"][i]["result"]["valid"].as_bool().unwrap())
        .collect();
    assert_eq!(valid, [true, false, true]);
}
