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

#[tokio::test]
async fn openapi_matches_the_snapshot() {
    app()
        .assert_openapi_snapshot(&Path::new(env!("CARGO_MANIFEST_DIR")).join(SNAPSHOT))
        .await;
}
