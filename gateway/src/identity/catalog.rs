//! Where consumers, keys and tiers live: the config file (DB-less mode, read-only) or PostgreSQL
//! (with the admin API writing). Both answer the hot-path question "whose key has this hash?".

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::error::SqlState;

use super::keys::{KeyHash, display_prefix, generate_key};
use crate::config::ConfiguredConsumer;
use crate::limits::Tier;

/// What a key hash resolves to.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyRecord {
    pub key_id: String,
    pub consumer_id: String,
    pub tier: String,
    /// Services (`crypto`) or operations (`crypto/hash`) the key may call; empty = all.
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked: bool,
    pub consumer_disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Consumer {
    pub id: String,
    pub tier: String,
    pub description: String,
    pub disabled: bool,
    pub created_at: Option<DateTime<Utc>>,
}

/// A key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyInfo {
    pub id: String,
    pub consumer_id: String,
    pub prefix: String,
    pub scopes: Vec<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A newly issued key: the only time the key is shown.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IssuedKey {
    pub key: String,
    #[serde(flatten)]
    pub info: KeyInfo,
}

/// What to issue.
#[derive(Debug, Clone, Default)]
pub struct KeyRequest {
    pub env: String,
    pub scopes: Vec<String>,
    pub expires_at: Option<DateTime<Utc>>,
}

/// Changes to a consumer; `None` keeps the field.
#[derive(Debug, Clone, Default)]
pub struct ConsumerChange {
    pub tier: Option<String>,
    pub description: Option<String>,
    pub disabled: Option<bool>,
}

/// One row of usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub consumer_id: String,
    pub day: NaiveDate,
    pub service: String,
    pub requests: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    Invalid { field: String, message: String },
    #[error(
        "consumers, keys and tiers come from the config file (DB-less mode): edit it and reload"
    )]
    ReadOnly,
    #[error("identity store unavailable")]
    Unavailable(String),
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.code() {
            Some(code) if *code == SqlState::UNIQUE_VIOLATION => {
                Self::Conflict("already exists".into())
            }
            Some(code) if *code == SqlState::FOREIGN_KEY_VIOLATION => Self::Invalid {
                field: "tier".into(),
                message: "no such tier (or it is still in use)".into(),
            },
            _ => Self::Unavailable(e.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Unavailable(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The two backends.
pub enum Catalog {
    Config(ConfigCatalog),
    Postgres(PgCatalog),
}

impl Catalog {
    pub async fn find_key(&self, hash: &KeyHash) -> StoreResult<Option<KeyRecord>> {
        match self {
            Self::Config(c) => Ok(c.keys.get(hash).cloned()),
            Self::Postgres(pg) => pg.find_key(hash).await,
        }
    }

    pub async fn tiers(&self) -> StoreResult<Vec<Tier>> {
        match self {
            Self::Config(c) => Ok(c.tiers.values().cloned().collect()),
            Self::Postgres(pg) => pg.tiers().await,
        }
    }

    pub async fn consumers(&self) -> StoreResult<Vec<Consumer>> {
        match self {
            Self::Config(c) => Ok(c.consumers.clone()),
            Self::Postgres(pg) => pg.consumers().await,
        }
    }

    pub async fn consumer(&self, id: &str) -> StoreResult<Consumer> {
        let found = match self {
            Self::Config(c) => c.consumers.iter().find(|x| x.id == id).cloned(),
            Self::Postgres(pg) => pg.consumer(id).await?,
        };
        found.ok_or_else(|| StoreError::NotFound(format!("no consumer `{id}`")))
    }

    pub async fn keys_of(&self, consumer_id: &str) -> StoreResult<Vec<KeyInfo>> {
        self.consumer(consumer_id).await?;
        match self {
            Self::Config(c) => Ok(c.key_infos.get(consumer_id).cloned().unwrap_or_default()),
            Self::Postgres(pg) => pg.keys_of(consumer_id).await,
        }
    }

    fn pg(&self) -> StoreResult<&PgCatalog> {
        match self {
            Self::Config(_) => Err(StoreError::ReadOnly),
            Self::Postgres(pg) => Ok(pg),
        }
    }

    pub async fn create_consumer(
        &self,
        id: &str,
        tier: &str,
        description: &str,
    ) -> StoreResult<Consumer> {
        self.pg()?.create_consumer(id, tier, description).await
    }

    pub async fn update_consumer(
        &self,
        id: &str,
        change: &ConsumerChange,
    ) -> StoreResult<Consumer> {
        self.pg()?.update_consumer(id, change).await
    }

    pub async fn delete_consumer(&self, id: &str) -> StoreResult<Vec<KeyHash>> {
        self.pg()?.delete_consumer(id).await
    }

    pub async fn issue_key(
        &self,
        consumer_id: &str,
        request: &KeyRequest,
    ) -> StoreResult<IssuedKey> {
        self.pg()?.issue_key(consumer_id, request).await
    }

    /// Revokes a key; returns its hash so caches everywhere can drop it.
    pub async fn revoke_key(&self, consumer_id: &str, key_id: &str) -> StoreResult<KeyHash> {
        self.pg()?.revoke_key(consumer_id, key_id).await
    }

    /// Issues a key with the same scopes and expiry and revokes the old one.
    pub async fn rotate_key(
        &self,
        consumer_id: &str,
        key_id: &str,
        env: &str,
    ) -> StoreResult<(IssuedKey, KeyHash)> {
        self.pg()?.rotate_key(consumer_id, key_id, env).await
    }

    pub async fn put_tier(&self, tier: &Tier) -> StoreResult<()> {
        self.pg()?.put_tier(tier).await
    }

    pub async fn delete_tier(&self, name: &str) -> StoreResult<()> {
        self.pg()?.delete_tier(name).await
    }
}

/// DB-less mode: everything from the config file, hashed at load.
pub struct ConfigCatalog {
    keys: HashMap<KeyHash, KeyRecord>,
    key_infos: HashMap<String, Vec<KeyInfo>>,
    consumers: Vec<Consumer>,
    tiers: BTreeMap<String, Tier>,
}

impl ConfigCatalog {
    pub fn new(consumers: &[ConfiguredConsumer], tiers: &BTreeMap<String, Tier>) -> Self {
        let mut keys = HashMap::new();
        let mut key_infos: HashMap<String, Vec<KeyInfo>> = HashMap::new();
        for consumer in consumers {
            for (index, hash) in consumer.key_hashes.iter().enumerate() {
                let key_id = format!("config-{}-{index}", consumer.id);
                keys.insert(
                    *hash,
                    KeyRecord {
                        key_id: key_id.clone(),
                        consumer_id: consumer.id.clone(),
                        tier: consumer.tier.clone(),
                        scopes: consumer.scopes.clone(),
                        expires_at: None,
                        revoked: false,
                        consumer_disabled: false,
                    },
                );
                key_infos
                    .entry(consumer.id.clone())
                    .or_default()
                    .push(KeyInfo {
                        id: key_id,
                        consumer_id: consumer.id.clone(),
                        prefix: hash.to_string().chars().take(15).collect(),
                        scopes: consumer.scopes.clone(),
                        created_at: None,
                        expires_at: None,
                        revoked_at: None,
                        last_used_at: None,
                    });
            }
        }
        Self {
            keys,
            key_infos,
            consumers: consumers
                .iter()
                .map(|c| Consumer {
                    id: c.id.clone(),
                    tier: c.tier.clone(),
                    description: String::new(),
                    disabled: false,
                    created_at: None,
                })
                .collect(),
            tiers: tiers.clone(),
        }
    }
}

/// PostgreSQL: the tables of `migrations/`.
pub struct PgCatalog {
    pub pool: Pool,
}

const KEY_COLUMNS: &str =
    "id::text, consumer_id, prefix, scopes, created_at, expires_at, revoked_at, last_used_at";

fn key_info(row: &tokio_postgres::Row) -> KeyInfo {
    KeyInfo {
        id: row.get(0),
        consumer_id: row.get(1),
        prefix: row.get(2),
        scopes: row.get(3),
        created_at: row.get(4),
        expires_at: row.get(5),
        revoked_at: row.get(6),
        last_used_at: row.get(7),
    }
}

fn consumer(row: &tokio_postgres::Row) -> Consumer {
    Consumer {
        id: row.get(0),
        tier: row.get(1),
        description: row.get(2),
        disabled: row.get(3),
        created_at: row.get(4),
    }
}

fn tier(row: &tokio_postgres::Row) -> Tier {
    Tier {
        name: row.get(0),
        per_minute: row.get::<_, Option<i64>>(1).map(|n| n as u64),
        per_day: row.get::<_, Option<i64>>(2).map(|n| n as u64),
    }
}

fn to_db_limit(limit: Option<u64>) -> Option<i64> {
    limit.map(|n| i64::try_from(n).unwrap_or(i64::MAX))
}

impl PgCatalog {
    async fn find_key(&self, hash: &KeyHash) -> StoreResult<Option<KeyRecord>> {
        let client = self.pool.get().await?;
        let statement = client
            .prepare_cached(
                "SELECT k.id::text, k.consumer_id, c.tier, k.scopes, k.expires_at, \
                 k.revoked_at IS NOT NULL, c.disabled \
                 FROM api_keys k JOIN consumers c ON c.id = k.consumer_id WHERE k.key_hash = $1",
            )
            .await?;
        let row = client.query_opt(&statement, &[&hash.0.as_slice()]).await?;
        Ok(row.map(|row| KeyRecord {
            key_id: row.get(0),
            consumer_id: row.get(1),
            tier: row.get(2),
            scopes: row.get(3),
            expires_at: row.get(4),
            revoked: row.get(5),
            consumer_disabled: row.get(6),
        }))
    }

    async fn tiers(&self) -> StoreResult<Vec<Tier>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT name, per_minute, per_day FROM tiers ORDER BY name",
                &[],
            )
            .await?;
        Ok(rows.iter().map(tier).collect())
    }

    async fn consumers(&self) -> StoreResult<Vec<Consumer>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT id, tier, description, disabled, created_at FROM consumers ORDER BY id",
                &[],
            )
            .await?;
        Ok(rows.iter().map(consumer).collect())
    }

    async fn consumer(&self, id: &str) -> StoreResult<Option<Consumer>> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT id, tier, description, disabled, created_at FROM consumers WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(row.as_ref().map(consumer))
    }

    async fn keys_of(&self, consumer_id: &str) -> StoreResult<Vec<KeyInfo>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {KEY_COLUMNS} FROM api_keys WHERE consumer_id = $1 ORDER BY created_at"
                ),
                &[&consumer_id],
            )
            .await?;
        Ok(rows.iter().map(key_info).collect())
    }

    async fn create_consumer(
        &self,
        id: &str,
        tier: &str,
        description: &str,
    ) -> StoreResult<Consumer> {
        let client = self.pool.get().await?;
        let row = client
            .query_one(
                "INSERT INTO consumers (id, tier, description) VALUES ($1, $2, $3) \
                 RETURNING id, tier, description, disabled, created_at",
                &[&id, &tier, &description],
            )
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Conflict(_) => {
                    StoreError::Conflict(format!("consumer `{id}` already exists"))
                }
                StoreError::Invalid { .. } => StoreError::Invalid {
                    field: "tier".into(),
                    message: format!("no tier `{tier}`"),
                },
                other => other,
            })?;
        Ok(consumer(&row))
    }

    async fn update_consumer(&self, id: &str, change: &ConsumerChange) -> StoreResult<Consumer> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "UPDATE consumers SET tier = COALESCE($2, tier), description = COALESCE($3, description), \
                 disabled = COALESCE($4, disabled) WHERE id = $1 \
                 RETURNING id, tier, description, disabled, created_at",
                &[&id, &change.tier, &change.description, &change.disabled],
            )
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Invalid { .. } => StoreError::Invalid {
                    field: "tier".into(),
                    message: format!("no tier `{}`", change.tier.as_deref().unwrap_or_default()),
                },
                other => other,
            })?;
        row.as_ref()
            .map(consumer)
            .ok_or_else(|| StoreError::NotFound(format!("no consumer `{id}`")))
    }

    async fn delete_consumer(&self, id: &str) -> StoreResult<Vec<KeyHash>> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let hashes = transaction
            .query(
                "SELECT key_hash FROM api_keys WHERE consumer_id = $1",
                &[&id],
            )
            .await?
            .iter()
            .filter_map(|row| row.get::<_, Vec<u8>>(0).try_into().ok().map(KeyHash))
            .collect();
        let deleted = transaction
            .execute("DELETE FROM consumers WHERE id = $1", &[&id])
            .await?;
        transaction.commit().await?;
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("no consumer `{id}`")));
        }
        Ok(hashes)
    }

    async fn issue_key(&self, consumer_id: &str, request: &KeyRequest) -> StoreResult<IssuedKey> {
        let client = self.pool.get().await?;
        issue_with(&**client, consumer_id, request).await
    }

    async fn revoke_key(&self, consumer_id: &str, key_id: &str) -> StoreResult<KeyHash> {
        let client = self.pool.get().await?;
        revoke_with(&**client, consumer_id, key_id).await
    }

    async fn rotate_key(
        &self,
        consumer_id: &str,
        key_id: &str,
        env: &str,
    ) -> StoreResult<(IssuedKey, KeyHash)> {
        let mut client = self.pool.get().await?;
        let transaction = client.transaction().await?;
        let row = transaction
            .query_opt(
                "SELECT scopes, expires_at FROM api_keys \
                 WHERE id::text = $1 AND consumer_id = $2 AND revoked_at IS NULL FOR UPDATE",
                &[&key_id, &consumer_id],
            )
            .await?
            .ok_or_else(|| {
                StoreError::NotFound(format!(
                    "no active key `{key_id}` for consumer `{consumer_id}`"
                ))
            })?;
        let request = KeyRequest {
            env: env.to_owned(),
            scopes: row.get(0),
            expires_at: row.get(1),
        };
        let issued = issue_with(&*transaction, consumer_id, &request).await?;
        let old = revoke_with(&*transaction, consumer_id, key_id).await?;
        transaction.commit().await?;
        Ok((issued, old))
    }

    async fn put_tier(&self, tier: &Tier) -> StoreResult<()> {
        let client = self.pool.get().await?;
        client
            .execute(
                "INSERT INTO tiers (name, per_minute, per_day) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO UPDATE SET per_minute = $2, per_day = $3",
                &[
                    &tier.name,
                    &to_db_limit(tier.per_minute),
                    &to_db_limit(tier.per_day),
                ],
            )
            .await?;
        Ok(())
    }

    async fn delete_tier(&self, name: &str) -> StoreResult<()> {
        let client = self.pool.get().await?;
        let deleted = client
            .execute("DELETE FROM tiers WHERE name = $1", &[&name])
            .await
            .map_err(|e| match StoreError::from(e) {
                StoreError::Invalid { .. } => {
                    StoreError::Conflict(format!("tier `{name}` is still used by consumers"))
                }
                other => other,
            })?;
        if deleted == 0 {
            return Err(StoreError::NotFound(format!("no tier `{name}`")));
        }
        Ok(())
    }

    /// Adds `tiers` that the database does not have yet (the file seeds; the admin API owns them).
    pub async fn seed_tiers(&self, tiers: &BTreeMap<String, Tier>) -> StoreResult<()> {
        let client = self.pool.get().await?;
        for tier in tiers.values() {
            client
                .execute(
                    "INSERT INTO tiers (name, per_minute, per_day) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING",
                    &[&tier.name, &to_db_limit(tier.per_minute), &to_db_limit(tier.per_day)],
                )
                .await?;
        }
        Ok(())
    }

    /// Adds the file's consumers and keys that the database does not have yet, so a first
    /// consumer can be bootstrapped from the file. Existing rows win: a key revoked through the
    /// admin API stays revoked even if the file still lists it.
    pub async fn seed_consumers(&self, consumers: &[ConfiguredConsumer]) -> StoreResult<()> {
        let client = self.pool.get().await?;
        for consumer in consumers {
            client
                .execute(
                    "INSERT INTO consumers (id, tier, description) VALUES ($1, $2, 'from the config file') \
                     ON CONFLICT (id) DO NOTHING",
                    &[&consumer.id, &consumer.tier],
                )
                .await?;
            for hash in &consumer.key_hashes {
                let prefix: String = hash.to_string().chars().take(15).collect();
                client
                    .execute(
                        "INSERT INTO api_keys (id, consumer_id, key_hash, prefix, scopes) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (key_hash) DO NOTHING",
                        &[
                            &uuid::Uuid::now_v7(),
                            &consumer.id,
                            &hash.0.as_slice(),
                            &prefix,
                            &consumer.scopes,
                        ],
                    )
                    .await?;
            }
        }
        Ok(())
    }

    pub async fn usage(
        &self,
        consumer_id: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> StoreResult<Vec<UsageRow>> {
        let client = self.pool.get().await?;
        let rows = client
            .query(
                "SELECT consumer_id, day, service, requests FROM usage_daily \
                 WHERE consumer_id = $1 AND day BETWEEN $2 AND $3 ORDER BY day, service",
                &[&consumer_id, &from, &to],
            )
            .await?;
        Ok(rows
            .iter()
            .map(|row| UsageRow {
                consumer_id: row.get(0),
                day: row.get(1),
                service: row.get(2),
                requests: row.get::<_, i64>(3) as u64,
            })
            .collect())
    }
}

async fn issue_with(
    client: &impl tokio_postgres::GenericClient,
    consumer_id: &str,
    request: &KeyRequest,
) -> StoreResult<IssuedKey> {
    let key = generate_key(&request.env);
    let hash = KeyHash::of(&key);
    let id = uuid::Uuid::now_v7();
    let row = client
        .query_opt(
            &format!(
                "INSERT INTO api_keys (id, consumer_id, key_hash, prefix, scopes, expires_at) \
                 SELECT $1, id, $3, $4, $5, $6 FROM consumers WHERE id = $2 RETURNING {KEY_COLUMNS}"
            ),
            &[
                &id,
                &consumer_id,
                &hash.0.as_slice(),
                &display_prefix(&key),
                &request.scopes,
                &request.expires_at,
            ],
        )
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("no consumer `{consumer_id}`")))?;
    Ok(IssuedKey {
        key,
        info: key_info(&row),
    })
}

async fn revoke_with(
    client: &impl tokio_postgres::GenericClient,
    consumer_id: &str,
    key_id: &str,
) -> StoreResult<KeyHash> {
    let row = client
        .query_opt(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) \
             WHERE id::text = $1 AND consumer_id = $2 RETURNING key_hash",
            &[&key_id, &consumer_id],
        )
        .await?
        .ok_or_else(|| {
            StoreError::NotFound(format!("no key `{key_id}` for consumer `{consumer_id}`"))
        })?;
    row.get::<_, Vec<u8>>(0)
        .try_into()
        .map(KeyHash)
        .map_err(|_| StoreError::Unavailable("stored key hash is not 32 bytes".into()))
}
