//! The llm service through its router, with the real SmolLM2-135M-Instruct and
//! all-MiniLM-L6-v2 that `scripts/fetch-models.sh` installs (`make test` runs it).
#![allow(
    clippy::unwrap_used,
    reason = "helpers in test binaries panic to report failure"
)]

mod contract;
mod embeddings;
mod generation;
mod native;
mod serving;

use std::sync::OnceLock;
use std::time::Duration;

use flowforge_llm::LlmConfig;
use flowforge_service_kit::test_util::TestApp;
use flowforge_service_kit::{Kit, Limits};
use serde_json::Value;

/// A router with its models loaded.
pub fn loaded(config: LlmConfig) -> axum::Router {
    // Built off any runtime, the models load on this thread before it returns.
    std::thread::spawn(move || {
        // The tests share one generation worker: a request may wait for the others.
        let limits = Limits {
            request_timeout: Duration::from_secs(600),
            ..Limits::default()
        };
        let kit = Kit::new("llm", "0.1.0-test", limits);
        flowforge_llm::app_with(&kit, config).unwrap()
    })
    .join()
    .unwrap()
}

/// The router with the default models, shared by the tests of this binary.
pub fn shared_router() -> axum::Router {
    static ROUTER: OnceLock<axum::Router> = OnceLock::new();
    ROUTER.get_or_init(|| loaded(LlmConfig::default())).clone()
}

/// The service with the default models, shared by the tests of this binary.
pub fn app() -> TestApp {
    TestApp::new(shared_router())
}

/// Waits until `/health` says healthy.
pub async fn ready(app: &TestApp) {
    for _ in 0..400 {
        if app.get("/health").await.status == 200 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the llm models did not load");
}

/// The `data:` payloads of a server-sent event stream, in order.
pub fn sse_data(body: &str) -> Vec<String> {
    body.split("\n\n")
        .filter(|event| !event.trim().is_empty())
        .map(|event| {
            event
                .lines()
                .filter_map(|line| line.strip_prefix("data: "))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

/// A chat request with greedy decoding.
pub fn chat(content: &str, max_tokens: u32) -> Value {
    serde_json::json!({
        "messages": [{"role": "user", "content": content}],
        "max_tokens": max_tokens,
        "temperature": 0,
    })
}
