//! Documents: chunked, embedded, found by meaning, replaced and deleted by id.

use serde_json::json;

use crate::collections::put;
use crate::{Scratch, app};

#[tokio::test]
async fn documents_are_chunked_found_replaced_and_deleted() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put("/api/v1/vector/collections/kb", &json!({})))
        .await
        .ok();
    let handbook = "Invoices are due within thirty days of receipt. Late payments incur a fee. \
        The office opens at nine in the morning. Visitors sign in at the front desk. \
        The cafeteria serves lunch from noon until two.";
    let inserted = app
        .post_json(
            "/api/v1/vector/collections/kb/documents",
            &json!({"documents": [
                {"id": "handbook", "text": handbook, "metadata": {"source": "handbook.md"}},
                {"id": "menu", "text": "Monday: soup. Tuesday: pasta.", "metadata": {"source": "menu.md"}}],
                "chunkSize": 80, "chunkOverlap": 30}),
        )
        .await
        .ok();
    assert_eq!(inserted["documents"], 2);
    let chunks = inserted["chunks"].as_u64().unwrap();
    assert!(chunks >= 4, "{inserted}");
    let search = |query: &str, filter: serde_json::Value| {
        let app = app.clone();
        let body = json!({"query": query, "limit": 2, "filter": filter});
        async move {
            app.post_json("/api/v1/vector/collections/kb/documents/search", &body)
                .await
                .ok()
        }
    };
    let found = search("When do I have to pay my invoice?", json!(null)).await;
    let best = &found["results"][0];
    assert!(
        best["content"].as_str().unwrap().contains("Invoices"),
        "{found}"
    );
    assert_eq!(best["metadata"], json!({"source": "handbook.md"}));
    assert_eq!(best["documentId"], "handbook");
    assert!(best["score"].as_f64().unwrap() > 0.3);
    let menu_only = search(
        "When do I have to pay my invoice?",
        json!({"must": [{"key": "metadata.source", "match": {"value": "menu.md"}}]}),
    )
    .await;
    assert!(
        menu_only["results"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["documentId"] == "menu")
    );

    // Writing the document again replaces its chunks.
    let replaced = app
        .post_json(
            "/api/v1/vector/collections/kb/documents",
            &json!({"documents": [{"id": "handbook", "text": "Parking is free for staff."}]}),
        )
        .await
        .ok();
    assert_eq!(replaced["chunks"], 1);
    let count = |id: &str| {
        let app = app.clone();
        let body = json!({"filter": {"must": [{"key": "documentId", "match": {"value": id}}]}});
        async move {
            app.post_json("/api/v1/vector/collections/kb/points/count", &body)
                .await
                .ok()["count"]
                .as_u64()
                .unwrap()
        }
    };
    assert_eq!(count("handbook").await, 1);
    assert_eq!(count("menu").await, 1);
    app.post_json(
        "/api/v1/vector/collections/kb/documents/delete",
        &json!({"ids": ["handbook"]}),
    )
    .await
    .ok();
    assert_eq!(count("handbook").await, 0);
    assert_eq!(count("menu").await, 1);

    for bad in [
        json!({"documents": [{"id": "x", "text": "  "}]}),
        json!({"documents": []}),
        json!({"documents": [{"id": "x", "text": "t"}], "chunkSize": 100, "chunkOverlap": 100}),
        json!({"documents": [{"id": "x", "text": "t"}], "split": "paragraph"}),
    ] {
        app.post_json("/api/v1/vector/collections/kb/documents", &bad)
            .await
            .error(422, "VALIDATION_ERROR");
    }
}
