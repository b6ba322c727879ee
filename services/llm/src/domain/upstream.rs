//! An upstream OpenAI-compatible server (vLLM, Ollama, llama.cpp server, OpenAI) as a backend:
//! requests are sent streaming, and its chunks become the same events local models produce.

use async_trait::async_trait;
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::backend::{Backend, ModelCard, ModelKind};
use super::{
    Embeddings, Event, EventStream, FinishReason, GenerationOptions, LlmError, Message,
    ResponseFormat, Usage,
};

/// Events buffered between the upstream reader and the client.
const EVENT_BUFFER: usize = 64;

/// One model served upstream: the name clients use here, and the name upstream knows it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamModel {
    pub id: String,
    pub remote: String,
    pub kind: ModelKind,
}

/// An OpenAI-compatible server at `base_url` (ending in `/v1` or its equivalent).
#[derive(Debug, Clone)]
pub struct UpstreamBackend {
    base_url: String,
    api_key: Option<String>,
    models: Vec<UpstreamModel>,
    client: reqwest::Client,
}

impl UpstreamBackend {
    pub fn new(
        base_url: &str,
        api_key: Option<String>,
        models: Vec<UpstreamModel>,
        timeout: std::time::Duration,
    ) -> Result<Self, LlmError> {
        let client = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .read_timeout(timeout)
            .build()
            .map_err(|e| LlmError::Load(format!("the upstream client: {e}")))?;
        Ok(Self {
            base_url: base_url.trim_end_matches('/').to_owned(),
            api_key,
            models,
            client,
        })
    }

    fn remote(&self, model: &str) -> Result<&str, LlmError> {
        self.models
            .iter()
            .find(|m| m.id == model)
            .map(|m| m.remote.as_str())
            .ok_or_else(|| LlmError::UnknownModel {
                model: model.to_owned(),
                available: self
                    .models
                    .iter()
                    .map(|m| m.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    async fn post(&self, path: &str, body: &Value) -> Result<reqwest::Response, LlmError> {
        let mut request = self
            .client
            .post(format!("{}/{path}", self.base_url))
            .json(body);
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        let response = request.send().await.map_err(|e| {
            LlmError::Upstream(format!(
                "the upstream server could not be reached: {}",
                without_url(&e)
            ))
        })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
            .unwrap_or_else(|| text.chars().take(300).collect());
        Err(LlmError::Upstream(format!(
            "the upstream server answered {status}: {message}"
        )))
    }

    async fn generate(
        &self,
        path: &str,
        mut body: Value,
        options: &GenerationOptions,
        content: fn(&Value) -> Option<&str>,
    ) -> Result<EventStream, LlmError> {
        add_options(&mut body, options);
        let response = self.post(path, &body).await?;
        let (events, stream) = tokio::sync::mpsc::channel(EVENT_BUFFER);
        tokio::spawn(relay(response, events, content));
        Ok(stream)
    }
}

/// A reqwest error's text without the URL (which could carry credentials).
fn without_url(error: &reqwest::Error) -> String {
    let mut error = error.to_string();
    if let Some(at) = error.find(" for url") {
        error.truncate(at);
    }
    error
}

/// OpenAI's fields for `options`; vLLM's extras only when set, since OpenAI refuses them.
fn add_options(body: &mut Value, options: &GenerationOptions) {
    let sampling = &options.sampling;
    body["stream"] = json!(true);
    body["stream_options"] = json!({"include_usage": true});
    body["temperature"] = json!(sampling.temperature);
    body["top_p"] = json!(sampling.top_p);
    if let Some(max) = options.max_tokens {
        body["max_tokens"] = json!(max);
    }
    if !options.stop.is_empty() {
        body["stop"] = json!(options.stop);
    }
    if let Some(seed) = sampling.seed {
        body["seed"] = json!(seed);
    }
    if sampling.presence_penalty != 0.0 {
        body["presence_penalty"] = json!(sampling.presence_penalty);
    }
    if sampling.frequency_penalty != 0.0 {
        body["frequency_penalty"] = json!(sampling.frequency_penalty);
    }
    if sampling.top_k > 0 {
        body["top_k"] = json!(sampling.top_k);
    }
    if sampling.min_p > 0.0 {
        body["min_p"] = json!(sampling.min_p);
    }
    if sampling.repetition_penalty != 1.0 {
        body["repetition_penalty"] = json!(sampling.repetition_penalty);
    }
    if !sampling.logit_bias.is_empty() {
        let bias: serde_json::Map<String, Value> = sampling
            .logit_bias
            .iter()
            .map(|(t, b)| (t.to_string(), json!(b)))
            .collect();
        body["logit_bias"] = Value::Object(bias);
    }
    match &options.response_format {
        ResponseFormat::Text => {}
        ResponseFormat::JsonObject => body["response_format"] = json!({"type": "json_object"}),
        ResponseFormat::JsonSchema { name, schema, .. } => {
            body["response_format"] =
                json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema}});
        }
    }
}

/// Reads the upstream's server-sent events into `events` until `[DONE]` or the end.
async fn relay(
    response: reqwest::Response,
    events: tokio::sync::mpsc::Sender<Event>,
    content: fn(&Value) -> Option<&str>,
) {
    let mut body = response.bytes_stream();
    let mut buffer: Vec<u8> = Vec::new();
    let mut finish = FinishReason::Stop;
    let mut usage = Usage::default();
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(error) => {
                let _ = events
                    .send(Event::Error(LlmError::Upstream(format!(
                        "the upstream stream broke: {}",
                        without_url(&error)
                    ))))
                    .await;
                return;
            }
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = buffer.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let Some(data) = line.trim_end().strip_prefix("data:") else {
                continue;
            };
            let data = data.trim();
            if data == "[DONE]" {
                let _ = events
                    .send(Event::Done {
                        finish_reason: finish,
                        usage,
                    })
                    .await;
                return;
            }
            let Ok(chunk) = serde_json::from_str::<Value>(data) else {
                continue;
            };
            if let Some(message) = chunk["error"]["message"].as_str() {
                let _ = events
                    .send(Event::Error(LlmError::Upstream(message.to_owned())))
                    .await;
                return;
            }
            if let Some(u) = chunk.get("usage").filter(|u| u.is_object()) {
                usage = Usage {
                    prompt_tokens: u["prompt_tokens"].as_u64().unwrap_or(0) as usize,
                    completion_tokens: u["completion_tokens"].as_u64().unwrap_or(0) as usize,
                };
            }
            let choice = &chunk["choices"][0];
            if choice["finish_reason"] == "length" {
                finish = FinishReason::Length;
            }
            if let Some(text) = content(choice).filter(|t| !t.is_empty())
                && events.send(Event::Text(text.to_owned())).await.is_err()
            {
                // The client left: dropping the body closes the upstream connection too.
                return;
            }
        }
    }
    let _ = events
        .send(Event::Done {
            finish_reason: finish,
            usage,
        })
        .await;
}

#[async_trait]
impl Backend for UpstreamBackend {
    fn models(&self) -> Vec<ModelCard> {
        self.models
            .iter()
            .map(|m| ModelCard {
                id: m.id.clone(),
                kind: m.kind,
                owned_by: "upstream".into(),
                context_length: None,
                dimensions: None,
            })
            .collect()
    }

    async fn chat(
        &self,
        model: &str,
        messages: Vec<Message>,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError> {
        let body = json!({"model": self.remote(model)?, "messages": messages});
        self.generate("chat/completions", body, &options, |choice| {
            choice["delta"]["content"].as_str()
        })
        .await
    }

    async fn complete(
        &self,
        model: &str,
        prompt: String,
        options: GenerationOptions,
    ) -> Result<EventStream, LlmError> {
        let body = json!({"model": self.remote(model)?, "prompt": prompt});
        self.generate("completions", body, &options, |choice| {
            choice["text"].as_str()
        })
        .await
    }

    async fn embed(
        &self,
        model: &str,
        inputs: Vec<String>,
        _truncate: bool,
    ) -> Result<Embeddings, LlmError> {
        let body = json!({"model": self.remote(model)?, "input": inputs});
        let answer: Value = self
            .post("embeddings", &body)
            .await?
            .json()
            .await
            .map_err(|e| LlmError::Upstream(format!("the upstream answer: {}", without_url(&e))))?;
        let mut data: Vec<&Value> = answer["data"]
            .as_array()
            .map(|d| d.iter().collect())
            .unwrap_or_default();
        data.sort_by_key(|d| d["index"].as_u64().unwrap_or(0));
        let vectors = data
            .iter()
            .map(|d| {
                d["embedding"]
                    .as_array()
                    .map(|v| {
                        v.iter()
                            .filter_map(Value::as_f64)
                            .map(|x| x as f32)
                            .collect()
                    })
                    .ok_or_else(|| LlmError::Upstream("an embedding is not a float array".into()))
            })
            .collect::<Result<Vec<Vec<f32>>, _>>()?;
        if vectors.len() != inputs.len() {
            return Err(LlmError::Upstream(format!(
                "the upstream server sent {} embeddings for {} inputs",
                vectors.len(),
                inputs.len()
            )));
        }
        Ok(Embeddings {
            vectors,
            prompt_tokens: answer["usage"]["prompt_tokens"].as_u64().unwrap_or(0) as usize,
        })
    }
}
