//! Who is calling: API keys (looked up by SHA-256 in the catalog, cached briefly), bearer JWTs,
//! or, when configured, anonymous callers by IP. Produces the [`Identity`] that rate limits,
//! usage and the `X-Consumer-*` headers are keyed on.

pub mod cache;
pub mod catalog;
pub mod database;
pub mod events;
pub mod jwt;
pub mod keys;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use chrono::Utc;
use http::HeaderValue;

use self::cache::{CachedKey, KeyCache};
use self::catalog::{Catalog, ConfigCatalog, KeyRecord, PgCatalog, StoreError};
use self::events::Events;
use self::jwt::JwtVerifier;
use self::keys::KeyHash;
use crate::config::AccessConfig;
use crate::limits::{LimitValues, Limiter, LocalLimiter, RedisLimiter, Tier};
use crate::usage::UsageMeter;

/// What the caller presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credential<'a> {
    ApiKey(&'a str),
    Bearer(&'a str),
    Nothing,
}

/// An authenticated caller. A cached key's identity is made once, with the header values it is
/// forwarded as, and shared by every request presenting the key.
#[derive(Debug, PartialEq)]
pub struct Identity {
    pub consumer_id: Arc<str>,
    pub tier: Arc<Tier>,
    /// The API key used, if any (for last-used times).
    pub key_id: Option<Arc<str>>,
    /// What rate limits count against: the consumer, or the client IP for anonymous calls.
    pub subject: String,
    /// `consumer_id` and the tier's name as header values (`X-Consumer-Id`, `X-Consumer-Tier`).
    pub consumer_header: HeaderValue,
    pub tier_header: HeaderValue,
    /// The tier's limits as header values (`X-RateLimit-Limit-*`).
    pub limit_values: LimitValues,
}

impl Identity {
    /// `None` when the consumer id or the tier's name cannot be sent in a header.
    fn new(
        consumer_id: &str,
        tier: Arc<Tier>,
        key_id: Option<&str>,
        subject: String,
    ) -> Option<Self> {
        Some(Self {
            consumer_header: HeaderValue::from_str(consumer_id).ok()?,
            tier_header: HeaderValue::from_str(&tier.name).ok()?,
            limit_values: LimitValues::of(&tier),
            consumer_id: consumer_id.into(),
            tier,
            key_id: key_id.map(Arc::from),
            subject,
        })
    }
}

/// Why a request is not let through.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("Missing credentials: send `X-API-Key: <key>` or `Authorization: Bearer <token>`")]
    Missing,
    #[error("Invalid API key")]
    UnknownKey,
    #[error("API key has expired")]
    ExpiredKey,
    #[error("API key has been revoked")]
    RevokedKey,
    #[error("Consumer is disabled")]
    Disabled,
    #[error("Invalid bearer token: {0}")]
    BadToken(String),
    #[error("This key may not call `{0}`")]
    OutOfScope(String),
    #[error("Identity store unavailable")]
    StoreUnavailable,
}

impl AuthFailure {
    /// A short label for metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::UnknownKey => "unknown_key",
            Self::ExpiredKey => "expired_key",
            Self::RevokedKey => "revoked_key",
            Self::Disabled => "disabled",
            Self::BadToken(_) => "bad_token",
            Self::OutOfScope(_) => "out_of_scope",
            Self::StoreUnavailable => "store_unavailable",
        }
    }
}

/// Authentication state shared by every request; built once at start.
pub struct Access {
    catalog: ArcSwap<Catalog>,
    cache: Arc<KeyCache>,
    tiers: ArcSwap<HashMap<String, Arc<Tier>>>,
    jwt: ArcSwap<JwtVerifier>,
    anonymous_tier: ArcSwap<Option<String>>,
    pub limiter: Limiter,
    pub usage: UsageMeter,
    pub events: Option<Arc<Events>>,
    pub pool: Option<deadpool_postgres::Pool>,
    /// The store settings this was built with: changing them needs a restart.
    stores: (
        Option<crate::config::RedisConfig>,
        Option<crate::config::DatabaseConfig>,
    ),
}

impl Access {
    /// Connects the stores (migrating the database) and loads tiers.
    pub async fn new(config: &AccessConfig) -> anyhow::Result<Self> {
        let (catalog, pool) = match &config.database {
            Some(db) => {
                let applied = database::migrate(&db.url).await?;
                if !applied.is_empty() {
                    tracing::info!(?applied, "database migrations applied");
                }
                let pool = database::pool(&db.url, db.pool_size)?;
                let pg = PgCatalog { pool: pool.clone() };
                pg.seed_tiers(&config.tiers).await?;
                pg.seed_consumers(&config.consumers).await?;
                (Catalog::Postgres(pg), Some(pool))
            }
            None => (
                Catalog::Config(ConfigCatalog::new(&config.consumers, &config.tiers)),
                None,
            ),
        };
        let cache = Arc::new(KeyCache::new());
        let (limiter, events) = match &config.redis {
            Some(redis) => {
                let client = redis::Client::open(redis.url.as_str())?;
                let limiter = RedisLimiter::new(
                    client.clone(),
                    redis.key_prefix.clone(),
                    redis.timeout,
                    redis.on_failure,
                );
                let events = Events::new(client, &redis.key_prefix, cache.clone());
                (Limiter::Redis(limiter), Some(Arc::new(events)))
            }
            None => (Limiter::Local(LocalLimiter::new()), None),
        };
        let access = Self {
            catalog: ArcSwap::from_pointee(catalog),
            cache,
            tiers: ArcSwap::from_pointee(HashMap::new()),
            jwt: ArcSwap::from_pointee(JwtVerifier::new(&config.jwt)),
            anonymous_tier: ArcSwap::from_pointee(config.anonymous_tier.clone()),
            limiter,
            usage: UsageMeter::new(),
            events,
            pool,
            stores: (config.redis.clone(), config.database.clone()),
        };
        access.reload_tiers().await?;
        Ok(access)
    }

    /// Takes a reloaded file's consumers, tiers, issuers and anonymous tier. The stores
    /// themselves (Redis, database) are fixed for the life of the process.
    pub async fn apply(&self, config: &AccessConfig) -> Result<(), String> {
        if (config.redis.as_ref(), config.database.as_ref())
            != (self.stores.0.as_ref(), self.stores.1.as_ref())
        {
            return Err(
                "`redis` and `database` cannot change on reload: restart the gateway".into(),
            );
        }
        match &**self.catalog.load() {
            Catalog::Config(_) => {
                self.catalog
                    .store(Arc::new(Catalog::Config(ConfigCatalog::new(
                        &config.consumers,
                        &config.tiers,
                    ))));
            }
            Catalog::Postgres(pg) => {
                pg.seed_tiers(&config.tiers)
                    .await
                    .map_err(|e| e.to_string())?;
                pg.seed_consumers(&config.consumers)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
        self.jwt.store(Arc::new(JwtVerifier::new(&config.jwt)));
        self.anonymous_tier
            .store(Arc::new(config.anonymous_tier.clone()));
        self.cache.clear();
        self.reload_tiers().await.map_err(|e| e.to_string())
    }

    /// `postgres` or `config` (DB-less).
    pub fn store_kind(&self) -> &'static str {
        match &**self.catalog.load() {
            Catalog::Config(_) => "config",
            Catalog::Postgres(_) => "postgres",
        }
    }

    pub fn catalog(&self) -> Arc<Catalog> {
        self.catalog.load_full()
    }

    /// Reads the tiers from the catalog again (after a change, told so by another gateway, or
    /// every so often). Cached keys carry their tier, so a change also empties the key cache.
    pub async fn reload_tiers(&self) -> Result<(), StoreError> {
        let tiers: HashMap<String, Arc<Tier>> = self
            .catalog()
            .tiers()
            .await?
            .into_iter()
            .map(|t| (t.name.clone(), Arc::new(t)))
            .collect();
        if **self.tiers.load() != tiers {
            self.tiers.store(Arc::new(tiers));
            self.cache.clear();
        }
        Ok(())
    }

    /// Forgets cached keys (after a change made here or announced by another gateway).
    pub fn forget_keys(&self, hashes: &[KeyHash]) {
        for hash in hashes {
            self.cache.remove(hash);
        }
    }

    pub fn forget_all_keys(&self) {
        self.cache.clear();
    }

    fn tier(&self, name: &str) -> Option<Arc<Tier>> {
        self.tiers.load().get(name).cloned()
    }

    /// Authenticates a request for `/api/v1/<segment>/<rest>`.
    pub async fn authenticate(
        &self,
        credential: Credential<'_>,
        client_ip: Option<IpAddr>,
        segment: &str,
        rest: &str,
    ) -> Result<Arc<Identity>, AuthFailure> {
        match credential {
            Credential::ApiKey(key) => self.by_key(key, segment, rest).await,
            Credential::Bearer(token) => self.by_token(token).await,
            Credential::Nothing => {
                let anonymous = self.anonymous_tier.load();
                let tier = (**anonymous)
                    .as_deref()
                    .and_then(|name| self.tier(name))
                    .ok_or(AuthFailure::Missing)?;
                let mut subject = String::with_capacity(18);
                subject.push_str("ip:");
                match client_ip {
                    Some(ip) => push_ip(&mut subject, ip),
                    None => subject.push_str("unknown"),
                }
                Identity::new("anonymous", tier, None, subject)
                    .map(Arc::new)
                    .ok_or(AuthFailure::StoreUnavailable)
            }
        }
    }

    async fn by_key(
        &self,
        key: &str,
        segment: &str,
        rest: &str,
    ) -> Result<Arc<Identity>, AuthFailure> {
        let hash = KeyHash::of(key);
        let cached = match self.cache.get(&hash) {
            Some(found) => found,
            None => {
                let generation = self.cache.generation();
                let found = self.catalog().find_key(&hash).await.map_err(|e| {
                    tracing::error!(error = ?e, "API key lookup failed");
                    AuthFailure::StoreUnavailable
                })?;
                let found = found.map(|record| Arc::new(self.resolve(record)));
                let subscribed = self.events.as_ref().is_some_and(|e| e.is_subscribed());
                self.cache
                    .insert(hash, found.clone(), subscribed, generation);
                found
            }
        };
        let CachedKey { record, identity } = &*cached.ok_or(AuthFailure::UnknownKey)?;
        if record.revoked {
            return Err(AuthFailure::RevokedKey);
        }
        if record.expires_at.is_some_and(|at| at <= Utc::now()) {
            return Err(AuthFailure::ExpiredKey);
        }
        if record.consumer_disabled {
            return Err(AuthFailure::Disabled);
        }
        if !scope_allows(&record.scopes, segment, rest) {
            return Err(AuthFailure::OutOfScope(format!(
                "{segment}/{}",
                rest.trim_matches('/')
            )));
        }
        identity.clone().ok_or_else(|| {
            tracing::error!(tier = %record.tier, consumer = %record.consumer_id, "consumer has an unknown tier, or an id or tier name not valid in a header");
            AuthFailure::StoreUnavailable
        })
    }

    /// A key record with the identity its requests get (`None` if its tier is unknown, or its
    /// consumer id or tier name cannot be a header value: ids made through the admin API can).
    fn resolve(&self, record: KeyRecord) -> CachedKey {
        let identity = self.tier(&record.tier).and_then(|tier| {
            let subject = record.consumer_id.clone();
            Identity::new(&record.consumer_id, tier, Some(&record.key_id), subject)
        });
        CachedKey {
            identity: identity.map(Arc::new),
            record,
        }
    }

    async fn by_token(&self, token: &str) -> Result<Arc<Identity>, AuthFailure> {
        let verifier = self.jwt.load_full();
        if verifier.is_empty() {
            return Err(AuthFailure::BadToken("no JWT issuer is configured".into()));
        }
        let now = u64::try_from(Utc::now().timestamp()).unwrap_or(0);
        let found = verifier
            .verify(token, now)
            .await
            .map_err(|e| AuthFailure::BadToken(e.0))?;
        let tier = found
            .tier
            .as_deref()
            .and_then(|name| self.tier(name))
            .or_else(|| self.tier(&found.default_tier))
            .ok_or(AuthFailure::StoreUnavailable)?;
        let subject = format!("jwt:{}:{}", found.issuer, found.consumer_id);
        Identity::new(&found.consumer_id, tier, None, subject)
            .map(Arc::new)
            .ok_or_else(|| {
                AuthFailure::BadToken("the consumer claim is not valid in a header".into())
            })
    }
}

/// Whether `scopes` let a key call `/api/v1/<segment>/<rest>`: a scope names a service
/// (`crypto`) or an operation path under it (`crypto/hash`, matching `hash` and `hash/…`).
pub fn scope_allows(scopes: &[String], segment: &str, rest: &str) -> bool {
    if scopes.is_empty() {
        return true;
    }
    let rest = rest.trim_matches('/');
    scopes.iter().any(|scope| {
        let (service, operation) = scope.split_once('/').unwrap_or((scope, ""));
        if service != segment
            && !crate::config::SERVICES
                .iter()
                .any(|(name, seg, _)| *name == service && *seg == segment)
        {
            return false;
        }
        let operation = operation.trim_matches('/');
        operation.is_empty()
            || rest == operation
            || rest
                .strip_prefix(operation)
                .is_some_and(|tail| tail.starts_with('/'))
    })
}

/// Appends an IP address as `Display` writes it, without the formatting machinery: it runs on
/// every request (the anonymous subject, `X-Forwarded-For`), where that cost 1.3k instructions.
pub(crate) fn push_ip(text: &mut String, ip: IpAddr) {
    let IpAddr::V4(v4) = ip else {
        use std::fmt::Write;
        let _infallible = write!(text, "{ip}");
        return;
    };
    for (i, octet) in v4.octets().into_iter().enumerate() {
        if i > 0 {
            text.push('.');
        }
        if octet >= 100 {
            text.push(char::from(b'0' + octet / 100));
        }
        if octet >= 10 {
            text.push(char::from(b'0' + octet / 10 % 10));
        }
        text.push(char::from(b'0' + octet % 10));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scopes(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn ip_addresses_are_written_as_display_writes_them() {
        for ip in [
            "0.0.0.0",
            "255.255.255.255",
            "127.0.0.1",
            "10.0.100.9",
            "1.22.103.250",
            "::1",
            "2001:db8::8a2e:370:7334",
            "::ffff:192.0.2.128",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            let mut text = String::from("ip:");
            push_ip(&mut text, ip);
            assert_eq!(text, format!("ip:{ip}"));
        }
    }

    #[test]
    fn scopes_name_services_or_operations() {
        assert!(scope_allows(&[], "crypto", "hash"));
        let crypto = scopes(&["crypto"]);
        assert!(scope_allows(&crypto, "crypto", "hash"));
        assert!(!scope_allows(&crypto, "math", "evaluate"));
        let hash_only = scopes(&["crypto/hash"]);
        assert!(scope_allows(&hash_only, "crypto", "hash"));
        assert!(scope_allows(&hash_only, "crypto", "/hash/"));
        assert!(scope_allows(&hash_only, "crypto", "hash/stream"));
        assert!(!scope_allows(&hash_only, "crypto", "hashes"));
        assert!(!scope_allows(&hash_only, "crypto", "encrypt"));
        // The data-transform service is reached as `data`; either name works in a scope.
        assert!(scope_allows(
            &scopes(&["data-transform"]),
            "data",
            "convert"
        ));
        assert!(scope_allows(&scopes(&["data/convert"]), "data", "convert"));
    }
}
