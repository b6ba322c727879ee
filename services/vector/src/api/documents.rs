//! Documents: texts cut into chunks and embedded, searched as `{content, metadata, score}`,
//! replaced or deleted by document id (what n8n's and LangChain's vector store nodes expect).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use flowforge_service_kit::{ApiError, ApiJson};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{filter, point_id};
use crate::api::points::SearchMode;
use crate::domain::VectorError;
use crate::domain::collections::{NewPoint, Selector};
use crate::domain::documents::{
    CHUNK_KEY, CONTENT_KEY, Chunking, DOCUMENT_KEY, METADATA_KEY, chunk,
};
use crate::domain::search::DEFAULT_RRF_K;
use crate::domain::{Query, Search};
use crate::state::AppState;

/// Most documents one request may carry.
const MAX_DOCUMENTS: usize = 1000;
/// Most chunks one request may produce.
const MAX_CHUNKS: usize = 10_000;

/// One document.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DocumentInput {
    /// Writing a document with the same id again replaces all of its chunks.
    pub id: String,
    /// Text or Markdown.
    pub text: String,
    /// Kept with every chunk; filter on it as `metadata.<key>`.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Map<String, Value>>,
}

/// `POST collections/{name}/documents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"documents": [{"id": "handbook", "text": "Invoices are due in 30 days. The office opens at 9am.", "metadata": {"source": "handbook.md"}}], "chunkSize": 500, "chunkOverlap": 100}))]
pub struct InsertDocumentsRequest {
    pub documents: Vec<DocumentInput>,
    /// Most characters per chunk (default 1000).
    pub chunk_size: Option<usize>,
    /// Characters a chunk repeats from the one before (default 200).
    pub chunk_overlap: Option<usize>,
    /// `sentence` (default: cut between sentences) or `word`.
    pub split: Option<String>,
}

fn document_filter(ids: &[String]) -> Result<qdrant_edge::Filter, VectorError> {
    filter(Some(
        json!({"must": [{"key": DOCUMENT_KEY, "match": {"any": ids}}]}),
    ))?
    .ok_or_else(|| VectorError::Internal("no document filter".into()))
}

/// Insert or replace documents: each is chunked, embedded and written as points.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/documents",
    tag = "vector",
    params(("name" = String, Path, description = "A collection whose vectors are the embedding model's (the default)")),
    request_body = InsertDocumentsRequest,
    responses(
        (status = 200, description = "`{documents: n, chunks: n}`", body = Object),
        (status = 422, description = "Empty text, bad chunking, DIMENSION_MISMATCH", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn insert_documents(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<InsertDocumentsRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    if request.documents.is_empty() || request.documents.len() > MAX_DOCUMENTS {
        return Err(VectorError::invalid(
            "documents",
            format!("between 1 and {MAX_DOCUMENTS} documents"),
        )
        .into());
    }
    let chunking = Chunking {
        size: request.chunk_size.unwrap_or(1000),
        overlap: request.chunk_overlap.unwrap_or(200),
        by_sentence: match request.split.as_deref() {
            None | Some("sentence") => true,
            Some("word") => false,
            Some(other) => {
                return Err(VectorError::invalid(
                    "split",
                    format!("`{other}` is not one of sentence, word"),
                )
                .into());
            }
        },
    };
    if !(20..=100_000).contains(&chunking.size) {
        return Err(VectorError::invalid("chunkSize", "between 20 and 100000").into());
    }
    if chunking.overlap >= chunking.size {
        return Err(VectorError::invalid("chunkOverlap", "must be below chunkSize").into());
    }
    state.record("insert_documents");
    let embedder = state.embedder.clone();
    let (documents, chunks) = state
        .cpu
        .run(move || {
            let mut points = Vec::new();
            let mut texts = Vec::new();
            let mut ids = Vec::new();
            for (i, document) in request.documents.into_iter().enumerate() {
                if document.id.is_empty() {
                    return Err(VectorError::invalid(
                        &format!("documents[{i}].id"),
                        "must not be empty",
                    )
                    .into());
                }
                let pieces = chunk(&document.text, chunking);
                if pieces.is_empty() {
                    return Err(VectorError::invalid(
                        &format!("documents[{i}].text"),
                        "the text is empty",
                    )
                    .into());
                }
                let metadata = Value::Object(document.metadata.unwrap_or_default());
                for (n, piece) in pieces.into_iter().enumerate() {
                    let mut payload = Map::new();
                    payload.insert(CONTENT_KEY.into(), Value::String(piece.clone()));
                    payload.insert(METADATA_KEY.into(), metadata.clone());
                    payload.insert(DOCUMENT_KEY.into(), Value::String(document.id.clone()));
                    payload.insert(CHUNK_KEY.into(), json!(n));
                    points.push(NewPoint {
                        id: point_id(&json!(uuid::Uuid::new_v4().to_string()), "id")?,
                        vectors: BTreeMap::new(),
                        payload,
                        text: Some(piece.clone()),
                    });
                    texts.push(piece);
                }
                ids.push(document.id);
            }
            if points.len() > MAX_CHUNKS {
                return Err(VectorError::invalid(
                    "documents",
                    format!("{} chunks; at most {MAX_CHUNKS} per request", points.len()),
                )
                .into());
            }
            let (space, _) = collection.vectors.space(None)?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            for (point, vector) in points.iter_mut().zip(embedder.embed(&refs)?) {
                point.vectors.insert(space.clone(), vector);
            }
            // The old chunks go only once the new ones are ready to be written.
            collection.delete(Selector::Filter(document_filter(&ids)?))?;
            let chunks = points.len();
            collection.upsert(points)?;
            Ok((ids.len(), chunks))
        })
        .await?;
    Ok(Json(json!({"documents": documents, "chunks": chunks})))
}

/// `POST collections/{name}/documents/search`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"query": "When do I have to pay?", "limit": 4}))]
pub struct SearchDocumentsRequest {
    pub query: String,
    /// Default 4.
    pub limit: Option<usize>,
    /// A Qdrant filter; metadata keys are `metadata.<key>`.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    pub score_threshold: Option<f32>,
    /// `dense` (default), `keywords` or `hybrid` (collections created with `keywords`).
    #[serde(default)]
    pub mode: SearchMode,
}

/// The chunks nearest to a query, as `{content, metadata, score, documentId}`.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/documents/search",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = SearchDocumentsRequest,
    responses((status = 200, description = "`{results: [{content, metadata, score, documentId}]}`", body = Object))
)]
pub async fn search_documents(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SearchDocumentsRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let limit = request.limit.unwrap_or(4);
    if !(1..=1000).contains(&limit) {
        return Err(VectorError::invalid("limit", "between 1 and 1000").into());
    }
    let filter = filter(request.filter)?;
    state.record("search_documents");
    let embedder = state.embedder.clone();
    if request.query.trim().is_empty() {
        return Err(VectorError::invalid("query", "the query is empty").into());
    }
    let found = state
        .cpu
        .run(move || {
            let embed = || -> Result<Vec<f32>, VectorError> {
                embedder
                    .embed(&[request.query.as_str()])?
                    .pop()
                    .ok_or_else(|| VectorError::Internal("no embedding".into()))
            };
            let query = match request.mode {
                SearchMode::Dense => Query::Nearest(embed()?),
                SearchMode::Keywords => Query::Keywords(request.query.clone()),
                SearchMode::Hybrid => Query::Hybrid {
                    vector: embed()?,
                    text: request.query.clone(),
                    rrf_k: DEFAULT_RRF_K,
                },
            };
            Ok(collection.search(Search {
                query,
                using: None,
                filter,
                limit,
                offset: 0,
                score_threshold: request.score_threshold,
                with_payload: true,
                with_vector: false,
                exact: false,
                hnsw_ef: None,
            })?)
        })
        .await?;
    let results: Vec<Value> = found
        .iter()
        .map(|point| {
            let payload = point.payload.as_ref().map(|p| &p.0);
            let get = |key: &str| {
                payload
                    .and_then(|p| p.get(key))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            json!({"content": get(CONTENT_KEY), "metadata": get(METADATA_KEY),
                "score": point.score, "documentId": get(DOCUMENT_KEY)})
        })
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// `POST collections/{name}/documents/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeleteDocumentsRequest {
    pub ids: Vec<String>,
}

/// Delete documents (all their chunks).
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/documents/delete",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = DeleteDocumentsRequest,
    responses((status = 200, description = "`{deleted: true}`", body = Object))
)]
pub async fn delete_documents(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<DeleteDocumentsRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    if request.ids.is_empty() {
        return Err(VectorError::invalid("ids", "name at least one document").into());
    }
    state.record("delete_documents");
    let selector = Selector::Filter(document_filter(&request.ids)?);
    state
        .cpu
        .run(move || Ok(collection.delete(selector)?))
        .await?;
    Ok(Json(json!({"deleted": true})))
}
