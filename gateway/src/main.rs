//! `flowforge-gateway`: the gateway on its own, configured by `FLOWFORGE_CONFIG` (or defaults).

use flowforge_gateway::{GatewayConfig, GatewayServer};

// The request path allocates per request (headers, buffers); glibc malloc showed up at ~12% of
// CPU under load, mimalloc at a fraction of that (bench/gateway.sh).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    flowforge_service_kit::init_tracing();
    let config = GatewayConfig::from_env()?;
    let config_path =
        std::env::var_os(flowforge_gateway::config::ENV_CONFIG).map(std::path::PathBuf::from);
    tracing::info!(listen = %config.listen, admin = %config.admin, "starting gateway");
    GatewayServer::build(config, config_path)?.run_until_signalled();
    Ok(())
}
