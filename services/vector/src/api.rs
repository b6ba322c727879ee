//! HTTP surface, shaped like Qdrant's REST API (camelCase fields; filters in Qdrant's own
//! syntax, `must`/`should`/`must_not` with `key` + `match`/`range`, passed to the engine as
//! they are).

pub mod collections;
pub mod documents;
pub mod points;

use serde_json::{Map, Value, json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::domain::VectorError;
use crate::state::AppState;

/// Every vector route, documented.
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(collections::list_collections))
        .routes(routes!(
            collections::create_collection,
            collections::get_collection,
            collections::delete_collection
        ))
        .routes(routes!(collections::create_index))
        .routes(routes!(points::upsert_points))
        .routes(routes!(points::get_points))
        .routes(routes!(points::delete_points))
        .routes(routes!(points::set_payload))
        .routes(routes!(points::delete_payload))
        .routes(routes!(points::scroll_points))
        .routes(routes!(points::count_points))
        .routes(routes!(points::search_points))
        .routes(routes!(points::search_batch))
        .routes(routes!(points::search_groups))
        .routes(routes!(points::recommend_points))
        .routes(routes!(documents::insert_documents))
        .routes(routes!(documents::search_documents))
        .routes(routes!(documents::delete_documents))
}

/// A Qdrant filter from its JSON.
pub(crate) fn filter(value: Option<Value>) -> Result<Option<qdrant_edge::Filter>, VectorError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(value)
            .map(Some)
            .map_err(|e| VectorError::invalid("filter", e.to_string())),
    }
}

/// A point id (an unsigned integer or a UUID) from its JSON.
pub(crate) fn point_id(value: &Value, field: &str) -> Result<qdrant_edge::PointId, VectorError> {
    serde_json::from_value(value.clone()).map_err(|_| {
        VectorError::invalid(
            field,
            format!("{value} is not a point id (an unsigned integer or a UUID)"),
        )
    })
}

/// A record's vectors as JSON: an array, or an object of named arrays.
pub(crate) fn vectors_json(vector: Option<&qdrant_edge::VectorStructInternal>) -> Option<Value> {
    use qdrant_edge::{VectorInternal, VectorStructInternal};
    let dense = |v: &VectorInternal| match v {
        VectorInternal::Dense(d) => json!(d),
        _ => Value::Null,
    };
    match vector? {
        VectorStructInternal::Single(v) => Some(json!(v)),
        VectorStructInternal::Named(named) => Some(Value::Object(
            named
                .iter()
                .map(|(name, v)| (name.clone(), dense(v)))
                .collect::<Map<String, Value>>(),
        )),
        VectorStructInternal::MultiDense(_) => None,
    }
}
