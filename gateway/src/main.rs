//! `flowforge-gateway`: the gateway on its own, configured by `FLOWFORGE_CONFIG` (or defaults).

use flowforge_gateway::{GatewayConfig, GatewayServer};

fn main() -> anyhow::Result<()> {
    flowforge_service_kit::init_tracing();
    let config = GatewayConfig::from_env()?;
    tracing::info!(listen = %config.listen, "starting gateway");
    GatewayServer::build(config)?.run_until_signalled();
    Ok(())
}
