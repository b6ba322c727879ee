use serde_json::json;

use crate::{app, call, expect_error, refuse};

const SHA256_ABC: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

#[tokio::test]
async fn hash_fips_180_abc_in_every_input_form() {
    let app = app();
    let json = call(&app, "hash", json!({"input": "abc"})).await;
    assert_eq!(
        json,
        json!({"algorithm": "sha256", "digest": SHA256_ABC, "outputFormat": "hex", "inputBytes": 3})
    );
    let base64 = call(
        &app,
        "hash",
        json!({"input": "YWJj", "inputEncoding": "base64"}),
    )
    .await;
    assert_eq!(base64["digest"], SHA256_ABC);

    let raw = app
        .post_raw(
            "/api/v1/crypto/hash?algorithm=sha256",
            "application/octet-stream",
            "abc",
        )
        .await
        .ok();
    assert_eq!(raw["digest"], SHA256_ABC);
    let multipart = app
        .post_multipart(
            "/api/v1/crypto/hash",
            &[
                ("file", Some("abc.txt"), b"abc"),
                ("outputFormat", None, b"base64"),
            ],
        )
        .await
        .ok();
    assert_eq!(
        multipart["digest"],
        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
    );
}

#[tokio::test]
async fn hash_every_algorithm_has_its_length() {
    let app = app();
    for (algorithm, hex_len) in [
        ("md5", 32),
        ("sha1", 40),
        ("sha224", 56),
        ("sha256", 64),
        ("sha384", 96),
        ("sha512", 128),
        ("sha3-256", 64),
        ("sha3-384", 96),
        ("sha3-512", 128),
        ("blake3", 64),
    ] {
        let body = call(&app, "hash", json!({"algorithm": algorithm, "input": "x"})).await;
        assert_eq!(
            body["digest"].as_str().unwrap().len(),
            hex_len,
            "{algorithm}"
        );
    }
    let md5 = call(
        &app,
        "hash",
        json!({"algorithm": "md5", "input": "abc", "outputFormat": "base64url"}),
    )
    .await;
    assert_eq!(md5["digest"], "kAFQmDzST7DWlj99KOF_cg");
}

#[tokio::test]
async fn hash_large_raw_body_runs_on_the_pool() {
    let app = app();
    let data = vec![b'a'; 1_000_000];
    let body = app
        .post_raw("/api/v1/crypto/hash", "application/octet-stream", data)
        .await
        .ok();
    // sha256 of one million 'a' (FIPS 180-2 appendix B.3).
    assert_eq!(
        body["digest"],
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
    );
    assert_eq!(body["inputBytes"], 1_000_000);
}

#[tokio::test]
async fn hash_batch_isolates_bad_items() {
    let body = call(&app(), "hash", json!({"algorithm": "sha256", "items": [
        {"input": "abc"}, {"input": "abc", "algorithm": "nope"}, {"input": "!!", "inputEncoding": "hex"}
    ]}))
    .await;
    assert_eq!(
        (body["succeeded"].as_u64(), body["failed"].as_u64()),
        (Some(1), Some(2))
    );
    assert_eq!(body["results"][0]["result"]["digest"], SHA256_ABC);
    assert_eq!(
        body["results"][1]["error"]["details"][0]["field"],
        "items[1].algorithm"
    );
    assert_eq!(body["results"][2]["error"]["details"][0]["field"], "input");
}

#[tokio::test]
async fn hash_bad_input_gets_envelopes() {
    let app = app();
    expect_error(
        &app,
        "hash",
        json!({"algorithm": "sha999", "input": "x"}),
        422,
        "VALIDATION_ERROR",
        "algorithm",
    )
    .await;
    expect_error(
        &app,
        "hash",
        json!({"algorithm": "sha256"}),
        422,
        "VALIDATION_ERROR",
        "input",
    )
    .await;
    expect_error(
        &app,
        "hash",
        json!({"input": 5}),
        422,
        "VALIDATION_ERROR",
        "input",
    )
    .await;
    expect_error(
        &app,
        "hash",
        json!({"input": "x", "inputEncoding": "base64", "extra": 1}),
        422,
        "VALIDATION_ERROR",
        "extra",
    )
    .await;
    expect_error(
        &app,
        "hash",
        json!({"input": "%%%", "inputEncoding": "base64"}),
        422,
        "VALIDATION_ERROR",
        "input",
    )
    .await;
    app.post_raw("/api/v1/crypto/hash", "application/json", "{\"input\": ")
        .await
        .error(400, "VALIDATION_ERROR");
    let bad_query = app
        .post_raw(
            "/api/v1/crypto/hash?algorithm=sha999",
            "application/octet-stream",
            "abc",
        )
        .await;
    bad_query.error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn hmac_rfc_4231_and_verification() {
    let app = app();
    let tag = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    let body = call(
        &app,
        "hmac",
        json!({"key": "Jefe", "input": "what do ya want for nothing?"}),
    )
    .await;
    assert_eq!(body["signature"], tag);
    let raw = app
        .post_raw(
            "/api/v1/crypto/hmac?key=Jefe",
            "text/plain",
            "what do ya want for nothing?",
        )
        .await
        .ok();
    assert_eq!(raw["signature"], tag);

    let verify = |signature: String| json!({"key": "Jefe", "input": "what do ya want for nothing?", "signature": signature});
    assert_eq!(
        call(&app, "hmac/verify", verify(tag.into())).await["valid"],
        true
    );
    assert_eq!(
        call(&app, "hmac/verify", verify(format!("sha256={tag}"))).await["valid"],
        true
    );
    let base64 = call(
        &app,
        "hmac",
        json!({"key": "Jefe", "input": "what do ya want for nothing?", "outputFormat": "base64"}),
    )
    .await;
    assert_eq!(
        call(
            &app,
            "hmac/verify",
            verify(base64["signature"].as_str().unwrap().into())
        )
        .await["valid"],
        true
    );
    assert_eq!(
        call(&app, "hmac/verify", verify(tag.replace('5', "6"))).await["valid"],
        false
    );
    expect_error(
        &app,
        "hmac/verify",
        verify("abc".into()),
        422,
        "VALIDATION_ERROR",
        "signature",
    )
    .await;
    expect_error(
        &app,
        "hmac",
        json!({"input": "x"}),
        422,
        "VALIDATION_ERROR",
        "key",
    )
    .await;
}

#[tokio::test]
async fn webhook_presets() {
    let app = app();
    let github = call(&app, "webhook/verify", json!({"provider": "github", "secret": "It's a Secret to Everybody",
        "payload": "Hello, World!", "signature": "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"})).await;
    assert_eq!(github, json!({"valid": true}));

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let signed = format!("{now}.{{\"id\":\"evt_1\"}}");
    let tag = call(&app, "hmac", json!({"key": "whsec_test", "input": signed})).await["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    let stripe = call(
        &app,
        "webhook/verify",
        json!({"provider": "stripe", "secret": "whsec_test",
        "payload": "{\"id\":\"evt_1\"}", "signature": format!("t={now},v1={tag}")}),
    )
    .await;
    assert_eq!(
        (stripe["valid"].as_bool(), stripe["timestamp"].as_u64()),
        (Some(true), Some(now))
    );
    let stale = call(
        &app,
        "webhook/verify",
        json!({"provider": "stripe", "secret": "whsec_test",
        "payload": "{\"id\":\"evt_1\"}", "signature": format!("t={},v1={tag}", now - 1000)}),
    )
    .await;
    assert_eq!(stale["reason"], "timestamp_outside_tolerance");

    let slack = refuse(
        &app,
        "webhook/verify",
        json!({"provider": "slack", "secret": "s", "payload": "", "signature": "v0=00"}),
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(slack.await, "timestamp");
    expect_error(
        &app,
        "webhook/verify",
        json!({"provider": "gitlab", "secret": "s", "payload": "", "signature": ""}),
        422,
        "VALIDATION_ERROR",
        "provider",
    )
    .await;
}
