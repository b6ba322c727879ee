//! One OpenAPI document for the whole API: every service's `/openapi.json`, merged.
//!
//! Merging is a pure function over JSON ([`merge`]); fetching and caching live beside it.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use serde_json::{Map, Value, json};

use crate::pools::Pools;

/// How long fetching one service's document may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the merged document is rebuilt.
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(30);
const SCHEMA_REF: &str = "#/components/schemas/";

/// Merges service documents (name → document) into one OpenAPI 3.1 document with `servers`, the
/// `ApiKeyAuth`/`BearerAuth` schemes and global security. Only `/api/v1/` paths are kept (each
/// service's `/health` is its own). A schema two services define differently is renamed for the
/// second (`Math` + `InputEncoding`) and its references rewritten; operation ids stay unique.
pub fn merge(documents: &BTreeMap<String, Value>, version: &str) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    let mut operation_ids = std::collections::HashSet::new();
    let mut tags = Vec::new();

    for (service, document) in documents {
        let mut document = document.clone();
        let own_schemas = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let mut renames = BTreeMap::new();
        for (name, schema) in &own_schemas {
            match schemas.get(name) {
                Some(existing) if existing != schema => {
                    renames.insert(name.clone(), format!("{}{name}", pascal(service)));
                }
                _ => {}
            }
        }
        if !renames.is_empty() {
            rewrite_refs(&mut document, &renames);
        }
        let own_schemas = document
            .pointer("/components/schemas")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (name, schema) in own_schemas {
            let name = renames.get(&name).cloned().unwrap_or(name);
            schemas.entry(name).or_insert(schema);
        }

        let service_paths = document
            .get("paths")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        for (path, mut item) in service_paths {
            if !path.starts_with("/api/v1/") {
                continue;
            }
            if let Some(operations) = item.as_object_mut() {
                for operation in operations.values_mut().filter_map(Value::as_object_mut) {
                    if let Some(Value::String(id)) = operation.get_mut("operationId") {
                        let mut unique = id.clone();
                        let mut n = 2;
                        while !operation_ids.insert(unique.clone()) {
                            unique = format!("{id}_{n}");
                            n += 1;
                        }
                        *id = unique;
                    }
                    operation.insert("tags".into(), json!([service]));
                }
            }
            paths.insert(path, item);
        }
        let description = document
            .pointer("/info/description")
            .cloned()
            .unwrap_or(Value::Null);
        tags.push(json!({"name": service, "description": description}));
    }

    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "FlowForge API",
            "version": version,
            "description": "One authenticated, rate-limited API to FlowForge's compute services. Send `X-API-Key: <key>` or `Authorization: Bearer <jwt>`. Errors use one envelope: `{\"error\": {code, message, details, requestId}}`."
        },
        "servers": [{"url": "/", "description": "This gateway"}],
        "security": [{"ApiKeyAuth": []}, {"BearerAuth": []}],
        "tags": tags,
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "ApiKeyAuth": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            }
        }
    })
}

/// `data-transform` → `DataTransform`.
fn pascal(service: &str) -> String {
    service
        .split(['-', '_'])
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

fn rewrite_refs(value: &mut Value, renames: &BTreeMap<String, String>) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(reference)) = object.get_mut("$ref")
                && let Some(new) = reference
                    .strip_prefix(SCHEMA_REF)
                    .and_then(|name| renames.get(name))
            {
                *reference = format!("{SCHEMA_REF}{new}");
            }
            if let Some(Value::Object(schemas)) = object.get_mut("schemas") {
                let renamed: Vec<(String, String)> = renames
                    .iter()
                    .filter(|(old, _)| schemas.contains_key(*old))
                    .map(|(o, n)| (o.clone(), n.clone()))
                    .collect();
                for (old, new) in renamed {
                    if let Some(schema) = schemas.remove(&old) {
                        schemas.insert(new, schema);
                    }
                }
            }
            object.values_mut().for_each(|v| rewrite_refs(v, renames));
        }
        Value::Array(items) => items.iter_mut().for_each(|v| rewrite_refs(v, renames)),
        _ => {}
    }
}

/// Fetches each pool's document from a healthy instance; services that do not answer are left out.
pub async fn fetch_all(pools: &Pools) -> BTreeMap<String, Value> {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<Bytes>>();
    let fetches = pools.iter().map(|pool| {
        let client = client.clone();
        async move {
            let backend = pool.select(None)?;
            let uri: http::Uri = format!("http://{}/openapi.json", backend.addr)
                .parse()
                .ok()?;
            let response = tokio::time::timeout(FETCH_TIMEOUT, client.get(uri))
                .await
                .ok()?
                .ok()?;
            if !response.status().is_success() {
                return None;
            }
            let body = tokio::time::timeout(FETCH_TIMEOUT, response.into_body().collect())
                .await
                .ok()?
                .ok()?
                .to_bytes();
            let document: Value = serde_json::from_slice(&body).ok()?;
            Some((pool.name.to_string(), document))
        }
    });
    futures_util::future::join_all(fetches)
        .await
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(path: &str, operation_id: &str, schema: Value) -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "t", "version": "1", "description": "svc"},
            "paths": {
                path: {"post": {"operationId": operation_id, "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Encoding"}}}}}},
                "/health": {"get": {"operationId": "health"}}
            },
            "components": {"schemas": {"Encoding": schema, "ErrorEnvelope": {"type": "object"}}}
        })
    }

    #[test]
    fn merges_paths_schemes_and_renames_conflicting_schemas() {
        let mut documents = BTreeMap::new();
        documents.insert(
            "crypto".to_owned(),
            doc(
                "/api/v1/crypto/encode",
                "crypto_encode",
                json!({"enum": ["hex"]}),
            ),
        );
        documents.insert(
            "data-transform".to_owned(),
            doc(
                "/api/v1/data/convert",
                "crypto_encode",
                json!({"enum": ["csv"]}),
            ),
        );
        let merged = merge(&documents, "9.9.9");

        assert_eq!(merged["openapi"], "3.1.0");
        assert!(
            merged["paths"]["/api/v1/crypto/encode"].is_object()
                && merged["paths"]["/api/v1/data/convert"].is_object()
        );
        assert!(
            merged["paths"].get("/health").is_none(),
            "service-local paths are not the API"
        );
        assert_eq!(
            merged["components"]["schemas"]["Encoding"]["enum"][0],
            "hex"
        );
        assert_eq!(
            merged["components"]["schemas"]["DataTransformEncoding"]["enum"][0],
            "csv"
        );
        let data_ref = &merged["paths"]["/api/v1/data/convert"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"];
        assert_eq!(data_ref, "#/components/schemas/DataTransformEncoding");
        assert!(
            merged["components"]["schemas"]
                .get("DataTransformErrorEnvelope")
                .is_none(),
            "identical schemas are shared"
        );
        assert_eq!(
            merged["paths"]["/api/v1/data/convert"]["post"]["operationId"],
            "crypto_encode_2"
        );
        assert_eq!(
            merged["components"]["securitySchemes"]["ApiKeyAuth"]["name"],
            "X-API-Key"
        );
        assert_eq!(merged["security"][1], json!({"BearerAuth": []}));
        assert_eq!(
            merged["paths"]["/api/v1/data/convert"]["post"]["tags"],
            json!(["data-transform"])
        );
    }
}
