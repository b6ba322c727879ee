//! Credentials and in-process limits: DB-less keys, scopes, JWTs of every algorithm family from
//! inline keys and JWKS, and exact limits at the boundary.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::response::IntoResponse;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flowforge_crypto::domain::keys::{GeneratedKey, KeySpec, from_pem, generate};
use ring::rand::SystemRandom;
use ring::signature::{self as sig, EcdsaKeyPair, Ed25519KeyPair, RsaKeyPair};
use serde_json::{Value, json};

use crate::{Reply, Setup, assert_envelope, send, start, upstream};

const KEY: &str = "ff_test_0123456789abcdefghijklmnopqrstuv";
const HASHED_KEY: &str = "ff_test_only-the-hash-is-in-the-file";

async fn call(gateway: &crate::Gateway, path: &str, headers: &[(&str, &str)]) -> Reply {
    send(gateway.addr, "GET", path, headers, "").await.unwrap()
}

fn sha256_hex(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_from_the_file_authenticate_scope_and_are_stripped() {
    let (instance, _task) = upstream("a", None).await;
    let access = format!(
        "consumers:\n  - {{ id: acme, tier: basic, keys: [\"{KEY}\"] }}\n  - {{ id: scoped, tier: free, keyHashes: [\"sha256:{}\"], scopes: [\"crypto/hash\"] }}\n",
        sha256_hex(HASHED_KEY)
    );
    let gateway = start(&Setup {
        services: &format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n"),
        access: Some(&access),
        ..Setup::default()
    })
    .await;

    let missing = call(&gateway, "/api/v1/crypto/hash", &[]).await;
    assert_envelope(&missing, 401, "UNAUTHORIZED");
    assert!(
        missing.headers["www-authenticate"].contains("X-API-Key"),
        "{:?}",
        missing.headers
    );
    let wrong = call(
        &gateway,
        "/api/v1/crypto/hash",
        &[("x-api-key", "ff_test_nope")],
    )
    .await;
    assert_envelope(&wrong, 401, "UNAUTHORIZED");
    assert!(
        !wrong.body.contains("ff_test_nope"),
        "errors never echo keys"
    );

    let ok = call(&gateway, "/api/v1/crypto/hash", &[("x-api-key", KEY)]).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    let seen = ok.json();
    assert_eq!(seen["headers"]["x-consumer-id"], "acme");
    assert_eq!(seen["headers"]["x-user-id"], "acme");
    assert_eq!(seen["headers"]["x-consumer-tier"], "basic");
    assert!(
        seen["headers"].get("x-api-key").is_none(),
        "keys stay at the edge"
    );
    assert_eq!(ok.headers["x-ratelimit-limit-minute"], "500");
    assert_eq!(ok.headers["x-ratelimit-remaining-minute"], "499");
    assert_eq!(ok.headers["x-ratelimit-limit-day"], "10000");
    assert_eq!(ok.headers["ratelimit-limit"], "500");

    // A key stored only as its hash works; its scope allows `crypto/hash` and nothing else.
    let scoped = [("x-api-key", HASHED_KEY)];
    assert_eq!(
        call(&gateway, "/api/v1/crypto/hash/stream", &scoped)
            .await
            .status,
        200
    );
    let outside = call(&gateway, "/api/v1/crypto/encrypt", &scoped).await;
    assert_envelope(&outside, 403, "FORBIDDEN");

    // Public paths need nothing.
    for path in ["/health", "/openapi.json", "/docs"] {
        assert_eq!(call(&gateway, path, &[]).await.status, 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_limit_admits_exactly_n_then_429_with_headers() {
    let (instance, _task) = upstream("a", None).await;
    let access = format!(
        "tiers:\n  tiny: {{ perMinute: 5, perDay: 100 }}\nconsumers:\n  - {{ id: small, tier: tiny, keys: [\"{KEY}\"] }}\n"
    );
    let gateway = start(&Setup {
        services: &format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n"),
        access: Some(&access),
        ..Setup::default()
    })
    .await;
    let key = [("x-api-key", KEY)];
    for n in 1..=5 {
        let reply = call(&gateway, "/api/v1/crypto/echo", &key).await;
        assert_eq!(reply.status, 200, "request {n}: {}", reply.body);
        assert_eq!(
            reply.headers["x-ratelimit-remaining-minute"],
            (5 - n).to_string()
        );
    }
    for _ in 0..3 {
        let refused = call(&gateway, "/api/v1/crypto/echo", &key).await;
        assert_envelope(&refused, 429, "RATE_LIMITED");
        assert_eq!(refused.headers["x-ratelimit-limit-minute"], "5");
        assert_eq!(refused.headers["x-ratelimit-remaining-minute"], "0");
        assert_eq!(
            refused.headers["x-ratelimit-remaining-day"], "95",
            "refused requests are not counted"
        );
        assert_eq!(refused.headers["retry-after"], "12", "one cell is 60 s / 5");
        assert_eq!(refused.headers["ratelimit-remaining"], "0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_limit_counts_the_day_and_anonymous_callers_by_ip() {
    let (instance, _task) = upstream("a", None).await;
    let gateway = start(&Setup {
        services: &format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n"),
        access: Some("tiers:\n  daily: { perDay: 3 }\n"),
        anonymous_tier: Some("daily"),
        ..Setup::default()
    })
    .await;
    for _ in 0..3 {
        let reply = call(&gateway, "/api/v1/crypto/echo", &[]).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert_eq!(reply.json()["headers"]["x-consumer-id"], "anonymous");
        assert!(!reply.headers.contains_key("x-ratelimit-limit-minute"));
    }
    let refused = call(&gateway, "/api/v1/crypto/echo", &[]).await;
    assert_envelope(&refused, 429, "RATE_LIMITED");
    assert_eq!(refused.headers["x-ratelimit-limit-day"], "3");
    assert_eq!(refused.headers["x-ratelimit-remaining-day"], "0");
    let retry: u64 = refused.headers["retry-after"].parse().unwrap();
    assert!(
        (28_700..=28_800).contains(&retry),
        "a day of 3 frees one request every 8 h: {retry}"
    );
}

/// A key that signs tokens in the tests, and its public JWK.
enum Signer {
    Hmac(&'static [u8]),
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

struct TestKey {
    signer: Signer,
    jwk: Value,
    public_pem: String,
}

fn test_key(spec: KeySpec, kid: &str) -> TestKey {
    let GeneratedKey::Pair {
        private_pem,
        public_pem,
        public_jwk,
        ..
    } = generate(spec).unwrap()
    else {
        panic!("a pair")
    };
    let (_, der) = from_pem(&private_pem, "privateKey").unwrap();
    let rng = SystemRandom::new();
    let signer = match spec {
        KeySpec::Rsa { .. } => Signer::Rsa(RsaKeyPair::from_pkcs8(&der).unwrap()),
        KeySpec::EcdsaP256 => Signer::Ecdsa(
            EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng).unwrap(),
        ),
        KeySpec::EcdsaP384 => Signer::Ecdsa(
            EcdsaKeyPair::from_pkcs8(&sig::ECDSA_P384_SHA384_FIXED_SIGNING, &der, &rng).unwrap(),
        ),
        _ => Signer::Ed25519(Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap()),
    };
    let mut jwk = serde_json::to_value(&public_jwk).unwrap();
    jwk["kid"] = json!(kid);
    TestKey {
        signer,
        jwk,
        public_pem,
    }
}

fn token(alg: &str, kid: Option<&str>, claims: &Value, signer: &Signer) -> String {
    let mut header = json!({"alg": alg, "typ": "JWT"});
    if let Some(kid) = kid {
        header["kid"] = json!(kid);
    }
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let message = signing_input.as_bytes();
    let rng = SystemRandom::new();
    let signature = match signer {
        Signer::Hmac(secret) => {
            let algorithm = match alg {
                "HS384" => ring::hmac::HMAC_SHA384,
                "HS512" => ring::hmac::HMAC_SHA512,
                _ => ring::hmac::HMAC_SHA256,
            };
            ring::hmac::sign(&ring::hmac::Key::new(algorithm, secret), message)
                .as_ref()
                .to_vec()
        }
        Signer::Rsa(pair) => {
            let padding: &dyn sig::RsaEncoding = match alg {
                "RS384" => &sig::RSA_PKCS1_SHA384,
                "RS512" => &sig::RSA_PKCS1_SHA512,
                "PS256" => &sig::RSA_PSS_SHA256,
                "PS384" => &sig::RSA_PSS_SHA384,
                "PS512" => &sig::RSA_PSS_SHA512,
                _ => &sig::RSA_PKCS1_SHA256,
            };
            let mut out = vec![0; pair.public().modulus_len()];
            pair.sign(padding, &rng, message, &mut out).unwrap();
            out
        }
        Signer::Ecdsa(pair) => pair.sign(&rng, message).unwrap().as_ref().to_vec(),
        Signer::Ed25519(pair) => pair.sign(message).as_ref().to_vec(),
    };
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

const ISSUER: &str = "https://issuer.test/";
const SECRET: &[u8] = b"a shared secret of at least 32 bytes!";

fn claims(sub: &str) -> Value {
    json!({"iss": ISSUER, "sub": sub, "aud": ["flowforge"], "exp": now() + 300, "tier": "pro"})
}

/// A JWKS endpoint whose document the test can change, counting fetches; `None` answers 500.
async fn jwks_server(
    document: Arc<Mutex<Option<Value>>>,
    fetches: Arc<AtomicUsize>,
) -> std::net::SocketAddr {
    let app = Router::new().route(
        "/jwks",
        get(move || {
            let document = document.lock().unwrap().clone();
            fetches.fetch_add(1, Ordering::SeqCst);
            async move {
                match document {
                    Some(d) => axum::Json(d).into_response(),
                    None => axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwts_of_every_family_verify_and_bad_ones_are_refused() {
    let keys = tokio::task::spawn_blocking(|| {
        [
            test_key(KeySpec::Rsa { bits: 2048 }, "rsa-1"),
            test_key(KeySpec::EcdsaP256, "p256-1"),
            test_key(KeySpec::EcdsaP384, "p384-1"),
            test_key(KeySpec::Ed25519, "ed-1"),
        ]
    })
    .await
    .unwrap();
    let [rsa, p256, p384, ed] = &keys;
    let document = Arc::new(Mutex::new(Some(
        json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
    )));
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwks = jwks_server(document.clone(), fetches.clone()).await;
    let (instance, _task) = upstream("a", None).await;
    let access = format!(
        "jwt:\n  - issuer: \"{ISSUER}\"\n    audiences: [flowforge]\n    algorithms: [RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA, HS256]\n    jwksUrl: \"http://{jwks}/jwks\"\n    leewaySeconds: 5\n  - issuer: hs-issuer\n    algorithms: [HS256, HS384, HS512]\n    keys: [\"{}\"]\n    defaultTier: basic\n",
        std::str::from_utf8(SECRET).unwrap()
    );
    let gateway = start(&Setup {
        services: &format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n"),
        access: Some(&access),
        ..Setup::default()
    })
    .await;
    let bearer = |token: &str| format!("Bearer {token}");
    let expect_ok = |token: String, who: &'static str| {
        let gateway = &gateway;
        async move {
            let header = bearer(&token);
            let reply = call(
                gateway,
                "/api/v1/crypto/echo",
                &[("authorization", &header)],
            )
            .await;
            assert_eq!(reply.status, 200, "{who}: {}", reply.body);
            reply.json()["headers"].clone()
        }
    };
    let expect_refused = |token: String, why: &'static str| {
        let gateway = &gateway;
        async move {
            let header = bearer(&token);
            let reply = call(
                gateway,
                "/api/v1/crypto/echo",
                &[("authorization", &header)],
            )
            .await;
            assert_envelope(&reply, 401, "UNAUTHORIZED");
            assert!(
                reply.headers["www-authenticate"].contains("invalid_token"),
                "{why}"
            );
            assert!(
                reply.json()["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains(why),
                "expected `{why}` in {}",
                reply.body
            );
        }
    };

    for (alg, key, kid) in [
        ("RS256", rsa, "rsa-1"),
        ("RS384", rsa, "rsa-1"),
        ("RS512", rsa, "rsa-1"),
        ("PS256", rsa, "rsa-1"),
        ("PS384", rsa, "rsa-1"),
        ("PS512", rsa, "rsa-1"),
        ("ES256", p256, "p256-1"),
        ("ES384", p384, "p384-1"),
        ("EdDSA", ed, "ed-1"),
    ] {
        let seen = expect_ok(
            token(alg, Some(kid), &claims("user-7"), &key.signer),
            "jwks",
        )
        .await;
        assert_eq!(seen["x-consumer-id"], "user-7", "{alg}");
        assert_eq!(seen["x-consumer-tier"], "pro", "{alg}");
        assert!(
            seen.get("authorization").is_none(),
            "tokens stay at the edge"
        );
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "the JWKS is fetched once and cached"
    );

    for alg in ["HS256", "HS384", "HS512"] {
        let hs_claims = json!({"iss": "hs-issuer", "sub": "svc", "exp": now() + 60});
        let seen = expect_ok(
            token(alg, None, &hs_claims, &Signer::Hmac(SECRET)),
            "inline",
        )
        .await;
        assert_eq!(
            seen["x-consumer-tier"], "basic",
            "the issuer's default tier"
        );
    }

    for (claim, value, why) in [
        ("exp", json!(now() - 60), "expired"),
        ("nbf", json!(now() + 600), "not valid yet"),
        ("aud", json!("another-api"), "audience"),
        ("iss", json!("https://evil.test/"), "issuer"),
    ] {
        let mut bad = claims("u");
        bad[claim] = value;
        expect_refused(token("ES256", Some("p256-1"), &bad, &p256.signer), why).await;
    }
    let mut no_exp = claims("u");
    no_exp.as_object_mut().unwrap().remove("exp");
    expect_refused(token("ES256", Some("p256-1"), &no_exp, &p256.signer), "exp").await;
    // A consumer the gateway could not name in `X-Consumer-Id` is refused, not an error.
    expect_refused(
        token("ES256", Some("p256-1"), &claims("user\n7"), &p256.signer),
        "not valid in a header",
    )
    .await;

    // `alg: none` is no algorithm.
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
        URL_SAFE_NO_PAD.encode(claims("u").to_string())
    );
    expect_refused(unsigned, "none").await;
    // Algorithm confusion: HS256 "signed" with the RSA public key as the secret. The issuer
    // accepts HS256, but no HMAC secret exists for it, and an RSA key verifies only RS/PS.
    let confused = token(
        "HS256",
        Some("rsa-1"),
        &claims("u"),
        &Signer::Hmac(Box::leak(
            rsa.public_pem.clone().into_bytes().into_boxed_slice(),
        )),
    );
    expect_refused(confused, "signature").await;
    // A token signed by one key presented with another key's kid.
    expect_refused(
        token("ES256", Some("p384-1"), &claims("u"), &p256.signer),
        "signature",
    )
    .await;
    // Tampered claims.
    let good = token("EdDSA", Some("ed-1"), &claims("user-7"), &ed.signer);
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims("admin").to_string()),
        parts[2]
    );
    expect_refused(tampered, "signature").await;

    // Rotation: the issuer publishes a new key; a token with its kid triggers one refetch (at
    // most one per 5 s, so made-up kids cannot turn the gateway against the issuer).
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    let rotated = tokio::task::spawn_blocking(|| test_key(KeySpec::EcdsaP256, "p256-2"))
        .await
        .unwrap();
    *document.lock().unwrap() = Some(json!({"keys": [rotated.jwk.clone(), rsa.jwk.clone()]}));
    let before = fetches.load(Ordering::SeqCst);
    expect_ok(
        token("ES256", Some("p256-2"), &claims("u2"), &rotated.signer),
        "rotated",
    )
    .await;
    assert_eq!(fetches.load(Ordering::SeqCst), before + 1);

    // The JWKS endpoint fails: unknown kids are refused, and the cached keys keep working.
    *document.lock().unwrap() = None;
    tokio::time::sleep(std::time::Duration::from_millis(5_100)).await;
    expect_refused(
        token("ES256", Some("p256-9"), &claims("u"), &rotated.signer),
        "signature",
    )
    .await;
    expect_ok(
        token("RS256", Some("rsa-1"), &claims("u3"), &rsa.signer),
        "stale cache",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_swaps_consumers_and_refuses_to_change_stores() {
    let (instance, _task) = upstream("a", None).await;
    let dir = std::env::temp_dir().join(format!(
        "flowforge-identity-reload-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("gateway.yaml");
    let gateway = start(&Setup {
        services: &format!("  crypto: {{ upstreams: [\"{instance}\"] }}\n"),
        access: Some("consumers:\n  - { id: before, keys: [ff_test_before] }\n"),
        admin_token: Some("reload-token"),
        file: Some(&file),
        ..Setup::default()
    })
    .await;
    let auth = ("authorization", "Bearer reload-token");
    let reload = || async {
        send(gateway.admin, "POST", "/reload", &[auth], "")
            .await
            .unwrap()
    };
    assert_eq!(
        call(
            &gateway,
            "/api/v1/crypto/echo",
            &[("x-api-key", "ff_test_before")]
        )
        .await
        .status,
        200
    );

    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("before", "after")).unwrap();
    assert_eq!(reload().await.status, 200);
    let old = call(
        &gateway,
        "/api/v1/crypto/echo",
        &[("x-api-key", "ff_test_before")],
    )
    .await;
    assert_envelope(&old, 401, "UNAUTHORIZED");
    assert_eq!(
        call(
            &gateway,
            "/api/v1/crypto/echo",
            &[("x-api-key", "ff_test_after")]
        )
        .await
        .status,
        200
    );

    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(
        &file,
        format!("{text}redis: {{ url: \"redis://127.0.0.1:1\" }}\n"),
    )
    .unwrap();
    let refused = reload().await;
    assert_envelope(&refused, 422, "VALIDATION_ERROR");
    assert!(refused.body.contains("restart"), "{}", refused.body);
    assert_eq!(
        call(
            &gateway,
            "/api/v1/crypto/echo",
            &[("x-api-key", "ff_test_after")]
        )
        .await
        .status,
        200
    );
    let _ = std::fs::remove_dir_all(&dir);
}
