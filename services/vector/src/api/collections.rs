//! Collections: create, list, describe, delete, payload indexes.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::domain::VectorError;
use crate::domain::collections::{
    CollectionSettings, DistanceName, KeywordSettings, VectorSpace, VectorsConfig,
};
use crate::state::AppState;

/// `PUT collections/{name}`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"vectors": {"size": 384, "distance": "cosine"}}))]
pub struct CreateCollectionRequest {
    /// `{"size", "distance"}` (cosine, dot, euclid, manhattan), or named spaces
    /// `{"image": {"size", "distance"}, …}`. Default: the embedding model's 384 dimensions, cosine.
    #[schema(value_type = Option<Object>)]
    pub vectors: Option<Value>,
    /// BM25 keyword search over the points' texts (`text`, or documents' chunks): `true`, or
    /// `{"language": "german"}` for that language's stop words and stemmer (default english).
    #[schema(value_type = Option<Object>)]
    pub keywords: Option<Value>,
}

/// A collection and its counts.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CollectionResponse {
    pub name: String,
    #[schema(value_type = Object)]
    pub vectors: Value,
    /// The keyword index's settings; absent when the collection has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub keywords: Option<Value>,
    pub points_count: usize,
    /// Vectors in the search index (the rest are scanned until the next optimization).
    pub indexed_vectors_count: usize,
    pub segments_count: usize,
    /// Indexed payload fields and their types.
    pub payload_indexes: BTreeMap<String, String>,
}

fn describe(collection: &crate::domain::Collection) -> CollectionResponse {
    let info = collection.info();
    CollectionResponse {
        name: collection.name.clone(),
        vectors: serde_json::to_value(&collection.vectors).unwrap_or(Value::Null),
        keywords: collection
            .keywords
            .as_ref()
            .map(|k| serde_json::to_value(&k.settings).unwrap_or(Value::Null)),
        points_count: info.points,
        indexed_vectors_count: info.indexed_vectors,
        segments_count: info.segments,
        payload_indexes: info.payload_indexes,
    }
}

/// Every collection.
#[utoipa::path(
    get,
    path = "/api/v1/vector/collections",
    tag = "vector",
    responses((status = 200, description = "`{collections: [{name, pointsCount}]}`", body = Object))
)]
pub async fn list_collections(State(state): State<AppState>) -> Json<Value> {
    let collections: Vec<Value> = state
        .store
        .list()
        .iter()
        .map(|c| json!({"name": c.name, "pointsCount": c.info().points}))
        .collect();
    Json(json!({ "collections": collections }))
}

/// Create a collection.
#[utoipa::path(
    put,
    path = "/api/v1/vector/collections/{name}",
    tag = "vector",
    params(("name" = String, Path, description = "1–64 letters, digits, `_` or `-`")),
    request_body = CreateCollectionRequest,
    responses(
        (status = 200, description = "The new collection", body = CollectionResponse),
        (status = 409, description = "COLLECTION_EXISTS", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn create_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Option<ApiJson<CreateCollectionRequest>>,
) -> Result<Json<CollectionResponse>, ApiError> {
    let request = request.map(|r| r.0).unwrap_or_default();
    let vectors = match request.vectors {
        None => VectorsConfig::Single(VectorSpace {
            size: flowforge_embeddings::DEFAULT_DIMENSIONS,
            distance: DistanceName::Cosine,
        }),
        Some(value) => serde_json::from_value(value).map_err(|e| {
            VectorError::invalid(
                "vectors",
                format!("expected {{\"size\", \"distance\"}} or named spaces: {e}"),
            )
        })?,
    };
    let keywords = match request.keywords {
        None | Some(Value::Null) | Some(Value::Bool(false)) => None,
        Some(Value::Bool(true)) => Some(KeywordSettings::default()),
        Some(value) => Some(serde_json::from_value(value).map_err(|e| {
            VectorError::invalid("keywords", format!("`true` or {{\"language\"}}: {e}"))
        })?),
    };
    state.record("create_collection");
    let store = state.store.clone();
    let settings = CollectionSettings { vectors, keywords };
    let collection = state
        .cpu
        .run(move || Ok(store.create(&name, settings)?))
        .await?;
    Ok(Json(describe(&collection)))
}

/// A collection's settings and counts.
#[utoipa::path(
    get,
    path = "/api/v1/vector/collections/{name}",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    responses(
        (status = 200, description = "The collection", body = CollectionResponse),
        (status = 404, description = "COLLECTION_NOT_FOUND", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn get_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<CollectionResponse>, ApiError> {
    let collection = state.store.get(&name)?;
    Ok(Json(describe(&collection)))
}

/// Delete a collection and its points.
#[utoipa::path(
    delete,
    path = "/api/v1/vector/collections/{name}",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    responses(
        (status = 200, description = "`{deleted: true}`", body = Object),
        (status = 404, description = "COLLECTION_NOT_FOUND", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn delete_collection(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.record("delete_collection");
    let store = state.store.clone();
    state.cpu.run(move || Ok(store.delete(&name)?)).await?;
    Ok(Json(json!({"deleted": true})))
}

/// Kinds of payload index.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum IndexType {
    Keyword,
    Integer,
    Float,
    Bool,
    Text,
    Uuid,
    Datetime,
    Geo,
}

/// `PUT collections/{name}/index`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"field": "city", "type": "keyword"}))]
pub struct CreateIndexRequest {
    /// A payload key (dotted for nested fields).
    pub field: String,
    #[serde(rename = "type")]
    pub kind: IndexType,
}

/// Index a payload field, for fast filtering on it.
#[utoipa::path(
    put,
    path = "/api/v1/vector/collections/{name}/index",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = CreateIndexRequest,
    responses((status = 200, description = "`{indexed: field}`", body = Object))
)]
pub async fn create_index(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<CreateIndexRequest>,
) -> Result<Json<Value>, ApiError> {
    use qdrant_edge::PayloadSchemaType as T;
    let kind = match request.kind {
        IndexType::Keyword => T::Keyword,
        IndexType::Integer => T::Integer,
        IndexType::Float => T::Float,
        IndexType::Bool => T::Bool,
        IndexType::Text => T::Text,
        IndexType::Uuid => T::Uuid,
        IndexType::Datetime => T::Datetime,
        IndexType::Geo => T::Geo,
    };
    let collection = state.store.get(&name)?;
    state.record("create_index");
    let field = request.field.clone();
    state
        .cpu
        .run(move || Ok(collection.create_index(&field, kind)?))
        .await?;
    Ok(Json(json!({"indexed": request.field})))
}
