//! The data-transform service through its router, with real jq worker processes.
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod contract;
mod shapes;
mod transforms;

use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use serde_json::Value;

pub fn app() -> TestApp {
    let kit = Kit::new("data-transform", "0.1.0-test", Limits::default());
    TestApp::new(flowforge_data_transform::app_with_worker(
        &kit,
        env!("CARGO_BIN_EXE_flowforge-data-transform").into(),
        flowforge_data_transform::domain::jq::JqLimits {
            timeout: std::time::Duration::from_secs(3),
            ..Default::default()
        },
    ))
}

/// POSTs JSON to `/api/v1/data/<path>` and expects 200.
pub async fn call(app: &TestApp, path: &str, body: Value) -> Value {
    app.post_json(&format!("/api/v1/data/{path}"), &body)
        .await
        .ok()
}

/// Expects an error envelope with `status` and `code`; returns the `error` object.
pub async fn refuse(app: &TestApp, path: &str, body: Value, status: u16, code: &str) -> Value {
    app.post_json(&format!("/api/v1/data/{path}"), &body)
        .await
        .error(status, code)
}
