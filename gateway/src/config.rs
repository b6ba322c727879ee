//! The declarative config file (DESIGN.md "Gateway configuration"), read once and validated.
//! Unknown keys are errors naming their path; absent services get their default local port.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use crate::identity::keys::KeyHash;
use crate::limits::{OnFailure, Tier, default_tiers};

/// Environment variable naming the config file.
pub const ENV_CONFIG: &str = "FLOWFORGE_CONFIG";

/// Every service the gateway routes to, with its path segment and default local port.
pub const SERVICES: [(&str, &str, u16); 8] = [
    ("crypto", "crypto", 3001),
    ("math", "math", 3002),
    ("pdf", "pdf", 3003),
    ("ocr", "ocr", 3004),
    ("image", "image", 3005),
    ("llm", "llm", 3006),
    ("vector", "vector", 3007),
    ("data-transform", "data", 3008),
];

const DEFAULT_TIMEOUT_SECONDS: u64 = 60;
const DEFAULT_MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// Why a config could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("config error at `{path}`: {message}")]
    Invalid { path: String, message: String },
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        path: path.into(),
        message: message.into(),
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileConfig {
    #[serde(default)]
    pub gateway: GatewaySection,
    #[serde(default)]
    pub services: BTreeMap<String, ServiceSection>,
    #[serde(default)]
    pub tiers: BTreeMap<String, TierSection>,
    #[serde(default)]
    pub consumers: Vec<ConsumerSection>,
    #[serde(default)]
    pub jwt: Vec<JwtSection>,
    #[serde(default)]
    pub redis: Option<RedisSection>,
    #[serde(default)]
    pub database: Option<DatabaseSection>,
}

/// `gateway:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySection {
    #[serde(default = "default_listen")]
    pub listen: String,
    #[serde(default = "default_admin")]
    pub admin: String,
    /// Required for the admin API; absent = admin API off.
    #[serde(default)]
    pub admin_token: Option<String>,
    #[serde(default)]
    pub cors: CorsSection,
    /// Largest request body forwarded, in bytes (default 25 MiB).
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Seconds between active health checks of every instance (default 1; read at start).
    #[serde(default)]
    pub health_check_seconds: Option<u64>,
    /// Unauthenticated API calls get this tier, limited per client IP; absent = they get 401.
    #[serde(default)]
    pub anonymous_tier: Option<String>,
}

impl Default for GatewaySection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            admin: default_admin(),
            admin_token: None,
            cors: CorsSection::default(),
            max_body_bytes: None,
            health_check_seconds: None,
            anonymous_tier: None,
        }
    }
}

fn default_listen() -> String {
    "0.0.0.0:8000".into()
}

fn default_admin() -> String {
    "127.0.0.1:8001".into()
}

/// `gateway.cors:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorsSection {
    #[serde(default = "any_origin")]
    pub allow_origins: Vec<String>,
}

impl Default for CorsSection {
    fn default() -> Self {
        Self {
            allow_origins: any_origin(),
        }
    }
}

fn any_origin() -> Vec<String> {
    vec!["*".into()]
}

/// `services.<name>:`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSection {
    #[serde(default)]
    pub upstreams: Vec<String>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
    /// Named groups (blue/green) with weights.
    #[serde(default)]
    pub groups: BTreeMap<String, GroupSection>,
    /// How a request picks an instance: `round-robin` (default) or `least-connections`.
    #[serde(default)]
    pub balance: Balance,
}

/// How a pool picks an instance for a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Balance {
    /// Weighted round robin.
    #[default]
    RoundRobin,
    /// The healthy instance with the fewest requests in flight for its weight; ties rotate.
    /// For services whose requests vary widely in cost (llm, ocr, pdf).
    LeastConnections,
}

/// `services.<name>.groups.<group>:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupSection {
    pub upstreams: Vec<String>,
    #[serde(default = "full_weight")]
    pub weight: u32,
}

fn full_weight() -> u32 {
    100
}

/// `tiers.<name>:` (enforced by the rate limiter).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TierSection {
    #[serde(default)]
    pub per_minute: Option<u64>,
    #[serde(default)]
    pub per_day: Option<u64>,
}

/// `consumers[]:` (DB-less mode).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsumerSection {
    pub id: String,
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub key_hashes: Vec<String>,
    /// Services (`crypto`) or operations (`crypto/hash`) the keys may call; empty = all.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// `jwt[]:`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JwtSection {
    pub issuer: String,
    #[serde(default)]
    pub audiences: Vec<String>,
    #[serde(default)]
    pub algorithms: Vec<String>,
    #[serde(default)]
    pub jwks_url: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    #[serde(default)]
    pub consumer_claim: Option<String>,
    #[serde(default)]
    pub tier_claim: Option<String>,
    #[serde(default)]
    pub leeway_seconds: Option<u64>,
    /// Tier for tokens without (or with an unknown) tier claim (default `free`).
    #[serde(default)]
    pub default_tier: Option<String>,
}

/// `redis:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RedisSection {
    pub url: String,
    /// `allow` (default: the in-process limiter takes over) or `deny` (503).
    #[serde(default)]
    pub on_failure: Option<String>,
    /// Prefix of every key and channel (default `flowforge:`).
    #[serde(default)]
    pub key_prefix: Option<String>,
    /// Longest wait for one Redis call before falling back (default 25 ms).
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// `database:`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DatabaseSection {
    pub url: String,
    /// Connections per gateway (default 8).
    #[serde(default)]
    pub pool_size: Option<usize>,
}

/// The validated configuration the gateway runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayConfig {
    pub listen: SocketAddr,
    pub admin: SocketAddr,
    pub admin_token: Option<String>,
    pub allow_origins: Vec<String>,
    pub max_body_bytes: usize,
    /// Time between active health checks.
    pub health_check_interval: Duration,
    /// One entry per known service, in [`SERVICES`] order.
    pub services: Vec<ServiceConfig>,
    /// Consumers, tiers, JWT issuers and the stores behind them.
    pub access: AccessConfig,
}

/// Who may call, and how much.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessConfig {
    /// The default tiers with the file's `tiers:` laid over them.
    pub tiers: BTreeMap<String, Tier>,
    /// DB-less consumers; with `database` set, seeds added to it when missing.
    pub consumers: Vec<ConfiguredConsumer>,
    pub jwt: Vec<JwtSection>,
    pub anonymous_tier: Option<String>,
    pub redis: Option<RedisConfig>,
    pub database: Option<DatabaseConfig>,
}

/// A consumer from the file, its keys already hashed.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfiguredConsumer {
    pub id: String,
    pub tier: String,
    pub key_hashes: Vec<KeyHash>,
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RedisConfig {
    pub url: String,
    pub on_failure: OnFailure,
    pub key_prefix: String,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DatabaseConfig {
    pub url: String,
    pub pool_size: usize,
}

/// One service's routing.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceConfig {
    /// Service name (`data-transform`).
    pub name: String,
    /// First path segment after `/api/v1/` (`data`).
    pub segment: String,
    /// Upstream groups; a service without groups has one group `default` with weight 100.
    pub groups: Vec<UpstreamGroup>,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    pub balance: Balance,
}

/// A weighted set of instances.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamGroup {
    pub name: String,
    pub upstreams: Vec<SocketAddr>,
    pub weight: u32,
}

impl GatewayConfig {
    /// Reads the file named by `FLOWFORGE_CONFIG`, or the defaults when it is unset.
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var(ENV_CONFIG) {
            Ok(path) if !path.trim().is_empty() => {
                let text = std::fs::read_to_string(&path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                Self::from_yaml(&text)
            }
            _ => Self::from_file(FileConfig::default()),
        }
    }

    /// Parses and validates YAML text.
    pub fn from_yaml(text: &str) -> Result<Self, ConfigError> {
        let deserializer = serde_norway::Deserializer::from_str(text);
        let file: FileConfig = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            invalid(
                if path == "." {
                    "(root)".to_owned()
                } else {
                    path
                },
                e.into_inner().to_string(),
            )
        })?;
        Self::from_file(file)
    }

    /// Validates a parsed file and fills in defaults.
    pub fn from_file(file: FileConfig) -> Result<Self, ConfigError> {
        for name in file.services.keys() {
            if !SERVICES.iter().any(|(known, _, _)| known == name) {
                let known: Vec<_> = SERVICES.iter().map(|(n, _, _)| *n).collect();
                return Err(invalid(
                    format!("services.{name}"),
                    format!("unknown service; known: {}", known.join(", ")),
                ));
            }
        }
        let max_body_bytes = file
            .gateway
            .max_body_bytes
            .unwrap_or(DEFAULT_MAX_BODY_BYTES);
        let health_check_seconds = file.gateway.health_check_seconds.unwrap_or(1);
        if health_check_seconds == 0 {
            return Err(invalid("gateway.healthCheckSeconds", "must be at least 1"));
        }
        let services = SERVICES
            .iter()
            .map(|(name, segment, port)| {
                let section = file.services.get(*name).cloned().unwrap_or_default();
                service_config(name, segment, *port, &section, max_body_bytes)
            })
            .collect::<Result<_, _>>()?;
        let access = access_config(&file)?;
        Ok(Self {
            listen: parse_addr("gateway.listen", &file.gateway.listen)?,
            admin: parse_addr("gateway.admin", &file.gateway.admin)?,
            admin_token: file.gateway.admin_token.filter(|t| !t.is_empty()),
            allow_origins: file.gateway.cors.allow_origins,
            max_body_bytes,
            health_check_interval: Duration::from_secs(health_check_seconds),
            services,
            access,
        })
    }

    /// The service a path segment routes to.
    pub fn service_by_segment(&self, segment: &str) -> Option<&ServiceConfig> {
        self.services.iter().find(|s| s.segment == segment)
    }
}

fn service_config(
    name: &str,
    segment: &str,
    port: u16,
    section: &ServiceSection,
    gateway_max_body: usize,
) -> Result<ServiceConfig, ConfigError> {
    let path = format!("services.{name}");
    let groups = if section.groups.is_empty() {
        let upstreams = if section.upstreams.is_empty() {
            vec![format!("127.0.0.1:{port}")]
        } else {
            section.upstreams.clone()
        };
        vec![UpstreamGroup {
            name: "default".into(),
            upstreams: parse_addrs(&format!("{path}.upstreams"), &upstreams)?,
            weight: 100,
        }]
    } else {
        if !section.upstreams.is_empty() {
            return Err(invalid(
                format!("{path}.upstreams"),
                "give either `upstreams` or `groups`, not both",
            ));
        }
        let groups = section
            .groups
            .iter()
            .map(|(group, g)| {
                let upstreams =
                    parse_addrs(&format!("{path}.groups.{group}.upstreams"), &g.upstreams)?;
                if upstreams.is_empty() {
                    return Err(invalid(
                        format!("{path}.groups.{group}.upstreams"),
                        "must list at least one instance",
                    ));
                }
                Ok(UpstreamGroup {
                    name: group.clone(),
                    upstreams,
                    weight: g.weight,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if groups.iter().all(|g| g.weight == 0) {
            return Err(invalid(
                format!("{path}.groups"),
                "at least one group needs a weight above 0",
            ));
        }
        groups
    };
    let timeout_seconds = section.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS);
    if timeout_seconds == 0 {
        return Err(invalid(
            format!("{path}.timeoutSeconds"),
            "must be at least 1",
        ));
    }
    Ok(ServiceConfig {
        name: name.into(),
        segment: segment.into(),
        groups,
        timeout: Duration::from_secs(timeout_seconds),
        max_body_bytes: section.max_body_bytes.unwrap_or(gateway_max_body),
        balance: section.balance,
    })
}

fn access_config(file: &FileConfig) -> Result<AccessConfig, ConfigError> {
    let mut tiers: BTreeMap<String, Tier> = default_tiers()
        .into_iter()
        .map(|t| (t.name.clone(), t))
        .collect();
    for (name, section) in &file.tiers {
        let tier = Tier {
            name: name.clone(),
            per_minute: section.per_minute,
            per_day: section.per_day,
        };
        tier.check_limits()
            .map_err(|(field, message)| invalid(format!("tiers.{name}.{field}"), message))?;
        tiers.insert(name.clone(), tier);
    }
    let known_tier = |path: String, tier: &str| {
        if tiers.contains_key(tier) {
            Ok(())
        } else {
            let known: Vec<_> = tiers.keys().map(String::as_str).collect();
            Err(invalid(
                path,
                format!("unknown tier `{tier}`; tiers: {}", known.join(", ")),
            ))
        }
    };
    let mut consumers = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, c) in file.consumers.iter().enumerate() {
        let path = format!("consumers[{i}]");
        if c.id.trim().is_empty() {
            return Err(invalid(format!("{path}.id"), "must not be empty"));
        }
        let tier = c.tier.clone().unwrap_or_else(|| "free".into());
        known_tier(format!("{path}.tier"), &tier)?;
        let mut key_hashes: Vec<KeyHash> = c.keys.iter().map(|k| KeyHash::of(k)).collect();
        for (j, text) in c.key_hashes.iter().enumerate() {
            key_hashes.push(KeyHash::parse(text).ok_or_else(|| {
                invalid(
                    format!("{path}.keyHashes[{j}]"),
                    "expected `sha256:` and 64 hex digits",
                )
            })?);
        }
        for hash in &key_hashes {
            if !seen.insert(*hash) {
                return Err(invalid(path, "a key is listed twice"));
            }
        }
        consumers.push(ConfiguredConsumer {
            id: c.id.clone(),
            tier,
            key_hashes,
            scopes: c.scopes.clone(),
        });
    }
    if let Some(tier) = &file.gateway.anonymous_tier {
        known_tier("gateway.anonymousTier".into(), tier)?;
    }
    for (i, issuer) in file.jwt.iter().enumerate() {
        if let Some(tier) = &issuer.default_tier {
            known_tier(format!("jwt[{i}].defaultTier"), tier)?;
        }
        crate::identity::jwt::check_issuer(issuer)
            .map_err(|(field, message)| invalid(format!("jwt[{i}].{field}"), message))?;
    }
    let redis = match &file.redis {
        None => None,
        Some(r) => {
            let on_failure = match r.on_failure.as_deref().unwrap_or("allow") {
                "allow" => OnFailure::Allow,
                "deny" => OnFailure::Deny,
                other => {
                    return Err(invalid(
                        "redis.onFailure",
                        format!("`{other}`: expected `allow` or `deny`"),
                    ));
                }
            };
            if redis::Client::open(r.url.as_str()).is_err() {
                return Err(invalid("redis.url", "not a redis:// URL"));
            }
            Some(RedisConfig {
                url: r.url.clone(),
                on_failure,
                key_prefix: r.key_prefix.clone().unwrap_or_else(|| "flowforge:".into()),
                timeout: Duration::from_millis(r.timeout_ms.unwrap_or(25).max(1)),
            })
        }
    };
    let database = file.database.as_ref().map(|d| DatabaseConfig {
        url: d.url.clone(),
        pool_size: d.pool_size.unwrap_or(8).max(1),
    });
    Ok(AccessConfig {
        tiers,
        consumers,
        jwt: file.jwt.clone(),
        anonymous_tier: file.gateway.anonymous_tier.clone(),
        redis,
        database,
    })
}

fn parse_addrs(path: &str, values: &[String]) -> Result<Vec<SocketAddr>, ConfigError> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| parse_addr(&format!("{path}[{i}]"), v))
        .collect()
}

fn parse_addr(path: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    use std::net::ToSocketAddrs;
    value
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| invalid(path, format!("`{value}` is not host:port")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_path(yaml: &str) -> String {
        match GatewayConfig::from_yaml(yaml).unwrap_err() {
            ConfigError::Invalid { path, .. } => path,
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn defaults_route_every_service_to_its_local_port() {
        let config = GatewayConfig::from_yaml("{}").unwrap();
        assert_eq!(config.listen, "0.0.0.0:8000".parse().unwrap());
        assert_eq!(config.admin, "127.0.0.1:8001".parse().unwrap());
        assert_eq!(config.services.len(), 8);
        let data = config.service_by_segment("data").unwrap();
        assert_eq!(data.name, "data-transform");
        assert_eq!(
            data.groups[0].upstreams,
            vec!["127.0.0.1:3008".parse().unwrap()]
        );
        assert!(config.service_by_segment("data-transform").is_none());
    }

    #[test]
    fn reads_the_design_example() {
        let yaml = r#"
gateway:
  listen: 0.0.0.0:8000
  admin: 127.0.0.1:8001
  adminToken: change-me
  cors: { allowOrigins: ["*"] }
services:
  crypto: { upstreams: ["127.0.0.1:3001"] }
  image:
    timeoutSeconds: 60
    groups: { blue: { upstreams: ["10.0.1.5:3005"], weight: 100 }, green: { upstreams: ["10.0.2.5:3005"], weight: 0 } }
tiers:
  free: { perMinute: 100, perDay: 1000 }
consumers:
  - id: demo
    tier: free
    keys: ["ff_demo_0123456789abcdef"]
jwt:
  - issuer: https://auth.example.com/
    audiences: [flowforge]
    algorithms: [RS256, ES256]
    jwksUrl: https://auth.example.com/.well-known/jwks.json
    consumerClaim: sub
    tierClaim: tier
    leewaySeconds: 60
redis: { url: redis://127.0.0.1:6379, onFailure: allow }
database: { url: postgres://postgres@127.0.0.1:5432/flowforge }
"#;
        let config = GatewayConfig::from_yaml(yaml).unwrap();
        assert_eq!(config.admin_token.as_deref(), Some("change-me"));
        let image = config.service_by_segment("image").unwrap();
        let weights: Vec<_> = image
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.weight))
            .collect();
        assert_eq!(weights, [("blue", 100), ("green", 0)]);
        assert_eq!(image.balance, Balance::RoundRobin, "the default");
        let llm =
            GatewayConfig::from_yaml("services: { llm: { balance: least-connections } }").unwrap();
        assert_eq!(
            llm.service_by_segment("llm").unwrap().balance,
            Balance::LeastConnections
        );
    }

    #[test]
    fn errors_name_the_path() {
        assert_eq!(error_path("gateway: { lisen: 1 }"), "gateway.lisen");
        assert_eq!(
            error_path("services: { crypto: { upstream: [] } }"),
            "services.crypto.upstream"
        );
        assert_eq!(error_path("services: { cripto: {} }"), "services.cripto");
        assert_eq!(
            error_path("services: { crypto: { upstreams: [\"nowhere\"] } }"),
            "services.crypto.upstreams[0]"
        );
        assert_eq!(error_path("gateway: { listen: \"x\" }"), "gateway.listen");
        assert_eq!(
            error_path(
                "services: { image: { groups: { blue: { upstreams: [\"127.0.0.1:1\"], weight: 0 } } } }"
            ),
            "services.image.groups"
        );
        assert_eq!(
            error_path("services: { crypto: { timeoutSeconds: 0 } }"),
            "services.crypto.timeoutSeconds"
        );
        assert_eq!(
            error_path("gateway: { healthCheckSeconds: 0 }"),
            "gateway.healthCheckSeconds"
        );
        assert_eq!(error_path("extra: 1"), "extra");
        assert_eq!(
            error_path("services: { llm: { balance: fastest } }"),
            "services.llm.balance"
        );
    }

    #[test]
    fn access_errors_name_the_path() {
        for (yaml, path) in [
            ("tiers: { free: { perMinute: 0 } }", "tiers.free.perMinute"),
            (
                "consumers: [ { id: a, tier: platinum } ]",
                "consumers[0].tier",
            ),
            ("consumers: [ { id: \"\" } ]", "consumers[0].id"),
            (
                "consumers: [ { id: a, keyHashes: [\"sha256:beef\"] } ]",
                "consumers[0].keyHashes[0]",
            ),
            (
                "consumers: [ { id: a, keys: [k1] }, { id: b, keys: [k1] } ]",
                "consumers[1]",
            ),
            ("gateway: { anonymousTier: gold }", "gateway.anonymousTier"),
            (
                "redis: { url: \"redis://x\", onFailure: maybe }",
                "redis.onFailure",
            ),
            ("redis: { url: \"http://x\" }", "redis.url"),
            ("jwt: [ { issuer: i, algorithms: [HS256] } ]", "jwt[0].keys"),
            (
                "jwt: [ { issuer: i, algorithms: [none], keys: [x] } ]",
                "jwt[0].algorithms",
            ),
            (
                "jwt: [ { issuer: i, algorithms: [HS256], keys: [short] } ]",
                "jwt[0].keys",
            ),
            (
                "jwt: [ { issuer: i, algorithms: [RS256], jwksUrl: \"ftp://x\" } ]",
                "jwt[0].jwksUrl",
            ),
        ] {
            assert_eq!(error_path(yaml), path, "{yaml}");
        }
    }

    #[test]
    fn tiers_lay_the_file_over_the_defaults_and_keys_are_hashed() {
        let config = GatewayConfig::from_yaml(
            "tiers: { free: { perMinute: 10 }, gold: { perDay: 5 } }\nconsumers: [ { id: a, keys: [k1] } ]",
        )
        .unwrap();
        let tiers = &config.access.tiers;
        assert_eq!(tiers["free"].per_minute, Some(10));
        assert_eq!(tiers["free"].per_day, None, "a tier in the file is whole");
        assert_eq!(tiers["gold"].per_day, Some(5));
        assert_eq!(tiers["pro"].per_minute, Some(2_000));
        assert!(tiers["enterprise"].is_unlimited());
        let consumer = &config.access.consumers[0];
        assert_eq!(consumer.tier, "free", "consumers default to free");
        assert_eq!(consumer.key_hashes, vec![KeyHash::of("k1")]);
        assert_eq!(config.access.redis, None);
    }
}
