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
        "generate",
        "merge",
        "split",
        "pages/extract",
        "pages/remove",
        "pages/rotate",
        "pages/reorder",
        "text",
        "info",
        "metadata",
        "watermark",
        "page-numbers",
        "encrypt",
        "decrypt",
        "compress",
        "images-to-pdf",
        "render",
    ] {
        let path = format!("/api/v1/pdf/{operation}");
        assert!(
            doc["paths"][&path]["post"]["operationId"].is_string(),
            "{path} is not documented"
        );
    }
    let health = app().get("/health").await.ok();
    assert_eq!(health["status"], "healthy", "{health}");
    assert_eq!(health["service"], "pdf");
    let metrics = app().get("/metrics").await;
    assert_eq!(metrics.status, 200);
}
