//! What the gateway serves with, swapped atomically on reload: a request sees one whole config.

use std::path::PathBuf;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio::sync::Mutex;

use crate::config::{ConfigError, GatewayConfig};
use crate::identity::Access;
use crate::metrics::GatewayMetrics;
use crate::pools::Pools;

/// One consistent snapshot: the config and the pools built from it.
pub struct Routes {
    pub config: Arc<GatewayConfig>,
    pub pools: Pools,
}

/// The merged OpenAPI document, the services in it, and when it was built.
#[derive(Default)]
pub struct MergedDocument {
    pub document: Arc<serde_json::Value>,
    pub services: std::collections::BTreeSet<String>,
    pub built: Option<std::time::Instant>,
}

/// The gateway's shared state.
pub struct Shared {
    routes: ArcSwap<Routes>,
    /// The merged OpenAPI document and the services it covers.
    openapi: ArcSwap<MergedDocument>,
    /// Serializes reloads and weight changes so two never interleave.
    changes: Mutex<()>,
    pub metrics: GatewayMetrics,
    /// Identity, rate limits and usage: built once, fed by reloads.
    pub access: Access,
    /// The file `POST /reload` and SIGHUP read again; `None` when started without one.
    pub config_path: Option<PathBuf>,
}

impl Shared {
    /// State for `config`, with its pools refreshed once so the first request finds instances.
    pub async fn new(config: GatewayConfig, config_path: Option<PathBuf>) -> anyhow::Result<Self> {
        let access = Access::new(&config.access).await?;
        let routes = build_routes(config).await?;
        let metrics = GatewayMetrics::new();
        metrics.register_counters(access.limiter.counters());
        Ok(Self {
            access,
            routes: ArcSwap::from_pointee(routes),
            openapi: ArcSwap::from_pointee(MergedDocument::default()),
            changes: Mutex::new(()),
            metrics,
            config_path,
        })
    }

    /// The current snapshot.
    pub fn routes(&self) -> Arc<Routes> {
        self.routes.load_full()
    }

    /// The merged OpenAPI document as last built.
    pub fn openapi(&self) -> Arc<MergedDocument> {
        self.openapi.load_full()
    }

    /// Fetches every service's document from the current pools and merges them.
    pub async fn refresh_openapi(&self) {
        let routes = self.routes();
        let documents = crate::openapi::fetch_all(&routes.pools).await;
        let services = documents.keys().cloned().collect();
        let document = crate::openapi::merge(&documents, env!("CARGO_PKG_VERSION"));
        self.openapi.store(Arc::new(MergedDocument {
            document: Arc::new(document),
            services,
            built: Some(std::time::Instant::now()),
        }));
    }

    /// Builds and checks new pools for `config`, then swaps them in. In-flight requests finish on
    /// the snapshot they started with.
    pub async fn apply(&self, config: GatewayConfig) -> anyhow::Result<()> {
        let _one_at_a_time = self.changes.lock().await;
        // Pools first: if they cannot be built nothing changes; the access part is then applied.
        let routes = build_routes(config.clone()).await?;
        self.access
            .apply(&config.access)
            .await
            .map_err(anyhow::Error::msg)?;
        self.routes.store(Arc::new(routes));
        Ok(())
    }

    async fn swap(&self, config: GatewayConfig) -> anyhow::Result<()> {
        let routes = build_routes(config).await?;
        self.routes.store(Arc::new(routes));
        Ok(())
    }

    /// Reads the config file again and applies it; an invalid file leaves the running config.
    pub async fn reload(&self) -> Result<(), ConfigError> {
        let Some(path) = &self.config_path else {
            return Err(ConfigError::Invalid {
                path: "(file)".into(),
                message: "started without FLOWFORGE_CONFIG: nothing to reload".into(),
            });
        };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let config = GatewayConfig::from_yaml(&text)?;
        self.apply(config).await.map_err(|e| ConfigError::Invalid {
            path: "(apply)".into(),
            message: e.to_string(),
        })
    }

    /// Sets group weights of one service (blue-green), keeping everything else.
    pub async fn set_weights(
        &self,
        service: &str,
        weights: &std::collections::BTreeMap<String, u32>,
    ) -> Result<(), ConfigError> {
        let _one_at_a_time = self.changes.lock().await;
        let mut config = (*self.routes().config).clone();
        let target = config
            .services
            .iter_mut()
            .find(|s| s.name == service)
            .ok_or_else(|| ConfigError::Invalid {
                path: format!("services.{service}"),
                message: "unknown service".into(),
            })?;
        let names: Vec<String> = target.groups.iter().map(|g| g.name.clone()).collect();
        for (group, weight) in weights {
            let found = target
                .groups
                .iter_mut()
                .find(|g| &g.name == group)
                .ok_or_else(|| ConfigError::Invalid {
                    path: format!("services.{service}.groups.{group}"),
                    message: format!("no such group; groups: {}", names.join(", ")),
                })?;
            found.weight = *weight;
        }
        if target.groups.iter().all(|g| g.weight == 0) {
            return Err(ConfigError::Invalid {
                path: format!("services.{service}.groups"),
                message: "at least one group needs a weight above 0".into(),
            });
        }
        self.swap(config).await.map_err(|e| ConfigError::Invalid {
            path: "(pools)".into(),
            message: e.to_string(),
        })
    }
}

async fn build_routes(config: GatewayConfig) -> anyhow::Result<Routes> {
    let pools = Pools::build(&config)?;
    pools.refresh().await;
    Ok(Routes {
        config: Arc::new(config),
        pools,
    })
}
