//! Assembling and running the Pingora server.

use std::sync::Arc;

use pingora::server::configuration::ServerConf;
use pingora::server::{RunArgs, Server, ShutdownSignal, ShutdownSignalWatch};

use crate::config::GatewayConfig;
use crate::pools::Pools;
use crate::proxy::Gateway;

/// Seconds in-flight requests get to finish after SIGTERM (pingora's default is 300).
const DRAIN_SECONDS: u64 = 5;

/// A gateway ready to run.
pub struct GatewayServer {
    server: Server,
}

impl GatewayServer {
    /// Builds the proxy service and the pools' health checks for `config`.
    pub fn build(config: GatewayConfig) -> anyhow::Result<Self> {
        let conf = ServerConf {
            threads: std::thread::available_parallelism().map_or(2, usize::from),
            grace_period_seconds: Some(0),
            graceful_shutdown_timeout_seconds: Some(DRAIN_SECONDS),
            ..ServerConf::default()
        };
        let mut server = Server::new_with_opt_and_conf(None, conf);
        server.bootstrap();

        let (pools, health_tasks) = Pools::build(&config)?;
        let listen = config.listen.to_string();
        let gateway = Gateway {
            config: Arc::new(config),
            pools: Arc::new(pools),
        };
        let mut proxy = pingora::proxy::http_proxy_service_with_name(
            &server.configuration,
            gateway,
            "flowforge gateway",
        );
        proxy.add_tcp(&listen);
        server.add_service(proxy);
        for task in health_tasks {
            server.add_service(task);
        }
        Ok(Self { server })
    }

    /// Runs until SIGTERM/SIGINT, then drains in-flight requests.
    pub fn run_until_signalled(self) {
        self.server.run(RunArgs::default());
    }

    /// Runs until `stop` resolves (used by the all-in-one and tests).
    pub fn run_until(self, stop: impl ShutdownSignalWatch + 'static) {
        self.server.run(RunArgs {
            shutdown_signal: Box::new(stop),
        });
    }
}

/// A shutdown signal from a channel: send `()` (or drop the sender) to stop the gateway.
pub struct ChannelShutdown(pub tokio::sync::Mutex<tokio::sync::oneshot::Receiver<()>>);

#[async_trait::async_trait]
impl ShutdownSignalWatch for ChannelShutdown {
    async fn recv(&self) -> ShutdownSignal {
        let mut receiver = self.0.lock().await;
        let _ = (&mut *receiver).await;
        ShutdownSignal::GracefulTerminate
    }
}
