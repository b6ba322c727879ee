//! The published contract: the OpenAPI document (snapshotted).

use std::path::Path;

use crate::app;

const SNAPSHOT: &str = "tests/api/openapi.snapshot.json";
const OPERATIONS: [&str; 14] = [
    "derivative",
    "simplify",
    "solve",
    "integrate",
    "statistics/test",
    "evaluate",
    "statistics/describe",
    "statistics/correlation",
    "statistics/histogram",
    "statistics/regression",
    "statistics/outliers",
    "statistics/series",
    "matrix",
    "finance",
];

#[tokio::test]
async fn openapi_documents_every_operation_with_envelopes() {
    let doc = app().get("/openapi.json").await.ok();
    assert_eq!(doc["openapi"], "3.1.0");
    for operation in OPERATIONS {
        let path = format!("/api/v1/math/{operation}");
        let post = &doc["paths"][&path]["post"];
        assert!(
            post["operationId"].as_str().unwrap().starts_with("math_"),
            "{path}"
        );
        assert!(
            post["requestBody"]["content"]["application/json"]["schema"].is_object(),
            "{path}"
        );
        assert_eq!(
            post["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
    }
}

#[tokio::test]
async fn openapi_matches_the_snapshot() {
    app()
        .assert_openapi_snapshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT))
        .await;
}

#[tokio::test]
async fn health_and_metrics_answer() {
    let app = app();
    assert_eq!(app.get("/health").await.ok()["service"], "math");
    crate::call(&app, "evaluate", serde_json::json!({"expression": "1"})).await;
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains("math_operations_total{operation=\"evaluate\",outcome=\"ok\""),
        "{metrics}"
    );
}
