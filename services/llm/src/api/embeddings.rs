//! `embeddings` (OpenAI's shape) and `rerank` (Cohere's and TEI's shape, scored by embeddings).

use axum::Json;
use axum::extract::State;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::OpenAiJson;
use crate::domain::LlmError;
use crate::domain::backend::ModelKind;
use crate::errors::OpenAiError;
use crate::state::AppState;

/// Most inputs one request may embed (OpenAI's limit).
const MAX_INPUTS: usize = 2048;

/// `POST embeddings`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"model": "all-minilm-l6-v2", "input": ["A man is eating food.", "A man is eating a piece of bread."]}))]
pub struct EmbeddingsRequest {
    /// A model from `GET models` (default: the first embedding model).
    pub model: Option<String>,
    /// A string or a list of strings (token arrays are not offered).
    #[schema(value_type = Object)]
    pub input: Value,
    /// `float` (default) or `base64` (little-endian float32).
    pub encoding_format: Option<String>,
    /// Keep the first n dimensions, renormalized.
    pub dimensions: Option<usize>,
    /// Cut inputs longer than the model reads instead of refusing them (default false).
    #[serde(default)]
    pub truncate: bool,
    /// Accepted and ignored.
    pub user: Option<String>,
}

/// One embedding.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingData {
    /// `embedding`.
    pub object: &'static str,
    pub index: usize,
    /// Floats, or a base64 string with `encoding_format: base64`.
    #[schema(value_type = Object)]
    pub embedding: Value,
}

/// Token counts of an embedding request.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingUsage {
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// The embeddings, in input order.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingsResponse {
    /// `list`.
    pub object: &'static str,
    pub data: Vec<EmbeddingData>,
    pub model: String,
    pub usage: EmbeddingUsage,
}

fn inputs(input: Value) -> Result<Vec<String>, LlmError> {
    let texts = match input {
        Value::String(one) => vec![one],
        Value::Array(items) if items.iter().all(Value::is_string) => items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Value::Array(items) if items.iter().all(|v| v.is_number() || v.is_array()) => {
            return Err(LlmError::Unsupported {
                field: "input".into(),
                message: "token arrays are not offered; send text".into(),
            });
        }
        _ => {
            return Err(LlmError::invalid(
                "input",
                "must be a string or a list of strings",
            ));
        }
    };
    if texts.is_empty() {
        return Err(LlmError::invalid("input", "at least one input is needed"));
    }
    if texts.len() > MAX_INPUTS {
        return Err(LlmError::invalid(
            "input",
            format!("at most {MAX_INPUTS} inputs per request"),
        ));
    }
    Ok(texts)
}

/// The first `dimensions` components of `vector`, back to unit length.
fn shorten(mut vector: Vec<f32>, dimensions: usize) -> Vec<f32> {
    vector.truncate(dimensions);
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
    vector
}

/// Create embeddings (OpenAI's API): unit-length vectors, batched with concurrent requests.
#[utoipa::path(
    post,
    path = "/api/v1/llm/embeddings",
    tag = "llm",
    request_body = EmbeddingsRequest,
    responses(
        (status = 200, description = "One embedding per input", body = EmbeddingsResponse),
        (status = 422, description = "Empty input, too many tokens (`TOO_MANY_TOKENS`), unknown model, bad dimensions", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn create_embeddings(
    State(state): State<AppState>,
    OpenAiJson(request): OpenAiJson<EmbeddingsRequest>,
) -> Result<Json<EmbeddingsResponse>, OpenAiError> {
    let base64 = match request.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(LlmError::invalid(
                "encoding_format",
                format!("`{other}` is not one of float, base64"),
            )
            .into());
        }
    };
    let texts = inputs(request.input)?;
    let (model, backend) = state
        .registry
        .resolve(request.model.as_deref(), ModelKind::Embedding)?;
    state.record("embeddings", &model);
    let embedded = backend.embed(&model, texts, request.truncate).await?;
    let native = embedded.vectors.first().map_or(0, Vec::len);
    let dimensions = match request.dimensions {
        None => native,
        Some(d) if (1..=native).contains(&d) => d,
        Some(d) => {
            return Err(LlmError::invalid(
                "dimensions",
                format!("{model} gives {native} dimensions; asked for {d}"),
            )
            .into());
        }
    };
    let data = embedded
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| {
            let vector = if dimensions < native {
                shorten(vector, dimensions)
            } else {
                vector
            };
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                serde_json::json!(vector)
            };
            EmbeddingData {
                object: "embedding",
                index,
                embedding,
            }
        })
        .collect();
    Ok(Json(EmbeddingsResponse {
        object: "list",
        data,
        model,
        usage: EmbeddingUsage {
            prompt_tokens: embedded.prompt_tokens,
            total_tokens: embedded.prompt_tokens,
        },
    }))
}

/// A document to rerank: text, or `{"text": …}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum RerankDocument {
    Text(String),
    Object { text: String },
}

/// `POST rerank`.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"query": "What do people eat?", "documents": ["A man is eating food.", "The girl is carrying a baby."], "top_n": 1}))]
pub struct RerankRequest {
    /// An embedding model (default: the first).
    pub model: Option<String>,
    pub query: String,
    pub documents: Vec<RerankDocument>,
    /// Return only the best n (default all).
    pub top_n: Option<usize>,
    /// Include each document's text in the results (default true).
    pub return_documents: Option<bool>,
    /// Cut texts longer than the model reads instead of refusing them (default false).
    #[serde(default)]
    pub truncate: bool,
}

/// A document's text in a rerank result.
#[derive(Debug, Serialize, ToSchema)]
pub struct RerankedText {
    pub text: String,
}

/// One document's place.
#[derive(Debug, Serialize, ToSchema)]
pub struct RerankResult {
    /// The document's position in the request.
    pub index: usize,
    /// Cosine similarity of the query and the document, −1–1.
    pub relevance_score: f32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<RerankedText>,
}

/// Documents from most to least relevant.
#[derive(Debug, Serialize, ToSchema)]
pub struct RerankResponse {
    pub model: String,
    pub results: Vec<RerankResult>,
    pub usage: EmbeddingUsage,
}

/// Rank documents by relevance to a query (cosine similarity of their embeddings).
#[utoipa::path(
    post,
    path = "/api/v1/llm/rerank",
    tag = "llm",
    request_body = RerankRequest,
    responses(
        (status = 200, description = "Documents by relevance", body = RerankResponse),
        (status = 422, description = "Empty query or documents, too many tokens, unknown model", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn rerank(
    State(state): State<AppState>,
    OpenAiJson(request): OpenAiJson<RerankRequest>,
) -> Result<Json<RerankResponse>, OpenAiError> {
    if request.query.is_empty() {
        return Err(LlmError::invalid("query", "the query is empty").into());
    }
    if request.documents.is_empty() || request.documents.len() >= MAX_INPUTS {
        return Err(LlmError::invalid(
            "documents",
            format!("between 1 and {} documents", MAX_INPUTS - 1),
        )
        .into());
    }
    let documents: Vec<String> = request
        .documents
        .into_iter()
        .map(|d| match d {
            RerankDocument::Text(text) | RerankDocument::Object { text } => text,
        })
        .collect();
    if let Some(i) = documents.iter().position(String::is_empty) {
        return Err(LlmError::invalid(&format!("documents[{i}]"), "a document is empty").into());
    }
    let (model, backend) = state
        .registry
        .resolve(request.model.as_deref(), ModelKind::Embedding)?;
    state.record("rerank", &model);
    let mut texts = Vec::with_capacity(documents.len() + 1);
    texts.push(request.query);
    texts.extend(documents.iter().cloned());
    let embedded = backend.embed(&model, texts, request.truncate).await?;
    let (query, vectors) = embedded
        .vectors
        .split_first()
        .ok_or_else(|| LlmError::Internal("no query embedding".into()))?;
    let mut results: Vec<RerankResult> = vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| RerankResult {
            index,
            relevance_score: flowforge_embeddings::cosine(query, vector),
            document: None,
        })
        .collect();
    results.sort_by(|a, b| b.relevance_score.total_cmp(&a.relevance_score));
    results.truncate(request.top_n.unwrap_or(usize::MAX));
    if request.return_documents.unwrap_or(true) {
        for result in &mut results {
            result.document = Some(RerankedText {
                text: documents[result.index].clone(),
            });
        }
    }
    Ok(Json(RerankResponse {
        model,
        results,
        usage: EmbeddingUsage {
            prompt_tokens: embedded.prompt_tokens,
            total_tokens: embedded.prompt_tokens,
        },
    }))
}
