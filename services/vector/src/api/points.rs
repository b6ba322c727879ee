//! Points: upsert (vectors or texts), get, delete, payloads, scroll, count, search.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use flowforge_service_kit::{ApiError, ApiJson};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{filter, point_id, vectors_json};
use crate::domain::VectorError;
use crate::domain::collections::{NewPoint, Selector, VectorsConfig};
use crate::domain::embed::TextEmbedder;
use crate::domain::search::DEFAULT_RRF_K;
use crate::domain::{Example, Query, RecommendStrategy, Search};
use crate::state::AppState;

/// Most points one upsert may carry.
const MAX_POINTS: usize = 10_000;
/// Most results one search or scroll may return.
const MAX_LIMIT: usize = 10_000;
/// The payload key a point's text is kept under when it was given as text.
pub const TEXT_KEY: &str = "text";

/// One point to write.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PointInput {
    /// An unsigned integer or a UUID string.
    #[schema(value_type = Object)]
    pub id: Value,
    /// The vector, or named vectors `{"name": [...]}`.
    #[schema(value_type = Option<Object>)]
    pub vector: Option<Value>,
    /// Text to embed instead of a vector (kept in the payload as `text`).
    pub text: Option<String>,
    /// Any JSON object.
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Map<String, Value>>,
}

/// `PUT collections/{name}/points`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"points": [{"id": 1, "text": "A man is eating food.", "payload": {"city": "Berlin"}}]}))]
pub struct UpsertRequest {
    pub points: Vec<PointInput>,
    /// The named vector that texts fill (collections with several).
    pub using: Option<String>,
}

/// Which points: `ids` or a `filter`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SelectorRequest {
    #[schema(value_type = Option<Vec<Object>>)]
    pub ids: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

fn selector(request: SelectorRequest) -> Result<Selector, VectorError> {
    match (request.ids, filter(request.filter)?) {
        (Some(ids), None) => Ok(Selector::Ids(
            ids.iter()
                .enumerate()
                .map(|(i, id)| point_id(id, &format!("ids[{i}]")))
                .collect::<Result<_, _>>()?,
        )),
        (None, Some(filter)) => Ok(Selector::Filter(filter)),
        _ => Err(VectorError::invalid("ids", "give either ids or a filter")),
    }
}

/// A point as returned.
#[derive(Debug, Serialize, ToSchema)]
pub struct PointResponse {
    #[schema(value_type = Object)]
    pub id: Value,
    /// Similarity to the query (search only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub vector: Option<Value>,
}

fn record(record: &qdrant_edge::Record) -> PointResponse {
    PointResponse {
        id: serde_json::to_value(record.id).unwrap_or(Value::Null),
        score: None,
        payload: record.payload.as_ref().map(|p| Value::Object(p.0.clone())),
        vector: vectors_json(record.vector.as_ref()),
    }
}

fn vectors_of(
    value: Value,
    field: &str,
    config: &VectorsConfig,
) -> Result<BTreeMap<String, Vec<f32>>, VectorError> {
    let dense = |v: Value, field: &str| -> Result<Vec<f32>, VectorError> {
        serde_json::from_value::<Vec<f32>>(v)
            .map_err(|_| VectorError::invalid(field, "a vector is a list of numbers"))
    };
    match (value, config) {
        (Value::Array(items), _) => {
            let (name, _) = config.space(None)?;
            Ok(BTreeMap::from([(name, dense(Value::Array(items), field)?)]))
        }
        (Value::Object(named), VectorsConfig::Named(_)) => named
            .into_iter()
            .map(|(name, v)| {
                let v = dense(v, &format!("{field}.{name}"))?;
                Ok((name, v))
            })
            .collect(),
        _ => Err(VectorError::invalid(
            field,
            "a list of numbers (or named lists, for collections with named vectors)",
        )),
    }
}

/// Write or replace points, from vectors or from texts embedded here.
#[utoipa::path(
    put,
    path = "/api/v1/vector/collections/{name}/points",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = UpsertRequest,
    responses(
        (status = 200, description = "`{upserted: n}`", body = Object),
        (status = 422, description = "A bad id, a missing vector, DIMENSION_MISMATCH", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn upsert_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<UpsertRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    if request.points.is_empty() || request.points.len() > MAX_POINTS {
        return Err(
            VectorError::invalid("points", format!("between 1 and {MAX_POINTS} points")).into(),
        );
    }
    state.record("upsert");
    let embedder = state.embedder.clone();
    let count = request.points.len();
    state
        .cpu
        .run(move || {
            let mut points = Vec::with_capacity(request.points.len());
            let mut texts: Vec<(usize, String)> = Vec::new();
            for (i, input) in request.points.into_iter().enumerate() {
                let field = format!("points[{i}]");
                let id = point_id(&input.id, &format!("{field}.id"))?;
                let mut payload = input.payload.unwrap_or_default();
                // Keyword search finds a point by its text, given or kept in its payload.
                let text = input.text.clone().or_else(|| {
                    payload
                        .get(TEXT_KEY)
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                });
                let vectors = match (input.vector, input.text) {
                    (Some(vector), None) => {
                        vectors_of(vector, &format!("{field}.vector"), &collection.vectors)?
                    }
                    (None, Some(text)) => {
                        payload
                            .entry(TEXT_KEY)
                            .or_insert_with(|| Value::String(text.clone()));
                        texts.push((i, text));
                        BTreeMap::new()
                    }
                    _ => {
                        return Err(
                            VectorError::invalid(&field, "give either vector or text").into()
                        );
                    }
                };
                points.push(NewPoint {
                    id,
                    vectors,
                    payload,
                    text,
                });
            }
            if !texts.is_empty() {
                let (space, _) = collection.vectors.space(request.using.as_deref())?;
                let refs: Vec<&str> = texts.iter().map(|(_, t)| t.as_str()).collect();
                let embedded = embedder.embed(&refs)?;
                for ((i, _), vector) in texts.iter().zip(embedded) {
                    points[*i].vectors.insert(space.clone(), vector);
                }
            }
            Ok(collection.upsert(points)?)
        })
        .await?;
    Ok(Json(json!({"upserted": count})))
}

/// `POST collections/{name}/points/get`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GetPointsRequest {
    #[schema(value_type = Vec<Object>)]
    pub ids: Vec<Value>,
    /// Default true.
    pub with_payload: Option<bool>,
    /// Default false.
    pub with_vector: Option<bool>,
}

/// The points with these ids (missing ones are left out).
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/get",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = GetPointsRequest,
    responses((status = 200, description = "`{points: [...]}`", body = Object))
)]
pub async fn get_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<GetPointsRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let ids = request
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| point_id(id, &format!("ids[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let records = state
        .cpu
        .run(move || {
            Ok(collection.retrieve(
                &ids,
                request.with_payload.unwrap_or(true),
                request.with_vector.unwrap_or(false),
            )?)
        })
        .await?;
    let points: Vec<PointResponse> = records.iter().map(record).collect();
    Ok(Json(json!({ "points": points })))
}

/// Delete points by ids or filter.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/delete",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = SelectorRequest,
    responses((status = 200, description = "`{deleted: true}`", body = Object))
)]
pub async fn delete_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SelectorRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let selector = selector(request)?;
    state.record("delete_points");
    state
        .cpu
        .run(move || Ok(collection.delete(selector)?))
        .await?;
    Ok(Json(json!({"deleted": true})))
}

/// `POST collections/{name}/points/payload`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SetPayloadRequest {
    /// Keys to set (merged into each payload).
    #[schema(value_type = Object)]
    pub payload: Map<String, Value>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub ids: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

/// Set payload keys on points chosen by ids or filter.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/payload",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = SetPayloadRequest,
    responses((status = 200, description = "`{updated: true}`", body = Object))
)]
pub async fn set_payload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SetPayloadRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let selector = selector(SelectorRequest {
        ids: request.ids,
        filter: request.filter,
    })?;
    state.record("set_payload");
    let payload = request.payload;
    state
        .cpu
        .run(move || Ok(collection.set_payload(payload, selector)?))
        .await?;
    Ok(Json(json!({"updated": true})))
}

/// `POST collections/{name}/points/payload/delete`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeletePayloadRequest {
    pub keys: Vec<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub ids: Option<Vec<Value>>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

/// Remove payload keys from points chosen by ids or filter.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/payload/delete",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = DeletePayloadRequest,
    responses((status = 200, description = "`{updated: true}`", body = Object))
)]
pub async fn delete_payload(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<DeletePayloadRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let selector = selector(SelectorRequest {
        ids: request.ids,
        filter: request.filter,
    })?;
    state.record("delete_payload");
    let keys = request.keys;
    state
        .cpu
        .run(move || Ok(collection.delete_payload(&keys, selector)?))
        .await?;
    Ok(Json(json!({"updated": true})))
}

/// `POST collections/{name}/points/scroll`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScrollRequest {
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// Page size (default 10).
    pub limit: Option<usize>,
    /// The `nextOffset` of the previous page.
    #[schema(value_type = Option<Object>)]
    pub offset: Option<Value>,
    pub with_payload: Option<bool>,
    pub with_vector: Option<bool>,
}

/// Page through points in id order.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/scroll",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = ScrollRequest,
    responses((status = 200, description = "`{points, nextOffset}` (null on the last page)", body = Object))
)]
pub async fn scroll_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Option<ApiJson<ScrollRequest>>,
) -> Result<Json<Value>, ApiError> {
    let request = request.map(|r| r.0).unwrap_or_default();
    let collection = state.store.get(&name)?;
    let limit = request.limit.unwrap_or(10);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(VectorError::invalid("limit", format!("between 1 and {MAX_LIMIT}")).into());
    }
    let offset = request
        .offset
        .as_ref()
        .map(|o| point_id(o, "offset"))
        .transpose()?;
    let filter = filter(request.filter)?;
    let (records, next) = state
        .cpu
        .run(move || {
            Ok(collection.scroll(
                filter,
                offset,
                limit,
                request.with_payload.unwrap_or(true),
                request.with_vector.unwrap_or(false),
            )?)
        })
        .await?;
    let points: Vec<PointResponse> = records.iter().map(record).collect();
    Ok(Json(json!({"points": points, "nextOffset": next})))
}

/// `POST collections/{name}/points/count`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CountRequest {
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
}

/// How many points pass a filter (all without one).
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/count",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = CountRequest,
    responses((status = 200, description = "`{count}`", body = Object))
)]
pub async fn count_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Option<ApiJson<CountRequest>>,
) -> Result<Json<Value>, ApiError> {
    let request = request.map(|r| r.0).unwrap_or_default();
    let collection = state.store.get(&name)?;
    let filter = filter(request.filter)?;
    let count = state.cpu.run(move || Ok(collection.count(filter)?)).await?;
    Ok(Json(json!({ "count": count })))
}

/// How a search matches points.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Nearest vectors (to `vector`, or to `text` embedded).
    #[default]
    Dense,
    /// Best BM25 match for the words of `text` (collections created with `keywords`).
    Keywords,
    /// Both, fused by reciprocal rank: `text` for the words, and `vector` or `text` embedded.
    Hybrid,
}

/// `POST collections/{name}/points/search` (and each search of a batch, and
/// `points/search/groups` with `groupBy`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"text": "What do people eat?", "limit": 3, "filter": {"must": [{"key": "city", "match": {"value": "Berlin"}}]}}))]
pub struct SearchRequest {
    /// The query vector…
    pub vector: Option<Vec<f32>>,
    /// …or a text to embed (and, for keyword and hybrid search, whose words are matched).
    pub text: Option<String>,
    /// `dense` (default), `keywords` or `hybrid`.
    #[serde(default)]
    pub mode: SearchMode,
    /// Reciprocal rank fusion's constant for hybrid search (default 60): a point scores
    /// the sum over both lists of 1/(k + rank), the first rank 0.
    pub rrf_k: Option<usize>,
    /// The named vector to search (collections with several).
    pub using: Option<String>,
    /// A Qdrant filter: `must`/`should`/`must_not` conditions on payload keys.
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// Default 10 (groups: the number of groups).
    pub limit: Option<usize>,
    /// Results to skip (default 0).
    pub offset: Option<usize>,
    /// Leave out results scoring below this (hybrid: the fused score).
    pub score_threshold: Option<f32>,
    /// Default true.
    pub with_payload: Option<bool>,
    /// Default false.
    pub with_vector: Option<bool>,
    /// Compare with every point instead of walking the index (default false).
    #[serde(default)]
    pub exact: bool,
    /// The index walk's beam width: higher finds more of the true neighbours, slower.
    pub hnsw_ef: Option<usize>,
    /// `points/search/groups` only: the payload key whose values group results.
    pub group_by: Option<String>,
    /// `points/search/groups` only: most points per group (default 3).
    pub group_size: Option<usize>,
}

/// A search request checked, its text not yet embedded.
struct CheckedSearch {
    search: Search,
    /// The text to embed into the query vector, when one is needed.
    embed: Option<String>,
}

fn check_limit(limit: Option<usize>, default: usize) -> Result<usize, VectorError> {
    let limit = limit.unwrap_or(default);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(VectorError::invalid(
            "limit",
            format!("between 1 and {MAX_LIMIT}"),
        ));
    }
    Ok(limit)
}

fn check_search(request: SearchRequest, field: &str) -> Result<CheckedSearch, VectorError> {
    let limit = check_limit(request.limit, 10)?;
    let filter = filter(request.filter)?;
    let text = request.text.filter(|t| !t.trim().is_empty());
    let (query, embed) = match (request.mode, request.vector, text) {
        (SearchMode::Dense, Some(vector), None) => (Query::Nearest(vector), None),
        (SearchMode::Dense, None, Some(text)) => (Query::Nearest(Vec::new()), Some(text)),
        (SearchMode::Dense, _, _) => {
            return Err(VectorError::invalid(
                &format!("{field}vector"),
                "give either vector or text",
            ));
        }
        (SearchMode::Keywords, None, Some(text)) => (Query::Keywords(text), None),
        (SearchMode::Keywords, Some(_), _) => {
            return Err(VectorError::invalid(
                &format!("{field}vector"),
                "keyword search matches words: give text, not a vector",
            ));
        }
        (SearchMode::Hybrid, vector, Some(text)) => {
            let embed = vector.is_none().then(|| text.clone());
            let query = Query::Hybrid {
                vector: vector.unwrap_or_default(),
                text,
                rrf_k: request.rrf_k.unwrap_or(DEFAULT_RRF_K),
            };
            (query, embed)
        }
        (SearchMode::Keywords | SearchMode::Hybrid, _, None) => {
            return Err(VectorError::invalid(
                &format!("{field}text"),
                "keyword and hybrid search need the text whose words to match",
            ));
        }
    };
    Ok(CheckedSearch {
        search: Search {
            query,
            using: request.using,
            filter,
            limit,
            offset: request.offset.unwrap_or(0),
            score_threshold: request.score_threshold,
            with_payload: request.with_payload.unwrap_or(true),
            with_vector: request.with_vector.unwrap_or(false),
            exact: request.exact,
            hnsw_ef: request.hnsw_ef,
        },
        embed,
    })
}

/// The searches with their texts embedded, all in one batch of the model.
fn embed_queries(
    embedder: &TextEmbedder,
    checked: Vec<CheckedSearch>,
) -> Result<Vec<Search>, VectorError> {
    let texts: Vec<&str> = checked.iter().filter_map(|c| c.embed.as_deref()).collect();
    let mut vectors = if texts.is_empty() {
        Vec::new()
    } else {
        embedder.embed(&texts)?
    }
    .into_iter();
    checked
        .into_iter()
        .map(|CheckedSearch { mut search, embed }| {
            if embed.is_some() {
                let embedded = vectors
                    .next()
                    .ok_or_else(|| VectorError::Internal("no embedding".into()))?;
                match &mut search.query {
                    Query::Nearest(vector) | Query::Hybrid { vector, .. } => *vector = embedded,
                    Query::Keywords(_) | Query::Recommend { .. } => {}
                }
            }
            Ok(search)
        })
        .collect()
}

fn scored(point: &qdrant_edge::ScoredPoint) -> PointResponse {
    PointResponse {
        id: serde_json::to_value(point.id).unwrap_or(Value::Null),
        score: Some(point.score),
        payload: point.payload.as_ref().map(|p| Value::Object(p.0.clone())),
        vector: vectors_json(point.vector.as_ref()),
    }
}

fn no_groups(request: &SearchRequest) -> Result<(), VectorError> {
    if request.group_by.is_some() || request.group_size.is_some() {
        return Err(VectorError::invalid(
            "groupBy",
            "grouped search is `points/search/groups`",
        ));
    }
    Ok(())
}

/// The points nearest to a vector or a text, best first; or the best keyword matches; or both
/// fused (`mode`).
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/search",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "`{points: [{id, score, payload}]}`", body = Object),
        (status = 422, description = "No query, a bad filter, DIMENSION_MISMATCH", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn search_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    no_groups(&request)?;
    let checked = check_search(request, "")?;
    state.record("search");
    let embedder = state.embedder.clone();
    let found = state
        .cpu
        .run(move || {
            let search = embed_queries(&embedder, vec![checked])?
                .pop()
                .ok_or_else(|| VectorError::Internal("no search".into()))?;
            Ok(collection.search(search)?)
        })
        .await?;
    let points: Vec<PointResponse> = found.iter().map(scored).collect();
    Ok(Json(json!({ "points": points })))
}

/// Most searches in one batch.
const MAX_BATCH: usize = 100;

/// `POST collections/{name}/points/search/batch`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"searches": [{"text": "food", "limit": 2}, {"text": "weather", "limit": 2}]}))]
pub struct SearchBatchRequest {
    pub searches: Vec<SearchRequest>,
}

/// Several searches in one call, their texts embedded together.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/search/batch",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = SearchBatchRequest,
    responses(
        (status = 200, description = "`{results: [{points}]}`, one per search, in order", body = Object),
        (status = 422, description = "A bad search (its field is `searches[i]....`)", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn search_batch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<SearchBatchRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    if request.searches.is_empty() || request.searches.len() > MAX_BATCH {
        return Err(VectorError::invalid(
            "searches",
            format!("between 1 and {MAX_BATCH} searches"),
        )
        .into());
    }
    let checked = request
        .searches
        .into_iter()
        .enumerate()
        .map(|(i, search)| {
            no_groups(&search)?;
            check_search(search, &format!("searches[{i}]."))
        })
        .collect::<Result<Vec<_>, _>>()?;
    state.record("search_batch");
    let embedder = state.embedder.clone();
    let results = state
        .cpu
        .run(move || {
            embed_queries(&embedder, checked)?
                .into_iter()
                .enumerate()
                .map(|(i, search)| {
                    collection
                        .search(search)
                        .map_err(|e| ApiError::from(e.in_field(&format!("searches[{i}]"))))
                })
                .collect::<Result<Vec<_>, ApiError>>()
        })
        .await?;
    let results: Vec<Value> = results
        .iter()
        .map(|found| json!({"points": found.iter().map(scored).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({ "results": results })))
}

/// The best results grouped by a payload key's value: `limit` groups of up to `groupSize`.
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/search/groups",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = SearchRequest,
    responses(
        (status = 200, description = "`{groups: [{id, hits: [{id, score, payload}]}]}`, best group first", body = Object),
        (status = 422, description = "No groupBy, no query, a bad filter", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn search_groups(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(mut request): ApiJson<SearchRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let group_by = request
        .group_by
        .take()
        .filter(|key| !key.is_empty())
        .ok_or_else(|| VectorError::invalid("groupBy", "name the payload key to group by"))?;
    let group_size = request.group_size.take().unwrap_or(3);
    if !(1..=100).contains(&group_size) {
        return Err(VectorError::invalid("groupSize", "between 1 and 100").into());
    }
    if request.offset.is_some() {
        return Err(VectorError::invalid("offset", "grouped search has no offset").into());
    }
    let checked = check_search(request, "")?;
    if checked.search.limit > 1000 {
        return Err(VectorError::invalid("limit", "at most 1000 groups").into());
    }
    state.record("search_groups");
    let embedder = state.embedder.clone();
    let groups = state
        .cpu
        .run(move || {
            let search = embed_queries(&embedder, vec![checked])?
                .pop()
                .ok_or_else(|| VectorError::Internal("no search".into()))?;
            Ok(collection.search_groups(search, &group_by, group_size)?)
        })
        .await?;
    let groups: Vec<Value> = groups
        .iter()
        .map(|g| json!({"id": g.key, "hits": g.hits.iter().map(scored).collect::<Vec<_>>()}))
        .collect();
    Ok(Json(json!({ "groups": groups })))
}

/// How examples become a query.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StrategyName {
    /// One query: twice the positives' mean minus the negatives' (the default).
    #[default]
    AverageVector,
    /// Each point scored by its closest positive, penalized when a negative is closer.
    BestScore,
    /// Each point scored by summed similarity to the positives minus to the negatives.
    SumScores,
}

/// `POST collections/{name}/points/recommend`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"positive": [1, 7], "negative": [3], "limit": 5}))]
pub struct RecommendRequest {
    /// Examples to be like: point ids or vectors.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub positive: Vec<Value>,
    /// Examples to be unlike: point ids or vectors.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub negative: Vec<Value>,
    /// `average_vector` (default), `best_score` or `sum_scores`.
    #[serde(default)]
    pub strategy: StrategyName,
    pub using: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Value>,
    /// Default 10.
    pub limit: Option<usize>,
    pub offset: Option<usize>,
    pub score_threshold: Option<f32>,
    pub with_payload: Option<bool>,
    pub with_vector: Option<bool>,
    #[serde(default)]
    pub exact: bool,
    pub hnsw_ef: Option<usize>,
}

fn examples(values: &[Value], field: &str) -> Result<Vec<Example>, VectorError> {
    values
        .iter()
        .enumerate()
        .map(|(i, value)| match value {
            Value::Array(_) => serde_json::from_value(value.clone())
                .map(Example::Vector)
                .map_err(|_| {
                    VectorError::invalid(&format!("{field}[{i}]"), "a vector is a list of numbers")
                }),
            _ => point_id(value, &format!("{field}[{i}]")).map(Example::Point),
        })
        .collect()
}

/// Points like the positive examples and unlike the negative ones (the examples that are
/// stored points are left out).
#[utoipa::path(
    post,
    path = "/api/v1/vector/collections/{name}/points/recommend",
    tag = "vector",
    params(("name" = String, Path, description = "The collection")),
    request_body = RecommendRequest,
    responses(
        (status = 200, description = "`{points: [{id, score, payload}]}`", body = Object),
        (status = 422, description = "No positive example, an unknown point, DIMENSION_MISMATCH", body = flowforge_service_kit::ErrorEnvelope)
    )
)]
pub async fn recommend_points(
    State(state): State<AppState>,
    Path(name): Path<String>,
    ApiJson(request): ApiJson<RecommendRequest>,
) -> Result<Json<Value>, ApiError> {
    let collection = state.store.get(&name)?;
    let limit = check_limit(request.limit, 10)?;
    let search = Search {
        query: Query::Recommend {
            positive: examples(&request.positive, "positive")?,
            negative: examples(&request.negative, "negative")?,
            strategy: match request.strategy {
                StrategyName::AverageVector => RecommendStrategy::AverageVector,
                StrategyName::BestScore => RecommendStrategy::BestScore,
                StrategyName::SumScores => RecommendStrategy::SumScores,
            },
        },
        using: request.using,
        filter: filter(request.filter)?,
        limit,
        offset: request.offset.unwrap_or(0),
        score_threshold: request.score_threshold,
        with_payload: request.with_payload.unwrap_or(true),
        with_vector: request.with_vector.unwrap_or(false),
        exact: request.exact,
        hnsw_ef: request.hnsw_ef,
    };
    state.record("recommend");
    let found = state
        .cpu
        .run(move || Ok(collection.search(search)?))
        .await?;
    let points: Vec<PointResponse> = found.iter().map(scored).collect();
    Ok(Json(json!({ "points": points })))
}
