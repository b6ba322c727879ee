//! The published contract and readiness.

use std::path::Path;

use crate::app;

#[tokio::test]
async fn openapi_matches_the_snapshot_and_languages_are_listed() {
    let app = app().await;
    app.assert_openapi_snapshot(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi.snapshot.json"),
    )
    .await;
    let doc = app.get("/openapi.json").await.ok();
    assert!(doc["paths"]["/api/v1/ocr/recognize"]["post"]["operationId"].is_string());
    assert!(doc["paths"]["/api/v1/ocr/languages"]["get"]["operationId"].is_string());
    let languages = app.get("/api/v1/ocr/languages").await.ok();
    assert!(
        languages["languages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "eng"),
        "{languages}"
    );
    assert!(
        !languages["languages"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l == "osd"),
        "osd is not a language"
    );
    assert_eq!(languages["engines"]["size"], 2);
    let health = app.get("/health").await.ok();
    assert_eq!(health["status"], "healthy");
    let metrics = app.get("/metrics").await.text();
    assert!(metrics.contains("ocr_pages_total") || metrics.contains("http_requests_total"));
}
