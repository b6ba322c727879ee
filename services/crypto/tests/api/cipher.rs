use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::{app, call, expect_error, key_pair, refuse};

fn key(len: usize) -> String {
    STANDARD.encode(vec![0x42u8; len])
}

#[tokio::test]
async fn every_aead_round_trips_with_a_key() {
    let app = app();
    for (algorithm, key_len) in [
        ("aes-256-gcm", 32),
        ("aes-128-gcm", 16),
        ("chacha20-poly1305", 32),
        ("xchacha20-poly1305", 32),
    ] {
        let sealed = call(&app, "encrypt", json!({"algorithm": algorithm, "plaintext": "attack at dawn", "key": key(key_len), "aad": "order-7"})).await;
        let token = sealed["token"].as_str().unwrap();
        assert!(
            token.starts_with(&format!("ff1.{algorithm}.key.")),
            "{token}"
        );
        let opened = call(
            &app,
            "decrypt",
            json!({"token": token, "key": key(key_len), "aad": "order-7"}),
        )
        .await;
        assert_eq!(
            opened,
            json!({"algorithm": algorithm, "plaintext": "attack at dawn", "encoding": "utf8"})
        );
    }
}

#[tokio::test]
async fn passphrase_tokens_carry_their_kdf() {
    let app = app();
    let sealed = call(
        &app,
        "encrypt",
        json!({"plaintext": "3q2+7w==", "inputEncoding": "base64", "passphrase": "correct horse"}),
    )
    .await;
    let token = sealed["token"].as_str().unwrap();
    assert!(
        token.starts_with("ff1.aes-256-gcm.argon2id:m=19456,t=2,p=1:"),
        "{token}"
    );
    let opened = call(
        &app,
        "decrypt",
        json!({"token": token, "passphrase": "correct horse"}),
    )
    .await;
    assert_eq!(
        (opened["plaintext"].as_str(), opened["encoding"].as_str()),
        (Some("3q2+7w=="), Some("base64"))
    );
    let hex = call(
        &app,
        "decrypt",
        json!({"token": token, "passphrase": "correct horse", "outputEncoding": "hex"}),
    )
    .await;
    assert_eq!(hex["plaintext"], "deadbeef");
    refuse(
        &app,
        "decrypt",
        json!({"token": token, "passphrase": "wrong horse"}),
        400,
        "DECRYPTION_FAILED",
    )
    .await;
    expect_error(
        &app,
        "decrypt",
        json!({"token": token, "key": key(32)}),
        422,
        "VALIDATION_ERROR",
        "key",
    )
    .await;
}

#[tokio::test]
async fn tampering_and_wrong_inputs_never_give_500() {
    let app = app();
    let token = call(
        &app,
        "encrypt",
        json!({"plaintext": "secret", "key": key(32), "aad": "a"}),
    )
    .await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    refuse(
        &app,
        "decrypt",
        json!({"token": token, "key": key(32), "aad": "b"}),
        400,
        "DECRYPTION_FAILED",
    )
    .await;
    refuse(
        &app,
        "decrypt",
        json!({"token": token, "key": key(32)}),
        400,
        "DECRYPTION_FAILED",
    )
    .await;
    refuse(
        &app,
        "decrypt",
        json!({"token": token, "key": STANDARD.encode([7u8; 32]), "aad": "a"}),
        400,
        "DECRYPTION_FAILED",
    )
    .await;
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    refuse(
        &app,
        "decrypt",
        json!({"token": tampered, "key": key(32), "aad": "a"}),
        400,
        "DECRYPTION_FAILED",
    )
    .await;

    expect_error(
        &app,
        "decrypt",
        json!({"token": "garbage", "key": key(32)}),
        422,
        "VALIDATION_ERROR",
        "token",
    )
    .await;
    expect_error(
        &app,
        "encrypt",
        json!({"plaintext": "x", "key": key(16)}),
        422,
        "INVALID_KEY",
        "key",
    )
    .await;
    expect_error(
        &app,
        "encrypt",
        json!({"plaintext": "x", "key": "***"}),
        422,
        "INVALID_KEY",
        "key",
    )
    .await;
    expect_error(
        &app,
        "encrypt",
        json!({"plaintext": "x"}),
        422,
        "VALIDATION_ERROR",
        "key",
    )
    .await;
    expect_error(
        &app,
        "encrypt",
        json!({"plaintext": "x", "key": key(32), "passphrase": "p"}),
        422,
        "VALIDATION_ERROR",
        "key",
    )
    .await;
    expect_error(
        &app,
        "encrypt",
        json!({"plaintext": "x", "key": key(32), "algorithm": "des"}),
        422,
        "VALIDATION_ERROR",
        "algorithm",
    )
    .await;
}

#[tokio::test]
async fn batches_encrypt_and_decrypt_item_by_item() {
    let app = app();
    let sealed = call(&app, "encrypt", json!({"key": key(32), "items": [{"plaintext": "one"}, {"plaintext": "two"}, {"plaintext": "x", "key": "short"}]})).await;
    assert_eq!(
        (sealed["succeeded"].as_u64(), sealed["failed"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(sealed["results"][2]["error"]["code"], "INVALID_KEY");
    let tokens: Vec<_> = (0..2)
        .map(|i| json!({"token": sealed["results"][i]["result"]["token"]}))
        .collect();
    let opened = call(&app, "decrypt", json!({"key": key(32), "items": tokens})).await;
    assert_eq!(opened["results"][0]["result"]["plaintext"], "one");
    assert_eq!(opened["results"][1]["result"]["plaintext"], "two");
}

#[tokio::test]
async fn raw_body_files_encrypt() {
    let app = app();
    let file = vec![0u8, 159, 146, 150, 255];
    let sealed = app
        .post_raw(
            "/api/v1/crypto/encrypt?algorithm=chacha20-poly1305&passphrase=pw",
            "application/octet-stream",
            file.clone(),
        )
        .await
        .ok();
    let opened = call(
        &app,
        "decrypt",
        json!({"token": sealed["token"], "passphrase": "pw"}),
    )
    .await;
    assert_eq!(opened["encoding"], "base64");
    assert_eq!(
        STANDARD
            .decode(opened["plaintext"].as_str().unwrap())
            .unwrap(),
        file
    );
}

#[tokio::test]
async fn rsa_oaep_round_trip_and_size_limit() {
    let app = app();
    let (private_pem, public_pem) = key_pair(&app, json!({"type": "rsa", "bits": 2048})).await;
    let sealed = call(&app, "encrypt", json!({"algorithm": "rsa-oaep-sha256", "plaintext": "wrapped key", "publicKey": public_pem})).await;
    assert_eq!(
        STANDARD
            .decode(sealed["token"].as_str().unwrap())
            .unwrap()
            .len(),
        256
    );
    let opened = call(
        &app,
        "decrypt",
        json!({"token": sealed["token"], "privateKey": private_pem}),
    )
    .await;
    assert_eq!(
        (opened["algorithm"].as_str(), opened["plaintext"].as_str()),
        (Some("rsa-oaep-sha256"), Some("wrapped key"))
    );

    let too_long = app.post_json("/api/v1/crypto/encrypt", &json!({"algorithm": "rsa-oaep-sha256", "plaintext": "x".repeat(191), "publicKey": public_pem})).await;
    let error = too_long.error(422, "MESSAGE_TOO_LONG");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("at most 190 bytes"),
        "{error}"
    );
    expect_error(
        &app,
        "encrypt",
        json!({"algorithm": "rsa-oaep-sha256", "plaintext": "x"}),
        422,
        "VALIDATION_ERROR",
        "publicKey",
    )
    .await;
    expect_error(
        &app,
        "encrypt",
        json!({"algorithm": "rsa-oaep-sha256", "plaintext": "x", "publicKey": "nope"}),
        422,
        "INVALID_KEY",
        "publicKey",
    )
    .await;
    let mut ciphertext = STANDARD.decode(sealed["token"].as_str().unwrap()).unwrap();
    ciphertext[0] ^= 1;
    refuse(
        &app,
        "decrypt",
        json!({"token": STANDARD.encode(ciphertext), "privateKey": private_pem}),
        400,
        "DECRYPTION_FAILED",
    )
    .await;
}
