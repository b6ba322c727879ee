//! Collections: lifecycle, codes, persistence across a restart, the published contract.

use std::path::Path;

use serde_json::json;

use crate::{Scratch, app};

#[tokio::test]
async fn collections_are_created_listed_described_and_deleted() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    let created = app
        .send(put("/api/v1/vector/collections/docs", &json!({})))
        .await
        .ok();
    assert_eq!(created["name"], "docs");
    assert_eq!(
        created["vectors"],
        json!({"size": 384, "distance": "cosine"})
    );
    assert_eq!(created["pointsCount"], 0);
    let named = app
        .send(put(
            "/api/v1/vector/collections/multi",
            &json!({"vectors": {"image": {"size": 4, "distance": "dot"}, "text": {"size": 3, "distance": "euclid"}}}),
        ))
        .await
        .ok();
    assert_eq!(named["vectors"]["image"]["size"], 4);
    let list = app.get("/api/v1/vector/collections").await.ok();
    assert_eq!(
        list["collections"],
        json!([{"name": "docs", "pointsCount": 0}, {"name": "multi", "pointsCount": 0}])
    );
    app.send(put("/api/v1/vector/collections/docs", &json!({})))
        .await
        .error(409, "COLLECTION_EXISTS");
    app.send(put("/api/v1/vector/collections/bad%20name", &json!({})))
        .await
        .error(422, "VALIDATION_ERROR");
    app.send(put(
        "/api/v1/vector/collections/zero",
        &json!({"vectors": {"size": 0, "distance": "cosine"}}),
    ))
    .await
    .error(422, "VALIDATION_ERROR");
    app.send(put(
        "/api/v1/vector/collections/odd",
        &json!({"vectors": {"size": 3, "distance": "hamming"}}),
    ))
    .await
    .error(422, "VALIDATION_ERROR");
    let deleted = app
        .send(
            http::Request::delete("/api/v1/vector/collections/multi")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .ok();
    assert_eq!(deleted["deleted"], true);
    app.get("/api/v1/vector/collections/multi")
        .await
        .error(404, "COLLECTION_NOT_FOUND");
    assert!(!dir.0.join("collections/multi").exists());
}

#[tokio::test]
async fn points_survive_a_restart() {
    let dir = Scratch::create();
    {
        let app = app(&dir).await;
        app.send(put(
            "/api/v1/vector/collections/keep",
            &json!({"vectors": {"size": 3, "distance": "cosine"}}),
        ))
        .await
        .ok();
        app.send(put(
            "/api/v1/vector/collections/keep/points",
            &json!({"points": [
                {"id": 1, "vector": [1.0, 0.0, 0.0], "payload": {"n": 1}},
                {"id": "5f1c2a3b-0000-4000-8000-000000000001", "vector": [0.0, 1.0, 0.0]}]}),
        ))
        .await
        .ok();
    }
    let app = app(&dir).await;
    let info = app.get("/api/v1/vector/collections/keep").await.ok();
    assert_eq!(info["pointsCount"], 2, "{info}");
    let found = app
        .post_json(
            "/api/v1/vector/collections/keep/points/search",
            &json!({"vector": [0.9, 0.1, 0.0], "limit": 1}),
        )
        .await
        .ok();
    assert_eq!(found["points"][0]["id"], 1);
    assert_eq!(found["points"][0]["payload"], json!({"n": 1}));
}

#[tokio::test]
async fn openapi_matches_the_snapshot() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.assert_openapi_snapshot(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/api/openapi.snapshot.json"),
    )
    .await;
    let doc = app.get("/openapi.json").await.ok();
    assert!(doc["paths"]["/api/v1/vector/collections/{name}/points/search"]["post"].is_object());
}

pub fn put(path: &str, body: &serde_json::Value) -> http::Request<axum::body::Body> {
    http::Request::put(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap()
}
