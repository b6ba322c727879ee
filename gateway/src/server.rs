//! Assembling and running the Pingora server.

use std::path::PathBuf;
use std::sync::Arc;

use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};
use pingora::services::background::background_service;

use crate::admin::AdminService;
use crate::background::{AccessLoop, HealthLoop, flush_usage};
use crate::config::GatewayConfig;
use crate::proxy::Gateway;
use crate::state::Shared;

/// Seconds in-flight requests get to finish after SIGTERM; listeners close at once. Pingora waits
/// this long whether or not requests remain (its default is 300 s), so it is kept short.
const DRAIN_SECONDS: u64 = 5;
/// Seconds the runtimes then get to stop.
const RUNTIME_STOP_SECONDS: u64 = 1;

/// A gateway ready to run.
pub struct GatewayServer {
    server: Server,
    shared: Arc<Shared>,
}

impl GatewayServer {
    /// Builds the proxy, the health loop and (with `adminToken`) the admin listener. The pools are
    /// checked once before this returns, so the first request finds healthy instances.
    /// `config_path` is the file that `POST /reload` and SIGHUP read again.
    pub fn build(config: GatewayConfig, config_path: Option<PathBuf>) -> anyhow::Result<Self> {
        let shared = Arc::new(first_state(config, config_path)?);
        let routes = shared.routes();
        let conf = ServerConf {
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            grace_period_seconds: Some(DRAIN_SECONDS),
            graceful_shutdown_timeout_seconds: Some(RUNTIME_STOP_SECONDS),
            ..ServerConf::default()
        };
        let mut server = Server::new_with_opt_and_conf(None, conf);
        server.bootstrap();

        let mut proxy = pingora::proxy::http_proxy_service_with_name(
            &server.configuration,
            Gateway {
                shared: shared.clone(),
            },
            "flowforge gateway",
        );
        proxy.add_tcp(&routes.config.listen.to_string());
        server.add_service(proxy);
        server.add_service(background_service(
            "health checks",
            HealthLoop {
                shared: shared.clone(),
            },
        ));
        server.add_service(background_service(
            "identity upkeep",
            AccessLoop {
                shared: shared.clone(),
            },
        ));
        match &routes.config.admin_token {
            Some(token) => {
                let admin = AdminService {
                    shared: shared.clone(),
                    addr: routes.config.admin,
                    token: token.clone(),
                };
                server.add_service(background_service("admin API", admin));
            }
            None => tracing::info!("no gateway.adminToken: admin API off"),
        }
        Ok(Self { server, shared })
    }

    /// The shared state (for the all-in-one and tests).
    pub fn shared(&self) -> Arc<Shared> {
        self.shared.clone()
    }

    /// Runs until SIGTERM/SIGINT, then drains in-flight requests.
    pub fn run_until_signalled(self) {
        self.server.run(RunArgs::default());
        write_final_usage(&self.shared);
    }

    /// Runs until `stop` resolves (used by the all-in-one and tests).
    pub fn run_until(self, stop: impl ShutdownSignalWatch + 'static) {
        self.server.run(RunArgs {
            shutdown_signal: Box::new(stop),
        });
        write_final_usage(&self.shared);
    }
}

/// Builds the first state on a runtime of its own: `build` may be called from inside another.
fn first_state(config: GatewayConfig, config_path: Option<PathBuf>) -> anyhow::Result<Shared> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(Shared::new(config, config_path))
            })
            .join()
            .map_err(|_| anyhow::anyhow!("building the gateway state panicked"))?
    })
}

/// Writes usage counted since the last batch once the server has stopped (its runtimes are gone,
/// so on a runtime of its own; the pool opens a fresh connection).
fn write_final_usage(shared: &Shared) {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        tracing::error!("cannot write the last usage batch: no runtime");
        return;
    };
    runtime.block_on(async {
        // Pooled connections belonged to the stopped runtimes; one may still look open and fail
        // on use, after which the pool replaces it: a few tries cover that.
        for _ in 0..3 {
            let attempt =
                tokio::time::timeout(std::time::Duration::from_secs(5), flush_usage(shared)).await;
            match attempt {
                Ok(true) => return,
                Ok(false) => continue,
                Err(_) => break,
            }
        }
        tracing::error!("the last usage batch could not be written");
    });
}

/// A shutdown signal from a channel: send `()` (or drop the sender) to stop the gateway at once,
/// without the drain period (for embedding and tests).
pub struct ChannelShutdown(pub tokio::sync::Mutex<tokio::sync::oneshot::Receiver<()>>);

#[async_trait::async_trait]
impl ShutdownSignalWatch for ChannelShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let mut receiver = self.0.lock().await;
        let _ = (&mut *receiver).await;
        ShutdownSignal::FastShutdown
    }
}
