//! Points: writes, reads, filters, and search results equal to brute force.

use serde_json::{Value, json};

use crate::collections::put;
use crate::{Scratch, app};

/// A deterministic pseudo-random vector.
pub fn vector(seed: u64, size: usize) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(1);
    (0..size)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % 2000) as f32 / 1000.0 - 1.0
        })
        .collect()
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

#[tokio::test]
async fn search_equals_brute_force_with_and_without_filters() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put(
        "/api/v1/vector/collections/small",
        &json!({"vectors": {"size": 8, "distance": "cosine"}}),
    ))
    .await
    .ok();
    let cities = ["Berlin", "Paris", "Rome"];
    let points: Vec<Value> = (0..200u64)
        .map(|i| json!({"id": i, "vector": vector(i, 8), "payload": {"city": cities[(i % 3) as usize], "rank": i}}))
        .collect();
    let upserted = app
        .send(put(
            "/api/v1/vector/collections/small/points",
            &json!({"points": points}),
        ))
        .await
        .ok();
    assert_eq!(upserted["upserted"], 200);
    app.send(put(
        "/api/v1/vector/collections/small/index",
        &json!({"field": "city", "type": "keyword"}),
    ))
    .await
    .ok();
    let query = vector(9999, 8);
    let brute = |keep: &dyn Fn(u64) -> bool| -> Vec<u64> {
        let mut scored: Vec<(u64, f32)> = (0..200u64)
            .filter(|i| keep(*i))
            .map(|i| (i, cosine(&query, &vector(i, 8))))
            .collect();
        scored.sort_by(|a, b| b.1.total_cmp(&a.1));
        scored.iter().take(10).map(|(i, _)| *i).collect()
    };
    let ids = |answer: &Value| -> Vec<u64> {
        answer["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_u64().unwrap())
            .collect()
    };
    let all = app
        .post_json(
            "/api/v1/vector/collections/small/points/search",
            &json!({"vector": query, "limit": 10}),
        )
        .await
        .ok();
    assert_eq!(ids(&all), brute(&|_| true));
    let best = &all["points"][0];
    let expected = cosine(&query, &vector(best["id"].as_u64().unwrap(), 8));
    assert!((best["score"].as_f64().unwrap() as f32 - expected).abs() < 1e-4);

    let filtered = app
        .post_json(
            "/api/v1/vector/collections/small/points/search",
            &json!({"vector": query, "limit": 10, "filter": {
                "must": [{"key": "city", "match": {"value": "Paris"}}],
                "must_not": [{"key": "rank", "range": {"lt": 50}}]}}),
        )
        .await
        .ok();
    assert_eq!(ids(&filtered), brute(&|i| i % 3 == 1 && i >= 50));
    assert!(
        filtered["points"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["payload"]["city"] == "Paris")
    );

    let paged = app
        .post_json(
            "/api/v1/vector/collections/small/points/search",
            &json!({"vector": query, "limit": 5, "offset": 5, "withPayload": false, "withVector": true}),
        )
        .await
        .ok();
    assert_eq!(ids(&paged), brute(&|_| true)[5..10].to_vec());
    assert!(paged["points"][0]["payload"].is_null());
    assert_eq!(paged["points"][0]["vector"].as_array().unwrap().len(), 8);
    // Just under the third score: the threshold keeps scores at or above it.
    let threshold = all["points"][2]["score"].as_f64().unwrap() - 1e-6;
    let above = app
        .post_json(
            "/api/v1/vector/collections/small/points/search",
            &json!({"vector": query, "limit": 10, "scoreThreshold": threshold}),
        )
        .await
        .ok();
    assert_eq!(ids(&above), brute(&|_| true)[..3].to_vec());
    let count = app
        .post_json(
            "/api/v1/vector/collections/small/points/count",
            &json!({"filter": {"must": [{"key": "city", "match": {"any": ["Rome", "Berlin"]}}]}}),
        )
        .await
        .ok();
    assert_eq!(count["count"], (0..200).filter(|i| i % 3 != 1).count());
    let info = app.get("/api/v1/vector/collections/small").await.ok();
    assert_eq!(info["payloadIndexes"]["city"], "keyword", "{info}");
}

#[tokio::test]
async fn texts_are_embedded_and_found_by_meaning() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put("/api/v1/vector/collections/notes", &json!({})))
        .await
        .ok();
    app.send(put(
        "/api/v1/vector/collections/notes/points",
        &json!({"points": [
            {"id": 1, "text": "A man is eating a piece of bread.", "payload": {"kind": "food"}},
            {"id": 2, "text": "The girl is carrying a baby."},
            {"id": 3, "text": "A monkey is playing drums."}]}),
    ))
    .await
    .ok();
    let found = app
        .post_json(
            "/api/v1/vector/collections/notes/points/search",
            &json!({"text": "A man is eating food.", "limit": 3}),
        )
        .await
        .ok();
    assert_eq!(found["points"][0]["id"], 1);
    assert_eq!(
        found["points"][0]["payload"],
        json!({"kind": "food", "text": "A man is eating a piece of bread."})
    );
    let score = found["points"][0]["score"].as_f64().unwrap();
    assert!(
        (score - 0.7553).abs() < 1e-3,
        "the golden similarity: {score}"
    );
    app.post_json(
        "/api/v1/vector/collections/notes/points/search",
        &json!({"text": ""}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn points_are_read_paged_changed_and_deleted() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put(
        "/api/v1/vector/collections/crud",
        &json!({"vectors": {"size": 2, "distance": "dot"}}),
    ))
    .await
    .ok();
    let points: Vec<Value> = (1..=25u64)
        .map(|i| json!({"id": i, "vector": [i as f32, 1.0], "payload": {"group": i % 2}}))
        .collect();
    app.send(put(
        "/api/v1/vector/collections/crud/points",
        &json!({"points": points}),
    ))
    .await
    .ok();
    // Pages of 10 by id, with a cursor.
    let mut seen = Vec::new();
    let mut offset = Value::Null;
    loop {
        let page = app
            .post_json(
                "/api/v1/vector/collections/crud/points/scroll",
                &json!({"limit": 10, "offset": offset}),
            )
            .await
            .ok();
        seen.extend(
            page["points"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].as_u64().unwrap()),
        );
        offset = page["nextOffset"].clone();
        if offset.is_null() {
            break;
        }
    }
    assert_eq!(seen, (1..=25).collect::<Vec<_>>());
    let got = app
        .post_json(
            "/api/v1/vector/collections/crud/points/get",
            &json!({"ids": [3, 99, 1], "withVector": true}),
        )
        .await
        .ok();
    assert_eq!(got["points"].as_array().unwrap().len(), 2);
    assert_eq!(got["points"][0]["id"], 3);
    assert_eq!(got["points"][0]["vector"], json!([3.0, 1.0]));
    app.post_json(
        "/api/v1/vector/collections/crud/points/payload",
        &json!({"payload": {"tag": "x"}, "ids": [3]}),
    )
    .await
    .ok();
    app.post_json(
        "/api/v1/vector/collections/crud/points/payload/delete",
        &json!({"keys": ["group"], "ids": [3]}),
    )
    .await
    .ok();
    let got = app
        .post_json(
            "/api/v1/vector/collections/crud/points/get",
            &json!({"ids": [3]}),
        )
        .await
        .ok();
    assert_eq!(got["points"][0]["payload"], json!({"tag": "x"}));
    app.post_json(
        "/api/v1/vector/collections/crud/points/delete",
        &json!({"filter": {"must": [{"key": "group", "match": {"value": 0}}]}}),
    )
    .await
    .ok();
    app.post_json(
        "/api/v1/vector/collections/crud/points/delete",
        &json!({"ids": [1]}),
    )
    .await
    .ok();
    let count = app
        .post_json("/api/v1/vector/collections/crud/points/count", &json!({}))
        .await
        .ok();
    // 25 points, 12 even ones gone by filter, point 1 by id; point 3 lost its group, so stays.
    assert_eq!(count["count"], 12);
}

#[tokio::test]
async fn bad_points_and_queries_get_their_codes() {
    let dir = Scratch::create();
    let app = app(&dir).await;
    app.send(put(
        "/api/v1/vector/collections/strict",
        &json!({"vectors": {"size": 3, "distance": "cosine"}}),
    ))
    .await
    .ok();
    let upsert = |points: Value| {
        put(
            "/api/v1/vector/collections/strict/points",
            &json!({"points": points}),
        )
    };
    let error = app
        .send(upsert(json!([{"id": 1, "vector": [1.0, 2.0]}])))
        .await
        .error(422, "DIMENSION_MISMATCH");
    assert!(
        error["message"].as_str().unwrap().contains("3 dimensions"),
        "{error}"
    );
    app.send(upsert(json!([{"id": -4, "vector": [1.0, 2.0, 3.0]}])))
        .await
        .error(422, "VALIDATION_ERROR");
    app.send(upsert(
        json!([{"id": "not-a-uuid", "vector": [1.0, 2.0, 3.0]}]),
    ))
    .await
    .error(422, "VALIDATION_ERROR");
    app.send(upsert(json!([{"id": 1}])))
        .await
        .error(422, "VALIDATION_ERROR");
    app.send(upsert(json!([])))
        .await
        .error(422, "VALIDATION_ERROR");
    app.send(upsert(json!([{"id": 1, "vector": [1.0, 2.0, 3.0]}])))
        .await
        .ok();
    let search = "/api/v1/vector/collections/strict/points/search";
    app.post_json(search, &json!({"vector": [1.0, 2.0]}))
        .await
        .error(422, "DIMENSION_MISMATCH");
    app.post_json(
        search,
        &json!({"vector": [1.0, 2.0, 3.0], "filter": {"must": "nope"}}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
    app.post_json(search, &json!({}))
        .await
        .error(422, "VALIDATION_ERROR");
    app.post_json(search, &json!({"vector": [1.0, 2.0, 3.0], "limit": 0}))
        .await
        .error(422, "VALIDATION_ERROR");
    app.post_json(
        "/api/v1/vector/collections/nope/points/search",
        &json!({"vector": [1.0]}),
    )
    .await
    .error(404, "COLLECTION_NOT_FOUND");
}
