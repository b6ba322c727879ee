//! `chat/completions` and `completions`, whole or streamed as server-sent events.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event as SseEvent, Sse};
use axum::response::{IntoResponse, Response};
use flowforge_service_kit::{ApiError, current_request_id};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{OneOrMany, OpenAiJson, unix_now};
use crate::domain::backend::ModelKind;
use crate::domain::{
    Event, EventStream, FinishReason, GenerationOptions, Grammar, LlmError, Message,
    ResponseFormat, SamplingParams, Usage,
};
use crate::errors::OpenAiError;
use crate::state::AppState;

/// Most stop strings one request may give (OpenAI's limit).
const MAX_STOP_STRINGS: usize = 4;

/// Sampling and output options shared by `chat/completions` and `completions`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct GenerationFields {
    /// The most tokens to generate (default: what the context leaves, up to the service's cap).
    pub max_tokens: Option<usize>,
    /// OpenAI's newer name for `max_tokens`.
    pub max_completion_tokens: Option<usize>,
    /// 0–2 (default 1); 0 always takes the most likely token.
    pub temperature: Option<f32>,
    /// Nucleus sampling, (0, 1] (default 1).
    pub top_p: Option<f32>,
    /// Keep only the k most likely tokens (0 or -1: all).
    pub top_k: Option<i64>,
    /// Drop tokens less likely than this fraction of the most likely one, 0–1.
    pub min_p: Option<f32>,
    /// > 0; above 1 discourages tokens already in the prompt or output (default 1).
    pub repetition_penalty: Option<f32>,
    /// −2–2: lowers tokens that already appeared.
    pub presence_penalty: Option<f32>,
    /// −2–2: lowers tokens by how often they appeared.
    pub frequency_penalty: Option<f32>,
    /// Up to 4 strings that end generation; they are not returned.
    pub stop: Option<OneOrMany>,
    /// The same seed and options give the same text.
    pub seed: Option<u64>,
    /// Token id (as a string) → bias added to its logit, −100–100.
    pub logit_bias: Option<HashMap<String, f32>>,
    /// Completions to generate; only 1 is offered.
    pub n: Option<u32>,
    /// `{"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema"}}`.
    pub response_format: Option<ResponseFormatRequest>,
    /// Send the text as server-sent events as it is generated.
    #[serde(default)]
    pub stream: bool,
    /// `{"include_usage": true}` adds a last chunk with the token counts.
    pub stream_options: Option<StreamOptions>,
    /// Token log-probabilities are not offered; `true` is refused.
    pub logprobs: Option<bool>,
    /// Tool calls are not offered; a non-empty list is refused.
    #[schema(value_type = Option<Vec<Object>>)]
    pub tools: Option<Vec<Value>>,
}

/// `stream_options`.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct StreamOptions {
    #[serde(default)]
    pub include_usage: bool,
}

/// `response_format`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ResponseFormatRequest {
    /// `text`, `json_object` or `json_schema`.
    #[serde(rename = "type")]
    pub kind: String,
    pub json_schema: Option<JsonSchemaFormat>,
}

/// `response_format.json_schema`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct JsonSchemaFormat {
    #[serde(default)]
    pub name: String,
    /// The JSON Schema the output must follow.
    #[schema(value_type = Object)]
    pub schema: Value,
    /// Accepted for compatibility: output always follows the schema.
    pub strict: Option<bool>,
}

/// One message of the conversation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChatMessage {
    /// `system` (or `developer`), `user` or `assistant`.
    pub role: String,
    /// Text, or a list of `{"type": "text", "text": …}` parts.
    pub content: Option<MessageContent>,
    /// Accepted and ignored.
    pub name: Option<String>,
}

/// A message's content.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum MessageContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

/// One part of a message's content.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ContentPart {
    /// Only `text` is offered.
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
}

/// `POST chat/completions`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16, "temperature": 0}))]
pub struct ChatCompletionRequest {
    /// A model from `GET models` (default: the first chat model).
    pub model: Option<String>,
    pub messages: Vec<ChatMessage>,
    #[serde(flatten)]
    pub generation: GenerationFields,
}

/// `POST completions`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"model": "smollm2-135m-instruct", "prompt": "The capital of France is", "max_tokens": 8, "temperature": 0}))]
pub struct CompletionRequest {
    pub model: Option<String>,
    /// The text to continue (a list of one is accepted too).
    pub prompt: OneOrMany,
    #[serde(flatten)]
    pub generation: GenerationFields,
}

/// Token counts.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct UsageResponse {
    pub prompt_tokens: usize,
    pub completion_tokens: usize,
    pub total_tokens: usize,
}

impl From<Usage> for UsageResponse {
    fn from(usage: Usage) -> Self {
        Self {
            prompt_tokens: usage.prompt_tokens,
            completion_tokens: usage.completion_tokens,
            total_tokens: usage.prompt_tokens + usage.completion_tokens,
        }
    }
}

/// The assistant's reply.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssistantMessage {
    /// `assistant`.
    pub role: &'static str,
    pub content: String,
}

/// One choice of a chat completion.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatChoice {
    pub index: u32,
    pub message: AssistantMessage,
    /// Always null (log-probabilities are not offered).
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    /// `stop` (end of turn, a stop string, or complete JSON) or `length`.
    pub finish_reason: &'static str,
}

/// A chat completion (`object: chat.completion`).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChatCompletionResponse {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<ChatChoice>,
    pub usage: UsageResponse,
}

/// One choice of a text completion.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionChoice {
    pub index: u32,
    pub text: String,
    #[schema(value_type = Option<Object>)]
    pub logprobs: Option<Value>,
    pub finish_reason: &'static str,
}

/// A text completion (`object: text_completion`).
#[derive(Debug, Serialize, ToSchema)]
pub struct CompletionResponse {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub model: String,
    pub choices: Vec<CompletionChoice>,
    pub usage: UsageResponse,
}

fn check_range(field: &str, value: Option<f32>, min: f32, max: f32) -> Result<(), LlmError> {
    match value {
        Some(v) if !(min..=max).contains(&v) || v.is_nan() => Err(LlmError::invalid(
            field,
            format!("must be between {min} and {max}"),
        )),
        _ => Ok(()),
    }
}

/// The domain's options from the request's fields, each checked.
fn generation_options(fields: &GenerationFields) -> Result<(GenerationOptions, bool), LlmError> {
    check_range("temperature", fields.temperature, 0.0, 2.0)?;
    check_range("top_p", fields.top_p, f32::MIN_POSITIVE, 1.0)?;
    check_range("min_p", fields.min_p, 0.0, 1.0)?;
    check_range("presence_penalty", fields.presence_penalty, -2.0, 2.0)?;
    check_range("frequency_penalty", fields.frequency_penalty, -2.0, 2.0)?;
    check_range("repetition_penalty", fields.repetition_penalty, 0.01, 10.0)?;
    if fields.n.is_some_and(|n| n != 1) {
        return Err(LlmError::Unsupported {
            field: "n".into(),
            message: "only one completion per request is offered (n = 1)".into(),
        });
    }
    if fields.logprobs == Some(true) {
        return Err(LlmError::Unsupported {
            field: "logprobs".into(),
            message: "log-probabilities are not offered".into(),
        });
    }
    if fields.tools.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(LlmError::Unsupported {
            field: "tools".into(),
            message:
                "tool calls are not offered; use response_format json_schema for structured output"
                    .into(),
        });
    }
    let top_k = match fields.top_k {
        None | Some(-1) | Some(0) => 0,
        Some(k) if k > 0 => k as usize,
        Some(_) => return Err(LlmError::invalid("top_k", "must be -1, 0 or positive")),
    };
    let stop = fields
        .stop
        .clone()
        .map(OneOrMany::into_vec)
        .unwrap_or_default();
    if stop.len() > MAX_STOP_STRINGS {
        return Err(LlmError::invalid(
            "stop",
            format!("at most {MAX_STOP_STRINGS} stop strings"),
        ));
    }
    let mut logit_bias = Vec::new();
    for (token, bias) in fields.logit_bias.iter().flatten() {
        let id = token
            .parse::<u32>()
            .map_err(|_| LlmError::invalid("logit_bias", format!("`{token}` is not a token id")))?;
        if !(-100.0..=100.0).contains(bias) {
            return Err(LlmError::invalid(
                "logit_bias",
                "biases must be between -100 and 100",
            ));
        }
        logit_bias.push((id, *bias));
    }
    let response_format =
        match &fields.response_format {
            None => ResponseFormat::Text,
            Some(format) => match (format.kind.as_str(), &format.json_schema) {
                ("text", _) => ResponseFormat::Text,
                ("json_object", _) => ResponseFormat::JsonObject,
                ("json_schema", Some(spec)) => ResponseFormat::JsonSchema {
                    name: spec.name.clone(),
                    grammar: Arc::new(Grammar::from_schema(&spec.schema).map_err(|e| {
                        LlmError::invalid("response_format.json_schema.schema", e.0)
                    })?),
                    schema: spec.schema.clone(),
                },
                ("json_schema", None) => {
                    return Err(LlmError::invalid(
                        "response_format.json_schema",
                        "json_schema needs {\"name\", \"schema\"}",
                    ));
                }
                (other, _) => {
                    return Err(LlmError::invalid(
                        "response_format.type",
                        format!("`{other}` is not one of text, json_object, json_schema"),
                    ));
                }
            },
        };
    let options = GenerationOptions {
        max_tokens: fields.max_completion_tokens.or(fields.max_tokens),
        sampling: SamplingParams {
            temperature: fields.temperature.unwrap_or(1.0),
            top_p: fields.top_p.unwrap_or(1.0),
            top_k,
            min_p: fields.min_p.unwrap_or(0.0),
            repetition_penalty: fields.repetition_penalty.unwrap_or(1.0),
            presence_penalty: fields.presence_penalty.unwrap_or(0.0),
            frequency_penalty: fields.frequency_penalty.unwrap_or(0.0),
            logit_bias,
            seed: fields.seed,
        },
        stop,
        response_format,
    };
    let include_usage = fields
        .stream_options
        .as_ref()
        .is_some_and(|o| o.include_usage);
    Ok((options, include_usage))
}

pub(crate) fn messages(request: Vec<ChatMessage>) -> Result<Vec<Message>, LlmError> {
    if request.is_empty() {
        return Err(LlmError::invalid(
            "messages",
            "at least one message is needed",
        ));
    }
    request
        .into_iter()
        .enumerate()
        .map(|(i, message)| {
            let role = match message.role.as_str() {
                "system" | "developer" => "system",
                "user" => "user",
                "assistant" => "assistant",
                other => {
                    return Err(LlmError::Unsupported {
                        field: format!("messages[{i}].role"),
                        message: format!(
                            "role `{other}` is not offered (system, developer, user, assistant)"
                        ),
                    });
                }
            };
            let content = match message.content {
                None => String::new(),
                Some(MessageContent::Text(text)) => text,
                Some(MessageContent::Parts(parts)) => {
                    let mut text = String::new();
                    for (j, part) in parts.into_iter().enumerate() {
                        match (part.kind.as_str(), part.text) {
                            ("text", Some(t)) => text.push_str(&t),
                            (kind, _) => {
                                return Err(LlmError::Unsupported {
                                    field: format!("messages[{i}].content[{j}]"),
                                    message: format!(
                                        "content of type `{kind}` is not offered; send text"
                                    ),
                                });
                            }
                        }
                    }
                    text
                }
            };
            Ok(Message {
                role: role.to_owned(),
                content,
            })
        })
        .collect()
}

/// The whole text of a generation.
async fn collect(mut events: EventStream) -> Result<(String, FinishReason, Usage), LlmError> {
    let mut text = String::new();
    while let Some(event) = events.recv().await {
        match event {
            Event::Text(piece) => text.push_str(&piece),
            Event::Done {
                finish_reason,
                usage,
            } => return Ok((text, finish_reason, usage)),
            Event::Error(error) => return Err(error),
        }
    }
    Err(LlmError::Internal(
        "the generation ended without finishing".into(),
    ))
}

/// Create a chat completion (OpenAI's API; `stream: true` for server-sent events).
#[utoipa::path(
    post,
    path = "/api/v1/llm/chat/completions",
    tag = "llm",
    request_body = ChatCompletionRequest,
    responses(
        (status = 200, description = "The reply; with `stream: true`, `text/event-stream` chunks ending in `data: [DONE]`", body = ChatCompletionResponse),
        (status = 422, description = "Bad options, unknown model, or a prompt too long for the context", body = flowforge_service_kit::ErrorEnvelope),
        (status = 429, description = "The generation queue is full (`QUEUE_FULL`, with Retry-After)", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn create_chat_completion(
    State(state): State<AppState>,
    OpenAiJson(request): OpenAiJson<ChatCompletionRequest>,
) -> Result<Response, OpenAiError> {
    let (options, include_usage) = generation_options(&request.generation)?;
    let messages = messages(request.messages)?;
    let (model, backend) = state
        .registry
        .resolve(request.model.as_deref(), ModelKind::Chat)?;
    state.record("chat", &model);
    let events = backend.chat(&model, messages, options).await?;
    let writer = ChunkWriter::new("chatcmpl", true, model, include_usage);
    if request.generation.stream {
        return Ok(writer.stream(events));
    }
    let (text, finish, usage) = collect(events).await?;
    Ok(Json(ChatCompletionResponse {
        id: writer.id,
        object: "chat.completion",
        created: writer.created,
        model: writer.model,
        choices: vec![ChatChoice {
            index: 0,
            message: AssistantMessage {
                role: "assistant",
                content: text,
            },
            logprobs: None,
            finish_reason: finish.as_str(),
        }],
        usage: usage.into(),
    })
    .into_response())
}

/// Create a text completion (OpenAI's legacy API; `stream: true` for server-sent events).
#[utoipa::path(
    post,
    path = "/api/v1/llm/completions",
    tag = "llm",
    request_body = CompletionRequest,
    responses(
        (status = 200, description = "The continuation; with `stream: true`, `text/event-stream` chunks ending in `data: [DONE]`", body = CompletionResponse),
        (status = 422, description = "Bad options, unknown model, or a prompt too long", body = flowforge_service_kit::ErrorEnvelope),
        (status = 429, description = "The generation queue is full", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn create_completion(
    State(state): State<AppState>,
    OpenAiJson(request): OpenAiJson<CompletionRequest>,
) -> Result<Response, OpenAiError> {
    let (options, include_usage) = generation_options(&request.generation)?;
    let prompt = match request.prompt.into_vec().as_slice() {
        [one] if !one.is_empty() => one.clone(),
        [_] => return Err(LlmError::invalid("prompt", "the prompt is empty").into()),
        _ => {
            return Err(LlmError::Unsupported {
                field: "prompt".into(),
                message: "send one prompt per request".into(),
            }
            .into());
        }
    };
    let (model, backend) = state
        .registry
        .resolve(request.model.as_deref(), ModelKind::Chat)?;
    state.record("completion", &model);
    let events = backend.complete(&model, prompt, options).await?;
    let writer = ChunkWriter::new("cmpl", false, model, include_usage);
    if request.generation.stream {
        return Ok(writer.stream(events));
    }
    let (text, finish, usage) = collect(events).await?;
    Ok(Json(CompletionResponse {
        id: writer.id,
        object: "text_completion",
        created: writer.created,
        model: writer.model,
        choices: vec![CompletionChoice {
            index: 0,
            text,
            logprobs: None,
            finish_reason: finish.as_str(),
        }],
        usage: usage.into(),
    })
    .into_response())
}

/// Writes the chunks of a streamed completion as OpenAI does.
#[derive(Debug, Clone)]
struct ChunkWriter {
    id: String,
    created: u64,
    model: String,
    chat: bool,
    include_usage: bool,
    request_id: Option<String>,
}

impl ChunkWriter {
    fn new(prefix: &str, chat: bool, model: String, include_usage: bool) -> Self {
        Self {
            id: format!("{prefix}-{}", uuid::Uuid::new_v4().simple()),
            created: unix_now(),
            model,
            chat,
            include_usage,
            // The stream outlives the handler, and with it the request-id scope.
            request_id: current_request_id(),
        }
    }

    fn chunk(&self, choice: Option<Value>, usage: Option<Usage>) -> SseEvent {
        let mut chunk = json!({
            "id": self.id,
            "object": if self.chat { "chat.completion.chunk" } else { "text_completion" },
            "created": self.created,
            "model": self.model,
            "choices": choice.map_or_else(Vec::new, |c| vec![c]),
        });
        if self.include_usage {
            chunk["usage"] = usage.map_or(Value::Null, |u| json!(UsageResponse::from(u)));
        }
        SseEvent::default().data(chunk.to_string())
    }

    fn choice(&self, text: Option<&str>, finish: Option<FinishReason>) -> Value {
        let finish = finish.map(FinishReason::as_str);
        if self.chat {
            let delta = text.map_or_else(|| json!({}), |t| json!({"content": t}));
            json!({"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish})
        } else {
            json!({"index": 0, "text": text.unwrap_or_default(), "logprobs": null, "finish_reason": finish})
        }
    }

    fn error(&self, error: LlmError) -> SseEvent {
        let mut body = OpenAiError(ApiError::from(error)).body();
        if let Some(id) = &self.request_id {
            body["error"]["requestId"] = json!(id);
        }
        SseEvent::default().data(body.to_string())
    }

    /// What one event of the generation becomes.
    fn events(&self, event: Option<Event>) -> Vec<SseEvent> {
        let done = SseEvent::default().data("[DONE]");
        match event {
            Some(Event::Text(text)) => vec![self.chunk(Some(self.choice(Some(&text), None)), None)],
            Some(Event::Done {
                finish_reason,
                usage,
            }) => {
                let mut out = vec![self.chunk(Some(self.choice(None, Some(finish_reason))), None)];
                if self.include_usage {
                    out.push(self.chunk(None, Some(usage)));
                }
                out.push(done);
                out
            }
            Some(Event::Error(error)) => vec![self.error(error), done],
            None => vec![
                self.error(LlmError::Internal(
                    "the generation ended without finishing".into(),
                )),
                done,
            ],
        }
    }

    /// The response streaming `events`; when the client goes, the stream and the generation
    /// behind it are dropped.
    fn stream(self, events: EventStream) -> Response {
        let head = self.chat.then(|| {
            self.chunk(
                Some(
                    json!({"index": 0, "delta": {"role": "assistant", "content": ""},
                    "logprobs": null, "finish_reason": null}),
                ),
                None,
            )
        });
        let writer = self;
        let body = futures_util::stream::unfold(Some(events), move |events| {
            let writer = writer.clone();
            async move {
                let mut events = events?;
                let event = events.recv().await;
                let last = !matches!(event, Some(Event::Text(_)));
                Some((writer.events(event), (!last).then_some(events)))
            }
        })
        .flat_map(futures_util::stream::iter);
        let all = futures_util::stream::iter(head)
            .chain(body)
            .map(Ok::<_, Infallible>);
        Sse::new(all).into_response()
    }
}
