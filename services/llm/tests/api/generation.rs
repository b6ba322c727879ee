//! Chat and text completions from the real SmolLM2 model.

use serde_json::json;

use crate::{app, chat, sse_data};

#[tokio::test]
async fn the_tokenizer_splits_as_smollm2_was_trained() {
    let app = app();
    let tokens = app
        .post_json("/api/v1/llm/tokenize", &json!({"prompt": "Hello world!"}))
        .await
        .ok();
    assert_eq!(tokens["tokens"], json!([19556, 905, 17]));
    assert_eq!(tokens["count"], 3);
    assert_eq!(tokens["max_model_len"], 4096);
    // Digits one by one, as SmolLM2's pre-tokenizer splits them.
    let digits = app
        .post_json("/v1/tokenize", &json!({"prompt": "2024"}))
        .await
        .ok();
    assert_eq!(digits["count"], 4, "{digits}");
    let text = app
        .post_json(
            "/api/v1/llm/detokenize",
            &json!({"tokens": [19556, 905, 17]}),
        )
        .await
        .ok();
    assert_eq!(text["prompt"], "Hello world!");
    let chat_tokens = app
        .post_json(
            "/api/v1/llm/tokenize",
            &json!({"messages": [{"role": "user", "content": "Hi"}]}),
        )
        .await
        .ok();
    // The template's system turn, the user's turn and the opened assistant turn.
    let ids = chat_tokens["tokens"].as_array().unwrap();
    assert_eq!(ids[0], 1, "<|im_start|> is one special token");
    assert_eq!(ids.iter().filter(|t| **t == 1).count(), 3);
    app.post_json("/api/v1/llm/detokenize", &json!({"tokens": [999999]}))
        .await
        .error(422, "VALIDATION_ERROR");
}

#[tokio::test]
async fn greedy_chat_answers_and_counts_its_tokens() {
    let app = app();
    let answer = app
        .post_json("/api/v1/llm/chat/completions", &chat("What is 2+2?", 24))
        .await
        .ok();
    assert_eq!(answer["object"], "chat.completion");
    assert_eq!(answer["model"], "smollm2-135m-instruct");
    assert!(answer["id"].as_str().unwrap().starts_with("chatcmpl-"));
    let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(content.contains('4'), "{content}");
    assert_eq!(answer["choices"][0]["message"]["role"], "assistant");
    let usage = &answer["usage"];
    let prompt = app
        .post_json(
            "/api/v1/llm/tokenize",
            &json!({"messages": [{"role": "user", "content": "What is 2+2?"}]}),
        )
        .await
        .ok();
    assert_eq!(usage["prompt_tokens"], prompt["count"]);
    assert_eq!(
        usage["total_tokens"].as_u64().unwrap(),
        usage["prompt_tokens"].as_u64().unwrap() + usage["completion_tokens"].as_u64().unwrap()
    );
    // Greedy decoding is the same every time, and the /v1 alias is the same operation.
    let again = app
        .post_json("/v1/chat/completions", &chat("What is 2+2?", 24))
        .await
        .ok();
    assert_eq!(again["choices"][0]["message"]["content"], content);
}

#[tokio::test]
async fn a_seed_makes_sampling_repeatable() {
    let app = app();
    let request = |seed: u64| {
        json!({"messages": [{"role": "user", "content": "Tell me about cats."}],
            "max_tokens": 20, "temperature": 1.0, "top_p": 0.95, "top_k": 50, "seed": seed})
    };
    let text = |v: &serde_json::Value| {
        v["choices"][0]["message"]["content"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let first = text(
        &app.post_json("/api/v1/llm/chat/completions", &request(7))
            .await
            .ok(),
    );
    let second = text(
        &app.post_json("/api/v1/llm/chat/completions", &request(7))
            .await
            .ok(),
    );
    assert_eq!(first, second);
    let mut differs = false;
    for seed in [8, 9, 10] {
        let other = text(
            &app.post_json("/api/v1/llm/chat/completions", &request(seed))
                .await
                .ok(),
        );
        differs |= other != first;
    }
    assert!(differs, "other seeds all gave {first:?}");
}

#[tokio::test]
async fn streaming_sends_the_same_text_in_openai_chunks() {
    let app = app();
    let whole = app
        .post_json(
            "/api/v1/llm/chat/completions",
            &chat("Name three colors.", 20),
        )
        .await
        .ok();
    let mut request = chat("Name three colors.", 20);
    request["stream"] = json!(true);
    request["stream_options"] = json!({"include_usage": true});
    let response = app
        .post_json("/api/v1/llm/chat/completions", &request)
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(
        response.headers["content-type"].to_str().unwrap(),
        "text/event-stream"
    );
    let events = sse_data(&response.text());
    assert_eq!(events.last().unwrap(), "[DONE]");
    let chunks: Vec<serde_json::Value> = events[..events.len() - 1]
        .iter()
        .map(|e| serde_json::from_str(e).unwrap())
        .collect();
    assert!(chunks.len() > 3, "{events:?}");
    let id = &chunks[0]["id"];
    assert!(
        chunks
            .iter()
            .all(|c| &c["id"] == id && c["object"] == "chat.completion.chunk")
    );
    assert_eq!(chunks[0]["choices"][0]["delta"]["role"], "assistant");
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["delta"]["content"].as_str())
        .collect();
    assert_eq!(text, whole["choices"][0]["message"]["content"]);
    let finish = &chunks[chunks.len() - 2];
    assert_eq!(
        finish["choices"][0]["finish_reason"],
        whole["choices"][0]["finish_reason"]
    );
    let usage = &chunks[chunks.len() - 1];
    assert_eq!(usage["choices"], json!([]));
    assert_eq!(usage["usage"], whole["usage"]);
    assert!(
        chunks[..chunks.len() - 1]
            .iter()
            .all(|c| c["usage"].is_null())
    );
}

#[tokio::test]
async fn stop_strings_and_max_tokens_end_generation() {
    let app = app();
    let mut request = chat("Count from 1 to 20, separated by commas.", 60);
    let full = app
        .post_json("/api/v1/llm/chat/completions", &request)
        .await
        .ok();
    let full_text = full["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(full_text.contains('5'), "{full_text}");
    request["stop"] = json!(["5"]);
    let stopped = app
        .post_json("/api/v1/llm/chat/completions", &request)
        .await
        .ok();
    let text = stopped["choices"][0]["message"]["content"]
        .as_str()
        .unwrap();
    assert_eq!(stopped["choices"][0]["finish_reason"], "stop");
    assert!(!text.contains('5'), "{text}");
    assert!(full_text.starts_with(text), "{text:?} vs {full_text:?}");

    let short = app
        .post_json(
            "/api/v1/llm/chat/completions",
            &chat("Write a long story.", 3),
        )
        .await
        .ok();
    assert_eq!(short["choices"][0]["finish_reason"], "length");
    assert_eq!(short["usage"]["completion_tokens"], 3);

    let completion = app
        .post_json(
            "/api/v1/llm/completions",
            &json!({"prompt": "Monday, Tuesday, Wednesday,", "max_tokens": 4, "temperature": 0}),
        )
        .await
        .ok();
    assert_eq!(completion["object"], "text_completion");
    let text = completion["choices"][0]["text"].as_str().unwrap();
    assert!(text.contains("Thursday"), "{text:?}");
}

#[tokio::test]
async fn json_schema_output_parses_and_validates() {
    let app = app();
    let schema = json!({"type": "object", "properties": {
        "name": {"type": "string", "maxLength": 40},
        "age": {"type": "integer"},
        "city": {"enum": ["Paris", "London", "Berlin"]},
        "hobbies": {"type": "array", "items": {"type": "string", "maxLength": 30}, "maxItems": 3}},
        "required": ["name", "age", "city", "hobbies"]});
    for seed in [1u64, 2] {
        let request = json!({"messages": [{"role": "user",
            "content": "Describe a person called Anna who lives in Berlin, as JSON."}],
            "max_tokens": 120, "temperature": 0.7, "seed": seed,
            "response_format": {"type": "json_schema", "json_schema": {"name": "person", "schema": schema}}});
        let answer = app
            .post_json("/api/v1/llm/chat/completions", &request)
            .await
            .ok();
        let content = answer["choices"][0]["message"]["content"].as_str().unwrap();
        let value: serde_json::Value =
            serde_json::from_str(content).unwrap_or_else(|e| panic!("not JSON ({e}): {content}"));
        assert!(
            jsonschema::is_valid(&schema, &value),
            "{content} does not follow the schema"
        );
        assert_eq!(answer["choices"][0]["finish_reason"], "stop", "{content}");
    }
    let object = app
        .post_json(
            "/api/v1/llm/chat/completions",
            &json!({"messages": [{"role": "user", "content": "Give me a JSON object about a dog."}],
                "max_tokens": 60, "temperature": 0, "response_format": {"type": "json_object"}}),
        )
        .await
        .ok();
    let content = object["choices"][0]["message"]["content"].as_str().unwrap();
    if object["choices"][0]["finish_reason"] == "stop" {
        let value: serde_json::Value = serde_json::from_str(content).unwrap();
        assert!(value.is_object(), "{content}");
    } else {
        assert!(content.starts_with('{'), "{content}");
    }
}

#[tokio::test]
async fn bad_requests_get_envelopes_with_openai_fields() {
    let app = app();
    let path = "/api/v1/llm/chat/completions";
    let error = app
        .post_json(path, &json!({"messages": []}))
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "messages");
    let mut hot = chat("hi", 4);
    hot["temperature"] = json!(5);
    let error = app
        .post_json(path, &hot)
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["param"], "temperature");
    let mut unknown = chat("hi", 4);
    unknown["model"] = json!("gpt-9");
    let error = app
        .post_json(path, &unknown)
        .await
        .error(422, "MODEL_NOT_FOUND");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("smollm2-135m-instruct")
    );
    let mut embedding_model = chat("hi", 4);
    embedding_model["model"] = json!("all-minilm-l6-v2");
    app.post_json(path, &embedding_model)
        .await
        .error(422, "UNSUPPORTED");
    let mut two = chat("hi", 4);
    two["n"] = json!(2);
    app.post_json(path, &two).await.error(422, "UNSUPPORTED");
    let mut too_many = chat("hi", 4);
    too_many["max_tokens"] = json!(100_000);
    app.post_json(path, &too_many)
        .await
        .error(422, "TOO_MANY_TOKENS");
    let long = "word ".repeat(5000);
    app.post_json(path, &chat(&long, 4))
        .await
        .error(422, "CONTEXT_LENGTH_EXCEEDED");
    let tool = json!({"messages": [{"role": "tool", "content": "x"}]});
    app.post_json(path, &tool).await.error(422, "UNSUPPORTED");
    let bad_schema = json!({"messages": [{"role": "user", "content": "x"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "tuple"}}}});
    let error = app
        .post_json(path, &bad_schema)
        .await
        .error(422, "VALIDATION_ERROR");
    assert_eq!(error["param"], "response_format.json_schema.schema");
    let broken = app
        .post_raw(path, "application/json", "{\"messages\": [")
        .await;
    assert_eq!(broken.status, 400, "{}", broken.text());
    assert_eq!(broken.json()["error"]["type"], "invalid_request_error");
}
