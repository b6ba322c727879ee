//! The math service through its router: reference values (numpy, scipy, Excel), every envelope,
//! the sandbox's limits, and the OpenAPI contract.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod contract;
mod expressions;
mod numbers;

use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use serde_json::Value;

pub fn app() -> TestApp {
    TestApp::new(flowforge_math::app(&Kit::new(
        "math",
        "0.1.0-test",
        Limits::default(),
    )))
}

/// POSTs JSON to `/api/v1/math/<path>` and expects 200.
pub async fn call(app: &TestApp, path: &str, body: Value) -> Value {
    app.post_json(&format!("/api/v1/math/{path}"), &body)
        .await
        .ok()
}

/// Expects an error envelope with `status` and `code`; returns the whole `error` object.
pub async fn refuse(app: &TestApp, path: &str, body: Value, status: u16, code: &str) -> Value {
    app.post_json(&format!("/api/v1/math/{path}"), &body)
        .await
        .error(status, code)
}

/// Asserts `a` and `b` agree to 1e-9 (relative for large values).
pub fn close(a: &Value, b: f64) {
    let a = a.as_f64().unwrap_or_else(|| panic!("{a} is not a number"));
    assert!((a - b).abs() <= 1e-9 * b.abs().max(1.0), "{a} != {b}");
}
