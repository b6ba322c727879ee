//! Work beside the proxy: health checks of the current pools, SIGHUP reloads, the admin listener.

use std::sync::Arc;

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::openapi::REFRESH_INTERVAL;
use crate::state::Shared;

/// Checks every instance of the current pools each `gateway.healthCheckSeconds`, keeps the health
/// gauges current, and reloads the config file on SIGHUP.
pub struct HealthLoop {
    pub shared: Arc<Shared>,
}

#[async_trait]
impl BackgroundService for HealthLoop {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut hangups = hangup_signals();
        let mut published = std::collections::BTreeSet::new();
        let period = self.shared.routes().config.health_check_interval;
        let mut interval = tokio::time::interval(period);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = interval.tick() => {
                    let routes = self.shared.routes();
                    routes.pools.refresh().await;
                    for pool in routes.pools.iter() {
                        pool.readmit(period);
                    }
                    self.publish_health(&routes, &mut published);
                    self.refresh_openapi_if_stale().await;
                }
                Some(()) = next_hangup(&mut hangups) => {
                    match self.shared.reload().await {
                        Ok(()) => tracing::info!("configuration reloaded on SIGHUP"),
                        Err(e) => tracing::error!(error = %e, "SIGHUP reload refused; the running configuration stays"),
                    }
                }
            }
        }
    }
}

impl HealthLoop {
    /// Sets `gateway_upstream_healthy` for every current instance and drops the series of instances
    /// a reload removed; series are never cleared wholesale, so a scrape always sees every instance.
    fn publish_health(
        &self,
        routes: &crate::state::Routes,
        published: &mut std::collections::BTreeSet<(String, String)>,
    ) {
        let gauge = &self.shared.metrics.upstream_healthy;
        let mut current = std::collections::BTreeSet::new();
        for pool in routes.pools.iter() {
            for instance in pool.instances() {
                gauge
                    .with_label_values(&[&*pool.name, instance.address.as_str()])
                    .set(i64::from(instance.healthy));
                current.insert((pool.name.to_string(), instance.address));
            }
        }
        for (service, instance) in published.difference(&current) {
            let _ = gauge.remove_label_values(&[service.as_str(), instance.as_str()]);
        }
        *published = current;
    }

    /// Rebuilds the merged document every [`REFRESH_INTERVAL`], and sooner while a healthy service
    /// is missing from it (it started after the gateway).
    async fn refresh_openapi_if_stale(&self) {
        let current = self.shared.openapi();
        let healthy: std::collections::BTreeSet<String> = self
            .shared
            .routes()
            .pools
            .iter()
            .filter(|p| p.health().0 > 0)
            .map(|p| p.name.to_string())
            .collect();
        let stale = current
            .built
            .is_none_or(|built| built.elapsed() >= REFRESH_INTERVAL);
        if stale || !healthy.is_subset(&current.services) {
            self.shared.refresh_openapi().await;
        }
    }
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = Option<()>;

#[cfg(unix)]
fn hangup_signals() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}

#[cfg(not(unix))]
fn hangup_signals() -> Hangups {
    None
}

#[cfg(unix)]
async fn next_hangup(signals: &mut Hangups) -> Option<()> {
    match signals {
        Some(signal) => signal.recv().await,
        None => std::future::pending().await,
    }
}

#[cfg(not(unix))]
async fn next_hangup(_signals: &mut Hangups) -> Option<()> {
    std::future::pending().await
}

/// How often counted usage is written to the database.
const USAGE_FLUSH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// How often tiers are read again (changes made elsewhere are also announced over Redis).
const TIER_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(30);

/// Identity upkeep: connects the rate limiter to Redis, follows change announcements, writes
/// usage in batches and re-reads tiers.
pub struct AccessLoop {
    pub shared: Arc<Shared>,
}

#[async_trait]
impl BackgroundService for AccessLoop {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let access = &self.shared.access;
        let subscription = async {
            match &access.events {
                Some(events) => events.run(access, std::future::pending()).await,
                None => std::future::pending().await,
            }
        };
        let upkeep = async {
            let connect = access.limiter.connect();
            tokio::pin!(connect);
            let mut connected = false;
            let mut flush = tokio::time::interval(USAGE_FLUSH_INTERVAL);
            let mut tiers = tokio::time::interval(TIER_REFRESH_INTERVAL);
            loop {
                tokio::select! {
                    () = &mut connect, if !connected => connected = true,
                    _ = flush.tick() => { flush_usage(&self.shared).await; }
                    _ = tiers.tick() => {
                        if let Err(e) = access.reload_tiers().await {
                            tracing::warn!(error = %e, "cannot re-read tiers; keeping the ones loaded");
                        }
                    }
                }
            }
        };
        tokio::select! {
            _ = shutdown.changed() => {}
            () = subscription => {}
            () = upkeep => {}
        }
        flush_usage(&self.shared).await;
    }
}

/// Writes pending usage; a failed write stays pending for the next try. Returns whether
/// nothing is left unwritten.
pub async fn flush_usage(shared: &Shared) -> bool {
    let Some(pool) = &shared.access.pool else {
        return true;
    };
    match shared.access.usage.flush(pool).await {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!(error = %e, "usage not written yet; will retry");
            false
        }
    }
}
