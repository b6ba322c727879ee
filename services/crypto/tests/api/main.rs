//! The crypto service through its router: standard vectors, round trips, every envelope, the
//! OpenAPI contract, and one smoke test over a real socket.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod cipher;
mod contract;
mod hashing;
mod interop;
mod keys_and_signatures;
mod misc;

use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use serde_json::Value;

pub fn app() -> TestApp {
    TestApp::new(flowforge_crypto::app(&Kit::new(
        "crypto",
        "0.1.0-test",
        Limits::default(),
    )))
}

/// POSTs JSON to `/api/v1/crypto/<path>` and expects 200.
pub async fn call(app: &TestApp, path: &str, body: Value) -> Value {
    app.post_json(&format!("/api/v1/crypto/{path}"), &body)
        .await
        .ok()
}

/// POSTs JSON and expects an error envelope with `status` and `code`; returns the first detail's field.
pub async fn refuse(app: &TestApp, path: &str, body: Value, status: u16, code: &str) -> String {
    let response = app
        .post_json(&format!("/api/v1/crypto/{path}"), &body)
        .await;
    let error = response.error(status, code);
    error["details"][0]["field"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Expects an error envelope with `status` and `code` whose first detail names `field`.
pub async fn expect_error(
    app: &TestApp,
    path: &str,
    body: Value,
    status: u16,
    code: &str,
    field: &str,
) {
    assert_eq!(refuse(app, path, body, status, code).await, field, "{path}");
}

/// A key pair from the service, as (private PEM, public PEM).
pub async fn key_pair(app: &TestApp, body: Value) -> (String, String) {
    let key = call(app, "keys/generate", body).await;
    (
        key["privateKeyPem"]
            .as_str()
            .expect("a private key")
            .to_owned(),
        key["publicKeyPem"]
            .as_str()
            .expect("a public key")
            .to_owned(),
    )
}
