//! The published contract: the OpenAPI document (snapshotted).

use std::path::Path;

use crate::app;

const SNAPSHOT: &str = "tests/api/openapi.snapshot.json";

#[tokio::test]
async fn openapi_documents_every_operation_with_envelopes() {
    let doc = app().get("/openapi.json").await.ok();
    for operation in ["convert", "query", "patch", "template"] {
        let path = format!("/api/v1/data/{operation}");
        let post = &doc["paths"][&path]["post"];
        assert!(
            post["operationId"]
                .as_str()
                .unwrap()
                .starts_with("data_transform_"),
            "{path}"
        );
        assert_eq!(
            post["responses"]["4XX"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorEnvelope"
        );
    }
}

/// The document is a contract: a change must show up in review. `UPDATE_SNAPSHOTS=1` rewrites it.
#[tokio::test]
async fn openapi_matches_the_snapshot() {
    let doc = app().get("/openapi.json").await.ok();
    let rendered = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT);
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let saved = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        saved == rendered,
        "OpenAPI document changed; review it and run `UPDATE_SNAPSHOTS=1 cargo test -p flowforge-data-transform` to accept"
    );
}
