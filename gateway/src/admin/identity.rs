//! Admin routes for consumers, keys, tiers and usage. Changes are announced to every gateway
//! (key revocations reach their caches within the pub/sub round trip).

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use chrono::{DateTime, Days, NaiveDate, Utc};
use flowforge_service_kit::{ApiError, ApiJson, ApiQuery};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::identity::catalog::{ConsumerChange, KeyRequest, StoreError};
use crate::identity::events::Event;
use crate::identity::keys::{KeyHash, is_valid_env};
use crate::limits::Tier;
use crate::state::Shared;

/// Days of usage returned when no range is given.
const DEFAULT_USAGE_DAYS: u64 = 30;

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/consumers", get(list_consumers).post(create_consumer))
        .route(
            "/consumers/{id}",
            get(show_consumer)
                .patch(update_consumer)
                .delete(delete_consumer),
        )
        .route("/consumers/{id}/keys", get(list_keys).post(issue_key))
        .route(
            "/consumers/{id}/keys/{key_id}",
            axum::routing::delete(revoke_key),
        )
        .route("/consumers/{id}/keys/{key_id}/rotate", post(rotate_key))
        .route("/consumers/{id}/usage", get(usage))
        .route("/tiers", get(list_tiers))
        .route("/tiers/{name}", put(put_tier).delete(delete_tier))
}

fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound(message) => ApiError::not_found(message),
        StoreError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, "CONFLICT", message),
        StoreError::Invalid { field, message } => ApiError::invalid_field(field, message),
        StoreError::ReadOnly => ApiError::new(
            StatusCode::CONFLICT,
            "DB_LESS_MODE",
            StoreError::ReadOnly.to_string(),
        ),
        StoreError::Unavailable(cause) => {
            tracing::error!(%cause, "identity store failed");
            ApiError::unavailable("The identity database is unavailable")
        }
    }
}

fn check_consumer_id(id: &str) -> Result<(), ApiError> {
    let valid = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._@-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "id",
            "1 to 64 characters: letters, digits, `.`, `_`, `@`, `-`",
        ))
    }
}

fn check_tier_name(name: &str) -> Result<(), ApiError> {
    let valid = (1..=32).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_-".contains(&b));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_field(
            "name",
            "1 to 32 characters: lowercase letters, digits, `_`, `-`",
        ))
    }
}

fn check_scopes(scopes: &[String]) -> Result<(), ApiError> {
    for (i, scope) in scopes.iter().enumerate() {
        let service = scope.split('/').next().unwrap_or_default();
        let known = crate::config::SERVICES
            .iter()
            .any(|(name, segment, _)| *name == service || *segment == service);
        if !known {
            return Err(ApiError::invalid_field(
                format!("scopes[{i}]"),
                format!("`{scope}` does not start with a service name"),
            ));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewConsumer {
    id: String,
    #[serde(default = "free")]
    tier: String,
    #[serde(default)]
    description: String,
}

fn free() -> String {
    "free".into()
}

async fn list_consumers(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    let consumers = shared
        .access
        .catalog()
        .consumers()
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "consumers": consumers })))
}

async fn create_consumer(
    State(shared): State<Arc<Shared>>,
    ApiJson(new): ApiJson<NewConsumer>,
) -> Result<impl IntoResponse, ApiError> {
    check_consumer_id(&new.id)?;
    let consumer = shared
        .access
        .catalog()
        .create_consumer(&new.id, &new.tier, &new.description)
        .await
        .map_err(store_error)?;
    Ok((StatusCode::CREATED, Json(consumer)))
}

async fn show_consumer(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let catalog = shared.access.catalog();
    let consumer = catalog.consumer(&id).await.map_err(store_error)?;
    let keys = catalog.keys_of(&id).await.map_err(store_error)?;
    Ok(Json(json!({ "consumer": consumer, "keys": keys })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ConsumerPatch {
    tier: Option<String>,
    description: Option<String>,
    disabled: Option<bool>,
}

async fn update_consumer(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiJson(patch): ApiJson<ConsumerPatch>,
) -> Result<Json<Value>, ApiError> {
    let change = ConsumerChange {
        tier: patch.tier,
        description: patch.description,
        disabled: patch.disabled,
    };
    let consumer = shared
        .access
        .catalog()
        .update_consumer(&id, &change)
        .await
        .map_err(store_error)?;
    announce_keys_changed(&shared).await;
    Ok(Json(json!({ "consumer": consumer })))
}

async fn delete_consumer(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let hashes = shared
        .access
        .catalog()
        .delete_consumer(&id)
        .await
        .map_err(store_error)?;
    announce_revoked(&shared, &hashes).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_keys(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let keys = shared
        .access
        .catalog()
        .keys_of(&id)
        .await
        .map_err(store_error)?;
    Ok(Json(json!({ "keys": keys })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    env: Option<String>,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    expires_at: Option<DateTime<Utc>>,
}

fn key_env(env: Option<String>) -> Result<String, ApiError> {
    let env = env.unwrap_or_else(|| "live".into());
    if is_valid_env(&env) {
        Ok(env)
    } else {
        Err(ApiError::invalid_field(
            "env",
            "1 to 16 lowercase letters or digits",
        ))
    }
}

async fn issue_key(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Option<ApiJson<NewKey>>,
) -> Result<impl IntoResponse, ApiError> {
    let new = body.map(|ApiJson(b)| b).unwrap_or_default();
    check_scopes(&new.scopes)?;
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid_field(
            "expiresAt",
            "must be in the future",
        ));
    }
    let request = KeyRequest {
        env: key_env(new.env)?,
        scopes: new.scopes,
        expires_at: new.expires_at,
    };
    let issued = shared
        .access
        .catalog()
        .issue_key(&id, &request)
        .await
        .map_err(store_error)?;
    // A cached "unknown" answer for this key cannot exist (it was never presented), so no
    // announcement is needed.
    Ok((StatusCode::CREATED, Json(issued)))
}

async fn revoke_key(
    State(shared): State<Arc<Shared>>,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let hash = shared
        .access
        .catalog()
        .revoke_key(&id, &key_id)
        .await
        .map_err(store_error)?;
    announce_revoked(&shared, &[hash]).await;
    Ok(Json(json!({ "id": key_id, "revoked": true })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Rotation {
    #[serde(default)]
    env: Option<String>,
}

async fn rotate_key(
    State(shared): State<Arc<Shared>>,
    Path((id, key_id)): Path<(String, String)>,
    body: Option<ApiJson<Rotation>>,
) -> Result<impl IntoResponse, ApiError> {
    let rotation = body.map(|ApiJson(b)| b).unwrap_or_default();
    let env = key_env(rotation.env)?;
    let (issued, old) = shared
        .access
        .catalog()
        .rotate_key(&id, &key_id, &env)
        .await
        .map_err(store_error)?;
    announce_revoked(&shared, &[old]).await;
    Ok((StatusCode::CREATED, Json(issued)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UsageRange {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

async fn usage(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    ApiQuery(range): ApiQuery<UsageRange>,
) -> Result<Json<Value>, ApiError> {
    let to = range.to.unwrap_or_else(|| Utc::now().date_naive());
    let from = range.from.unwrap_or_else(|| {
        to.checked_sub_days(Days::new(DEFAULT_USAGE_DAYS - 1))
            .unwrap_or(to)
    });
    if from > to {
        return Err(ApiError::invalid_field("from", "must not be after `to`"));
    }
    let rows = match &shared.access.pool {
        Some(_) => {
            // This gateway's unwritten counts first, so the answer includes every request it let
            // through; other gateways' last few seconds arrive with their next batch.
            crate::background::flush_usage(&shared).await;
            let crate::identity::catalog::Catalog::Postgres(pg) = &*shared.access.catalog() else {
                return Err(ApiError::internal(
                    "database pool without a database catalog",
                ));
            };
            pg.usage(&id, from, to).await.map_err(store_error)?
        }
        None => shared.access.usage.totals(&id, from, to),
    };
    let total: u64 = rows.iter().map(|r| r.requests).sum();
    Ok(Json(json!({
        "consumerId": id,
        "from": from,
        "to": to,
        "total": total,
        "rows": rows,
    })))
}

async fn list_tiers(State(shared): State<Arc<Shared>>) -> Result<Json<Value>, ApiError> {
    let tiers = shared.access.catalog().tiers().await.map_err(store_error)?;
    Ok(Json(json!({ "tiers": tiers })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TierLimits {
    per_minute: Option<u64>,
    per_day: Option<u64>,
}

async fn put_tier(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    ApiJson(limits): ApiJson<TierLimits>,
) -> Result<Json<Tier>, ApiError> {
    check_tier_name(&name)?;
    let tier = Tier {
        name,
        per_minute: limits.per_minute,
        per_day: limits.per_day,
    };
    tier.check_limits()
        .map_err(|(field, message)| ApiError::invalid_field(field, message))?;
    shared
        .access
        .catalog()
        .put_tier(&tier)
        .await
        .map_err(store_error)?;
    announce_tiers_changed(&shared).await;
    Ok(Json(tier))
}

async fn delete_tier(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    shared
        .access
        .catalog()
        .delete_tier(&name)
        .await
        .map_err(store_error)?;
    announce_tiers_changed(&shared).await;
    Ok(StatusCode::NO_CONTENT)
}

async fn announce_revoked(shared: &Shared, hashes: &[KeyHash]) {
    shared.access.forget_keys(hashes);
    if let Some(events) = &shared.access.events {
        for hash in hashes {
            events.publish(&Event::KeyRevoked(*hash)).await;
        }
    }
}

async fn announce_keys_changed(shared: &Shared) {
    shared.access.forget_all_keys();
    if let Some(events) = &shared.access.events {
        events.publish(&Event::KeysChanged).await;
    }
}

async fn announce_tiers_changed(shared: &Shared) {
    if let Err(e) = shared.access.reload_tiers().await {
        tracing::warn!(error = %e, "cannot re-read tiers");
    }
    if let Some(events) = &shared.access.events {
        events.publish(&Event::TiersChanged).await;
    }
}
