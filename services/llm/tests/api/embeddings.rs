//! Embeddings and rerank from the real all-MiniLM-L6-v2.

use base64::Engine as _;
use serde_json::json;

use crate::app;

fn vector(value: &serde_json::Value) -> Vec<f32> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

#[tokio::test]
async fn embeddings_match_sentence_transformers() {
    let app = app();
    let answer = app
        .post_json(
            "/api/v1/llm/embeddings",
            &json!({"input": ["A man is eating food.", "A man is eating a piece of bread."]}),
        )
        .await
        .ok();
    assert_eq!(answer["object"], "list");
    assert_eq!(answer["model"], "all-minilm-l6-v2");
    let a = vector(&answer["data"][0]["embedding"]);
    let b = vector(&answer["data"][1]["embedding"]);
    assert_eq!(answer["data"][1]["index"], 1);
    assert_eq!(a.len(), 384);
    let similarity = flowforge_embeddings::cosine(&a, &b);
    assert!((similarity - 0.7553).abs() < 5e-4, "{similarity}");
    // [CLS] a man is eating food . [SEP] = 8, and 11 for the other.
    assert_eq!(answer["usage"]["prompt_tokens"], 19);

    let encoded = app
        .post_json(
            "/v1/embeddings",
            &json!({"input": "A man is eating food.", "encoding_format": "base64", "dimensions": 64}),
        )
        .await
        .ok();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let short: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(short.len(), 64);
    let norm: f32 = short.iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    // The first 64 components, renormalized.
    let first: f32 = a[..64].iter().map(|x| x * x).sum::<f32>().sqrt();
    assert!((short[0] - a[0] / first).abs() < 1e-5);
}

#[tokio::test]
async fn concurrent_requests_are_batched_and_answered_in_order() {
    let app = app();
    let sentences: Vec<String> = (0..24)
        .map(|i| format!("Sentence number {i} about things."))
        .collect();
    let alone = app
        .post_json("/api/v1/llm/embeddings", &json!({"input": sentences[5]}))
        .await
        .ok();
    let requests = sentences.iter().map(|s| {
        let app = app.clone();
        let body =
            json!({"input": [s, "a second, much longer input that pads the batch it lands in"]});
        async move { app.post_json("/api/v1/llm/embeddings", &body).await.ok() }
    });
    let answers = futures_util::future::join_all(requests).await;
    let reference = vector(&alone["data"][0]["embedding"]);
    let batched = vector(&answers[5]["data"][0]["embedding"]);
    let drift = reference
        .iter()
        .zip(&batched)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    assert!(drift < 1e-4, "{drift}");
    let metrics = app.get("/metrics").await.text();
    assert!(
        metrics.contains("llm_embedding_batch_size_count"),
        "{metrics}"
    );
}

#[tokio::test]
async fn bad_embedding_requests_get_their_codes() {
    let app = app();
    let path = "/api/v1/llm/embeddings";
    app.post_json(path, &json!({"input": ""}))
        .await
        .error(422, "VALIDATION_ERROR");
    app.post_json(path, &json!({"input": []}))
        .await
        .error(422, "VALIDATION_ERROR");
    app.post_json(path, &json!({"input": [[1, 2, 3]]}))
        .await
        .error(422, "UNSUPPORTED");
    app.post_json(path, &json!({"input": "x", "model": "nope"}))
        .await
        .error(422, "MODEL_NOT_FOUND");
    app.post_json(path, &json!({"input": "x", "dimensions": 1000}))
        .await
        .error(422, "VALIDATION_ERROR");
    app.post_json(path, &json!({"input": "x", "encoding_format": "int8"}))
        .await
        .error(422, "VALIDATION_ERROR");
    let long = "word ".repeat(400);
    let error = app
        .post_json(path, &json!({"input": long}))
        .await
        .error(422, "TOO_MANY_TOKENS");
    assert!(
        error["message"].as_str().unwrap().contains("256"),
        "{error}"
    );
    let cut = app
        .post_json(path, &json!({"input": long, "truncate": true}))
        .await
        .ok();
    assert_eq!(cut["usage"]["prompt_tokens"], 256);
    app.post_json(
        path,
        &json!({"input": "x", "model": "smollm2-135m-instruct"}),
    )
    .await
    .error(422, "UNSUPPORTED");
}

#[tokio::test]
async fn rerank_puts_the_relevant_document_first() {
    let app = app();
    let answer = app
        .post_json(
            "/api/v1/llm/rerank",
            &json!({"query": "What is the man eating?", "documents": [
                "The girl is carrying a baby.", {"text": "A man is eating a piece of bread."},
                "A monkey is playing drums."], "top_n": 2}),
        )
        .await
        .ok();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["index"], 1);
    assert_eq!(
        results[0]["document"]["text"],
        "A man is eating a piece of bread."
    );
    assert!(results[0]["relevance_score"].as_f64() > results[1]["relevance_score"].as_f64());
    app.post_json(
        "/api/v1/llm/rerank",
        &json!({"query": "", "documents": ["a"]}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
    app.post_json(
        "/api/v1/llm/rerank",
        &json!({"query": "q", "documents": []}),
    )
    .await
    .error(422, "VALIDATION_ERROR");
}
