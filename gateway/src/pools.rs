//! One load-balanced pool per service, health-checked on `/health` in the background.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use pingora::http::RequestHeader;
use pingora::lb::discovery::Static;
use pingora::lb::health_check::HttpHealthCheck;
use pingora::lb::selection::RoundRobin;
use pingora::lb::{Backend, Backends, LoadBalancer};
use serde_json::{Value, json};

use crate::config::{Balance, GatewayConfig, ServiceConfig};

/// Longest search through the selection ring for a healthy instance.
const MAX_SELECTION_STEPS: usize = 256;

/// A service's instances.
pub struct Pool {
    pub name: Arc<str>,
    pub segment: String,
    pub timeout: Duration,
    pub max_body_bytes: usize,
    pub balance: Balance,
    balancer: Arc<LoadBalancer<RoundRobin>>,
    /// Instances taken out after a failed connect, and when; readmitted by [`Pool::readmit`].
    ejected: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Per instance: its address as text (made once, as every request logs it) and its
    /// requests in flight (see [`Pool::track`]).
    tracked: HashMap<std::net::SocketAddr, Tracked>,
    /// Where the least-connections scan starts, so that ties rotate.
    cursor: AtomicUsize,
}

struct Tracked {
    address: Arc<str>,
    in_flight: Arc<AtomicUsize>,
}

/// A request in flight to one instance: counted until dropped.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicUsize>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pool {
    /// A healthy instance by the pool's [`Balance`]; on a retry, another than `avoid` when one
    /// exists.
    pub fn select(&self, avoid: Option<&str>) -> Option<Backend> {
        if self.balance == Balance::LeastConnections
            && let Some(backend) = self.least_loaded(avoid)
        {
            return Some(backend);
        }
        let other = |backend: &Backend, healthy: bool| {
            healthy && avoid.is_none_or(|a| *self.address(backend) != *a)
        };
        self.balancer
            .select_with(b"", MAX_SELECTION_STEPS, other)
            .or_else(|| self.balancer.select(b"", MAX_SELECTION_STEPS))
    }

    /// The healthy instance (other than `avoid`) with the fewest requests in flight per unit of
    /// weight; among equals, the next one after the last pick.
    fn least_loaded(&self, avoid: Option<&str>) -> Option<Backend> {
        let backends = self.balancer.backends();
        let all = backends.get_backend();
        let candidates: Vec<&Backend> = all
            .iter()
            .filter(|b| backends.ready(b) && b.weight > 0)
            .filter(|b| avoid.is_none_or(|a| *self.address(b) != *a))
            .collect();
        if candidates.is_empty() {
            return None;
        }
        let loads: Vec<(usize, usize)> = candidates
            .iter()
            .map(|backend| (self.in_flight_to(backend), backend.weight))
            .collect();
        let start = self.cursor.fetch_add(1, Ordering::Relaxed);
        least_loaded(&loads, start).map(|i| candidates[i].clone())
    }

    /// Counts a request to `backend` as in flight until the returned guard is dropped.
    pub fn track(&self, backend: &Backend) -> Option<InFlight> {
        let counter = &self.tracked(backend)?.in_flight;
        counter.fetch_add(1, Ordering::Relaxed);
        Some(InFlight(Arc::clone(counter)))
    }

    /// The instance's address as the access log, `/status` and retries name it.
    pub fn address(&self, backend: &Backend) -> Arc<str> {
        self.tracked(backend).map_or_else(
            || Arc::from(backend.addr.to_string()),
            |t| Arc::clone(&t.address),
        )
    }

    fn in_flight_to(&self, backend: &Backend) -> usize {
        self.tracked(backend)
            .map_or(0, |t| t.in_flight.load(Ordering::Relaxed))
    }

    fn tracked(&self, backend: &Backend) -> Option<&Tracked> {
        self.tracked.get(backend.addr.as_inet()?)
    }

    /// Takes an instance out of rotation at once after a failed connect (passive health), rather
    /// than sending it traffic until the next active check.
    pub fn eject(&self, address: &str) {
        let backends = self.balancer.backends();
        if let Some(backend) = backends
            .get_backend()
            .iter()
            .find(|b| b.addr.to_string() == address)
        {
            backends.set_enable(backend, false);
            if let Ok(mut ejected) = self.ejected.lock() {
                ejected.insert(address.to_owned(), std::time::Instant::now());
                tracing::warn!(service = %self.name, instance = address, "connect failed; instance ejected until its next health check");
            }
        }
    }

    /// Returns instances ejected at least `after` ago to rotation; the active health check, which
    /// keeps running on them, decides whether they take traffic.
    pub fn readmit(&self, after: Duration) {
        let Ok(mut ejected) = self.ejected.lock() else {
            return;
        };
        let backends = self.balancer.backends();
        ejected.retain(|address, since| {
            if since.elapsed() < after {
                return true;
            }
            if let Some(backend) = backends
                .get_backend()
                .iter()
                .find(|b| b.addr.to_string() == *address)
            {
                backends.set_enable(backend, true);
            }
            false
        });
    }

    /// (healthy, total) instances.
    pub fn health(&self) -> (usize, usize) {
        let instances = self.instances();
        (
            instances.iter().filter(|i| i.healthy).count(),
            instances.len(),
        )
    }

    /// Each instance with its weight and health.
    pub fn instances(&self) -> Vec<Instance> {
        let backends = self.balancer.backends();
        backends
            .get_backend()
            .iter()
            .map(|b| {
                let address = self.address(b).to_string();
                let ejected = self.ejected.lock().is_ok_and(|e| e.contains_key(&address));
                Instance {
                    in_flight: self.in_flight_to(b),
                    address,
                    weight: b.weight,
                    healthy: backends.ready(b),
                    ejected,
                }
            })
            .collect()
    }
}

/// One instance as `/status` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Instance {
    pub address: String,
    pub weight: usize,
    /// Passes its health check and is not ejected.
    pub healthy: bool,
    /// Taken out after a failed connect, until its next health check.
    pub ejected: bool,
    /// Requests being served by it now.
    #[serde(rename = "inFlight")]
    pub in_flight: usize,
}

/// Every service's pool.
pub struct Pools {
    pools: Vec<Arc<Pool>>,
}

impl Pools {
    /// Builds the pools; [`Pools::refresh`] must run before they select anything.
    pub fn build(config: &GatewayConfig) -> anyhow::Result<Self> {
        let pools = config
            .services
            .iter()
            .map(|service| {
                Ok(Arc::new(Pool {
                    name: service.name.as_str().into(),
                    segment: service.segment.clone(),
                    timeout: service.timeout,
                    max_body_bytes: service.max_body_bytes,
                    balance: service.balance,
                    balancer: Arc::new(balancer(service)?),
                    ejected: std::sync::Mutex::new(std::collections::HashMap::new()),
                    tracked: service
                        .groups
                        .iter()
                        .flat_map(|g| &g.upstreams)
                        .map(|&addr| {
                            let tracked = Tracked {
                                address: Arc::from(addr.to_string()),
                                in_flight: Arc::default(),
                            };
                            (addr, tracked)
                        })
                        .collect(),
                    cursor: AtomicUsize::new(0),
                }))
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(Self { pools })
    }

    /// Loads the instance lists and runs one health check of every instance, all pools at once.
    pub async fn refresh(&self) {
        let checks = self.pools.iter().map(|pool| async move {
            if let Err(e) = pool.balancer.update().await {
                tracing::warn!(service = %pool.name, error = %e, "could not load instances");
            }
            pool.balancer.backends().run_health_check(true).await;
        });
        futures_util::future::join_all(checks).await;
    }

    /// Every pool.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.pools.iter()
    }

    /// The pool serving `/api/v1/<segment>/`.
    pub fn by_segment(&self, segment: &str) -> Option<Arc<Pool>> {
        self.pools.iter().find(|p| p.segment == segment).cloned()
    }

    /// The gateway's `/health` answer: itself, and each pool's healthy/total instances.
    pub fn health_summary(&self) -> Value {
        let pools: serde_json::Map<String, Value> = self
            .pools
            .iter()
            .map(|pool| {
                let (healthy, total) = pool.health();
                (
                    pool.name.to_string(),
                    json!({"healthy": healthy, "total": total}),
                )
            })
            .collect();
        json!({"status": "healthy", "service": "gateway", "version": env!("CARGO_PKG_VERSION"), "pools": pools})
    }
}

fn balancer(service: &ServiceConfig) -> anyhow::Result<LoadBalancer<RoundRobin>> {
    // Groups with weight 0 take no traffic; a group's weight weighs each of its instances.
    // pingora's weighted round robin repeats an instance `weight` times in a row, so weights are
    // reduced by their common divisor: 100/100 alternates instances instead of sending 100 in a row.
    let divisor = service
        .groups
        .iter()
        .map(|g| g.weight)
        .filter(|w| *w > 0)
        .fold(0, gcd)
        .max(1);
    let backends: BTreeSet<Backend> = service
        .groups
        .iter()
        .filter(|g| g.weight > 0)
        .flat_map(|g| {
            let weight = (g.weight / divisor) as usize;
            g.upstreams
                .iter()
                .map(move |addr| Backend::new_with_weight(&addr.to_string(), weight))
        })
        .collect::<Result<_, _>>()?;
    let mut balancer =
        LoadBalancer::<RoundRobin>::from_backends(Backends::new(Static::new(backends)));
    let mut check = HttpHealthCheck::new("localhost", false);
    let mut request = RequestHeader::build("GET", b"/health", None)?;
    request.insert_header("host", "localhost")?;
    check.req = request;
    balancer.set_health_check(Box::new(check));
    Ok(balancer)
}

/// The index of the smallest `in flight / weight` among `loads` (weights above 0), scanning from
/// `start` (modulo the length) so that equal loads take turns.
fn least_loaded(loads: &[(usize, usize)], start: usize) -> Option<usize> {
    let n = loads.len();
    (0..n).map(|step| (start + step) % n).reduce(|best, i| {
        let ((load, weight), (best_load, best_weight)) = (loads[i], loads[best]);
        // load / weight < best_load / best_weight, without division.
        if load * best_weight < best_load * weight {
            i
        } else {
            best
        }
    })
}

fn gcd(a: u32, b: u32) -> u32 {
    if b == 0 { a } else { gcd(b, a % b) }
}

#[cfg(test)]
mod tests {
    use super::{gcd, least_loaded};

    #[test]
    fn least_loaded_weighs_in_flight_by_weight_and_rotates_ties() {
        assert_eq!(least_loaded(&[], 0), None);
        assert_eq!(least_loaded(&[(3, 1), (1, 1), (2, 1)], 0), Some(1));
        // Weight 3 with 2 in flight (2/3) is less loaded than weight 1 with 1 (1/1).
        assert_eq!(least_loaded(&[(1, 1), (2, 3)], 0), Some(1));
        assert_eq!(least_loaded(&[(1, 1), (4, 3)], 0), Some(0));
        // Equal loads: the scan's start decides, so successive picks take turns.
        let idle = [(0, 1), (0, 1), (0, 1)];
        let picks: Vec<_> = (0..4).map(|start| least_loaded(&idle, start)).collect();
        assert_eq!(picks, [Some(0), Some(1), Some(2), Some(0)]);
    }

    #[test]
    fn weights_reduce_by_their_common_divisor() {
        assert_eq!([100, 100].into_iter().fold(0, gcd), 100);
        assert_eq!([90, 10].into_iter().fold(0, gcd), 10);
        assert_eq!([7].into_iter().fold(0, gcd), 7);
    }
}
