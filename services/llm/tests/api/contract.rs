//! The published contract: OpenAPI, models, health and metrics.

use std::path::Path;

use serde_json::json;

use crate::{app, chat, ready};

#[tokio::test]
async fn openapi_matches_the_snapshot_and_models_are_listed() {
    let app = app();
    ready(&app).await;
    app.assert_openapi_snapshot(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi.snapshot.json"),
    )
    .await;
    let doc = app.get("/openapi.json").await.ok();
    for path in [
        "chat/completions",
        "completions",
        "embeddings",
        "rerank",
        "models",
        "tokenize",
        "detokenize",
    ] {
        assert!(
            doc["paths"][format!("/api/v1/llm/{path}")].is_object(),
            "{path} is documented"
        );
    }
    assert!(
        doc["paths"]["/v1/chat/completions"].is_null(),
        "aliases stay out of the document"
    );
    let models = app.get("/api/v1/llm/models").await.ok();
    assert_eq!(models["object"], "list");
    assert_eq!(
        models["data"],
        json!([
            {"id": "smollm2-135m-instruct", "object": "model", "created": models["data"][0]["created"],
             "owned_by": "flowforge", "type": "chat", "context_length": 4096},
            {"id": "all-minilm-l6-v2", "object": "model", "created": models["data"][0]["created"],
             "owned_by": "flowforge", "type": "embedding", "dimensions": 384}
        ])
    );
    let one = app.get("/v1/models/all-minilm-l6-v2").await.ok();
    assert_eq!(one["dimensions"], 384);
    app.get("/v1/models/nope").await.error(404, "NOT_FOUND");
    let health = app.get("/health").await.ok();
    assert_eq!(health["status"], "healthy");
    app.post_json("/api/v1/llm/chat/completions", &chat("Hi", 2))
        .await
        .ok();
    let metrics = app.get("/metrics").await.text();
    for series in [
        "llm_completion_tokens_total",
        "llm_time_to_first_token_seconds_bucket",
        "llm_generation_tokens_per_second_bucket",
        "llm_queue_depth",
        "llm_requests_total{model=\"smollm2-135m-instruct\",operation=\"chat\"",
    ] {
        assert!(metrics.contains(series), "{series} in {metrics}");
    }
}
