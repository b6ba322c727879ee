use serde_json::json;

use crate::{app, call, expect_error, key_pair};

/// RFC 7519 section 3.1, signed with the RFC 7515 appendix A.1 key.
const RFC7519_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7515_KEY: &str =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

#[tokio::test]
async fn jwt_rfc7519_example_signature_checks_and_is_expired() {
    let verdict = call(
        &app(),
        "jwt/verify",
        json!({"token": RFC7519_TOKEN, "secret": RFC7515_KEY, "secretEncoding": "base64"}),
    )
    .await;
    assert_eq!(verdict["valid"], false);
    assert_eq!(verdict["reason"], "expired");
    assert_eq!(verdict["claims"]["iss"], "joe");
}

#[tokio::test]
async fn jwt_sign_then_verify_for_each_family() {
    let app = app();
    let signed = call(&app, "jwt/sign", json!({"algorithm": "HS256", "secret": "s3cret", "claims": {"role": "admin"},
        "expiresIn": 600, "issuer": "https://auth.example.com/", "audience": "flowforge", "keyId": "k1"})).await;
    assert!(signed["claims"]["iat"].is_u64() && signed["claims"]["exp"].is_u64());
    let verdict = call(&app, "jwt/verify", json!({"token": signed["token"], "secret": "s3cret", "issuer": "https://auth.example.com/", "audience": "flowforge", "requireExp": true})).await;
    assert_eq!(
        (
            verdict["valid"].as_bool(),
            verdict["header"]["kid"].as_str()
        ),
        (Some(true), Some("k1"))
    );
    let wrong_aud = call(
        &app,
        "jwt/verify",
        json!({"token": signed["token"], "secret": "s3cret", "audience": "other"}),
    )
    .await;
    assert_eq!(wrong_aud["reason"], "wrong_audience");
    let wrong_secret = call(
        &app,
        "jwt/verify",
        json!({"token": signed["token"], "secret": "guess"}),
    )
    .await;
    assert_eq!(
        (
            wrong_secret["reason"].as_str(),
            wrong_secret["claims"].is_null()
        ),
        (Some("invalid_signature"), true)
    );

    for (algorithm, key_type) in [
        ("RS256", "rsa"),
        ("ES256", "ecdsa-p256"),
        ("EdDSA", "ed25519"),
    ] {
        let (private_pem, public_pem) = key_pair(&app, json!({"type": key_type})).await;
        let signed = call(
            &app,
            "jwt/sign",
            json!({"algorithm": algorithm, "privateKey": private_pem, "subject": "u1"}),
        )
        .await;
        let verdict = call(
            &app,
            "jwt/verify",
            json!({"token": signed["token"], "publicKey": public_pem}),
        )
        .await;
        assert_eq!(
            (
                verdict["valid"].as_bool(),
                verdict["claims"]["sub"].as_str()
            ),
            (Some(true), Some("u1")),
            "{algorithm}"
        );
        let hs_only = call(
            &app,
            "jwt/verify",
            json!({"token": signed["token"], "publicKey": public_pem, "algorithms": ["HS256"]}),
        )
        .await;
        assert_eq!(hs_only["reason"], "algorithm_not_allowed");
    }
}

#[tokio::test]
async fn jwt_refuses_none_and_bad_requests() {
    let app = app();
    let none = "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.";
    assert_eq!(
        call(&app, "jwt/verify", json!({"token": none, "secret": "s"})).await["reason"],
        "algorithm_not_allowed"
    );
    assert_eq!(
        call(&app, "jwt/verify", json!({"token": "a.b", "secret": "s"})).await["reason"],
        "malformed"
    );
    expect_error(
        &app,
        "jwt/sign",
        json!({"algorithm": "none", "secret": "s"}),
        422,
        "VALIDATION_ERROR",
        "algorithm",
    )
    .await;
    expect_error(
        &app,
        "jwt/sign",
        json!({"algorithm": "HS256"}),
        422,
        "VALIDATION_ERROR",
        "secret",
    )
    .await;
    expect_error(
        &app,
        "jwt/sign",
        json!({"algorithm": "RS256", "secret": "s"}),
        422,
        "INVALID_KEY",
        "privateKey",
    )
    .await;
    expect_error(
        &app,
        "jwt/verify",
        json!({"token": none}),
        422,
        "VALIDATION_ERROR",
        "secret",
    )
    .await;
}

#[tokio::test]
async fn passwords_hash_and_verify() {
    let app = app();
    let argon = call(
        &app,
        "password/hash",
        json!({"password": "hunter2", "memoryKib": 1024, "iterations": 1}),
    )
    .await;
    let hash = argon["hash"].as_str().unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"), "{hash}");
    let check = call(
        &app,
        "password/verify",
        json!({"password": "hunter2", "hash": hash}),
    )
    .await;
    assert_eq!(
        check,
        json!({"valid": true, "algorithm": "argon2id", "needsRehash": true})
    );
    assert_eq!(
        call(
            &app,
            "password/verify",
            json!({"password": "hunter3", "hash": hash})
        )
        .await["valid"],
        false
    );

    let owasp = call(&app, "password/hash", json!({"password": "hunter2"})).await;
    assert!(
        owasp["hash"]
            .as_str()
            .unwrap()
            .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
    );

    let bcrypt = call(
        &app,
        "password/hash",
        json!({"password": "hunter2", "algorithm": "bcrypt", "cost": 4}),
    )
    .await;
    let check = call(
        &app,
        "password/verify",
        json!({"password": "hunter2", "hash": bcrypt["hash"]}),
    )
    .await;
    assert_eq!(
        (check["valid"].as_bool(), check["algorithm"].as_str()),
        (Some(true), Some("bcrypt"))
    );

    expect_error(
        &app,
        "password/hash",
        json!({"password": "x", "memoryKib": 10_000_000}),
        422,
        "VALIDATION_ERROR",
        "memoryKib",
    )
    .await;
    expect_error(
        &app,
        "password/hash",
        json!({"password": "x".repeat(73), "algorithm": "bcrypt", "cost": 4}),
        422,
        "VALIDATION_ERROR",
        "password",
    )
    .await;
    expect_error(
        &app,
        "password/hash",
        json!({"password": "x", "algorithm": "bcrypt", "cost": 40}),
        422,
        "VALIDATION_ERROR",
        "cost",
    )
    .await;
    expect_error(
        &app,
        "password/verify",
        json!({"password": "x", "hash": "plaintext"}),
        422,
        "VALIDATION_ERROR",
        "hash",
    )
    .await;
}

#[tokio::test]
async fn random_values() {
    let app = app();
    let bytes = call(
        &app,
        "random",
        json!({"type": "bytes", "length": 16, "count": 3}),
    )
    .await;
    let values = bytes["values"].as_array().unwrap();
    assert_eq!(values.len(), 3);
    assert!(values.iter().all(|v| v.as_str().unwrap().len() == 32));
    assert_ne!(values[0], values[1]);
    let uuid = call(&app, "random", json!({"type": "uuid", "uuidVersion": "v7"})).await;
    assert_eq!(
        uuid["values"][0].as_str().unwrap().chars().nth(14),
        Some('7')
    );
    let token = call(&app, "random", json!({"type": "token"})).await;
    assert_eq!(token["values"][0].as_str().unwrap().len(), 43);
    let password = call(
        &app,
        "random",
        json!({"type": "password", "length": 30, "symbols": false}),
    )
    .await;
    let password = password["values"][0].as_str().unwrap();
    assert!(
        password.len() == 30 && password.chars().all(char::is_alphanumeric),
        "{password}"
    );

    expect_error(
        &app,
        "random",
        json!({"type": "bytes", "length": 0}),
        422,
        "VALIDATION_ERROR",
        "length",
    )
    .await;
    expect_error(
        &app,
        "random",
        json!({"type": "bytes", "count": 5000}),
        422,
        "VALIDATION_ERROR",
        "count",
    )
    .await;
    expect_error(&app, "random", json!({"type": "password", "lowercase": false, "uppercase": false, "digits": false, "symbols": false}), 422, "VALIDATION_ERROR", "charset").await;
}

#[tokio::test]
async fn encodings_both_ways() {
    let app = app();
    let check = |encoding: &str, text: &str, encoded: &str| {
        let app = app.clone();
        let (encoding, text, encoded) = (encoding.to_owned(), text.to_owned(), encoded.to_owned());
        async move {
            assert_eq!(
                call(&app, "encode", json!({"encoding": encoding, "input": text})).await["output"],
                encoded
            );
            let back = call(
                &app,
                "encode",
                json!({"encoding": encoding, "input": encoded, "direction": "decode"}),
            )
            .await;
            assert_eq!(back["output"], text);
        }
    };
    check("base64", "hello?>", "aGVsbG8/Pg==").await;
    check("base64url", "hello?>", "aGVsbG8_Pg").await;
    check("hex", "hi", "6869").await;
    check("url", "a b&c=d/é", "a%20b%26c%3Dd%2F%C3%A9").await;
    expect_error(
        &app,
        "encode",
        json!({"encoding": "hex", "input": "zz", "direction": "decode"}),
        422,
        "VALIDATION_ERROR",
        "input",
    )
    .await;
}

#[tokio::test]
async fn business_metrics_count_operations() {
    let app = app();
    call(&app, "hash", json!({"input": "abc", "algorithm": "md5"})).await;
    let text = app.get("/metrics").await.text();
    assert!(text.contains(r#"crypto_operations_total{algorithm="md5",operation="hash",outcome="ok",service="crypto"} 1"#), "{text}");
    assert!(text.contains(r#"route="/api/v1/crypto/hash""#), "{text}");
}

#[tokio::test]
async fn json_only_endpoints_refuse_other_bodies() {
    let app = app();
    app.post_raw("/api/v1/crypto/jwt/sign", "text/plain", "{}")
        .await
        .error(415, "UNSUPPORTED_MEDIA_TYPE");
    app.get("/api/v1/crypto/hash")
        .await
        .error(405, "METHOD_NOT_ALLOWED");
    app.get("/api/v1/crypto/nope").await.error(404, "NOT_FOUND");
}
