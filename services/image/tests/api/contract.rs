//! The published contract: every operation documented, health and metrics answering.

use std::path::Path;

use crate::app;

const SNAPSHOT: &str = "tests/api/openapi.snapshot.json";

#[tokio::test]
async fn openapi_matches_the_snapshot() {
    app()
        .assert_openapi_snapshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT))
        .await;
}

#[tokio::test]
async fn openapi_documents_every_operation() {
    let doc = app().get("/openapi.json").await.ok();
    for operation in [
        "info", "resize", "crop", "rotate", "flip", "flop", "adjust", "convert", "pipeline",
    ] {
        let path = format!("/api/v1/image/{operation}");
        assert!(
            doc["paths"][&path]["post"].is_object(),
            "{path} is not documented"
        );
    }
    let health = app().get("/health").await.ok();
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["service"], "image");
    let metrics = app().get("/metrics").await;
    assert_eq!(metrics.status, 200);
}
