//! Serving under load: back-pressure, cancellation, and an upstream OpenAI-compatible backend.

use std::time::{Duration, Instant};

use axum::body::Body;
use flowforge_llm::LlmConfig;
use flowforge_service_kit::test_util::TestApp;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::{app, chat, loaded, ready};

fn streaming(content: &str, max_tokens: u32) -> http::Request<Body> {
    let mut body = chat(content, max_tokens);
    body["stream"] = json!(true);
    http::Request::post("/api/v1/llm/chat/completions")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

#[tokio::test]
async fn a_full_queue_answers_429_and_a_gone_client_frees_the_worker() {
    // One worker and no waiting room: a second request while one runs is refused.
    let router = loaded(LlmConfig {
        workers: 1,
        queue: 0,
        ..LlmConfig::default()
    });
    let app = TestApp::new(router.clone());
    ready(&app).await;
    let running = router
        .clone()
        .oneshot(streaming("Write a very long story about the sea.", 1000))
        .await
        .unwrap();
    assert_eq!(running.status(), 200);
    let mut body = running.into_body();
    // The first chunk proves the generation is under way.
    let first = body.frame().await.unwrap().unwrap();
    assert!(first.data_ref().is_some());
    let refused = app
        .post_json("/api/v1/llm/chat/completions", &chat("Hi", 4))
        .await;
    let error = refused.error(429, "QUEUE_FULL");
    assert_eq!(error["type"], "rate_limit_error");
    assert_eq!(refused.headers["retry-after"], "1");
    // The client goes away: the worker stops that generation and takes the next request.
    drop(body);
    let started = Instant::now();
    loop {
        let answer = app
            .post_json("/api/v1/llm/chat/completions", &chat("Hi", 4))
            .await;
        if answer.status == 200 {
            break;
        }
        assert_eq!(answer.status, 429, "{}", answer.text());
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the abandoned generation kept the worker"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_upstream_openai_server_serves_the_models_routed_to_it() {
    // The upstream is this service itself on a real socket: an OpenAI-compatible server.
    let upstream = app();
    ready(&upstream).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let remote = crate::shared_router();
    tokio::spawn(flowforge_service_kit::serve_listener(
        remote,
        listener,
        std::future::pending(),
    ));
    let config = LlmConfig {
        chat_models: Vec::new(),
        embedding_models: Vec::new(),
        upstream: Some(flowforge_llm::UpstreamConfig {
            base_url: format!("http://{address}/v1"),
            api_key: Some("sk-test".into()),
            models: vec![
                flowforge_llm::domain::upstream::UpstreamModel {
                    id: "far-smol".into(),
                    remote: "smollm2-135m-instruct".into(),
                    kind: flowforge_llm::domain::backend::ModelKind::Chat,
                },
                flowforge_llm::domain::upstream::UpstreamModel {
                    id: "far-minilm".into(),
                    remote: "all-minilm-l6-v2".into(),
                    kind: flowforge_llm::domain::backend::ModelKind::Embedding,
                },
            ],
            timeout: Duration::from_secs(60),
        }),
        ..LlmConfig::default()
    };
    let front = TestApp::new(loaded(config));
    ready(&front).await;
    let models = front.get("/v1/models").await.ok();
    assert_eq!(models["data"][0]["id"], "far-smol");
    assert_eq!(models["data"][0]["owned_by"], "upstream");

    let question = chat("What is 2+2?", 16);
    let local = upstream
        .post_json("/api/v1/llm/chat/completions", &question)
        .await
        .ok();
    let mut routed = question.clone();
    routed["model"] = json!("far-smol");
    let far = front
        .post_json("/api/v1/llm/chat/completions", &routed)
        .await
        .ok();
    assert_eq!(far["model"], "far-smol");
    assert_eq!(
        far["choices"][0]["message"]["content"],
        local["choices"][0]["message"]["content"]
    );
    assert_eq!(far["usage"], local["usage"]);
    routed["stream"] = json!(true);
    let streamed = front
        .post_json("/api/v1/llm/chat/completions", &routed)
        .await;
    let text: String = crate::sse_data(&streamed.text())
        .iter()
        .filter(|d| *d != "[DONE]")
        .filter_map(|d| {
            serde_json::from_str::<serde_json::Value>(d).unwrap()["choices"][0]["delta"]["content"]
                .as_str()
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(
        text,
        local["choices"][0]["message"]["content"].as_str().unwrap()
    );

    let embedded = front
        .post_json(
            "/api/v1/llm/embeddings",
            &json!({"model": "far-minilm", "input": ["A man is eating food."]}),
        )
        .await
        .ok();
    assert_eq!(
        embedded["data"][0]["embedding"].as_array().unwrap().len(),
        384
    );
    // Upstream refusals come back as 502 with the upstream's reason.
    let mut bad = question.clone();
    bad["model"] = json!("far-smol");
    bad["max_tokens"] = json!(100_000);
    let error = front
        .post_json("/api/v1/llm/chat/completions", &bad)
        .await
        .error(502, "UPSTREAM_UNAVAILABLE");
    assert!(
        error["message"].as_str().unwrap().contains("max_tokens"),
        "{error}"
    );
}
